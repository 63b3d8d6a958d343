//! What this server offers: the user-facing tools, resources and prompts, plus the
//! conformance fixtures when `conformance_fixtures` is on; and the scopes its tools
//! require, checked against it.

use crate::config::{ConfigError, Settings, ToolScopes, TOOL_SCOPES};
use crate::prompts::{self, PromptDef};
use crate::resources::{self, ResourceDef, TemplateDef};
use crate::tools::{self, ToolDef};

/// The conformance fixtures, where the build has them (`cfg(fixtures)`: see build.rs).
#[cfg(fixtures)]
mod fixtures {
    pub use crate::fixtures::prompts::PROMPTS;
    pub use crate::fixtures::resources::{RESOURCES, TEMPLATES};
    pub use crate::fixtures::tools::TOOLS;
}
#[cfg(not(fixtures))]
mod fixtures {
    use crate::prompts::PromptDef;
    use crate::resources::{ResourceDef, TemplateDef};
    use crate::tools::ToolDef;
    pub const PROMPTS: &[&PromptDef] = &[];
    pub const RESOURCES: &[&ResourceDef] = &[];
    pub const TEMPLATES: &[&TemplateDef] = &[];
    pub const TOOLS: &[&ToolDef] = &[];
}

#[derive(Clone, Copy, Debug)]
pub struct Catalog {
    fixtures: bool,
}

impl Catalog {
    pub fn new(fixtures: bool) -> Catalog {
        Catalog { fixtures }
    }

    fn with<T: ?Sized + 'static>(
        &self,
        own: &'static [&'static T],
        extra: &'static [&'static T],
    ) -> impl Iterator<Item = &'static T> + use<T> {
        let extra: &'static [&'static T] = if self.fixtures { extra } else { &[] };
        own.iter().chain(extra.iter()).copied()
    }

    /// Every tool, in `tools/list` order.
    pub fn tools(&self) -> impl Iterator<Item = &'static ToolDef> {
        self.with(tools::REGISTRY, fixtures::TOOLS)
    }

    pub fn tool(&self, name: &str) -> Option<&'static ToolDef> {
        self.tools().find(|t| t.name == name)
    }

    pub fn resources(&self) -> impl Iterator<Item = &'static ResourceDef> {
        self.with(resources::RESOURCES, fixtures::RESOURCES)
    }

    pub fn templates(&self) -> impl Iterator<Item = &'static TemplateDef> {
        self.with(resources::TEMPLATES, fixtures::TEMPLATES)
    }

    pub fn prompts(&self) -> impl Iterator<Item = &'static PromptDef> {
        self.with(prompts::REGISTRY, fixtures::PROMPTS)
    }

    pub fn prompt(&self, name: &str) -> Option<&'static PromptDef> {
        self.prompts().find(|p| p.name == name)
    }
}

/// The scopes each tool requires (where the auth mode enforces scopes): what `tool_scopes`
/// lists, or, where it is not set, what each tool's definition declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scopes(ToolScopes);

impl Scopes {
    /// The scopes `tool` requires.
    pub fn of(&self, tool: &str) -> &[String] {
        self.0
            .iter()
            .find(|(name, _)| name == tool)
            .map_or(&[], |(_, scopes)| scopes.as_slice())
    }

    /// Whether any tool requires a scope (so tool lists differ between callers).
    pub fn any(&self) -> bool {
        self.0.iter().any(|(_, scopes)| !scopes.is_empty())
    }
}

impl Catalog {
    /// The scopes each tool requires. A `tool_scopes` entry naming no tool of this server
    /// (fixtures included, whether on or not) is a configuration error.
    pub fn tool_scopes(settings: &Settings<'_>) -> Result<Scopes, ConfigError> {
        let every = Catalog::new(true);
        let Some(configured) = settings.tool_scopes()? else {
            return Ok(Scopes(
                every
                    .tools()
                    .map(|tool| {
                        let scopes = tool.scopes.iter().map(|s| s.to_string()).collect();
                        (tool.name.to_string(), scopes)
                    })
                    .collect(),
            ));
        };
        if let Some((unknown, _)) = configured
            .iter()
            .find(|(name, _)| every.tool(name).is_none())
        {
            let error = TOOL_SCOPES.problem(format!("there is no tool called {unknown:?}"));
            settings.log_refusal(&error);
            return Err(error);
        }
        Ok(Scopes(configured.to_vec()))
    }
}
