//! Pacing: gymchat's calls never use more than its share of each endpoint's rate limit, because
//! the live app spends the rest.
//!
//! Per operation, calls get evenly spaced start slots at `share × limit` per window. Even spacing
//! also keeps within Stream's per-second burst cap (limit ÷ 30) for any share up to 100%. The
//! limit starts from Stream's documented defaults and then follows `x-ratelimit-limit`; the
//! window length starts at one minute and is learnt from successive `x-ratelimit-reset` values
//! (a sandbox with a time scale has shorter windows). A response with `remaining = 0`, or a 429,
//! moves the next slot to the window's reset (or `Retry-After`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::RateLimit;

/// Stream's documented per-minute defaults. Undocumented operations get a cautious guess until
/// the first answer's headers tell the truth.
const DEFAULT_LIMITS: &[(&str, u64)] = &[
    ("GetOrCreateChannel", 10_000),
    ("QueryChannels", 10_000),
    ("GetApp", 10_000),
    ("QueryUsers", 1_000),
    ("SendMessage", 1_000),
    ("GetMessage", 1_000),
    ("UpdateUsers", 300),
    ("UpdateUsersPartial", 300),
    ("UpdateChannel", 300),
    ("HideChannel", 300),
    ("ShowChannel", 300),
    ("QueryMembers", 300),
    ("DeleteChannel", 60),
    ("DeleteUser", 60),
    ("TruncateChannel", 60),
    ("UpdateApp", 60),
];
/// For operations Stream does not document (batch deletes, tasks, partial channel updates).
const UNDOCUMENTED_LIMIT: u64 = 60;

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

#[derive(Debug, Clone)]
struct OpPace {
    limit: u64,
    window_ms: u64,
    last_reset: Option<u64>,
    /// Unix microseconds: millisecond slots would round 6.67 ms up to 7 and lose 5% of the budget.
    next_slot_us: u64,
}

/// Per-operation slots, shared by every clone of a client.
#[derive(Debug)]
pub struct Pacer {
    share: f64,
    ops: Mutex<HashMap<&'static str, OpPace>>,
}

impl Pacer {
    /// `share` of each limit, in (0, 1].
    pub fn new(share: f64) -> Self {
        Self { share: share.clamp(0.01, 1.0), ops: Mutex::new(HashMap::new()) }
    }

    fn with_op<R>(&self, op: &'static str, f: impl FnOnce(&mut OpPace, f64) -> R) -> R {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let pace = ops.entry(op).or_insert_with(|| OpPace {
            limit: DEFAULT_LIMITS.iter().find(|(name, _)| *name == op).map_or(UNDOCUMENTED_LIMIT, |(_, n)| *n),
            window_ms: 60_000,
            last_reset: None,
            next_slot_us: 0,
        });
        f(pace, self.share)
    }

    /// Reserves the next start slot of `op` and returns how long to wait for it.
    pub fn reserve(&self, op: &'static str) -> Duration {
        let now = now_us();
        self.with_op(op, |p, share| {
            let allowance = ((p.limit as f64) * share).floor().max(1.0);
            let interval = (p.window_ms as f64 * 1000.0 / allowance).ceil() as u64;
            let slot = p.next_slot_us.max(now);
            p.next_slot_us = slot + interval;
            Duration::from_micros(slot - now)
        })
    }

    /// Learns from an answer's headers.
    pub fn observe(&self, op: &'static str, rate: Option<RateLimit>) {
        let Some(rate) = rate else { return };
        self.with_op(op, |p, _| {
            p.limit = rate.limit.max(1);
            if let Some(previous) = p.last_reset
                && rate.reset > previous
            {
                // Consecutive windows: their resets are one window apart.
                p.window_ms = ((rate.reset - previous) * 1000).clamp(1_000, 60_000);
            }
            p.last_reset = Some(rate.reset);
            if rate.remaining == 0 {
                p.next_slot_us = p.next_slot_us.max(rate.reset * 1_000_000);
            }
        });
    }

    /// After a 429: nothing of `op` starts before `until_ms` (Unix milliseconds).
    pub fn hold_until(&self, op: &'static str, until_ms: u64) {
        self.with_op(op, |p, _| p.next_slot_us = p.next_slot_us.max(until_ms * 1000));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_spaced_by_the_share_of_the_limit() {
        let pacer = Pacer::new(0.5);
        // DeleteChannel: 60 per minute, half of it is 30: one slot every two seconds.
        assert_eq!(pacer.reserve("DeleteChannel"), Duration::ZERO);
        let second = pacer.reserve("DeleteChannel");
        assert!(second > Duration::from_millis(1_900) && second <= Duration::from_millis(2_000), "{second:?}");
    }

    #[test]
    fn headers_teach_the_limit_and_the_window() {
        let pacer = Pacer::new(0.5);
        let reset = now_us() / 1_000_000 + 1;
        pacer.observe("UpdateUsers", Some(RateLimit { limit: 300, remaining: 299, reset }));
        pacer.observe("UpdateUsers", Some(RateLimit { limit: 300, remaining: 299, reset: reset + 1 }));
        pacer.reserve("UpdateUsers");
        // A one-second window with 150 allowed: slots 7 ms apart.
        let wait = pacer.reserve("UpdateUsers");
        assert!(wait <= Duration::from_millis(7), "{wait:?}");
    }

    #[test]
    fn an_exhausted_window_holds_calls_until_its_reset() {
        let pacer = Pacer::new(0.5);
        let reset = now_us() / 1_000_000 + 3;
        pacer.observe("GetApp", Some(RateLimit { limit: 10_000, remaining: 0, reset }));
        assert!(pacer.reserve("GetApp") > Duration::from_secs(1));
    }
}
