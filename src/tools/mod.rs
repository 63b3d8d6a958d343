//! Tools: what a model can call. A tool is one file here plus one line in [`REGISTRY`]:
//! its arguments are a Rust type (`#[derive(Deserialize, Schema)]`, doc comments as the
//! descriptions), its code a function of that type, and [`ToolDef::new`] ties them to a name.
//! The input schema clients see is derived from the type at compile time, so the two
//! cannot disagree; arguments are checked against it (with messages that name the
//! offending argument) before the function runs.
//!
//! ```
//! use remote_mcp_server::protocol::call::{Call, Stop};
//! use remote_mcp_server::tools::{Schema, ToolDef, Typed};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, Schema)]
//! pub struct Greet {
//!     /// Who to greet.
//!     #[schema(min_length = 1, max_length = 100)]
//!     name: String,
//! }
//!
//! pub const TOOL: ToolDef = ToolDef::new(
//!     "greet",
//!     "Greet someone",
//!     "Says hello to the person named.",
//!     &Typed::new(greet),
//! )
//! .read_only();
//!
//! async fn greet(Greet { name }: Greet, _: &mut Call<'_>) -> Result<String, Stop> {
//!     Ok(format!("Hello, {name}!"))
//! }
//! # assert_eq!(TOOL.input_schema, r#"{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":100,"description":"Who to greet."}},"required":["name"],"additionalProperties":false}"#);
//! ```

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::host::Pending;
use crate::protocol::call::{Call, Stop};
use crate::protocol::model::{Content, ToolAnnotations};

mod add;
mod countdown;
mod get_token;
pub mod schema;

pub use add::js_number_to_string;
/// `#[derive(Schema)]`: the JSON Schema of a struct, written out at compile time. Field
/// types, `#[schema(...)]` options and serde renames: see the `remote-mcp-server-macros` crate.
pub use remote_mcp_server_macros::Schema;

/// A type with a JSON Schema known at compile time; derive it.
pub trait Schema {
    /// The schema, as compact JSON text.
    const SCHEMA: &'static str;
    /// Properties that have a `default` in the schema, with that default as JSON text: filled
    /// in when the client leaves them out, before the arguments become the type.
    const DEFAULTS: &'static [(&'static str, &'static str)] = &[];
}

/// A tool's definition and its code.
pub struct ToolDef {
    /// Unique, stable, what clients call it by.
    pub name: &'static str,
    /// Display name for people.
    pub title: &'static str,
    /// What it does and when to use it, for the model.
    pub description: &'static str,
    /// JSON Schema of the arguments object, as JSON text. Only the keywords
    /// [`schema`] checks may appear (a test holds every tool to that).
    pub input_schema: &'static str,
    /// JSON Schema of the result's `structuredContent`, when the tool returns one.
    pub output_schema: Option<&'static str>,
    pub annotations: ToolAnnotations,
    /// Whether a call may go on as a task (2026-07-28 tasks extension).
    pub task_support: TaskSupport,
    /// The OAuth scopes a caller needs (in `static` and `jwt` modes), unless the
    /// `tool_scopes` variable says otherwise.
    pub scopes: &'static [&'static str],
    handler: &'static dyn Handler,
}

/// Whether a tool's calls may become tasks (`io.modelcontextprotocol/tasks`). A tool that
/// may calls [`Call::start_task`] where it should go on in the background.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskSupport {
    /// Never (the default).
    Forbidden,
    /// When the client declared the extension; otherwise the call runs within its request.
    Optional,
    /// Only as a task: clients that did not declare the extension are refused (-32021).
    Required,
}

impl ToolDef {
    /// A tool whose arguments are `A` and whose function returns `O` (text, a
    /// [`ToolOutput`], or [`Structured`] data with an output schema). Its annotations
    /// start all false: see [`ToolDef::read_only`] and the others.
    pub const fn new<A, O, F>(
        name: &'static str,
        title: &'static str,
        description: &'static str,
        run: &'static Typed<A, O, F>,
    ) -> ToolDef
    where
        A: Schema + DeserializeOwned + 'static,
        O: IntoOutput + 'static,
        F: AsyncFn(A, &mut Call<'_>) -> Result<O, Stop> + Sync + 'static,
    {
        ToolDef::of(name, title, description, A::SCHEMA, O::OUTPUT_SCHEMA, run)
    }

    /// A tool whose input schema is beyond what `derive(Schema)` expresses (`$ref`s,
    /// `allOf`, `if`/`then`): it gets the checked arguments as JSON.
    pub const fn with_schema<F>(
        name: &'static str,
        title: &'static str,
        description: &'static str,
        input_schema: &'static str,
        run: &'static Untyped<F>,
    ) -> ToolDef
    where
        F: AsyncFn(Map<String, Value>, &mut Call<'_>) -> Outcome + Sync + 'static,
    {
        ToolDef::of(name, title, description, input_schema, None, run)
    }

    /// What both constructors build: no annotations, no task support yet.
    const fn of(
        name: &'static str,
        title: &'static str,
        description: &'static str,
        input_schema: &'static str,
        output_schema: Option<&'static str>,
        handler: &'static dyn Handler,
    ) -> ToolDef {
        ToolDef {
            name,
            title,
            description,
            input_schema,
            output_schema,
            annotations: ToolAnnotations {
                read_only_hint: false,
                idempotent_hint: false,
                open_world_hint: false,
            },
            task_support: TaskSupport::Forbidden,
            scopes: &[],
            handler,
        }
    }

    /// It does not modify its environment (`readOnlyHint`).
    pub const fn read_only(mut self) -> ToolDef {
        self.annotations.read_only_hint = true;
        self
    }

    /// Calling it again with the same arguments has no further effect (`idempotentHint`).
    pub const fn idempotent(mut self) -> ToolDef {
        self.annotations.idempotent_hint = true;
        self
    }

    /// Its calls may go on as tasks (see [`TaskSupport`]).
    pub const fn tasks(mut self, support: TaskSupport) -> ToolDef {
        self.task_support = support;
        self
    }

    /// Callers need these scopes (in `static` and `jwt` modes; `tool_scopes` overrides).
    pub const fn scopes(mut self, scopes: &'static [&'static str]) -> ToolDef {
        self.scopes = scopes;
        self
    }

    /// It reaches outside this server: the web, other systems (`openWorldHint`).
    pub const fn open_world(mut self) -> ToolDef {
        self.annotations.open_world_hint = true;
        self
    }

    /// Reads the arguments (already checked against [`ToolDef::input_schema`]) into the
    /// tool's type; `Err` says why they do not fit. The returned closure runs the tool.
    pub fn prepare(&'static self, arguments: &Map<String, Value>) -> Result<Prepared, String> {
        self.handler.prepare(arguments)
    }
}

/// A tool with its arguments read, ready to run: called with the call's circumstances, it
/// gives the tool's run, which the server awaits.
pub type Prepared = Box<dyn for<'c, 'd> FnOnce(&'c mut Call<'d>) -> Pending<'c, Outcome>>;

/// A tool function of typed arguments `A`, returning `O`: an
/// `async fn(A, &mut Call) -> Result<O, Stop>` (or an async closure).
pub struct Typed<A, O, F> {
    run: F,
    types: PhantomData<fn(A) -> O>,
}

impl<A, O, F> Typed<A, O, F> {
    pub const fn new(run: F) -> Typed<A, O, F>
    where
        F: AsyncFn(A, &mut Call<'_>) -> Result<O, Stop>,
    {
        Typed {
            run,
            types: PhantomData,
        }
    }
}

/// A tool function of the arguments as JSON (see [`ToolDef::with_schema`]): an
/// `async fn(Map<String, Value>, &mut Call) -> Outcome`.
pub struct Untyped<F>(F);

impl<F> Untyped<F> {
    pub const fn new(run: F) -> Untyped<F>
    where
        F: AsyncFn(Map<String, Value>, &mut Call<'_>) -> Outcome,
    {
        Untyped(run)
    }
}

trait Handler: Sync {
    fn prepare(&'static self, arguments: &Map<String, Value>) -> Result<Prepared, String>;
}

impl<A, O, F> Handler for Typed<A, O, F>
where
    A: Schema + DeserializeOwned + 'static,
    O: IntoOutput + 'static,
    F: AsyncFn(A, &mut Call<'_>) -> Result<O, Stop> + Sync + 'static,
{
    fn prepare(&'static self, arguments: &Map<String, Value>) -> Result<Prepared, String> {
        let missing = |(name, _): &&(&str, &str)| !arguments.contains_key(*name);
        let filled;
        let arguments = if A::DEFAULTS.iter().any(|d| missing(&d)) {
            let mut with_defaults = arguments.clone();
            for (name, default) in A::DEFAULTS.iter().filter(missing) {
                let value = serde_json::from_str(default).map_err(|e| e.to_string())?;
                with_defaults.insert(name.to_string(), value);
            }
            filled = with_defaults;
            &filled
        } else {
            arguments
        };
        let typed = A::deserialize(MapRef(arguments)).map_err(|e| format!("arguments: {e}"))?;
        let run = &self.run;
        Ok(Box::new(move |call| {
            Box::pin(async move { run(typed, call).await.map(IntoOutput::into_output) })
        }))
    }
}

impl<F> Handler for Untyped<F>
where
    F: AsyncFn(Map<String, Value>, &mut Call<'_>) -> Outcome + Sync + 'static,
{
    fn prepare(&'static self, arguments: &Map<String, Value>) -> Result<Prepared, String> {
        let arguments = arguments.clone();
        let run = &self.0;
        Ok(Box::new(move |call| Box::pin(run(arguments, call))))
    }
}

/// The arguments object read as a map by serde, without copying it into a `Value`.
struct MapRef<'a>(&'a Map<String, Value>);

impl<'de> serde::Deserializer<'de> for MapRef<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let entries = self.0.iter().map(|(k, v)| (k.as_str(), v));
        let mut map = serde::de::value::MapDeserializer::new(entries);
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// What a tool function returns: text, a whole [`ToolOutput`], or [`Structured`] data.
pub trait IntoOutput {
    /// The output schema clients see (`outputSchema`), for structured results.
    const OUTPUT_SCHEMA: Option<&'static str> = None;
    fn into_output(self) -> ToolOutput;
}

impl IntoOutput for ToolOutput {
    fn into_output(self) -> ToolOutput {
        self
    }
}

impl IntoOutput for String {
    fn into_output(self) -> ToolOutput {
        ToolOutput::text(self)
    }
}

/// A structured result: `structuredContent`, described by `T`'s schema as the tool's
/// `outputSchema`, and the same JSON as text for clients that predate structured results
/// (2025-06-18: SHOULD).
pub struct Structured<T>(pub T);

impl<T: Serialize + Schema> IntoOutput for Structured<T> {
    const OUTPUT_SCHEMA: Option<&'static str> = Some(T::SCHEMA);

    fn into_output(self) -> ToolOutput {
        let value = serde_json::to_value(&self.0).unwrap_or(Value::Null);
        ToolOutput {
            structured: Some(value.clone()),
            ..ToolOutput::text(value.to_string())
        }
    }
}

/// A tool that takes no arguments (and refuses any).
#[derive(Deserialize, Schema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// What a tool produced. A `Stop` ends it early: cancelled, waiting for input, or failed
/// (a failure becomes a result with `isError: true`, never a protocol error).
pub type Outcome = Result<ToolOutput, Stop>;

/// A tool's result.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    pub content: Vec<Content>,
    /// Conforms to the tool's `output_schema`.
    pub structured: Option<Value>,
    /// The tool ran and failed; the content says why, for the model.
    pub is_error: bool,
}

impl ToolOutput {
    pub fn text(text: impl Into<String>) -> ToolOutput {
        ToolOutput::content(vec![Content::text(text)])
    }

    pub fn content(content: Vec<Content>) -> ToolOutput {
        ToolOutput {
            content,
            structured: None,
            is_error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            is_error: true,
            ..ToolOutput::text(text)
        }
    }
}

/// The user-facing tools, in the order `tools/list` shows them.
pub const REGISTRY: &[&ToolDef] = &[&add::TOOL, &get_token::TOOL, &countdown::TOOL];

/// The names of the tools that start with `prefix`: what completion offers for an
/// argument that names a tool.
pub fn names_starting_with(prefix: &str) -> Vec<String> {
    REGISTRY
        .iter()
        .filter(|t| t.name.starts_with(prefix))
        .map(|t| t.name.to_string())
        .collect()
}
