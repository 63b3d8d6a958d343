//! `info://server`: what this server is and how it is configured, as JSON.

use serde_json::json;

use super::ResourceDef;
use crate::protocol::call::{Call, Stop};
use crate::protocol::model::ResourceContents;
use crate::protocol::Revision;

pub const RESOURCE: ResourceDef = ResourceDef {
    uri: "info://server",
    name: "server-info",
    title: "Server information",
    description: "This server's name, version, protocol revisions and authentication mode.",
    mime_type: "application/json",
    read: &read,
};

async fn read(call: &mut Call<'_>) -> Result<Vec<ResourceContents>, Stop> {
    let info = json!({
        "name": crate::SERVER_NAME,
        "version": crate::SERVER_VERSION,
        "protocolRevisions": Revision::supported(),
        "authMode": call.settings.auth_mode()?.as_str(),
        "sessions": call.host.store().is_some(),
    });
    Ok(vec![ResourceContents::text(
        RESOURCE.uri,
        RESOURCE.mime_type,
        info.to_string(),
    )])
}
