//! Stream's rate limits: per operation, a one-minute window plus a per-second burst cap of
//! limit ÷ 30; once a window is used up every call gets 429 until it resets.
//!
//! Windows are aligned to the Unix epoch so `X-RateLimit-Reset` is a real boundary. A time scale
//! of F makes every window F times shorter with the limits unchanged (F = 60: a "minute" lasts
//! one second), so that runs bounded by rate limits can be rehearsed quickly.

use std::collections::HashMap;

/// Stream's documented defaults, per minute. Operations Stream does not document
/// (DeleteChannels, GetTask, UpdateChannelPartial, DeleteUsers) get the sandbox's assumptions,
/// marked below; `GET /rate_limits` on a real app tells the truth.
pub const DEFAULT_LIMITS: &[(&str, u32)] = &[
    ("GetOrCreateChannel", 10_000),
    ("QueryChannels", 10_000),
    ("GetApp", 10_000),
    ("QueryUsers", 1_000),
    ("SendMessage", 1_000),
    ("UpdateUsers", 300),
    ("UpdateUsersPartial", 300),
    ("UpdateChannel", 300),
    ("HideChannel", 300),
    ("ShowChannel", 300),
    ("DeleteChannel", 60),
    ("DeleteUser", 60),
    ("TruncateChannel", 60),
    ("UpdateApp", 60),
    // Assumptions (not documented by Stream):
    ("UpdateChannelPartial", 300),
    ("DeleteChannels", 60),
    ("DeleteUsers", 60),
    ("GetTask", 1_000),
];

/// Which limits apply.
#[derive(Debug, Clone, PartialEq)]
pub enum LimitMode {
    /// No limits and no headers.
    Off,
    /// Per-operation limits per minute (defaults, possibly overridden).
    On(HashMap<String, u32>),
}

impl LimitMode {
    /// Stream's defaults.
    pub fn stream_defaults() -> Self {
        LimitMode::On(DEFAULT_LIMITS.iter().map(|(op, n)| ((*op).to_owned(), *n)).collect())
    }

    /// Defaults with the given operations overridden (per-minute limits).
    pub fn with_overrides(overrides: HashMap<String, u32>) -> Self {
        let mut limits = match Self::stream_defaults() {
            LimitMode::On(l) => l,
            LimitMode::Off => HashMap::new(),
        };
        limits.extend(overrides);
        LimitMode::On(limits)
    }
}

/// What the limiter decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The call may proceed.
    pub allowed: bool,
    /// Limit of the window.
    pub limit: u32,
    /// Calls left in the window after this one.
    pub remaining: u32,
    /// Unix seconds at which the window resets (rounded up).
    pub reset: u64,
}

#[derive(Default)]
struct Window {
    index: u64,
    count: u32,
    burst_index: u64,
    burst_count: u32,
}

/// Counters for every operation.
pub struct Limiter {
    mode: LimitMode,
    window_ms: f64,
    windows: HashMap<String, Window>,
}

impl Limiter {
    /// A limiter whose windows last `60 s / time_scale`.
    pub fn new(mode: LimitMode, time_scale: f64) -> Self {
        Self { mode, window_ms: 60_000.0 / time_scale.max(f64::MIN_POSITIVE), windows: HashMap::new() }
    }

    /// Counts a call of `operation` at `now_ms` (Unix milliseconds). `None` when the operation is
    /// not limited (limits off, or an operation without a limit).
    pub fn check(&mut self, operation: &str, now_ms: u64) -> Option<Verdict> {
        let LimitMode::On(limits) = &self.mode else { return None };
        let limit = *limits.get(operation)?;
        let burst_cap = (limit / 30).max(1);
        let now = now_ms as f64;
        let index = (now / self.window_ms) as u64;
        let burst_index = (now / (self.window_ms / 60.0)) as u64;
        let w = self.windows.entry(operation.to_owned()).or_default();
        if w.index != index {
            *w = Window { index, ..Window::default() };
        }
        if w.burst_index != burst_index {
            w.burst_index = burst_index;
            w.burst_count = 0;
        }
        let reset = (((index + 1) as f64 * self.window_ms) / 1000.0).ceil() as u64;
        let allowed = w.count < limit && w.burst_count < burst_cap;
        if allowed {
            w.count += 1;
            w.burst_count += 1;
        } else {
            // Stream answers 429 for the rest of the window once it is exceeded.
            w.count = limit;
        }
        Some(Verdict { allowed, limit, remaining: limit - w.count, reset })
    }

    /// Forgets every window.
    pub fn reset(&mut self) {
        self.windows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Unix time in milliseconds on a minute boundary.
    const WINDOW_START: u64 = 1_800_000_000_000;

    #[test]
    fn a_window_allows_the_limit_then_refuses_until_it_resets() {
        let mut l = Limiter::new(LimitMode::with_overrides([("GetApp".to_owned(), 30)].into()), 1.0);
        let start = WINDOW_START;
        // One per "second" keeps under the burst cap of 30 / 30 = 1.
        for i in 0..30 {
            let v = l.check("GetApp", start + i * 1_000).unwrap();
            assert!(v.allowed, "call {i}");
            assert_eq!(v.remaining, 29 - i as u32);
        }
        assert!(!l.check("GetApp", start + 30_000).unwrap().allowed);
        assert!(!l.check("GetApp", start + 59_999).unwrap().allowed);
        assert!(l.check("GetApp", start + 60_000).unwrap().allowed);
    }

    #[test]
    fn bursts_are_capped_per_second_and_exceeding_blocks_the_window() {
        let mut l = Limiter::new(LimitMode::stream_defaults(), 1.0);
        let start = WINDOW_START;
        let allowed = (0..20).filter(|_| l.check("UpdateUsers", start).unwrap().allowed).count();
        assert_eq!(allowed, 10, "300 per minute allows 10 per second");
        assert!(!l.check("UpdateUsers", start + 5_000).unwrap().allowed, "exceeded: refused until the window resets");
    }

    #[test]
    fn time_scale_shortens_windows_and_keeps_limits() {
        let mut l = Limiter::new(LimitMode::stream_defaults(), 60.0);
        let v = l.check("DeleteChannel", 1_000_000).unwrap();
        assert_eq!((v.limit, v.reset), (60, 1_001));
    }

    #[test]
    fn off_means_unlimited_and_unknown_operations_are_unlimited() {
        assert!(Limiter::new(LimitMode::Off, 1.0).check("GetApp", 0).is_none());
        assert!(Limiter::new(LimitMode::stream_defaults(), 1.0).check("Nope", 0).is_none());
    }
}
