//! An index of store records by when they lapse, so that the sweep visits what has lapsed
//! and nothing else: the store cannot list keys by prefix (`wasi:keyvalue` draft2 lists
//! the whole store), and a sweep that listed a store shared by many nodes would stall the
//! request it runs in.
//!
//! Time is cut into buckets of [`BUCKET_MS`]. Noting that `key` lapses at `t` appends the
//! key to `t`'s bucket: an atomic counter numbers the bucket's entries (`expiry:<b>:n`),
//! each entry its own record (`expiry:<b>:<i>`). The sweep walks the buckets that have
//! passed, from a cursor, and asks a judge about each key; a record renewed since it was
//! noted has a later entry too, so the judge finds it alive and leaves it. The work of a
//! sweep is the number of entries in passed buckets — what lapsed, plus what was renewed —
//! and each sweep does at most a budget of it, the next one going on from the cursor.

use super::keys::{EXPIRY, EXPIRY_CURSOR as CURSOR_KEY};
use crate::host::{KeyValue, Pending, StoreError};

/// Width of a bucket.
pub const BUCKET_MS: u64 = 10_000;

fn count_key(bucket: u64) -> String {
    format!("{EXPIRY}{bucket}:n")
}

fn entry_key(bucket: u64, index: u64) -> String {
    format!("{EXPIRY}{bucket}:{index}")
}

/// Records that `key` lapses at `at` (unix milliseconds). `now` places the cursor when the
/// index is new.
pub async fn note(store: &dyn KeyValue, key: &str, at: u64, now: u64) -> Result<(), StoreError> {
    let bucket = at / BUCKET_MS;
    let index = store.increment(&count_key(bucket), 1).await?.max(1) as u64;
    store.set(&entry_key(bucket, index), key.as_bytes()).await?;
    if index == 1 && store.get(CURSOR_KEY).await?.is_none() {
        // A new index starts sweeping from now: nothing was noted before.
        store
            .set(CURSOR_KEY, format!("{}:0", now / BUCKET_MS).as_bytes())
            .await?;
    }
    Ok(())
}

/// What a sweep has judged to go and not deleted yet, in three kinds deleted in this
/// order, each kind in one batch call ([`KeyValue::delete_many`], whose keys may go in
/// any order, and only some of them if it fails): the lapsed keys the judge named, then
/// their index entries, then the counters of the buckets whose entries are all listed.
/// So whenever a call fails, what is left is what a later sweep finds again: never an
/// entry gone while the key it names stays, never a bucket's counter gone while entries
/// of it stay. Deleted before the cursor moves past them.
#[derive(Default)]
struct Doomed {
    lapsed: Vec<String>,
    entries: Vec<String>,
    buckets: Vec<String>,
}

impl Doomed {
    /// Deletes what is listed once there are `at` keys or more.
    async fn flush_at(&mut self, store: &dyn KeyValue, at: usize) -> Result<(), StoreError> {
        let listed = self.lapsed.len() + self.entries.len() + self.buckets.len();
        if listed == 0 || listed < at {
            return Ok(());
        }
        for keys in [&mut self.lapsed, &mut self.entries, &mut self.buckets] {
            if !keys.is_empty() {
                store.delete_many(keys).await?;
                keys.clear();
            }
        }
        Ok(())
    }
}

/// What the judge says of a key whose time has come.
pub trait Judge {
    /// Removes whatever lapsed under the entry's key, or leaves it if it was renewed.
    /// `Ok(Some(key))`: that key is to go, and nothing else; the sweep deletes it in a
    /// batch, before the entry.
    fn lapsed<'a>(
        &'a self,
        entry: &'a str,
        now: u64,
    ) -> Pending<'a, Result<Option<&'a str>, StoreError>>;
}

/// Keys a sweep deletes in one batch call at most ([`KeyValue::delete_many`]): on Spin's
/// SQLite store one transaction instead of one for each (1,000 idle streams leave about
/// 15 such keys a second: a passed quota counter and its index entry for each renewal).
const DELETE_BATCH: usize = 200;

/// What one sweep of the index did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Walked {
    /// Entries judged.
    pub entries: usize,
    /// Whether entries of passed buckets remain for the next sweep.
    pub more: bool,
}

/// Judges the entries of passed buckets from the cursor on, spending at most `budget`
/// reads (one per entry, one per bucket).
pub async fn sweep(
    store: &dyn KeyValue,
    judge: &dyn Judge,
    now: u64,
    budget: usize,
) -> Result<Walked, StoreError> {
    let Some((mut bucket, mut done)) = store
        .get(CURSOR_KEY)
        .await?
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let (b, d) = text.split_once(':')?;
            Some((b.parse::<u64>().ok()?, d.parse::<u64>().ok()?))
        })
    else {
        return Ok(Walked::default());
    };
    let mut walked = Walked::default();
    // Reads spent, entries and buckets alike: a cursor far behind (a server stopped for a
    // day) catches up over several sweeps.
    let mut spent = 0;
    // What is to go; a failed deletion leaves it to the next sweep, whose judging is
    // idempotent.
    let mut doomed = Doomed::default();
    // Where the next sweep goes on, when this one runs out of budget.
    let pause = async |bucket: u64, done: u64, walked: &mut Walked, doomed: &mut Doomed| {
        walked.more = true;
        doomed.flush_at(store, 0).await?;
        store
            .set(CURSOR_KEY, format!("{bucket}:{done}").as_bytes())
            .await
    };
    // A bucket is swept once all of its time has passed and then a bucket's more: a
    // writer on a node whose clock is a little behind, or an instance delayed after it
    // read the time, may still note into it or count in an epoch that ends in it.
    let current = (now / BUCKET_MS).saturating_sub(1);
    while bucket < current {
        if spent >= budget {
            pause(bucket, done, &mut walked, &mut doomed).await?;
            return Ok(walked);
        }
        let count = store.counter(&count_key(bucket)).await?.unwrap_or(0).max(0) as u64;
        spent += 1;
        while done < count {
            if spent >= budget {
                pause(bucket, done, &mut walked, &mut doomed).await?;
                return Ok(walked);
            }
            done += 1;
            spent += 1;
            let entry = entry_key(bucket, done);
            if let Some(named) = store
                .get(&entry)
                .await?
                .and_then(|b| String::from_utf8(b).ok())
            {
                if let Some(key) = judge.lapsed(&named, now).await? {
                    doomed.lapsed.push(key.to_string());
                }
            }
            doomed.entries.push(entry);
            walked.entries += 1;
            doomed.flush_at(store, DELETE_BATCH).await?;
        }
        doomed.buckets.push(count_key(bucket));
        bucket += 1;
        done = 0;
        doomed.flush_at(store, DELETE_BATCH).await?;
    }
    doomed.flush_at(store, 0).await?;
    store
        .set(CURSOR_KEY, format!("{bucket}:0").as_bytes())
        .await?;
    Ok(walked)
}
