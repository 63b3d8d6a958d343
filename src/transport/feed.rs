//! One poller per instance for all the event streams it holds.
//!
//! Under WASIp3 an instance serves many requests at once, so one instance holds many
//! long-lived streams. Each stream joins the instance's [`Feed`] and waits on it; one of
//! the waiting streams at a time does the polling for all of them: one read of the store
//! per tick ([`outbox::watch`]: every stream's outbox head and holder in one
//! `get_many`), at a pace set by how recently any of them had a message. A stream wakes
//! when its outbox has something new, when another stream took it over, or when its own
//! housekeeping (keep-alive, session check, hang-up check) is due. A message queued by a
//! request of the same instance wakes its stream at once ([`Feed::notify`]), without
//! waiting for a tick.
//!
//! So the store reads of idle streams do not grow with their number: an instance with 16
//! quiet streams reads the store once a second, not 16 times. Where an instance serves one
//! request (WASIp2), each stream is its own instance's only member and polls for itself,
//! as before.
//!
//! Where the store reads a batch key by key (Spin 4.0.2's Redis store answers every batch
//! read with an error, so the batch becomes one read per key), a tick would still cost two
//! reads per stream: under `spin up` on Redis, 200 sessions each calling once a second
//! made about 40,000 reads a second, and at 300 the host saturated and store calls ran
//! past their deadline. There, and in any instance holding [`BELL_FROM_STREAMS`] streams
//! or more, the instance listens on a bell instead: one of 256 keys
//! (`bell:<slot>`), picked at random, which each of its streams names in its outbox
//! (`outbox:<id>:bell`). Whoever queues a message for one of them rings it after storing
//! the message ([`outbox::Outbox::push`]), so a tick reads one key, and every stream's
//! outbox only when the bell rang, or when [`FULL_READ_MS`] have passed since the last
//! full read (a message queued before the outbox named the bell, a takeover, a bell shared
//! with another instance that picked the same slot; [`QUIET_FULL_READ_MS`] once the
//! streams have been quiet for a minute). Once quiet, ticks come as before.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::host::{race, Host, KeyValue, StoreError};
use crate::store::outbox;
use crate::store::session::SessionId;

/// How often the poller reads the store, by how long ago any member last had a message:
/// `(quiet for less than, poll every)` in ms. A message from another instance arrives
/// within the interval; one from the same instance at once.
const TICKS_MS: [(u64, u64); 4] = [
    (2_000, 5),
    (10_000, 50),
    (QUIET_AFTER_MS, 250),
    (u64::MAX, 1_000),
];

/// While listening on a bell, every outbox is still read at least this often,
pub const FULL_READ_MS: u64 = 250;
/// and, once the instance's streams have been quiet for [`QUIET_AFTER_MS`], this often.
/// Only a message whose ring went missing (or an old stream learning that a new one took
/// its outbox over) waits that long; a stream that joins makes the instance active again,
/// so the messages of its first minute (before its outbox names the bell) are read within
/// [`FULL_READ_MS`]. At 1,000 idle streams on Redis, full reads every 250 ms were about a
/// third of Spin's CPU; every 5 s they would still read about 400 keys a second (63
/// instances of 16 streams, two keys each: counted, not measured).
pub const QUIET_FULL_READ_MS: u64 = 30_000;
/// Quiet for this long, an instance polls (and reads every outbox) at its slowest.
const QUIET_AFTER_MS: u64 = 60_000;

/// An instance holding this many streams listens on a bell whatever its store. A batch
/// read costs about what its keys would one by one under Spin 4.0.2's SQLite store: 1,000
/// quiet streams (some 63 instances, each reading its 16 streams' 32 keys every second)
/// spent 3.9% of a core on those ticks (measured by slowing them to one in 10 s). With
/// the bell a quiet tick reads one key; a message costs one more write (the ring), where
/// a stream or two per instance would not win it back.
const BELL_FROM_STREAMS: usize = 4;

/// How long after the last full read the next is due, by how long the streams have been
/// quiet.
fn full_read_ms(quiet_ms: u64) -> u64 {
    match quiet_ms < QUIET_AFTER_MS {
        true => FULL_READ_MS,
        false => QUIET_FULL_READ_MS,
    }
}

fn tick_ms(quiet_ms: u64) -> u64 {
    TICKS_MS
        .iter()
        .find(|(below, _)| quiet_ms < *below)
        .map_or(1_000, |(_, every)| *every)
}

#[derive(Default)]
pub struct Feed {
    inner: RefCell<Inner>,
}

#[derive(Default)]
struct Inner {
    members: Vec<Entry>,
    next_key: u64,
    /// One member's wait is polling for all.
    polling: bool,
    /// When a member last had a message (host clock, ms).
    active_at: u64,
    /// Requests of this instance under way, streams included.
    in_flight: usize,
    /// The bell this instance listens on, once it held [`BELL_FROM_STREAMS`] streams or
    /// its store turned out to read batches key by key.
    bell: Option<u8>,
    /// What the bell said at the last tick (`None`: not read yet).
    heard: Option<Option<Vec<u8>>>,
    /// When every outbox was last read, whatever the bell said (host clock, ms; `None`:
    /// never).
    full_read: Option<u64>,
}

impl Inner {
    /// Has every member look at its housekeeping again: the wakers of those waiting.
    fn recheck_all(&mut self) -> Vec<Waker> {
        self.members
            .iter_mut()
            .filter_map(|entry| {
                entry.recheck = true;
                entry.waker.take()
            })
            .collect()
    }
}

struct Entry {
    key: u64,
    session: SessionId,
    /// The member's token in its outbox's lease.
    token: [u8; 16],
    /// The outbox head the member has read.
    head: u64,
    changed: bool,
    /// The outbox's lease names another holder, or none.
    lost: bool,
    /// Its instance's requests changed so that its housekeeping may be due sooner.
    recheck: bool,
    waker: Option<Waker>,
}

/// What a tick learns from the instance's bell.
enum Bell {
    /// The instance listens on none: every tick reads every outbox.
    Off,
    /// It rang (it says something else than at the last full read), or a full read is
    /// due: read every outbox, then note what it said.
    Read(Option<Vec<u8>>),
    /// Nothing rang since the last full read, and the next is not due.
    Quiet,
}

/// Why a member's wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Its outbox has something new (or may have: a request of this instance queued).
    Changed,
    /// Its outbox's lease names another stream, or none: it may have been taken over, or
    /// its session ended.
    Lost,
    /// The time asked for came.
    Due,
}

impl Feed {
    pub fn new() -> Feed {
        Feed::default()
    }

    /// A stream of `session` holding its outbox with `token`, having read it up to `head`.
    pub fn join(&self, session: &SessionId, token: [u8; 16], head: u64, now: u64) -> Member<'_> {
        let mut inner = self.inner.borrow_mut();
        let key = inner.next_key;
        inner.next_key += 1;
        inner.active_at = inner.active_at.max(now);
        inner.members.push(Entry {
            key,
            session: session.clone(),
            token,
            head,
            changed: false,
            lost: false,
            recheck: false,
            waker: None,
        });
        Member { feed: self, key }
    }

    /// A request of this instance starts; it ends when the guard is dropped.
    pub fn enter(&self) -> InFlight<'_> {
        self.inner.borrow_mut().in_flight += 1;
        InFlight(self)
    }

    /// Whether no other request of this instance is under way: a stream asking this may be
    /// what keeps its instance alive.
    pub fn alone(&self) -> bool {
        self.inner.borrow().in_flight <= 1
    }

    /// Something was queued for `session` by a request of this instance: its stream here,
    /// if there is one, looks at once.
    pub fn notify(&self, session: &SessionId) {
        let wakers: Vec<Waker> = {
            let mut inner = self.inner.borrow_mut();
            inner
                .members
                .iter_mut()
                .filter(|entry| entry.session == *session)
                .filter_map(|entry| {
                    entry.changed = true;
                    entry.waker.take()
                })
                .collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The bell this instance's streams name in their outboxes, if it listens on one.
    pub fn bell(&self) -> Option<u8> {
        self.inner.borrow().bell
    }

    /// Starts listening on bell `slot`: every member looks at its housekeeping (and so
    /// names the bell in its outbox).
    fn listen(&self, slot: u8) {
        let wakers = {
            let mut inner = self.inner.borrow_mut();
            inner.bell = Some(slot);
            inner.recheck_all()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// What the bell says this tick: [`Bell::Off`] unless the instance listens on one (it
    /// starts to once it holds [`BELL_FROM_STREAMS`] streams, or once its store shows that
    /// it reads batches key by key, and listens from then on).
    async fn listen_to_bell(
        &self,
        host: &dyn Host,
        store: &dyn KeyValue,
    ) -> Result<Bell, StoreError> {
        let many = self.inner.borrow().members.len() >= BELL_FROM_STREAMS;
        if self.bell().is_none() && !many && !store.reads_batches_key_by_key() {
            return Ok(Bell::Off);
        }
        let slot = match self.bell() {
            Some(slot) => slot,
            None => {
                let mut slot = [0u8];
                host.fill_random(&mut slot);
                self.listen(slot[0]);
                slot[0]
            }
        };
        let rung = store.get(&crate::store::keys::bell(slot)).await?;
        let now = host.now_unix_ms();
        let inner = self.inner.borrow();
        // A full read dated in the future (the clock stepped back) counts as long ago.
        let quiet = now.saturating_sub(inner.active_at);
        let due = inner
            .full_read
            .is_none_or(|at| at > now || now - at >= full_read_ms(quiet));
        Ok(match inner.heard.as_ref() != Some(&rung) || due {
            true => Bell::Read(rung),
            false => Bell::Quiet,
        })
    }

    /// Reads every member's outbox once (unless the bell is [`Bell::Quiet`]) and wakes
    /// those whose outbox moved.
    async fn tick(&self, host: &dyn Host, store: &dyn KeyValue) -> Result<(), StoreError> {
        let bell = self.listen_to_bell(host, store).await?;
        if let Bell::Quiet = bell {
            return Ok(());
        }
        let now = host.now_unix_ms();
        let (keys, sessions): (Vec<u64>, Vec<SessionId>) = {
            let inner = self.inner.borrow();
            inner
                .members
                .iter()
                .filter(|entry| !entry.changed)
                .map(|entry| (entry.key, entry.session.clone()))
                .unzip()
        };
        if sessions.is_empty() {
            return Ok(());
        }
        let seen = outbox::watch(store, &sessions).await?;
        let wakers: Vec<Waker> = {
            let mut inner = self.inner.borrow_mut();
            // Noted only once the read succeeded: a failed one is tried at the next tick.
            if let Bell::Read(rung) = bell {
                inner.heard = Some(rung);
                inner.full_read = Some(now);
            }
            let mut wakers = Vec::new();
            for (key, watched) in keys.iter().zip(seen) {
                let Some(entry) = inner.members.iter_mut().find(|e| e.key == *key) else {
                    continue; // left meanwhile
                };
                let lost = watched.holder != Some(entry.token);
                if watched.head != entry.head || lost {
                    entry.changed = true;
                    entry.lost |= lost;
                    wakers.extend(entry.waker.take());
                }
            }
            wakers
        };
        wakers.into_iter().for_each(Waker::wake);
        Ok(())
    }

    /// Gives the poller role up, and wakes a waiting member to take it.
    fn release_role(&self) {
        let waker = {
            let mut inner = self.inner.borrow_mut();
            inner.polling = false;
            inner
                .members
                .iter_mut()
                .find_map(|entry| entry.waker.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A stream's place in its instance's [`Feed`]; leaving it (drop) removes it.
pub struct Member<'f> {
    feed: &'f Feed,
    key: u64,
}

impl Member<'_> {
    fn with<T>(&self, f: impl FnOnce(&mut Entry) -> T) -> Option<T> {
        let mut inner = self.feed.inner.borrow_mut();
        inner.members.iter_mut().find(|e| e.key == self.key).map(f)
    }

    /// The stream read its outbox up to `head`; `active_at`: it had a message then.
    pub fn seen(&self, head: u64, active_at: Option<u64>) {
        self.with(|entry| entry.head = head);
        if let Some(at) = active_at {
            let mut inner = self.feed.inner.borrow_mut();
            inner.active_at = inner.active_at.max(at);
        }
    }

    fn take_change(&self) -> Option<Wake> {
        self.with(|entry| match std::mem::take(&mut entry.changed) {
            false if std::mem::take(&mut entry.recheck) => Some(Wake::Due),
            false => None,
            true if std::mem::take(&mut entry.lost) => Some(Wake::Lost),
            true => Some(Wake::Changed),
        })
        .flatten()
    }

    /// Waits until the stream's outbox changes or `until` comes (host clock, ms). A store
    /// failure while this member polls for all is returned to it.
    pub async fn wait(
        &self,
        host: &dyn Host,
        store: &dyn KeyValue,
        until: u64,
    ) -> Result<Wake, StoreError> {
        loop {
            if let Some(wake) = self.take_change() {
                return Ok(wake);
            }
            let now = host.now_unix_ms();
            if now >= until {
                return Ok(Wake::Due);
            }
            let poller = {
                let mut inner = self.feed.inner.borrow_mut();
                !std::mem::replace(&mut inner.polling, true)
            };
            if poller {
                let role = Role(self.feed);
                loop {
                    let now = host.now_unix_ms();
                    if now >= until || self.with(|e| e.changed || e.recheck).unwrap_or(false) {
                        break;
                    }
                    let quiet = now.saturating_sub(self.feed.inner.borrow().active_at);
                    let pause = tick_ms(quiet).min(until - now);
                    host.sleep_ms(pause).await;
                    self.feed.tick(host, store).await?;
                }
                drop(role);
                continue;
            }
            let woken = Woken { member: self };
            let timer = async { host.sleep_ms(until - now).await };
            race(woken, timer).await;
        }
    }
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        self.feed
            .inner
            .borrow_mut()
            .members
            .retain(|entry| entry.key != self.key);
    }
}

/// A request under way in the instance ([`Feed::enter`]). When the last but one ends, the
/// instance's streams look again at when their housekeeping is due ([`Feed::alone`]).
pub struct InFlight<'f>(&'f Feed);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let wakers: Vec<Waker> = {
            let mut inner = self.0.inner.borrow_mut();
            inner.in_flight = inner.in_flight.saturating_sub(1);
            if inner.in_flight != 1 {
                return;
            }
            inner.recheck_all()
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// The poller role, given up (and handed on) when dropped, also when the poll fails.
struct Role<'f>(&'f Feed);

impl Drop for Role<'_> {
    fn drop(&mut self) {
        self.0.release_role();
    }
}

/// Ready when the member's outbox changed, or when nobody polls (so it may take the role).
struct Woken<'m, 'f> {
    member: &'m Member<'f>,
}

impl Future for Woken<'_, '_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.member.feed.inner.borrow_mut();
        let polling = inner.polling;
        let Some(entry) = inner.members.iter_mut().find(|e| e.key == self.member.key) else {
            return Poll::Ready(());
        };
        if entry.changed || entry.recheck || !polling {
            return Poll::Ready(());
        }
        entry.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_left_alone_in_its_instance_looks_again_at_its_housekeeping() {
        let feed = Feed::new();
        let stream = feed.enter();
        let other = feed.enter();
        assert!(!feed.alone());
        let session = SessionId::parse(&"ab".repeat(20)).expect("a session id");
        let member = feed.join(&session, [7; 16], 0, 0);
        assert_eq!(member.take_change(), None);
        drop(other);
        assert!(feed.alone());
        assert_eq!(member.take_change(), Some(Wake::Due));
        assert_eq!(member.take_change(), None, "once");
        // A message still wins over the recheck.
        let third = feed.enter();
        drop(third);
        feed.notify(&session);
        assert_eq!(member.take_change(), Some(Wake::Changed));
        drop(stream);
        assert_eq!(feed.inner.borrow().in_flight, 0);
    }
}
