//! The shipped components, read back the way `wasm-tools component wit` reads them: each
//! imports exactly its world in `wit/`, and nothing its hosts do not provide.
//!
//! Needs the wasm builds, so it is `#[ignore]`d under a plain `cargo test`;
//! `scripts/test` builds them and runs it.

use std::collections::BTreeSet;
use std::path::Path;

use wit_parser::{PackageName, Resolve, WorldId, WorldKey};

#[path = "../build/wit_sources.rs"]
mod wit_sources;

const SPIN_BUILD: &str = "target/wasm32-wasip2/release/remote_mcp_server.wasm";
const SPIN_P2_BUILD: &str = "target/wasm32-wasip2/spin-p2/remote_mcp_server.wasm";
const HOSTED_BUILD: &str = "target/wasm32-wasip2/hosted/remote_mcp_server.wasm";
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

/// This project's `wit/`, resolved against the WIT the crates `build.rs` reads ship
/// (located as `build.rs` locates them).
fn worlds() -> Resolve {
    static LAID_OUT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let all = LAID_OUT.get_or_init(lay_out);
    let mut resolve = Resolve::new();
    resolve
        .push_dir(all)
        .expect("wit/ parses against the crates' WIT");
    resolve
}

/// A folder with wit/ and every package the worlds name, once per test run.
fn lay_out() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let sources = wit_sources::source_dirs(root, &tmp.join("locate-wit"), wit_sources::WITH_HOSTED);
    // Every world at once: wit/ plus the WASIp2, WASIp3 and Spin packages as its deps
    // (build.rs gives each build only its own).
    let all = tmp.join("wit-all");
    let _ = std::fs::remove_dir_all(&all);
    std::fs::create_dir_all(all.join("deps")).unwrap();
    std::fs::copy(root.join("wit/world.wit"), all.join("world.wit")).unwrap();
    for (krate, suffix) in [("wasi", "-p2"), ("wasip3", "-p3"), ("spin-sdk", "")] {
        for entry in std::fs::read_dir(sources[krate].join("wit/deps")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy();
            // spin-sdk also ships a WASIp2 clocks and io of its own; wasi's serve.
            if krate == "spin-sdk"
                && !["wasi-keyvalue", "wasi-runtime", "spin-key-value"]
                    .iter()
                    .any(|wanted| name.starts_with(wanted))
            {
                continue;
            }
            if path.is_dir() {
                let to = all.join("deps").join(format!("{name}{suffix}"));
                std::fs::create_dir_all(&to).unwrap();
                for file in std::fs::read_dir(&path).unwrap() {
                    let file = file.unwrap().path();
                    std::fs::copy(&file, to.join(file.file_name().unwrap())).unwrap();
                }
            } else {
                std::fs::copy(&path, all.join("deps").join(format!("{name}{suffix}.wit"))).unwrap();
            }
        }
    }
    // Spin's outbound Redis for WASIp2, as build.rs lays it out for the hosted build.
    let redis = sources["spin-sdk-5"].join("wit/deps/spin@2.0.0");
    let package = std::fs::read_to_string(redis.join("world.wit")).unwrap();
    let package = package.lines().find(|l| l.starts_with("package ")).unwrap();
    let to = all.join("deps/fermyon-spin");
    std::fs::create_dir_all(&to).unwrap();
    std::fs::write(to.join("package.wit"), format!("{package}\n")).unwrap();
    std::fs::copy(redis.join("redis.wit"), to.join("redis.wit")).unwrap();
    all
}

fn world(resolve: &Resolve, name: &str) -> WorldId {
    let package = PackageName {
        namespace: "remote-mcp-server".into(),
        name: "component".into(),
        version: Some("0.1.0".parse().unwrap()),
    };
    let id = resolve.package_names[&package];
    resolve.packages[id].worlds[name]
}

/// What a host provides, as written down in `tests/hosts/`.
fn provided(list: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hosts")
        .join(list);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn spin_build_is_exactly_its_world_and_what_std_adds() {
    let resolve = worlds();
    let mut expected = surface(&resolve, world(&resolve, "spin"));
    expected
        .imports
        .extend(surface(&resolve, world(&resolve, "std")).imports);
    assert_eq!(component(SPIN_BUILD), expected);
}

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn spin_p2_build_is_exactly_its_world() {
    let resolve = worlds();
    assert_eq!(
        component(SPIN_P2_BUILD),
        surface(&resolve, world(&resolve, "spin-p2"))
    );
}

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn hosted_build_is_exactly_its_world() {
    let resolve = worlds();
    assert_eq!(
        component(HOSTED_BUILD),
        surface(&resolve, world(&resolve, "spin-hosted"))
    );
}

/// Fermyon Wasm Functions does not start a component that imports anything it lacks
/// (`wasi:keyvalue/atomics` first of all): the hosted build imports only what its FAQ
/// lists, and so does its world.
#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn hosted_build_imports_only_what_fermyon_wasm_functions_provides() {
    let provided = provided("fermyon-wasm-functions.txt");
    let built = component(HOSTED_BUILD);
    let missing: Vec<_> = built.imports.difference(&provided).collect();
    assert!(
        missing.is_empty(),
        "Fermyon Wasm Functions does not provide {missing:?}"
    );
    assert!(built.imports.contains("fermyon:spin/redis@2"));
    assert_eq!(
        built.exports,
        BTreeSet::from(["wasi:http/incoming-handler@0.2".to_string()])
    );
    // The list itself can fail this test: the Spin builds' atomics are not on it.
    assert!(
        component(SPIN_P2_BUILD)
            .imports
            .difference(&provided)
            .any(|name| name == "wasi:keyvalue/atomics@0.2.0-draft2"),
        "the list should leave out wasi:keyvalue/atomics"
    );
}

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn portable_build_is_exactly_its_world() {
    let resolve = worlds();
    assert_eq!(
        component(PORTABLE_BUILD),
        surface(&resolve, world(&resolve, "portable"))
    );
}

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn the_spin_builds_import_only_what_spin_4_provides() {
    let provided = provided("spin-4.0.2.txt");
    for (build, export) in [
        (SPIN_BUILD, "wasi:http/handler@0.3.0-rc-2026-03-15"),
        (SPIN_P2_BUILD, "wasi:http/incoming-handler@0.2"),
        (HOSTED_BUILD, "wasi:http/incoming-handler@0.2"),
    ] {
        let built = component(build);
        let missing: Vec<_> = built.imports.difference(&provided).collect();
        assert!(
            missing.is_empty(),
            "Spin 4.0.2 does not provide {missing:?} ({build})"
        );
        assert_eq!(
            built.exports,
            BTreeSet::from([export.to_string()]),
            "{build}"
        );
    }
}

#[test]
#[ignore = "needs the wasm builds; scripts/test builds them and runs this"]
fn portable_build_imports_only_the_proxy_world_and_wasi_cli() {
    let resolve = worlds();
    let wasi = |package: &str, name: &str| {
        let (namespace, rest) = package.split_once(':').unwrap();
        let (pkg_name, version) = rest.split_once('@').unwrap();
        let package = PackageName {
            namespace: namespace.into(),
            name: pkg_name.into(),
            version: Some(version.parse().unwrap()),
        };
        let id = resolve.package_names[&package];
        surface(&resolve, resolve.packages[id].worlds[name]).imports
    };
    let mut provided = wasi("wasi:http@0.2.0", "proxy");
    provided.extend(wasi("wasi:cli@0.2.0", "imports"));
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
