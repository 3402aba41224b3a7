//! A rate budget shared by several processes (the workers of one migration run, on as many
//! machines as the operator likes): before each paced call, a client that has one takes a call
//! from the shared budget of its operation's current window, claiming a small slice at a time
//! from wherever the budget is kept (gymchat keeps it in its database). When the window's budget
//! is spent, the operation waits for the next window; a call is never taken in the last moment
//! of a window, so that it is not counted in the next one.
//!
//! Windows are numbered from the Unix epoch in multiples of their length, as Stream's (and the
//! sandbox's) are aligned, so every process names the same window the same way.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::pacing::now_us;

/// A rate window: its length and its number since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its length in milliseconds.
    pub length_ms: u64,
    /// Its number: its start is `index × length_ms` after the epoch.
    pub index: u64,
}

/// What a claim on the shared budget got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Calls granted to this claim (0: the window's budget is spent).
    pub granted: u64,
    /// Calls claimed in the window by every process, this claim included.
    pub claimed: u64,
}

/// Where a shared budget is kept.
pub trait SharedBudget: Send + Sync + fmt::Debug {
    /// Claims up to `want` calls of `operation` in `window`, out of `cap` calls for everyone.
    fn claim<'a>(
        &'a self,
        operation: &'static str,
        window: Window,
        want: u64,
        cap: u64,
    ) -> Pin<Box<dyn Future<Output = Result<Grant, String>> + Send + 'a>>;
}

/// The end of a window where no call is taken: 2% of it, at least 5 ms (as the pacer's guard).
const GUARD_SHARE: f64 = 0.02;
const MIN_GUARD_MS: u64 = 5;
/// A slice is this share of the window's budget, between 1 and [`MAX_SLICE`] calls: small, so
/// that what a process holds unused at a window's end (lost to everyone) stays small.
const SLICE_SHARE: u64 = 20;
const MAX_SLICE: u64 = 50;
/// After the budget's keeper failed, the operation waits this long before it asks again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// What taking a call from the shared budget decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Go, if the call starts before `by_ms` (Unix milliseconds: the window's end, less its guard);
    /// everyone has claimed `claimed` calls of the window so far (0: not known to this call).
    Go { claimed: u64, by_ms: u64 },
    /// Nothing left now: wait until this time (Unix milliseconds) and try again.
    Wait { until_ms: u64 },
}

/// One operation's slice: the window it was claimed in and the calls left of it.
type Slice = Arc<tokio::sync::Mutex<(Window, u64)>>;

/// The slices of the shared budget this process holds, per operation.
#[derive(Debug)]
pub(crate) struct Shares {
    budget: Arc<dyn SharedBudget>,
    /// Per operation, the window of the slice held and the calls left of it. Each operation's
    /// entry is locked across its claim, so that calls finding the slice spent together make one
    /// claim, not one each (their slices would be claimed, then lost).
    held: Mutex<HashMap<&'static str, Slice>>,
}

impl Shares {
    pub(crate) fn new(budget: Arc<dyn SharedBudget>) -> Self {
        Self { budget, held: Mutex::new(HashMap::new()) }
    }

    /// Takes one call of `operation` from the current window of length `window`, out of `cap`
    /// for everyone.
    pub(crate) async fn take(&self, operation: &'static str, window: Duration, cap: u64) -> Taken {
        let entry = {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            held.entry(operation)
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new((Window { length_ms: 0, index: 0 }, 0))))
                .clone()
        };
        let mut slice = entry.lock().await;
        // The time is read once the entry is ours: a claim by another call may have taken long.
        let now_ms = now_us() / 1_000;
        let length_ms = (window.as_millis() as u64).max(1);
        let current = Window { length_ms, index: now_ms / length_ms };
        let next_ms = (current.index + 1) * length_ms;
        let guard = ((length_ms as f64 * GUARD_SHARE) as u64).max(MIN_GUARD_MS);
        if now_ms + guard >= next_ms {
            return Taken::Wait { until_ms: next_ms };
        }
        if slice.0 == current && slice.1 > 0 {
            slice.1 -= 1;
            return Taken::Go { claimed: 0, by_ms: next_ms - guard };
        }
        let want = (cap / SLICE_SHARE).clamp(1, MAX_SLICE);
        match self.budget.claim(operation, current, want, cap).await {
            Ok(grant) if grant.granted > 0 => {
                *slice = (current, grant.granted - 1);
                Taken::Go { claimed: grant.claimed, by_ms: next_ms - guard }
            }
            Ok(_) => Taken::Wait { until_ms: next_ms },
            Err(e) => {
                tracing::warn!(operation, error = %e, "could not claim from the shared rate budget; waiting");
                Taken::Wait { until_ms: now_ms + RETRY_AFTER_FAILURE.as_millis() as u64 }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A budget kept in memory: what a database row does, for one process.
    #[derive(Debug, Default)]
    struct Counted {
        claimed: Mutex<HashMap<(&'static str, u64), u64>>,
        asked: Mutex<u64>,
    }

    impl SharedBudget for Counted {
        fn claim<'a>(
            &'a self,
            operation: &'static str,
            window: Window,
            want: u64,
            cap: u64,
        ) -> Pin<Box<dyn Future<Output = Result<Grant, String>> + Send + 'a>> {
            Box::pin(async move {
                // A claim takes a moment (a database's round trip): other calls run meanwhile.
                tokio::task::yield_now().await;
                *self.asked.lock().unwrap() += 1;
                let mut claimed = self.claimed.lock().unwrap();
                let n = claimed.entry((operation, window.index)).or_default();
                let granted = want.min(cap - *n);
                *n += granted;
                Ok(Grant { granted, claimed: *n })
            })
        }
    }

    #[tokio::test]
    async fn calls_are_taken_in_slices_until_the_windows_budget_is_spent() {
        let budget = Arc::new(Counted::default());
        let shares = Shares::new(budget.clone());
        // Windows of about 31 years (the 2020s' one ends in 2033), so that the test never
        // crosses into the next one nor into a window's guard band.
        let window = Duration::from_secs(1_000_000_000);
        let mut went = 0;
        let wait = loop {
            match shares.take("UpdateChannelsBatch", window, 30).await {
                Taken::Go { .. } => went += 1,
                Taken::Wait { until_ms } => break until_ms,
            }
        };
        assert_eq!(went, 30, "the cap, no more");
        // 30 ÷ 20 rounds to slices of one: a claim per call, then one refused.
        assert_eq!(*budget.asked.lock().unwrap(), 31);
        let window_ms = 1_000_000_000_000;
        assert_eq!(wait % window_ms, 0, "it waits for the next window's start");
        assert!(wait > now_us() / 1_000);

        // A larger budget is claimed 50 calls at a time.
        let shares = Shares::new(budget.clone());
        for _ in 0..100 {
            assert!(matches!(shares.take("SendMessage", window, 1_000).await, Taken::Go { .. }));
        }
        assert_eq!(*budget.asked.lock().unwrap(), 31 + 2);

        // Many calls finding the slice spent at once make one claim between them: none of the
        // calls claimed is lost.
        let shares = Arc::new(Shares::new(budget.clone()));
        let calls: Vec<_> = (0..200)
            .map(|_| {
                let shares = shares.clone();
                tokio::spawn(async move { shares.take("GetOrCreateChannel", window, 10_000).await })
            })
            .collect();
        for call in calls {
            assert!(matches!(call.await.unwrap(), Taken::Go { .. }));
        }
        assert_eq!(*budget.asked.lock().unwrap(), 33 + 4, "200 calls, four slices of 50");
    }
}
