//! What this server offers: the user-facing tools, resources and prompts, plus the
//! conformance fixtures when `conformance_fixtures` is on.

use crate::fixtures;
use crate::prompts::{self, PromptDef};
use crate::resources::{self, ResourceDef, TemplateDef};
use crate::tools::{self, ToolDef};

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
        self.with(tools::REGISTRY, fixtures::tools::TOOLS)
    }

    pub fn tool(&self, name: &str) -> Option<&'static ToolDef> {
        self.tools().find(|t| t.name == name)
    }

    pub fn resources(&self) -> impl Iterator<Item = &'static ResourceDef> {
        self.with(resources::RESOURCES, fixtures::resources::RESOURCES)
    }

    pub fn templates(&self) -> impl Iterator<Item = &'static TemplateDef> {
        self.with(resources::TEMPLATES, fixtures::resources::TEMPLATES)
    }

    pub fn prompts(&self) -> impl Iterator<Item = &'static PromptDef> {
        self.with(prompts::REGISTRY, fixtures::prompts::PROMPTS)
    }

    pub fn prompt(&self, name: &str) -> Option<&'static PromptDef> {
        self.prompts().find(|p| p.name == name)
    }
}
