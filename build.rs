//! Prepares the component's bindings: `wit/world.wit` is the contract, and the standard
//! interfaces it names (wasi:http, wasi:io, wasi:cli, …, wasi:keyvalue, wasi:config) come
//! from the WIT files spin-sdk ships in its crate (`wit/deps/`), not from copies here.
//!
//! For a wasm32 build this script
//! 1. finds spin-sdk's source folder with `cargo metadata` on a one-dependency manifest
//!    pinned by this workspace's `Cargo.lock` (so it is the spin-sdk this build uses, and
//!    nothing beyond what the build already downloaded is needed: `--offline`);
//! 2. lays out `$OUT_DIR/wit/`: a copy of `wit/world.wit` plus the `deps/` folders it
//!    needs, copied from spin-sdk;
//! 3. writes `$OUT_DIR/bindings.rs`, a `wit_bindgen::generate!` of world `spin` (default)
//!    or `portable` (`--no-default-features`) on that folder, which `src/host/bindings.rs`
//!    includes.
//!
//! A change to `wit/world.wit` reruns it; code that disagrees with the contract then fails
//! to compile. Native builds (the tests) need no bindings and skip all of this.

use std::path::{Path, PathBuf};

#[path = "build/spin_sdk.rs"]
mod spin_sdk;

/// The WASI packages world `spin` and world `portable` resolve against, as spin-sdk names
/// its `wit/deps` folders. wit-bindgen resolves the order among them.
const DEPS: &[&str] = &[
    "io@0.2.0",
    "clocks@0.2.0",
    "random@0.2.0",
    "filesystem@0.2.0",
    "sockets@0.2.0",
    "cli@0.2.0",
    "http@0.2.0",
    "keyvalue-2024-10-17",
    "wasi-runtime-config-2024-09-27",
];

fn main() {
    println!("cargo:rerun-if-changed=wit");
    println!("cargo:rerun-if-changed=Cargo.lock");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let sdk = spin_sdk::source_dir(&manifest_dir, &out.join("locate-spin-sdk"));

    let wit = out.join("wit");
    let _ = std::fs::remove_dir_all(&wit);
    std::fs::create_dir_all(wit.join("deps")).expect("creating $OUT_DIR/wit");
    std::fs::copy(manifest_dir.join("wit/world.wit"), wit.join("world.wit"))
        .expect("copying wit/world.wit");
    for dep in DEPS {
        copy_dir(&sdk.join("wit/deps").join(dep), &wit.join("deps").join(dep));
    }

    let world = if std::env::var_os("CARGO_FEATURE_SPIN").is_some() {
        "spin"
    } else {
        "portable"
    };
    let bindings = format!(
        "wit_bindgen::generate!({{\n    path: {wit:?},\n    world: \"remote-mcp-server:component/{world}\",\n    generate_all,\n}});\n"
    );
    std::fs::write(out.join("bindings.rs"), bindings).expect("writing $OUT_DIR/bindings.rs");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a WIT deps folder");
    let entries = std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("spin-sdk's WIT folder {} is missing: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("reading a WIT folder");
        if entry.path().extension().is_some_and(|ext| ext == "wit") {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copying a WIT file");
        }
    }
}
