//! The shipped components, read back the way `wasm-tools component wit` reads them:
//! each imports exactly its world in `wit/`, and nothing its hosts do not provide.
//!
//! Needs both wasm builds, so it is `#[ignore]`d under a plain `cargo test`;
//! `scripts/test` builds them and runs it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use wit_parser::{PackageName, Resolve, WorldId, WorldKey};

#[path = "../build/spin_sdk.rs"]
mod spin_sdk;

const SPIN_BUILD: &str = "target/wasm32-wasip2/release/remote_mcp_server.wasm";
const PORTABLE_BUILD: &str = "target/wasm32-wasip2/portable/remote_mcp_server.wasm";
const NEEDS_BUILDS: &str = "needs the wasm builds; scripts/test builds them and runs this";

/// An interface name with its version cut to what hosts match on: `wasi:http/types@0.2.6`
/// and `@0.2.0` are the same interface to wasmtime and Spin (semver-compatible), a
/// pre-release such as `0.2.0-draft2` is only itself.
fn normalize(name: &str) -> String {
    let Some((interface, version)) = name.split_once('@') else {
        return name.to_string();
    };
    if version.contains('-') {
        return name.to_string();
    }
    let parts: Vec<&str> = version.split('.').collect();
    let compatible = if parts[0] == "0" {
        format!("0.{}", parts.get(1).unwrap_or(&"0"))
    } else {
        parts[0].to_string()
    };
    format!("{interface}@{compatible}")
}

#[derive(Debug, PartialEq)]
struct Surface {
    imports: BTreeSet<String>,
    exports: BTreeSet<String>,
}

fn surface(resolve: &Resolve, world: WorldId) -> Surface {
    let names = |items: &mut dyn Iterator<Item = &WorldKey>| -> BTreeSet<String> {
        items
            .map(|key| match key {
                WorldKey::Interface(id) => normalize(&resolve.id_of(*id).expect("named interface")),
                WorldKey::Name(name) => name.clone(),
            })
            .collect()
    };
    let w = &resolve.worlds[world];
    Surface {
        imports: names(&mut w.imports.keys()),
        exports: names(&mut w.exports.keys()),
    }
}

fn component(path: &str) -> Surface {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}; {NEEDS_BUILDS}"));
    match wit_component::decode(&bytes).expect("a component") {
        wit_component::DecodedWasm::Component(resolve, world) => surface(&resolve, world),
        wit_component::DecodedWasm::WitPackage(..) => panic!("{path} is a WIT package"),
    }
}

/// spin-sdk's WIT folder, which describes the Spin platform and carries the standard
/// WASI interfaces in `deps/` (located as `build.rs` locates it).
fn spin_sdk_wit() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let probe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("locate-spin-sdk");
    spin_sdk::source_dir(root, &probe).join("wit")
}

/// spin-sdk's WIT plus this project's `wit/`, resolved together.
fn worlds() -> Resolve {
    let mut resolve = Resolve::new();
    resolve
        .push_dir(spin_sdk_wit())
        .expect("spin-sdk's WIT parses");
    resolve
        .push_dir("wit")
        .expect("wit/ parses against spin-sdk's WIT");
    resolve
}

fn world(resolve: &Resolve, package: &str, name: &str) -> WorldId {
    let (namespace, rest) = package.split_once(':').unwrap();
    let (pkg_name, version) = rest.split_once('@').unwrap();
    let package = PackageName {
        namespace: namespace.into(),
        name: pkg_name.into(),
        version: Some(version.parse().unwrap()),
    };
    let id = resolve.package_names[&package];
    resolve.packages[id].worlds[name]
}

const OURS: &str = "remote-mcp-server:component@0.1.0";

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn portable_build_is_exactly_its_world() {
    let resolve = worlds();
    assert_eq!(
        component(PORTABLE_BUILD),
        surface(&resolve, world(&resolve, OURS, "portable"))
    );
}

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn spin_build_is_exactly_its_world() {
    let resolve = worlds();
    assert_eq!(
        component(SPIN_BUILD),
        surface(&resolve, world(&resolve, OURS, "spin"))
    );
}

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn portable_build_imports_only_the_proxy_world_and_wasi_cli() {
    let resolve = worlds();
    let mut provided = surface(&resolve, world(&resolve, "wasi:http@0.2.6", "proxy")).imports;
    provided.extend(surface(&resolve, world(&resolve, "wasi:cli@0.2.6", "imports")).imports);
    let built = component(PORTABLE_BUILD);
    let missing: Vec<_> = built.imports.difference(&provided).collect();
    assert!(
        missing.is_empty(),
        "wasmtime serve -Scli does not provide {missing:?}"
    );
    assert_eq!(
        built.exports,
        BTreeSet::from(["wasi:http/incoming-handler@0.2".to_string()])
    );
}

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn spin_build_imports_only_what_spin_provides() {
    let resolve = worlds();
    let provided = surface(&resolve, world(&resolve, "spin:up@3.6.0", "platform")).imports;
    let built = component(SPIN_BUILD);
    let missing: Vec<_> = built.imports.difference(&provided).collect();
    assert!(missing.is_empty(), "Spin does not provide {missing:?}");
    assert_eq!(
        built.exports,
        BTreeSet::from(["wasi:http/incoming-handler@0.2".to_string()])
    );
}
