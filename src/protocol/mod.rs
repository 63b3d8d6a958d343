//! The protocol layer: JSON-RPC framing, revisions and MCP's types (the wire types, which
//! the store may use too), the tool API ([`call`]), the dispatch of a request
//! ([`server`]) and what each method does ([`handler`]). It knows nothing of HTTP; the
//! transport layer decides the revision and hands requests in.

pub mod call;
pub mod exchange;
pub mod handler;
pub mod jsonrpc;
pub mod model;
pub mod server;
pub mod version;

pub use version::Revision;

/// `_meta` keys of the 2026-07-28 per-request envelope.
pub mod meta {
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
    pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
}
