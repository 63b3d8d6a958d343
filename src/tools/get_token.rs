//! `getToken`: the seed's demo of handing the caller's credentials to a tool.
//!
//! It echoes the request's `Authorization` header back to the caller. That shows the
//! principal reaches tool code; a real server must never expose tokens like this. Outside
//! `passthrough` mode it needs the `token:read` scope.

use super::{NoArguments, ToolDef, Typed};
use crate::protocol::call::{Call, Stop};

pub const TOOL: ToolDef = ToolDef::new(
    "getToken",
    "Show my bearer token",
    "Returns the Authorization header this request was made with. A demo of tools seeing \
     the caller's credentials; takes no arguments.",
    &Typed::new(get_token),
)
.read_only()
.idempotent()
.scopes(&["token:read"]);

async fn get_token(_: NoArguments, call: &mut Call<'_>) -> Result<String, Stop> {
    Ok(format!(
        "User's token: {}",
        call.principal.authorization.expose()
    ))
}
