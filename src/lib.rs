//! A remote Model Context Protocol server behind bearer tokens, as one WebAssembly
//! component that implements the WASI HTTP incoming handler.
//!
//! The crate is a plain-Rust core plus thin host glue, in layers:
//!
//! * [`web`] routes requests and writes the log line;
//! * [`transport`] speaks Streamable HTTP (and, with a shared store, legacy HTTP+SSE);
//! * [`protocol`] is JSON-RPC, the protocol revisions and MCP's types (the wire types),
//!   what each MCP method does, and the tool API ([`protocol::call`]);
//! * [`auth`] turns an `Authorization` header into a [`auth::Principal`] under the policy
//!   in force;
//! * [`store`] is everything kept in the host's shared key-value store, and the one place
//!   that knows its keys;
//! * [`config`] is the table of variables; [`ids`] makes ids and digests;
//! * [`host`] is everything the core needs from the machine, as traits, with the WASI
//!   and Spin implementations for the component and an in-memory one for tests;
//!   [`http`] is the HTTP vocabulary (requests, responses, the sink a response streams to).
//!
//! Beside them, [`tools`], [`resources`] and [`prompts`] hold what the server offers, one
//! file each, and see only the tool API; [`fixtures`] holds what the conformance suite
//! calls, off by default; [`catalog`] gathers them.
//!
//! Imports run one way, down this chain:
//!
//! ```text
//! web → transport → protocol → auth → store → {protocol's wire types, config, ids} → host → http
//! ```
//!
//! (the protocol's dispatch reaches the catalog, which reaches the tools, which reach the
//! tool API). So nothing in `protocol/` names `crate::transport`, nothing in `store/` names
//! the protocol beyond its wire types (`jsonrpc`, `model`, `version`), and `config` and
//! `http` import no layer above them: a check that needs the catalog takes it as an
//! argument. `scripts/check-layers` fails on an import against this rule.
//!
//! Nothing outside `host` touches WASI, so every protocol path runs natively under
//! `cargo test`.

// derive(Schema) names this crate by its path, inside it as outside.
extern crate self as remote_mcp_server;

pub mod auth;
pub mod catalog;
pub mod config;
#[cfg(fixtures)]
pub mod fixtures;
pub mod host;
pub mod http;
pub mod ids;
pub mod prompts;
pub mod protocol;
pub mod resources;
pub mod store;
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
