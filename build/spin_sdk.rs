//! Where spin-sdk's source (and so its packaged `wit/` folder) is, for `build.rs` and for
//! `tests/component.rs`: `cargo metadata --offline` on a one-dependency manifest in
//! `probe`, pinned by the workspace's `Cargo.lock`, so it names the spin-sdk this build
//! uses and needs nothing the build has not downloaded already.

use std::path::{Path, PathBuf};

/// spin-sdk's source folder, as `cargo metadata` reports it for the version `Cargo.lock`
/// pins.
pub fn source_dir(manifest_dir: &Path, probe: &Path) -> PathBuf {
    std::fs::create_dir_all(probe).expect("creating the probe manifest's folder");
    std::fs::write(
        probe.join("Cargo.toml"),
        "[package]\nname = \"locate-spin-sdk\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         [lib]\npath = \"lib.rs\"\n[dependencies]\n\
         spin-sdk = { version = \"*\", default-features = false }\n[workspace]\n",
    )
    .expect("writing the probe manifest");
    std::fs::write(probe.join("lib.rs"), "").expect("writing the probe crate");
    // The workspace's lock file pins spin-sdk and its dependencies to what this build uses.
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
            "cargo metadata could not locate spin-sdk (the source of the WASI WIT files):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata printed JSON");
    let manifest = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == "spin-sdk")
        .and_then(|package| package["manifest_path"].as_str())
        .expect("cargo metadata lists spin-sdk");
    Path::new(manifest)
        .parent()
        .expect("a manifest path has a folder")
        .to_path_buf()
}
