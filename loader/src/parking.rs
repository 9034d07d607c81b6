//! The parking table behind `memory.atomic.wait32`/`wait64` and
//! `memory.atomic.notify`: one process-wide table of FIFO queues of
//! waiters, keyed by the host address of the waited-on cell, so every
//! instance of every store on every thread that shares a memory meets in
//! the same queue (a shared memory never moves, so its cells keep their
//! address).
//!
//! Rule: the value is compared with the expected one while the table is
//! locked, and `notify` takes the same lock, so no notification falls
//! between a waiter's check and its sleep. Each waiter has its own
//! condition variable and flag: `notify` wakes exactly the first `count`
//! waiters in arrival order, and a waiter that times out removes itself.
//! No `unsafe` here: reading the cell is the caller's business.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What a wait ended with, as wasm numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum WaitResult {
    /// Woken by `notify`.
    Woken = 0,
    /// The cell did not hold the expected value.
    NotEqual = 1,
    /// The timeout passed first.
    TimedOut = 2,
}

/// One waiting thread.
#[derive(Default)]
struct Waiter {
    /// Set (under the table lock) by the `notify` that dequeues it.
    woken: AtomicBool,
    cv: Condvar,
}

type Table = HashMap<usize, VecDeque<Arc<Waiter>>>;

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Table>> {
    // The table stays consistent whatever a panicking holder did (every
    // update is a single push, pop or remove).
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `key` while `holds_expected()` (called under the lock) is
/// true, until notified or `timeout` (`None`: forever) has passed.
pub(crate) fn wait(
    key: usize,
    holds_expected: impl FnOnce() -> bool,
    timeout: Option<Duration>,
) -> WaitResult {
    let mut guard = lock();
    if !holds_expected() {
        return WaitResult::NotEqual;
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    if timeout.is_some_and(|t| t.is_zero()) {
        return WaitResult::TimedOut;
    }
    let me = Arc::new(Waiter::default());
    guard
        .get_or_insert_with(Table::new)
        .entry(key)
        .or_default()
        .push_back(Arc::clone(&me));
    loop {
        if me.woken.load(Ordering::Relaxed) {
            return WaitResult::Woken;
        }
        guard = match deadline {
            None => me.cv.wait(guard).unwrap_or_else(PoisonError::into_inner),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    remove(&mut guard, key, &me);
                    return WaitResult::TimedOut;
                }
                me.cv
                    .wait_timeout(guard, d - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}

/// Takes `me` out of `key`'s queue (it timed out).
fn remove(table: &mut Option<Table>, key: usize, me: &Arc<Waiter>) {
    if let Some(t) = table.as_mut() {
        if let Some(q) = t.get_mut(&key) {
            q.retain(|w| !Arc::ptr_eq(w, me));
            if q.is_empty() {
                t.remove(&key);
            }
        }
    }
}

/// Wakes up to `count` waiters on `key`, first come first woken; returns
/// how many.
pub(crate) fn notify(key: usize, count: u32) -> u32 {
    let mut guard = lock();
    let Some(table) = guard.as_mut() else {
        return 0;
    };
    let Some(q) = table.get_mut(&key) else {
        return 0;
    };
    let mut woken = 0;
    while woken < count {
        let Some(w) = q.pop_front() else { break };
        w.woken.store(true, Ordering::Relaxed);
        w.cv.notify_one();
        woken += 1;
    }
    if q.is_empty() {
        table.remove(&key);
    }
    woken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue12_wait_times_out_and_notify_wakes_in_order() {
        assert_eq!(wait(1, || false, None), WaitResult::NotEqual);
        assert_eq!(
            wait(1, || true, Some(Duration::from_millis(10))),
            WaitResult::TimedOut
        );
        assert_eq!(notify(1, 5), 0);
        let t = std::thread::spawn(|| wait(2, || true, Some(Duration::from_secs(60))));
        // Notify until the waiter has been counted.
        let mut n = 0;
        for _ in 0..6000 {
            n = notify(2, 1);
            if n == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(n, 1);
        assert_eq!(t.join().ok(), Some(WaitResult::Woken));
    }
}
