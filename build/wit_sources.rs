//! Where the crates that ship the standard WIT files are, for `build.rs` and for
//! `tests/component.rs`, found with `cargo metadata --offline`.
//!
//! * spin-sdk: Spin's key-value and config interfaces (`wit/deps/`);
//! * wasip3: WASIp3, the release candidate Spin 4.0 runs (`wit/deps/*.wit`);
//! * wasi: WASIp2 `@0.2.0` (`wit/deps/`);
//! * spin-sdk-5 (spin-sdk 5.2, a dependency of the hosted build only): Spin's outbound
//!   Redis for WASIp2 components, `fermyon:spin/redis@2.0.0` (`wit/deps/spin@2.0.0/`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The crates whose WIT every build's world resolves against.
#[allow(dead_code)] // tests/component.rs wants them all
pub const CRATES: &[&str] = &["spin-sdk", "wasip3", "wasi"];

/// The same plus the one only the hosted build needs (an optional dependency: downloaded
/// only where that build, or `cargo fetch`, asked for it).
pub const WITH_HOSTED: &[&str] = &["spin-sdk", "wasip3", "wasi", "spin-sdk-5"];

/// The source folder of each of `crates` (by their name in `Cargo.toml`), in the version
/// this workspace depends on: a probe manifest (in `probe`) depends on just those crates,
/// as `Cargo.toml` requires them, and `Cargo.lock` pins them, so nothing beyond what the
/// build downloaded is needed.
pub fn source_dirs(
    manifest_dir: &Path,
    probe: &Path,
    crates: &[&'static str],
) -> HashMap<&'static str, PathBuf> {
    let ours = std::fs::read_to_string(manifest_dir.join("Cargo.toml")).expect("Cargo.toml");
    let mut dependencies = String::new();
    for name in crates {
        let line = ours
            .lines()
            .find(|line| line.starts_with(&format!("{name} = ")))
            .unwrap_or_else(|| panic!("Cargo.toml names {name}"));
        // The probe always wants the crate, optional or not.
        dependencies.push_str(&line.replace(", optional = true", ""));
        dependencies.push('\n');
    }
    std::fs::create_dir_all(probe).expect("creating the probe manifest's folder");
    std::fs::write(
        probe.join("Cargo.toml"),
        format!(
            "[package]\nname = \"locate-wit\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [lib]\npath = \"lib.rs\"\n[dependencies]\n{dependencies}[workspace]\n"
        ),
    )
    .expect("writing the probe manifest");
    std::fs::write(probe.join("lib.rs"), "").expect("writing the probe crate");
    // The workspace's lock file pins the crates and their dependencies to what this build
    // uses.
    let _ = std::fs::copy(manifest_dir.join("Cargo.lock"), probe.join("Cargo.lock"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", "wasm32-wasip2", "--manifest-path"])
        .arg(probe.join("Cargo.toml"))
        .output()
        .expect("running cargo metadata");
    if !output.status.success() {
        panic!(
            "cargo metadata could not locate the crates that ship the WIT files:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata printed JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let probe_package = packages
        .iter()
        .find(|p| p["name"] == "locate-wit")
        .expect("cargo metadata lists the probe");
    let nodes = metadata["resolve"]["nodes"].as_array().expect("a resolve");
    let node = nodes
        .iter()
        .find(|n| n["id"] == probe_package["id"])
        .expect("the probe is resolved");
    let mut dirs = HashMap::new();
    for dependency in node["deps"].as_array().into_iter().flatten() {
        let id = &dependency["pkg"];
        let package = packages
            .iter()
            .find(|p| p["id"] == *id)
            .expect("a dependency is a package");
        // By the name the dependency has here: two versions of spin-sdk, one renamed.
        let Some(as_named) = dependency["name"].as_str() else {
            continue;
        };
        let Some(name) = crates.iter().find(|c| c.replace('-', "_") == as_named) else {
            continue;
        };
        let manifest = package["manifest_path"].as_str().expect("a manifest path");
        let dir = Path::new(manifest)
            .parent()
            .expect("a manifest path has a folder");
        dirs.insert(*name, dir.to_path_buf());
    }
    for name in crates {
        assert!(dirs.contains_key(name), "the probe depends on {name}");
    }
    dirs
}
