//! Sessions of the legacy transports, kept in the host's shared key-value store so that
//! any instance on any node can serve any request of a session.
//!
//! A record is bound to the principal that created it: presented by anyone else, the id
//! is as unknown as a made-up one (404). Records expire after `session_ttl_seconds`
//! without activity; the expiry is rewritten only once half of it has passed, so a busy
//! session costs one read per request, not a write.

use serde::{Deserialize, Serialize};

use super::outbox::Outbox;
use super::places::{Counted, Full, Place, Places};
use super::{events, expiry, keys};
use crate::config::{ConfigError, Settings};
use crate::host::{Host, KeyValue, StoreError};
pub use crate::ids::SessionId;
use crate::protocol::version::Revision;

/// Which transport a session belongs to; an id from one is unknown to the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// HTTP+SSE (2024-11-05): `GET /sse` plus `POST /sse/message`.
    Sse,
    /// Streamable HTTP with `Mcp-Session-Id` (2025-03-26 to 2025-11-25).
    StreamableHttp,
}

/// The stored record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub kind: Kind,
    /// The creator's principal id (`auth::Principal::id`).
    pub principal: String,
    /// The revision `initialize` negotiated.
    pub revision: String,
    /// Unix milliseconds after which the session is gone.
    pub expires_at: u64,
    /// The capabilities the client declared at `initialize`.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub capabilities: serde_json::Value,
    /// The level `logging/setLevel` chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Resources subscribed to with `resources/subscribe`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<String>,
}

impl Session {
    /// The negotiated revision (the transport's own when the record holds an unknown one).
    pub fn revision(&self) -> Revision {
        Revision::parse(&self.revision).unwrap_or(match self.kind {
            Kind::Sse => Revision::V2024_11_05,
            Kind::StreamableHttp => Revision::DEFAULT_LEGACY,
        })
    }
}

/// The sessions in one store.
pub struct Sessions<'a> {
    pub host: &'a dyn Host,
    pub store: &'a dyn KeyValue,
    pub ttl_ms: u64,
}

/// Why no session was created.
#[derive(Debug)]
pub enum Refused {
    /// The principal holds as many as it may.
    Full(Full),
    Store(StoreError),
    Config(ConfigError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Refused {
        Refused::Store(e)
    }
}

impl<'a> Sessions<'a> {
    pub fn new(
        host: &'a dyn Host,
        store: &'a dyn KeyValue,
        settings: &Settings<'_>,
    ) -> Result<Sessions<'a>, ConfigError> {
        Ok(Sessions {
            host,
            store,
            ttl_ms: settings.session_ttl_ms()?,
        })
    }

    /// The session places: counted in the epoch a session expires in.
    pub fn places(&self) -> Places<'a> {
        Places::new(self.store, Counted::Sessions, self.ttl_ms)
    }

    /// Starts a session for `principal`, remembering what the client can do; refused when
    /// the principal already holds `max_sessions_per_principal` live ones, or the server
    /// `max_sessions_total`. (Those are read only here: a request in a session needs none.)
    pub async fn create(
        &self,
        settings: &Settings<'_>,
        kind: Kind,
        principal_id: &str,
        revision: Revision,
        capabilities: serde_json::Value,
    ) -> Result<(SessionId, Session), Refused> {
        let config = || -> Result<_, ConfigError> {
            Ok((settings.max_sessions()?, settings.max_sessions_total()?))
        };
        let (cap, total_cap) = config().map_err(Refused::Config)?;
        let id = SessionId::generate(self.host);
        let now = self.host.now_unix_ms();
        let session = Session {
            kind,
            principal: principal_id.to_string(),
            revision: revision.as_str().to_string(),
            expires_at: now + self.ttl_ms,
            capabilities,
            log_level: None,
            subscriptions: Vec::new(),
        };
        let place = self
            .places()
            .admit(
                principal_id,
                id.as_str(),
                session.expires_at,
                cap,
                total_cap,
                now,
            )
            .await?
            .map_err(Refused::Full)?;
        self.set_place_until(&id, place.until).await?;
        self.save(&id, &session).await?;
        expiry::note(self.store, &keys::session(&id), session.expires_at, now).await?;
        Ok((id, session))
    }

    /// When the session `id` (as text) expires, if it still exists.
    pub async fn lives_until(&self, id: &str) -> Result<Option<u64>, StoreError> {
        Ok(match SessionId::parse(id) {
            Some(id) => self.read(&id).await?.map(|s| s.expires_at),
            None => None,
        })
    }

    pub async fn save(&self, id: &SessionId, session: &Session) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(session).map_err(|e| StoreError(e.to_string()))?;
        self.store.set(&keys::session(id), &bytes).await
    }

    /// The live session `id` of `kind` owned by `principal`, its expiry pushed back when
    /// half of it has passed. `None` for unknown, expired, foreign or other-kind ids.
    pub async fn find(
        &self,
        id: &SessionId,
        kind: Kind,
        principal_id: &str,
    ) -> Result<Option<Session>, StoreError> {
        let Some(mut session) = self.read(id).await? else {
            return Ok(None);
        };
        if session.kind != kind || session.principal != principal_id {
            return Ok(None);
        }
        let now = self.host.now_unix_ms();
        if session.expires_at <= now {
            self.end(id).await?;
            return Ok(None);
        }
        if session.expires_at - now < self.ttl_ms / 2 {
            // The place moves once, by whichever instance claims it first (see quota).
            let mut place = self.place(id, &session).await?;
            if self
                .places()
                .renew(&mut place, now + self.ttl_ms, now)
                .await?
            {
                self.set_place_until(id, place.until).await?;
            }
            session.expires_at = now + self.ttl_ms;
            self.save(id, &session).await?;
            expiry::note(self.store, &keys::session(id), session.expires_at, now).await?;
        }
        Ok(Some(session))
    }

    /// The record as stored, whoever owns it; `None` when absent or unreadable.
    pub async fn read(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        Ok(self
            .store
            .get(&keys::session(id))
            .await?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Ends a session: its record, its resource subscriptions, everything in its outbox,
    /// and its place (once, however many instances end it at the same moment).
    pub async fn end(&self, id: &SessionId) -> Result<(), StoreError> {
        if let Some(session) = self.read(id).await? {
            for uri in &session.subscriptions {
                events::unsubscribe(self.store, id, uri).await?;
            }
            let place = self.place(id, &session).await?;
            self.places()
                .release(&place, self.host.now_unix_ms())
                .await?;
        }
        self.store.delete(&keys::session(id)).await?;
        self.store.delete(&keys::place(id)).await?;
        Outbox::new(self.store, id).clear().await
    }

    /// The session's place, as its place record says (written only where the place is
    /// taken or moved, never by the record's other writers, which could write back an
    /// older expiry).
    async fn place(&self, id: &SessionId, session: &Session) -> Result<Place, StoreError> {
        let until = self
            .store
            .get(&keys::place(id))
            .await?
            .and_then(|b| String::from_utf8(b).ok()?.parse().ok())
            .unwrap_or(session.expires_at);
        Ok(self.places().place(&session.principal, id.as_str(), until))
    }

    /// Notes in the expiry index that session `id` may lapse at `at`: the sweep looks at
    /// it then (a session whose expiry was moved back, as when its HTTP+SSE stream ended
    /// and it waits a moment for the client).
    pub async fn note_expiry(&self, id: &SessionId, at: u64) -> Result<(), StoreError> {
        expiry::note(self.store, &keys::session(id), at, self.host.now_unix_ms()).await
    }

    async fn set_place_until(&self, id: &SessionId, until: u64) -> Result<(), StoreError> {
        self.store
            .set(&keys::place(id), until.to_string().as_bytes())
            .await
    }
}
