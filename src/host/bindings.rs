//! Bindings generated from `wit/world.wit` (world `spin`, or `portable` without the `spin`
//! feature) by `wit-bindgen`; `build.rs` prepares the WIT folder and the macro call.

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
