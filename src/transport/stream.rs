//! An event stream fed from a session's outbox: the long-lived response of `GET /sse`
//! (legacy HTTP+SSE) and of `GET /mcp` with a session (Streamable HTTP).
//!
//! The instance holding the stream polls the outbox in the shared store. Polling is
//! tiered by how long the stream has been quiet: every few milliseconds for a while after
//! a message, so a conversation flows, and seldom after long silence, since each poll is
//! a store read and most streams of a busy host are idle. Comment lines keep idle
//! connections open through proxies and reveal a client that has gone (the write fails).

use crate::auth::Principal;
use crate::config::{ConfigError, Settings};
use crate::host::{KeyValue, StoreError};
use crate::http::{Headers, Response, ResponseSink};
use crate::store::outbox::{Lease, Outbox, MAX_BACKLOG};
use crate::store::places::{Full, Leased};
use crate::store::poll_interval;
use crate::store::session::{Kind, SessionId, Sessions};

use super::feed::{Feed, Wake};

/// How soon a stream looks again for a message whose number was taken but that is not
/// written yet.
const POLL_MIN_MS: u64 = poll_interval(0);
/// How often the stream re-reads its session, at least: for its expiry, and to keep it from
/// expiring (an open stream is activity, and the read renews a session past half its time
/// to live), so a third of `session_ttl_seconds` where that is shorter. (A DELETE or a
/// takeover shows sooner: the instance's feed watches the outbox's lease, and a DELETE
/// rings the bell where the instance listens on one.) Done up to a keep-alive early (at
/// most half the interval), at the wake that writes a keep-alive, rather than at a wake of
/// its own: an idle stream wakes for its keep-alives alone.
const SESSION_CHECK_MS: u64 = 120_000;
/// How often the stream asks the host whether its client hung up, unless it wrote
/// meanwhile: every second while it is young (clients that give up at once, reconnect
/// storms), then as often as the default keep-alive. Each check is a wake-up of the
/// stream (under Spin 4.0.2, 1,000 idle streams checking every second took about 4% of a
/// core; every 5 s, with the session checks every 30 s, 2.6%).
const HANG_UP_CHECK_MS: [u64; 2] = [1_000, 15_000];
const YOUNG_MS: u64 = 30_000;
/// Checks per idle-instance grace period ([`crate::host::Host::idle_instance_grace_ms`]) of a stream
/// that is its instance's only request: when its client hangs up, the host has nothing
/// left to send and drops the instance after the grace; the stream must have ended (its
/// place freed, its line logged) by then.
const CHECKS_PER_GRACE: u64 = 3;

/// How long a taken sequence number may stay empty (its writer died mid-push) before
/// the stream moves past it.
pub const GAP_WAIT_MS: u64 = 2000;
/// Delivered messages a Streamable HTTP stream keeps for `Last-Event-ID` replay.
pub const REPLAY_WINDOW: u64 = 32;
/// The comment an idle event stream sends every `keepalive_seconds`.
pub const KEEPALIVE: &[u8] = b": keepalive\n\n";
/// The reconnection delay a stream suggests when it ends at its maximum lifetime.
pub const RETRY_MS: u64 = 1000;

/// How events are framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// HTTP+SSE (2024-11-05): `event: message` with `id: <session>/<seq>`, so that an
    /// EventSource reconnecting after the stream's lifetime resumes its session
    /// ([`resumed_session`]); delivered messages are deleted.
    Sse,
    /// Streamable HTTP: `id: <seq>` on each event so a client can resume with
    /// `Last-Event-ID`; the last [`REPLAY_WINDOW`] delivered messages are kept.
    Streamable,
}

/// Why a stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// A write failed: the client went away.
    ClientGone,
    /// The session expired or was deleted.
    SessionGone,
    /// Another stream of the same session took over.
    Superseded,
    /// The stream reached `stream_max_seconds`; it told the client when to reconnect.
    Lifetime,
    Store(StoreError),
}

impl From<StoreError> for End {
    fn from(e: StoreError) -> End {
        End::Store(e)
    }
}

/// The response headers of an event stream.
pub fn headers() -> Headers {
    Headers::from([
        ("content-type", "text/event-stream"),
        ("cache-control", "no-cache"),
        // Tells nginx-style proxies not to buffer the stream (Streamable HTTP §"Receiving").
        ("x-accel-buffering", "no"),
    ])
}

/// The event id of message `seq` of HTTP+SSE session `id` (`0` for the endpoint event).
pub fn sse_event_id(id: &SessionId, seq: u64) -> String {
    format!("{id}/{seq}")
}

/// The session and last delivered sequence number an HTTP+SSE reconnect names in
/// `Last-Event-ID`, when it names one this server could have issued.
pub fn resumed_session(last_event_id: &str) -> Option<(SessionId, u64)> {
    let (id, seq) = last_event_id.trim().split_once('/')?;
    let seq: u64 = seq.parse().ok()?;
    // Delivery goes on from seq + 1: a number no outbox can reach names nothing.
    (seq < u64::MAX / 2).then_some(())?;
    Some((SessionId::parse(id)?, seq))
}

/// The last words of a stream that ends at its maximum lifetime: the SSE `retry` field,
/// which sets how soon the client reconnects (Streamable HTTP clients resume with
/// `Last-Event-ID`).
pub fn retry_hint() -> Vec<u8> {
    format!("retry: {RETRY_MS}\n\n").into_bytes()
}

/// The settings every long-lived stream lives by.
pub struct StreamLimits {
    pub keepalive_ms: u64,
    /// Longest life of a stream.
    pub max_ms: u64,
    /// Streams one principal may hold open.
    pub per_principal: usize,
    /// Streams the whole server may hold open.
    pub total: usize,
}

impl StreamLimits {
    pub fn load(settings: &Settings<'_>) -> Result<StreamLimits, ConfigError> {
        Ok(StreamLimits {
            keepalive_ms: settings.keepalive_ms()?,
            max_ms: crate::config::within_request_limit(
                settings.stream_max_ms()?,
                settings.request_limit_ms()?,
            ),
            per_principal: settings.max_streams()?,
            total: settings.max_streams_total()?,
        })
    }

    /// How long a stream's place lasts unless renewed: a few keep-alive intervals, so the
    /// place of a stream whose instance died frees that soon after.
    pub fn lease_ms(&self) -> u64 {
        (LEASE_KEEPALIVES * self.keepalive_ms).max(MIN_LEASE_MS)
    }

    /// Takes place `id` (random) among the principal's and the server's streams, or says
    /// when one may free up.
    pub async fn take<'a>(
        &self,
        store: &'a dyn KeyValue,
        principal: &Principal,
        id: &str,
        now: u64,
    ) -> Result<Result<Leased<'a>, Full>, StoreError> {
        let caps = (self.per_principal, self.total);
        Leased::take(store, &principal.id, id, self.lease_ms(), caps, now).await
    }

    /// Place `id`, lapsing at `until`, of the stream this one takes over.
    pub fn inherit<'a>(
        &self,
        store: &'a dyn KeyValue,
        principal: &Principal,
        id: &str,
        until: u64,
    ) -> Leased<'a> {
        Leased::inherit(store, &principal.id, id, until, self.lease_ms())
    }
}

/// A stream's place lasts this many keep-alive intervals past its last renewal (4 min at
/// the default 15 s), renewed after seven eighths of it (every 3.5 min): the place of a
/// stream whose node died frees within five minutes. Renewals are most of what an idle
/// stream costs its store on SQLite (each is seven writes, every one a transaction with
/// fsyncs under Spin's SQLite store; two more deletes, batched, when the sweep comes): at
/// four keep-alives renewed at half, 1,000 idle streams on SQLite took a fifth of a core;
/// at eight renewed at three quarters, 7.6-8.3%; at sixteen, 4.8-5.4%.
const LEASE_KEEPALIVES: u64 = 16;
const MIN_LEASE_MS: u64 = 2_000;

/// How a long-lived stream of a session opens.
pub struct Opening {
    pub kind: Kind,
    pub framing: Framing,
    /// An event sent ahead of the outbox's messages (HTTP+SSE's `endpoint`).
    pub first: Option<Vec<u8>>,
    /// The sequence number to deliver from.
    pub next: u64,
}

/// Serves the long-lived stream of session `id` (`GET /sse`, `GET /mcp`): takes the
/// principal's place for it (429 beyond `max_streams_per_principal`), takes the outbox
/// over from any older stream of the session, and delivers until the stream ends.
/// `Err` is the response to send instead of a stream.
///
/// A stream whose client went away after another stream took the outbox over (its old
/// connection noticed late) ends [`End::Superseded`], so the caller leaves the session
/// to its successor; a superseded stream leaves its quota place to the successor too.
pub async fn serve(
    sessions: &Sessions<'_>,
    feed: &Feed,
    settings: &Settings<'_>,
    principal: &Principal,
    id: &SessionId,
    opening: Opening,
    sink: &mut dyn ResponseSink,
) -> Result<End, Response> {
    let (host, store) = (sessions.host, sessions.store);
    let limits = StreamLimits::load(settings).map_err(|e| e.response())?;
    let now = host.now_unix_ms();
    // A stream that takes the outbox over from a live one (a reconnect its predecessor
    // has not noticed yet, or one whose node died) takes its place over too.
    let held = match Outbox::new(store, id).lease().await {
        Ok(lease) => lease.filter(|l| l.until > now),
        Err(e) => return Err(super::store_failure(host, &e)),
    };
    let inherited = held.is_some();
    let mut claim = match held {
        Some(lease) => limits.inherit(store, principal, &lease.place, lease.until),
        None => match limits
            .take(store, principal, &crate::ids::random_hex(host, 16), now)
            .await
        {
            Ok(Ok(claim)) => claim,
            Ok(Err(full)) => return Err(super::full(&full, None)),
            Err(e) => return Err(super::store_failure(host, &e)),
        },
    };
    crate::store::sweep::when_due(host, store, settings).await;
    let outbox = Outbox::new(store, id);
    let mut token = [0u8; 16];
    host.fill_random(&mut token);
    let lease = |claim: &Leased<'_>| Lease {
        token,
        until: claim.until(),
        place: claim.id().to_string(),
    };
    if let Err(e) = outbox.set_lease(&lease(&claim)).await {
        // A place taken for this stream goes back. An inherited one stays with the stream
        // the lease still names, which gives it back itself (or it lapses with the lease,
        // if the write went through after all): given back here, it would count for
        // nobody while that stream lives.
        if !inherited {
            claim.release(host.now_unix_ms()).await;
        }
        return Err(super::store_failure(host, &e));
    }
    let opened = sink.head(200, &headers()).await.is_ok()
        && match &opening.first {
            Some(first) => sink.body(first).await.is_ok(),
            None => true,
        };
    let end = if opened {
        Stream {
            sessions,
            feed,
            id,
            kind: opening.kind,
            principal,
            keepalive_ms: limits.keepalive_ms,
            max_ms: limits.max_ms,
            framing: opening.framing,
            token,
        }
        .run(sink, opening.next, &mut claim)
        .await
    } else {
        End::ClientGone
    };
    let current = outbox.lease().await.ok().flatten();
    let ours = current.as_ref().is_some_and(|l| l.token == token);
    let end = match end {
        // A client that left after another stream took the outbox over (its old
        // connection noticed late) leaves the session to that stream.
        End::ClientGone if current.is_some() && !ours => End::Superseded,
        end => end,
    };
    let now = host.now_unix_ms();
    if end != End::Superseded && ours {
        // The place is given back: the lease must not hand it on to a later stream.
        let _ = outbox.clear_lease().await;
    }
    // A stream that took the outbox over with this place holds it now and gives it back
    // itself, however this one ended (its lifetime, a store failure, its session gone:
    // given back here, the place would count for nobody while the successor lives). A
    // successor with a place of its own (two that opened at once) leaves this one's place
    // to this one.
    let handed_on = !ours && current.as_ref().is_some_and(|l| l.place == claim.id());
    if !handed_on {
        claim.release(now).await;
    }
    Ok(end)
}

/// One server-sent event.
///
/// Messages are compact JSON, one line; any line break in `data` anyway (CR, LF or CRLF,
/// all three of which end a line in SSE) starts a new `data:` line, so the client
/// reassembles the data with LF and nothing in it can end the event early or forge a
/// field. `name` is one of this module's fixed event names.
pub fn event(id: Option<&str>, name: &str, data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(data.len() + 32);
    if let Some(id) = id {
        frame.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
    frame.extend_from_slice(format!("event: {name}\ndata: ").as_bytes());
    let mut bytes = data.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        match byte {
            b'\r' | b'\n' => {
                if byte == b'\r' && bytes.peek() == Some(&b'\n') {
                    bytes.next();
                }
                frame.extend_from_slice(b"\ndata: ");
            }
            _ => frame.push(byte),
        }
    }
    frame.extend_from_slice(b"\n\n");
    frame
}

struct Stream<'a> {
    sessions: &'a Sessions<'a>,
    feed: &'a Feed,
    id: &'a SessionId,
    kind: Kind,
    principal: &'a Principal,
    keepalive_ms: u64,
    /// Longest life of the stream.
    max_ms: u64,
    framing: Framing,
    /// This stream's token in the outbox's lease.
    token: [u8; 16],
}

impl Stream<'_> {
    /// Delivers messages from sequence number `next` on until the stream ends, renewing
    /// its place as it goes.
    async fn run(&self, sink: &mut dyn ResponseSink, mut next: u64, claim: &mut Leased<'_>) -> End {
        match self.pump(sink, &mut next, claim).await {
            Ok(never) => match never {},
            Err(end) => end,
        }
    }

    async fn pump(
        &self,
        sink: &mut dyn ResponseSink,
        next: &mut u64,
        claim: &mut Leased<'_>,
    ) -> Result<std::convert::Infallible, End> {
        let (host, store) = (self.sessions.host, self.sessions.store);
        let outbox = Outbox::new(store, self.id);
        let started = host.now_unix_ms();
        let member = self.feed.join(self.id, self.token, 0, started);
        // The bell named for those who queue messages (`None`: not named yet).
        let mut bell = None;
        let mut last_write = started;
        let mut last_check = started;
        let mut last_probe = started;
        let deadline = started.saturating_add(self.max_ms);
        let session_check_ms = SESSION_CHECK_MS.min(self.sessions.ttl_ms / 3).max(1);
        // How early a session check may come to share a wake-up (see
        // [`SESSION_CHECK_MS`]): never later than its interval, never sooner than half of it.
        let check_early = self.keepalive_ms.min(session_check_ms / 2);
        let mut gap_since: Option<u64> = None;
        let mut wake = Wake::Changed;
        loop {
            if wake == Wake::Lost {
                self.still_holds(&outbox).await?;
            }
            if wake != Wake::Due || gap_since.is_some() {
                let head = outbox.head().await?;
                let mut delivered = false;
                while *next <= head {
                    let Some(message) = outbox.get(*next).await? else {
                        let now = host.now_unix_ms();
                        let since = *gap_since.get_or_insert(now);
                        if now.saturating_sub(since) < GAP_WAIT_MS && head - *next < MAX_BACKLOG {
                            break;
                        }
                        host.log(&format!(
                            "stream: session outbox message {next} never arrived; skipping it"
                        ));
                        *next += 1;
                        gap_since = None;
                        continue;
                    };
                    let id = match self.framing {
                        Framing::Streamable => next.to_string(),
                        Framing::Sse => sse_event_id(self.id, *next),
                    };
                    sink.body(&event(Some(&id), "message", &message))
                        .await
                        .map_err(|_| End::ClientGone)?;
                    match self.framing {
                        Framing::Sse => outbox.remove(*next).await?,
                        Framing::Streamable if *next > REPLAY_WINDOW => {
                            outbox.remove(*next - REPLAY_WINDOW).await?
                        }
                        Framing::Streamable => {}
                    }
                    *next += 1;
                    delivered = true;
                    gap_since = None;
                }
                let now = host.now_unix_ms();
                member.seen(head, delivered.then_some(now));
                if delivered {
                    last_write = now;
                    if self.framing == Framing::Streamable {
                        outbox.set_delivered(*next - 1).await?;
                    }
                }
            }
            let now = host.now_unix_ms();
            if now.saturating_sub(last_write) >= self.keepalive_ms {
                sink.body(KEEPALIVE).await.map_err(|_| End::ClientGone)?;
                last_write = now;
            }
            // A write that went through says what a probe would: at the default keep-alive
            // an old stream wakes for its keep-alive alone.
            last_probe = last_probe.max(last_write);
            if now >= deadline {
                sink.body(&retry_hint())
                    .await
                    .map_err(|_| End::ClientGone)?;
                return Err(End::Lifetime);
            }
            if now + check_early >= last_check + session_check_ms {
                // Expiry shows here; a DELETE or a takeover at once, through the lease.
                last_check = now;
                if self
                    .sessions
                    .find(self.id, self.kind, &self.principal.id)
                    .await?
                    .is_none()
                {
                    return Err(End::SessionGone);
                }
                self.still_holds(&outbox).await?;
            }
            let hang_up_check = match host.idle_instance_grace_ms() {
                Some(grace) if self.feed.alone() => (grace / CHECKS_PER_GRACE).max(50),
                _ => HANG_UP_CHECK_MS[usize::from(now.saturating_sub(started) >= YOUNG_MS)],
            };
            if now.saturating_sub(last_probe) >= hang_up_check {
                // A client that hung up shows without a write: its place frees within a
                // second, not at the next keep-alive.
                last_probe = now;
                if sink.closed().await {
                    return Err(End::ClientGone);
                }
            }
            if claim.due(now) {
                // Renewed only while the outbox is still this stream's: a successor took
                // the place over with it.
                self.still_holds(&outbox).await?;
                claim.renew(now).await?;
                let lease = Lease {
                    token: self.token,
                    until: claim.until(),
                    place: claim.id().to_string(),
                };
                outbox.set_lease(&lease).await?;
            }
            if let Some(slot) = self.feed.bell().filter(|slot| bell != Some(*slot)) {
                // The instance listens on a bell (from its first tick on, where it does):
                // the outbox names it, for those who queue messages.
                self.still_holds(&outbox).await?;
                outbox.set_bell(slot).await?;
                bell = Some(slot);
            }
            let until = [
                last_write + self.keepalive_ms,
                last_check + session_check_ms,
                last_probe + hang_up_check,
                claim.due_at(),
                deadline,
                match gap_since {
                    Some(_) => now + POLL_MIN_MS,
                    None => u64::MAX,
                },
            ]
            .into_iter()
            .min()
            .unwrap_or(deadline);
            wake = member.wait(host, store, until).await?;
        }
    }

    /// `Err` when another stream took the outbox over, or the session ended.
    async fn still_holds(&self, outbox: &Outbox<'_>) -> Result<(), End> {
        match outbox.lease().await? {
            Some(lease) if lease.token != self.token => Err(End::Superseded),
            Some(_) => Ok(()),
            // Cleared: the session ended, or a successor ended and gave the lease up; in
            // that case the session lives on and is not this stream's to end.
            None if self.sessions.read(self.id).await?.is_some() => Err(End::Superseded),
            None => Err(End::SessionGone),
        }
    }
}
