//! Resources: data a client can read. Direct resources have a fixed URI; templates
//! (RFC 6570 level 1, `{name}` segments) cover families of URIs. One file per resource
//! plus one line in [`RESOURCES`] or [`TEMPLATES`].

use crate::host::Pending;
use crate::protocol::call::{Call, Stop};
use crate::protocol::model::ResourceContents;

mod server_info;
mod tool_schema;

/// What reading a resource produces: its contents, or why it stopped.
pub type Contents = Result<Vec<ResourceContents>, Stop>;

/// A resource with a fixed URI.
pub struct ResourceDef {
    pub uri: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub mime_type: &'static str,
    /// Reads it: an `async fn(&mut Call) -> Contents`.
    pub read: &'static dyn Read,
}

/// A family of resources whose URIs match a template.
pub struct TemplateDef {
    pub uri_template: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub mime_type: &'static str,
    /// Reads the resource at `uri`, whose template variables are `vars`: an
    /// `async fn(&mut Call, &str, &[(String, String)]) -> Contents`.
    pub read: &'static dyn ReadTemplate,
    /// Suggested values for `variable` starting with `prefix` (`completion/complete`).
    pub complete: fn(variable: &str, prefix: &str) -> Vec<String>,
}

/// How a resource is read: implemented for every `async fn(&mut Call) -> Contents`.
pub trait Read: Sync {
    fn read<'c, 'd>(&'static self, call: &'c mut Call<'d>) -> Pending<'c, Contents>;
}

impl<F> Read for F
where
    F: AsyncFn(&mut Call<'_>) -> Contents + Sync + 'static,
{
    fn read<'c, 'd>(&'static self, call: &'c mut Call<'d>) -> Pending<'c, Contents> {
        Box::pin(self(call))
    }
}

/// How a resource of a template is read: implemented for every
/// `async fn(&mut Call, &str, &[(String, String)]) -> Contents`.
pub trait ReadTemplate: Sync {
    fn read<'c, 'd>(
        &'static self,
        call: &'c mut Call<'d>,
        uri: &'c str,
        vars: &'c [(String, String)],
    ) -> Pending<'c, Contents>;
}

impl<F> ReadTemplate for F
where
    F: AsyncFn(&mut Call<'_>, &str, &[(String, String)]) -> Contents + Sync + 'static,
{
    fn read<'c, 'd>(
        &'static self,
        call: &'c mut Call<'d>,
        uri: &'c str,
        vars: &'c [(String, String)],
    ) -> Pending<'c, Contents> {
        Box::pin(self(call, uri, vars))
    }
}

pub const RESOURCES: &[&ResourceDef] = &[&server_info::RESOURCE];
pub const TEMPLATES: &[&TemplateDef] = &[&tool_schema::TEMPLATE];

/// The values of `template`'s variables if `uri` matches it. A variable matches one or
/// more characters other than `/`.
pub fn match_template(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
    let mut vars = Vec::new();
    let mut rest = uri;
    let mut parts = template.split('{');
    let literal = parts.next()?;
    rest = rest.strip_prefix(literal)?;
    for part in parts {
        let (name, literal) = part.split_once('}')?;
        let end = if literal.is_empty() {
            rest.len()
        } else {
            rest.find(literal)?
        };
        let value = &rest[..end];
        if value.is_empty() || value.contains('/') {
            return None;
        }
        vars.push((name.to_string(), value.to_string()));
        rest = rest[end..].strip_prefix(literal)?;
    }
    rest.is_empty().then_some(vars)
}

#[cfg(test)]
mod tests {
    use super::match_template;

    #[test]
    fn templates_match_whole_segments() {
        let vars = |t, u| match_template(t, u);
        assert_eq!(
            vars("test://template/{id}/data", "test://template/123/data"),
            Some(vec![("id".into(), "123".into())])
        );
        assert_eq!(
            vars("test://template/{id}/data", "test://template//data"),
            None
        );
        assert_eq!(
            vars("test://template/{id}/data", "test://template/1/2/data"),
            None
        );
        assert_eq!(
            vars("test://template/{id}/data", "test://template/1/data/x"),
            None
        );
        assert_eq!(
            vars("tool://{name}/schema", "tool://add/schema"),
            Some(vec![("name".into(), "add".into())])
        );
        assert_eq!(vars("a://{x}", "a://"), None);
    }
}
