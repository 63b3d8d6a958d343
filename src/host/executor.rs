//! A small executor for the native tests: [`block_on`] runs a request's future on the
//! calling thread, as an instance would, and [`sleep_until`] wakes it from a timer thread.
//! Several futures run on one thread with [`join`], interleaved at their awaits, as the
//! requests an instance serves at once are.

use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Instant;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to its end on this thread, parking it while nothing is ready.
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
        std::thread::park();
    }
}

/// Both futures, polled in turn on one thread until both are done.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut left, mut right) = (None, None);
    std::future::poll_fn(move |cx| {
        if left.is_none() {
            if let Poll::Ready(value) = a.as_mut().poll(cx) {
                left = Some(value);
            }
        }
        if right.is_none() {
            if let Poll::Ready(value) = b.as_mut().poll(cx) {
                right = Some(value);
            }
        }
        match (left.is_some(), right.is_some()) {
            (true, true) => Poll::Ready((left.take().unwrap(), right.take().unwrap())),
            _ => Poll::Pending,
        }
    })
    .await
}

pub use super::join_all;

/// Wakers waiting for a moment, earliest first, and the thread that wakes them.
struct Timer {
    due: Mutex<BinaryHeap<Due>>,
    changed: Condvar,
}

struct Due(Instant, Waker);

impl PartialEq for Due {
    fn eq(&self, other: &Due) -> bool {
        self.0 == other.0
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Due) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Reversed: the heap pops the earliest moment first.
    fn cmp(&self, other: &Due) -> std::cmp::Ordering {
        other.0.cmp(&self.0)
    }
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            due: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
        }));
        std::thread::spawn(move || {
            let mut due = timer.due.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let now = Instant::now();
                while due.peek().is_some_and(|d| d.0 <= now) {
                    if let Some(Due(_, waker)) = due.pop() {
                        waker.wake();
                    }
                }
                due = match due.peek().map(|d| d.0) {
                    Some(next) => {
                        timer
                            .changed
                            .wait_timeout(due, next.saturating_duration_since(now))
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                    None => timer.changed.wait(due).unwrap_or_else(|e| e.into_inner()),
                };
            }
        });
        timer
    })
}

/// A future that is ready at `deadline`.
pub fn sleep_until(deadline: Instant) -> impl Future<Output = ()> {
    std::future::poll_fn(move |cx| {
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        let timer = timer();
        let mut due = timer.due.lock().unwrap_or_else(|e| e.into_inner());
        due.push(Due(deadline, cx.waker().clone()));
        timer.changed.notify_one();
        Poll::Pending
    })
}

/// A boxed future (the shape host calls return).
pub fn boxed<'a, T>(future: impl Future<Output = T> + 'a) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(future)
}
