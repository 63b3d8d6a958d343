//! A remote Model Context Protocol server behind bearer tokens, as one WebAssembly
//! component that implements the WASI HTTP incoming handler.
//!
//! The crate is a plain-Rust core plus thin host glue:
//!
//! * [`web`] routes requests and writes the log line;
//! * [`auth`] turns an `Authorization` header into a [`auth::Principal`];
//! * [`transport`] speaks Streamable HTTP (and, with a shared store, legacy HTTP+SSE);
//! * [`protocol`] is JSON-RPC, the protocol revisions and what each MCP method does;
//! * [`tools`], [`resources`] and [`prompts`] hold what the server offers, one file each;
//!   [`fixtures`] holds what the conformance suite calls, off by default;
//! * [`host`] is everything the core needs from the machine, as traits, with the WASI
//!   and Spin implementations for the component and an in-memory one for tests.
//!
//! Nothing outside `host` touches WASI, so every protocol path runs natively under
//! `cargo test`.

// derive(Schema) names this crate by its path, inside it as outside.
extern crate self as remote_mcp_server;

pub mod auth;
pub mod catalog;
pub mod config;
pub mod fixtures;
pub mod host;
pub mod http;
pub mod ids;
pub mod prompts;
pub mod protocol;
pub mod resources;
pub mod tools;
pub mod transport;
pub mod web;

/// `Implementation.name`: what clients record this server as.
pub const SERVER_NAME: &str = "remote-mcp-server";
/// `Implementation.title`: the name shown to people.
pub const SERVER_TITLE: &str = "Remote MCP Server";
/// `Implementation.version`.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

pub use web::handle;

/// The README's Rust examples (the "Add your own tool" walkthrough) compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
