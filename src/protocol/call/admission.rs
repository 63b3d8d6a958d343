//! What bounds a call: its time budget, and its place among its principal's long-running
//! calls, taken at its first wait so that quick calls stay write-free, and given back when
//! the call ends. A task renews its lease and its place as it goes.

use super::{Call, Stop};
use crate::config::{within_request_limit, Settings};
use crate::store::places::{Counted, Places, MAX_RUNNING_CALLS};
use crate::store::sweep;
use crate::store::tasks::Gone;

/// How long one request may run: the longest legitimate call (a countdown of 60 steps of
/// 5 s), and a little more.
pub const REQUEST_BUDGET_MS: u64 = 330_000;
/// How long a task may run.
pub const TASK_BUDGET_MS: u64 = 30 * 60 * 1000;

/// When a request starting `now` must be done: its budget, or a little before the host
/// cuts it (`request_limit_seconds`), whichever comes first.
pub fn request_deadline(settings: &Settings<'_>, now: u64) -> u64 {
    now + within_request_limit(REQUEST_BUDGET_MS, host_limit(settings))
}

/// When a task created `now` must be done. Its run belongs to the request that created
/// it (the instance serving that request runs it), so where the host cuts requests, the
/// task ends before that cut, failed with a message, rather than dying with the request.
pub fn task_deadline(settings: &Settings<'_>, now: u64) -> u64 {
    now + within_request_limit(TASK_BUDGET_MS, host_limit(settings))
}

/// The host's request limit, 0 for none (a malformed value is reported elsewhere: the
/// request that reads it first answers with the configuration error).
fn host_limit(settings: &Settings<'_>) -> u64 {
    settings.request_limit_ms().unwrap_or(0)
}

impl Call<'_> {
    /// Says up front that the call will take about `millis` more: where that would run
    /// past its deadline (the host's request limit, or the budget), the call stops now,
    /// with the error a wait past the deadline gives, instead of doing part of the work
    /// first. For tools that know how long they take.
    pub fn expect_to_take(&self, millis: u64) -> Result<(), Stop> {
        if self.host.now_unix_ms() + millis > self.deadline {
            return Err(self.out_of_time());
        }
        Ok(())
    }

    /// Why a call that would run past its deadline stops.
    fn out_of_time(&self) -> Stop {
        let what = if self.task.is_some() {
            "task"
        } else {
            "request"
        };
        let limit = host_limit(self.settings);
        Stop::Failed(if limit > 0 {
            format!(
                "This {what} would run past this host's request limit of {} seconds \
                 (request_limit_seconds), where the host would cut it off; ask for less work \
                 in one call.",
                limit as f64 / 1000.0
            )
        } else {
            let budget_ms = match self.task {
                Some(_) => TASK_BUDGET_MS,
                None => REQUEST_BUDGET_MS,
            };
            format!(
                "This {what} ran out of its time budget of {} seconds.",
                budget_ms / 1000
            )
        })
    }

    /// Before a wait: the call must still be within its time budget, and (the first time)
    /// take a place among its principal's long-running calls, so that nobody can keep more
    /// than [`MAX_RUNNING_CALLS`] instances waiting. Without a shared store there is
    /// nothing to count in; the budget still holds.
    pub(super) async fn before_wait(&mut self, millis: u64) -> Result<(), Stop> {
        let now = self.host.now_unix_ms();
        if now + millis > self.deadline {
            return Err(self.out_of_time());
        }
        self.keep_task_alive().await?;
        if self.running.is_some() {
            return Ok(());
        }
        let Some(store) = self.host.store() else {
            return Ok(());
        };
        let places = Places::new(store, Counted::Calls, REQUEST_BUDGET_MS);
        let id = crate::ids::random_hex(self.host, 16);
        match places
            .admit(
                &self.principal.id,
                &id,
                self.deadline,
                MAX_RUNNING_CALLS,
                usize::MAX,
                now,
            )
            .await
        {
            Ok(Ok(place)) => {
                self.running = Some((places, place));
                sweep::when_due(self.host, store, self.settings).await;
                // Now the request can be cancelled: a legacy cancellation is recorded
                // only for a request that is running (so clients cannot have the server
                // store cancellations of anything).
                if let (Some(link), Some(request)) = (&self.session, &self.request_id) {
                    let _ = link.mark_running(request, self.deadline, now).await;
                }
                Ok(())
            }
            Ok(Err(full)) => Err(Stop::Error(full.error())),
            // The cap is a guard, not the work: a store failure does not stop the call.
            Err(_) => Ok(()),
        }
    }

    /// A task renews its lease (and its place among the long-running calls, which it may
    /// hold longer than a request) when due: at every wait, progress report and log
    /// message. A task that works longer than the lease without any of them is taken for
    /// gone by the next `tasks/get`.
    pub(super) async fn keep_task_alive(&mut self) -> Result<(), Stop> {
        let Some(task) = &mut self.task else {
            return Ok(());
        };
        let now = self.host.now_unix_ms();
        if task.keep_alive(now).await.map_err(stopped)? {
            if let Some((places, place)) = &mut self.running {
                let _ = places.renew(place, self.deadline, now).await;
            }
        }
        Ok(())
    }
}

/// How a task's runner stops when it cannot write its task.
pub(super) fn stopped(gone: Gone) -> Stop {
    match gone {
        Gone::Ended => Stop::Cancelled,
        Gone::Unreadable(e) => Stop::Error(crate::protocol::jsonrpc::RpcError::internal(format!(
            "the task store failed: {e}"
        ))),
        Gone::Unwritable(e) => Stop::Failed(format!("the task store failed: {e}")),
    }
}

impl Call<'_> {
    /// The call is over, however it ended: its place among the long-running calls goes
    /// back, and its running marker. (An instance that dies first leaves both to lapse.)
    pub async fn end(mut self) {
        if let Some((places, place)) = self.running.take() {
            let _ = places.release(&place, self.host.now_unix_ms()).await;
            if let (Some(link), Some(request)) = (&self.session, &self.request_id) {
                let _ = link.unmark_running(request).await;
            }
        }
    }
}
