//! Prepares the component's bindings: `wit/world.wit` is the contract, and the standard
//! interfaces it names come from the WIT files published crates ship, not from copies
//! here: WASIp3 from wasip3, WASIp2 from wasi, Spin's key-value and config from spin-sdk
//! (`build/wit_sources.rs` finds them).
//!
//! For a wasm32 build this script
//! 1. lays out `$OUT_DIR/wit/`: a copy of `wit/world.wit` plus the `deps/` it needs;
//! 2. writes `$OUT_DIR/bindings.rs`, a `wit_bindgen::generate!` of the build's world:
//!    `spin` (default, WASIp3), `spin-p2` (feature `p2`) or `portable`
//!    (`--no-default-features`), which `src/host/bindings.rs` includes.
//!
//! A change to `wit/world.wit` reruns it; code that disagrees with the contract then fails
//! to compile. Native builds (the tests) need no bindings and skip all of this.

use std::path::{Path, PathBuf};

#[path = "build/wit_sources.rs"]
mod wit_sources;

/// The packages the worlds resolve against: (crate, folder or file under its `wit/deps`).
/// wit-bindgen resolves the order among them.
const P2: &[(&str, &str)] = &[
    ("wasi", "io"),
    ("wasi", "clocks"),
    ("wasi", "random"),
    ("wasi", "filesystem"),
    ("wasi", "sockets"),
    ("wasi", "cli"),
    ("wasi", "http"),
];
const P3: &[(&str, &str)] = &[
    ("wasip3", "clocks.wit"),
    ("wasip3", "random.wit"),
    ("wasip3", "filesystem.wit"),
    ("wasip3", "sockets.wit"),
    ("wasip3", "cli.wit"),
    ("wasip3", "http.wit"),
];
const SPIN: &[(&str, &str)] = &[
    ("spin-sdk", "wasi-keyvalue-2024-10-17"),
    ("spin-sdk", "wasi-runtime-config-2024-09-27"),
    ("spin-sdk", "spin-key-value@3.0.0"),
];

fn main() {
    println!("cargo:rerun-if-changed=wit");
    println!("cargo:rerun-if-changed=Cargo.lock");
    // `cfg(fixtures)`: the conformance fixtures are compiled in. Always natively (the
    // tests drive them); in a component only with the `conformance-fixtures` feature, so
    // the shipped component does not carry them (about 120 KB).
    println!("cargo::rustc-check-cfg=cfg(fixtures)");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    if !wasm || std::env::var_os("CARGO_FEATURE_CONFORMANCE_FIXTURES").is_some() {
        println!("cargo::rustc-cfg=fixtures");
    }
    if !wasm {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));

    let spin = std::env::var_os("CARGO_FEATURE_SPIN").is_some();
    let p2 = std::env::var_os("CARGO_FEATURE_P2").is_some();
    let hosted = std::env::var_os("CARGO_FEATURE_HOSTED").is_some();
    let world = match (spin, p2, hosted) {
        (true, _, true) => "spin-hosted",
        (true, false, false) => "spin",
        (true, true, false) => "spin-p2",
        (false, _, _) => "portable",
    };
    let crates = if hosted {
        wit_sources::WITH_HOSTED
    } else {
        wit_sources::CRATES
    };
    let sources = wit_sources::source_dirs(&manifest_dir, &out.join("locate-wit"), crates);
    // One WASI version per build: the WASIp3 world alone with WASIp3's WIT, or the WASIp2
    // worlds with WASIp2's, so the bindings name each package once (`wasi::http`, not a
    // module per version).
    let text =
        std::fs::read_to_string(manifest_dir.join("wit/world.wit")).expect("reading wit/world.wit");
    let (text, deps): (String, Vec<&(&str, &str)>) = if world == "spin" {
        let keep = only_world(&text, "spin");
        (keep, P3.iter().chain(SPIN).collect())
    } else if hosted {
        (
            without_world(&text, "spin"),
            P2.iter().chain(SPIN).collect(),
        )
    } else {
        // The hosted world names a package only the hosted build has the WIT of.
        let text = without_world(&text, "spin");
        (
            without_world(&text, "spin-hosted"),
            P2.iter().chain(SPIN).collect(),
        )
    };

    let wit = out.join("wit");
    let _ = std::fs::remove_dir_all(&wit);
    std::fs::create_dir_all(wit.join("deps")).expect("creating $OUT_DIR/wit");
    std::fs::write(wit.join("world.wit"), text).expect("writing $OUT_DIR/wit/world.wit");
    for (krate, path) in deps {
        let from = sources[krate].join("wit/deps").join(path);
        let to = wit.join("deps").join(path);
        if from.is_dir() {
            copy_dir(&from, &to);
        } else {
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
        }
    }
    if hosted {
        outbound_redis(&sources["spin-sdk-5"], &wit.join("deps/fermyon-spin"));
    }
    let bindings = format!(
        "wit_bindgen::generate!({{\n    path: {wit:?},\n    world: \"remote-mcp-server:component/{world}\",\n    generate_all,\n}});\n"
    );
    std::fs::write(out.join("bindings.rs"), bindings).expect("writing $OUT_DIR/bindings.rs");
}

/// Spin's outbound Redis for WASIp2 (`fermyon:spin/redis@2.0.0`) as a package of its own:
/// spin-sdk 5.2's `redis.wit`, under the package line its folder declares. The rest of that
/// folder (Spin 2's whole platform, on WASI release candidates) is not needed.
fn outbound_redis(spin_sdk_5: &Path, to: &Path) {
    let from = spin_sdk_5.join("wit/deps/spin@2.0.0");
    let package = std::fs::read_to_string(from.join("world.wit"))
        .ok()
        .and_then(|world| {
            world
                .lines()
                .find(|line| line.starts_with("package "))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("{} declares its package", from.display()));
    std::fs::create_dir_all(to).expect("creating a WIT deps folder");
    std::fs::write(to.join("package.wit"), format!("{package}\n")).expect("writing package.wit");
    std::fs::copy(from.join("redis.wit"), to.join("redis.wit")).expect("copying redis.wit");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a WIT deps folder");
    let entries = std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("the WIT folder {} is missing: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("reading a WIT folder");
        if entry.path().extension().is_some_and(|ext| ext == "wit") {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copying a WIT file");
        }
    }
}

/// Where `world NAME {` starts in `text` (with the doc comment above it) and where its
/// closing brace ends.
fn world_span(text: &str, name: &str) -> (usize, usize) {
    let head = format!("\nworld {name} {{");
    let start = text
        .find(&head)
        .unwrap_or_else(|| panic!("wit/world.wit declares world {name}"))
        + 1;
    let mut depth = 0;
    let mut end = start;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = start + i + 1;
                    break;
                }
            }
            _ => {}
        }
    }
    // The doc comment lines just above belong to the world.
    let mut doc = start;
    for line in text[..start].lines().rev() {
        if !line.trim_start().starts_with("///") {
            break;
        }
        doc -= line.len() + 1;
    }
    (doc, end)
}

/// The package line and world `name` alone.
fn only_world(text: &str, name: &str) -> String {
    let package = text
        .lines()
        .find(|line| line.starts_with("package "))
        .expect("wit/world.wit names its package");
    let (start, end) = world_span(text, name);
    format!("{package}\n\n{}\n", &text[start..end])
}

/// Everything but world `name`.
fn without_world(text: &str, name: &str) -> String {
    let (start, end) = world_span(text, name);
    format!("{}{}", &text[..start], &text[end..])
}
