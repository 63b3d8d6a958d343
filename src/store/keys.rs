//! Every key this server writes in the shared store: one table of prefixes, the functions
//! that spell each key, and [`Key::parse`], which the sweep uses to tell what a key it
//! finds in the expiry index is. Writers and the sweep read the same table, so they cannot
//! drift apart.
//!
//! | key | what | written by |
//! | --- | --- | --- |
//! | `session:<id>` | a legacy session's record | [`super::session`] |
//! | `place:<id>` | when the session's counted place lapses | [`super::session`] |
//! | `outbox:<id>:<seq>`, `:head`, `:delivered`, `:lease`, `:bell` | messages for a session's stream | [`super::outbox`] |
//! | `outbox:<id>` (index only) | an outbox started: checked against its session | [`super::outbox`] |
//! | `bell:<00..ff>` | rung when a message is queued for a stream of an instance listening on it (`outbox:<id>:bell` names it; 256 at most, never deleted) | [`super::outbox`] |
//! | `quota:<kind>:<epoch width>:<whose>:<epoch>` | places counted per epoch | [`super::places`] |
//! | `claim:<what>` | makes one change happen once | [`super::places`], [`super::tasks`] |
//! | `expiry:<bucket>:<n>`, `:n`, `expiry:cursor` | the expiry index | [`super::expiry`] |
//! | `sweep:next` | when the next sweep is due | [`super::sweep`] |
//! | `events:head`, `events:<seq>` | the change feed | [`super::events`] |
//! | `rsub:<uri digest>:<id>` | a legacy session's resource subscription | [`super::events`] |
//! | `ask:<id>:<request>`, `reply:<id>:<request>` | a server→client request awaited, its answer | [`super::asks`] |
//! | `cancel:<id>:<digest>`, `running:<id>:<digest>` | a cancellation, a running request | [`super::asks`] |
//! | `task:<id>`, `task-final:<id>`, `task-in:<id>:<digest>`, `task-cancel:<id>` | tasks | [`super::tasks`] |
//! | `jwks:<digest>`, `jwks:<digest>:failed` | the issuer's keys, a failed fetch | [`super::jwks`] |
//! | `server:state-key` | the key that signs `requestState` | [`super::secret`] |

use crate::ids::SessionId;

pub const SESSION: &str = "session:";
pub const PLACE: &str = "place:";
pub const OUTBOX: &str = "outbox:";
pub const QUOTA: &str = "quota:";
pub const CLAIM: &str = "claim:";
pub const EXPIRY: &str = "expiry:";
/// Where the sweep goes on from: `<bucket>:<entries of it done>`.
pub const EXPIRY_CURSOR: &str = "expiry:cursor";
pub const SWEEP_NEXT: &str = "sweep:next";
pub const EVENTS: &str = "events:";
pub const SUBSCRIPTION: &str = "rsub:";
pub const ASK: &str = "ask:";
pub const REPLY: &str = "reply:";
pub const CANCEL: &str = "cancel:";
pub const RUNNING: &str = "running:";
pub const TASK: &str = "task:";
pub const TASK_FINAL: &str = "task-final:";
pub const TASK_INPUT: &str = "task-in:";
pub const TASK_CANCEL: &str = "task-cancel:";
pub const JWKS: &str = "jwks:";
/// `introspected:<token digest>`: an introspection answer, until it lapses.
pub const INTROSPECTED: &str = "introspected:";
/// When an introspection request last failed, as any instance saw it.
pub const INTROSPECTION_FAILED: &str = "introspection:failed";
pub const STATE_KEY: &str = "server:state-key";

/// A key noted in the expiry index, as the sweep sees it when its time comes.
#[derive(Debug, PartialEq, Eq)]
pub enum Key<'k> {
    /// `session:<id>`: a session that may have expired.
    Session(SessionId),
    /// A `session:` key whose id this server could not have issued.
    Malformed,
    /// `outbox:<id>`: an outbox that must not outlive its session.
    OutboxStarted(SessionId),
    /// `rsub:…:<id>`: a subscription that goes with its session.
    Subscription(Option<SessionId>),
    /// `task:<id>`: a task past its time to live.
    Task(&'k str),
    /// `ask:<session>:<request>`: a wait whose instance died; its answer is `reply:…`.
    Ask(&'k str),
    /// Removed as it is once its time has come: quota counters of passed epochs, claims,
    /// cancellations, running markers, a task's end, answers and cancellation, and
    /// introspection answers.
    Lapsed,
    /// Nothing this server writes into the index.
    Unknown,
}

impl<'k> Key<'k> {
    pub fn parse(key: &'k str) -> Key<'k> {
        if let Some(id) = key.strip_prefix(SESSION) {
            return SessionId::parse(id).map_or(Key::Malformed, Key::Session);
        }
        if let Some(id) = key.strip_prefix(OUTBOX) {
            return SessionId::parse(id).map_or(Key::Unknown, Key::OutboxStarted);
        }
        if let Some(rest) = key.strip_prefix(SUBSCRIPTION) {
            return Key::Subscription(rest.rsplit(':').next().and_then(SessionId::parse));
        }
        if let Some(id) = key.strip_prefix(TASK) {
            return Key::Task(id);
        }
        if let Some(rest) = key.strip_prefix(ASK) {
            return Key::Ask(rest);
        }
        let lapses = [
            QUOTA,
            CLAIM,
            CANCEL,
            RUNNING,
            TASK_FINAL,
            TASK_INPUT,
            TASK_CANCEL,
            INTROSPECTED,
        ];
        if lapses.iter().any(|prefix| key.starts_with(prefix)) {
            Key::Lapsed
        } else {
            Key::Unknown
        }
    }
}

pub fn session(id: &SessionId) -> String {
    format!("{SESSION}{id}")
}

pub fn place(id: &SessionId) -> String {
    format!("{PLACE}{id}")
}

/// The prefix of session `id`'s outbox keys.
pub fn outbox(id: &SessionId) -> String {
    format!("{OUTBOX}{id}:")
}

pub const BELL: &str = "bell:";

/// The bell an instance's streams listen on (`transport::feed`): one of 256, so the store
/// holds at most 256 of them however many instances come and go.
pub fn bell(slot: u8) -> String {
    format!("{BELL}{slot:02x}")
}

/// How an outbox appears in the expiry index.
pub fn outbox_started(id: &SessionId) -> String {
    format!("{OUTBOX}{id}")
}

pub fn claim(what: &str) -> String {
    format!("{CLAIM}{what}")
}

pub fn event(seq: u64) -> String {
    format!("{EVENTS}{seq}")
}

pub const EVENTS_HEAD: &str = "events:head";

/// The prefix of the subscriptions to the URI whose digest is `uri_digest`.
pub fn subscriptions(uri_digest: &str) -> String {
    format!("{SUBSCRIPTION}{uri_digest}:")
}

pub fn ask(session: &SessionId, request: &str) -> String {
    format!("{ASK}{session}:{request}")
}

/// The answer to the request an `ask:` key (without its prefix) names.
pub fn reply_for(ask_rest: &str) -> String {
    format!("{REPLY}{ask_rest}")
}

pub fn reply(session: &SessionId, request: &str) -> String {
    reply_for(&format!("{session}:{request}"))
}

pub fn cancel(session: &SessionId, request_digest: &str) -> String {
    format!("{CANCEL}{session}:{request_digest}")
}

pub fn running(session: &SessionId, request_digest: &str) -> String {
    format!("{RUNNING}{session}:{request_digest}")
}

pub fn task(id: &str) -> String {
    format!("{TASK}{id}")
}

pub fn task_final(id: &str) -> String {
    format!("{TASK_FINAL}{id}")
}

pub fn task_input(id: &str, key_digest: &str) -> String {
    format!("{TASK_INPUT}{id}:{key_digest}")
}

pub fn task_cancel(id: &str) -> String {
    format!("{TASK_CANCEL}{id}")
}

pub fn jwks(url_digest: &str) -> String {
    format!("{JWKS}{url_digest}")
}

pub fn introspected(token_digest: &str) -> String {
    format!("{INTROSPECTED}{token_digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_sweep_may_meet_is_told_apart() {
        let id = SessionId::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
        assert_eq!(Key::parse(&session(&id)), Key::Session(id.clone()));
        assert_eq!(Key::parse("session:nope"), Key::Malformed);
        assert_eq!(
            Key::parse(&outbox_started(&id)),
            Key::OutboxStarted(id.clone())
        );
        assert_eq!(
            Key::parse(&format!("{}{id}", subscriptions("abc"))),
            Key::Subscription(Some(id.clone()))
        );
        assert_eq!(Key::parse(&task("t1")), Key::Task("t1"));
        assert_eq!(
            Key::parse(&ask(&id, "s-1")),
            Key::Ask(&ask(&id, "s-1")[4..])
        );
        for lapsing in [
            "quota:sessions:1000:all:5".to_string(),
            claim("end:x"),
            cancel(&id, "d"),
            running(&id, "d"),
            task_final("t1"),
            task_input("t1", "k"),
            task_cancel("t1"),
        ] {
            assert_eq!(Key::parse(&lapsing), Key::Lapsed, "{lapsing}");
        }
        assert_eq!(Key::parse("something:else"), Key::Unknown);
    }
}
