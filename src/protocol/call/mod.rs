//! The tool API: the circumstances of one call into a tool, prompt or resource, and what
//! it may do while it runs: report progress, send log messages, wait, ask the client for
//! input (elicitation, sampling, roots), go on as a task. Tools, resources and prompts see
//! this module and the model types, nothing else of the server.
//!
//! * [`input`]: asking the client, per era: legacy server→client requests that meet
//!   their answers in the shared store, 2026-07-28 `input_required` rounds, a task's
//!   `tasks/update` answers;
//! * [`state`]: the signed `requestState` that carries a 2026-07-28 call's answers between
//!   rounds;
//! * [`admission`]: the time budget, and the places that bound a principal's long-running
//!   calls.

use serde_json::{json, Map, Value};

use super::jsonrpc::{self, RequestId, RpcError};
use super::model::declares_tasks;
use super::Revision;
use crate::auth::Principal;
use crate::config::Settings;
use crate::host::{Host, Pending};
use crate::store::asks::SessionLink;
use crate::store::events;
use crate::store::places::{Place, Places};
use crate::store::tasks::TaskLink;

mod admission;
mod input;
pub mod state;

pub use crate::store::events::Change;
pub use admission::{request_deadline, task_deadline, REQUEST_BUDGET_MS, TASK_BUDGET_MS};
pub use input::TASK_INPUT_WAIT_MS;
pub use state::Rounds;

/// Why a call stopped before producing its result.
#[derive(Debug, PartialEq)]
pub enum Stop {
    /// The client went away or cancelled the request: send nothing more.
    Cancelled,
    /// 2026-07-28: input is needed; the result is `input_required`.
    InputRequired,
    /// The call failed in a way the caller should see as a tool error (`isError`).
    Failed(String),
    /// A protocol error.
    Error(RpcError),
    /// 2026-07-28 with the tasks extension: go on as a task (see [`Call::start_task`]).
    StartTask,
}

impl From<crate::config::ConfigError> for Stop {
    fn from(e: crate::config::ConfigError) -> Stop {
        Stop::Error(e.into())
    }
}

/// Where a call's messages to the client go while it runs.
pub trait Emitter {
    /// Sends a notification or server→client request now. `Err(Stop::Cancelled)` when the
    /// client is gone.
    fn send<'a>(&'a mut self, message: &'a Value) -> Pending<'a, Result<(), Stop>>;
}

/// An emitter for calls that cannot stream (batches): messages are dropped.
pub struct Discard;

impl Emitter for Discard {
    fn send<'a>(&'a mut self, _message: &'a Value) -> Pending<'a, Result<(), Stop>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Log levels (RFC 5424 severities, as MCP names them), least severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
        LogLevel::Alert,
        LogLevel::Emergency,
    ];

    pub fn parse(name: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }
}

/// What a call is into: the method and its tool, prompt or URI (what a `requestState` is
/// bound to).
#[derive(Clone, Debug)]
pub struct Target {
    pub method: String,
    pub name: String,
}

/// What a call needs to know of the request it serves (the protocol's `Exchange` gives
/// it): who calls, in which revision, what the client can do, where its log messages stop,
/// the legacy session it belongs to, and when its time runs out.
pub struct Context<'a> {
    pub principal: &'a Principal,
    pub host: &'a dyn Host,
    pub settings: &'a Settings<'a>,
    pub revision: Revision,
    pub client_capabilities: Value,
    /// Messages below this level are not sent; `None` sends none.
    pub log_level: Option<LogLevel>,
    pub session: Option<SessionLink<'a>>,
    /// When the call's time budget runs out.
    pub deadline: u64,
}

/// One call into a tool, prompt or resource.
pub struct Call<'a> {
    pub principal: &'a Principal,
    pub host: &'a dyn Host,
    pub settings: &'a Settings<'a>,
    pub revision: Revision,
    /// What the client declared it can do (`sampling`, `elicitation`, `roots`, …).
    pub client_capabilities: Value,
    progress_token: Option<Value>,
    /// Messages below this level are not sent; `None` sends none (2026-07-28 without
    /// `_meta` logLevel).
    log_level: Option<LogLevel>,
    emitter: &'a mut dyn Emitter,
    session: Option<SessionLink<'a>>,
    request_id: Option<RequestId>,
    /// Modern input rounds: answers so far (this retry's and earlier rounds'), state the
    /// callee keeps across rounds, and the requests this round could not satisfy.
    rounds: Rounds,
    pending: Map<String, Value>,
    target: Target,
    /// When the call's time budget runs out.
    deadline: u64,
    /// This call's place among its principal's long-running ones, taken at its first
    /// wait and given back when the call ends.
    running: Option<(Places<'a>, Place)>,
    /// The task this call runs as, when it runs as one.
    task: Option<TaskLink<'a>>,
    /// Whether the tool may become a task (its [`TaskSupport`](crate::tools::TaskSupport)).
    tasks_allowed: bool,
}

/// A task sleeps in slices of at most this, looking for a cancellation in between.
const TASK_SLICE_MS: u64 = 250;

impl<'a> Call<'a> {
    /// A call serving `request` into `target`, with the answers its input rounds carried
    /// (see [`state::rounds`]).
    pub fn new(
        context: Context<'a>,
        emitter: &'a mut dyn Emitter,
        request: &jsonrpc::Request,
        target: Target,
        rounds: Rounds,
    ) -> Call<'a> {
        let progress_token = request
            .params
            .get("_meta")
            .and_then(|m| m.get("progressToken"))
            .filter(|t| t.is_string() || t.is_number())
            .cloned();
        let mut call = Call::of(context, emitter, target, rounds);
        call.progress_token = progress_token;
        call.request_id = Some(request.id.clone());
        call
    }

    /// A call running as task `link` (after its request was answered with the task),
    /// holding `running`, its place among its principal's long-running calls.
    pub fn for_task(
        context: Context<'a>,
        emitter: &'a mut dyn Emitter,
        target: Target,
        rounds: Rounds,
        link: TaskLink<'a>,
        running: (Places<'a>, Place),
    ) -> Call<'a> {
        let mut call = Call::of(context, emitter, target, rounds);
        call.running = Some(running);
        call.task = Some(link);
        call.tasks_allowed = true;
        call
    }

    fn of(
        context: Context<'a>,
        emitter: &'a mut dyn Emitter,
        target: Target,
        rounds: Rounds,
    ) -> Call<'a> {
        Call {
            principal: context.principal,
            host: context.host,
            settings: context.settings,
            revision: context.revision,
            client_capabilities: context.client_capabilities,
            progress_token: None,
            log_level: context.log_level,
            emitter,
            session: context.session,
            request_id: None,
            rounds,
            pending: Map::new(),
            target,
            deadline: context.deadline,
            running: None,
            task: None,
            tasks_allowed: false,
        }
    }

    /// From here on the tool runs as a task, when it can: in a 2026-07-28 request whose
    /// client declared the tasks extension, on a host with a shared store, the request is
    /// answered with a task handle now and the tool runs again, from the start, as the task
    /// (answers to this request's input rounds carried over, so everything before this
    /// point must be quick and repeatable). Otherwise the call simply goes on within its
    /// request. Tools that may become tasks say so in their [`ToolDef`](crate::tools::ToolDef).
    pub fn start_task(&mut self) -> Result<(), Stop> {
        if self.task.is_some()
            || !self.tasks_allowed
            || !self.revision.is_modern()
            || self.host.store().is_none()
            || !declares_tasks(&self.client_capabilities)
        {
            return Ok(());
        }
        Err(Stop::StartTask)
    }

    /// Lets the call become a task (for tools whose definition allows it).
    pub fn allow_tasks(&mut self, allowed: bool) {
        self.tasks_allowed = allowed;
    }

    /// The answers and state of this request's input rounds, for the task it becomes.
    pub fn take_rounds(&mut self) -> Rounds {
        std::mem::take(&mut self.rounds)
    }

    /// Whether the client declared `capability` (`sampling`, `elicitation`, `roots`).
    pub fn has_capability(&self, capability: &str) -> bool {
        self.client_capabilities
            .get(capability)
            .is_some_and(|c| !c.is_null())
    }

    /// Reports progress, if the client asked for it with a progress token.
    pub async fn progress(
        &mut self,
        progress: f64,
        total: Option<f64>,
        message: Option<&str>,
    ) -> Result<(), Stop> {
        self.check_cancelled().await?;
        self.keep_task_alive().await?;
        let Some(token) = self.progress_token.clone() else {
            return Ok(());
        };
        let mut params = json!({"progressToken": token, "progress": progress});
        if let Some(total) = total {
            params["total"] = json!(total);
        }
        if let Some(message) = message.filter(|_| self.revision >= Revision::V2025_03_26) {
            params["message"] = json!(message);
        }
        self.emitter
            .send(&jsonrpc::notification("notifications/progress", &params))
            .await
    }

    /// Sends a log message, if the level in force lets it through.
    pub async fn log(&mut self, level: LogLevel, logger: &str, data: Value) -> Result<(), Stop> {
        self.keep_task_alive().await?;
        if self.log_level.is_none_or(|floor| level < floor) {
            return Ok(());
        }
        let params = json!({"level": level.as_str(), "logger": logger, "data": data});
        self.emitter
            .send(&jsonrpc::notification("notifications/message", &params))
            .await
    }

    /// Waits, noticing a cancellation meanwhile (a task, at least every quarter second).
    pub async fn sleep_ms(&mut self, millis: u64) -> Result<(), Stop> {
        self.check_cancelled().await?;
        self.before_wait(millis).await?;
        if self.task.is_none() {
            self.host.sleep_ms(millis).await;
            return self.check_cancelled().await;
        }
        let until = self.host.now_unix_ms() + millis;
        loop {
            let now = self.host.now_unix_ms();
            if now >= until {
                return Ok(());
            }
            self.host.sleep_ms((until - now).min(TASK_SLICE_MS)).await;
            self.check_cancelled().await?;
            self.before_wait(0).await?;
        }
    }

    /// Tells clients that listen for changes (2026-07-28 `subscriptions/listen`, legacy
    /// resource subscriptions) that what the server offers changed. Without a shared store
    /// nobody else could hear of it.
    pub async fn publish(&self, change: &Change) -> Result<(), Stop> {
        events::publish(self.host, change)
            .await
            .map_err(|e| Stop::Failed(e.to_string()))
    }

    /// Whether the client cancelled this request: a task's `tasks/cancel`, or a legacy
    /// `notifications/cancelled` (recorded in the store by whichever instance received it).
    async fn check_cancelled(&self) -> Result<(), Stop> {
        if let Some(task) = &self.task {
            return if task.cancel_requested().await {
                Err(Stop::Cancelled)
            } else {
                Ok(())
            };
        }
        let (Some(link), Some(id)) = (&self.session, &self.request_id) else {
            return Ok(());
        };
        match link.cancelled(id).await {
            Ok(true) => Err(Stop::Cancelled),
            _ => Ok(()),
        }
    }
}
