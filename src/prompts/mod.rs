//! Prompts: message templates a client offers its user (as slash commands, for example).
//! One file per prompt plus one line in [`REGISTRY`].

use serde_json::{Map, Value};

use crate::host::Pending;
use crate::protocol::call::{Call, Stop};
use crate::protocol::model::{PromptArgument, PromptMessage};

mod use_tool;

/// What a prompt produces: its messages, or why it stopped.
pub type Messages = Result<Vec<PromptMessage>, Stop>;

/// A prompt's definition and its code.
pub struct PromptDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: &'static [PromptArgument],
    /// The messages for `arguments` (all required ones present, all strings): an
    /// `async fn(&mut Call, &Map<String, Value>) -> Messages`.
    pub get: &'static dyn Get,
    /// Suggested values for `argument` starting with `prefix` (`completion/complete`).
    pub complete: fn(argument: &str, prefix: &str) -> Vec<String>,
}

/// How a prompt's messages are made: implemented for every
/// `async fn(&mut Call, &Map<String, Value>) -> Messages`.
pub trait Get: Sync {
    fn get<'c, 'd>(
        &'static self,
        call: &'c mut Call<'d>,
        arguments: &'c Map<String, Value>,
    ) -> Pending<'c, Messages>;
}

impl<F> Get for F
where
    F: AsyncFn(&mut Call<'_>, &Map<String, Value>) -> Messages + Sync + 'static,
{
    fn get<'c, 'd>(
        &'static self,
        call: &'c mut Call<'d>,
        arguments: &'c Map<String, Value>,
    ) -> Pending<'c, Messages> {
        Box::pin(self(call, arguments))
    }
}

pub const REGISTRY: &[&PromptDef] = &[&use_tool::PROMPT];
