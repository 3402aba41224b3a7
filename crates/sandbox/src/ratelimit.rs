//! Stream's rate limits: per operation, a one-minute window plus a per-second burst cap of
//! limit ÷ 30; once a window is exceeded every call gets 429 until it resets.
//!
//! Windows are aligned to the Unix epoch so `X-RateLimit-Reset` is a real boundary. A time scale
//! of F makes every window F times shorter with the limits unchanged (F = 60: a "minute" lasts
//! one second), so that runs bounded by rate limits can be rehearsed quickly.
//!
//! Live traffic: with a share S > 0, the sandbox itself spends S of every limited operation's
//! window, arriving evenly over the window as the live app's calls would. Those calls count
//! against the window like anyone's, so a client sharing the app sees the remaining budget shrink,
//! and calls of the live app that find the window spent are counted as refused: the measure of a
//! client that takes more than its share. Every window's counts are kept ([`WindowStats`]) so a
//! benchmark reads utilisation from the sandbox, not from the client under test.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

/// Stream's documented defaults, per minute. Operations Stream does not document
/// (DeleteChannels, GetTask, UpdateChannelPartial, DeleteUsers, GetReplies, GetReactions,
/// UpdateMessagePartial, DeleteMessage, DeleteReaction, DeactivateUser, ReactivateUser,
/// UnreadCounts, UpdateChannelsBatch) get the sandbox's assumptions,
/// marked below; `GET /rate_limits` on a real app tells the truth.
pub const DEFAULT_LIMITS: &[(&str, u32)] = &[
    ("GetOrCreateChannel", 10_000),
    ("QueryChannels", 10_000),
    ("GetApp", 10_000),
    ("QueryUsers", 1_000),
    ("SendMessage", 1_000),
    ("GetMessage", 1_000),
    ("SendReaction", 1_000),
    ("UpdateUsers", 300),
    ("UpdateUsersPartial", 300),
    ("UpdateChannel", 300),
    ("HideChannel", 300),
    ("ShowChannel", 300),
    ("MarkRead", 10_000),
    ("DeleteChannel", 60),
    ("DeleteUser", 60),
    ("TruncateChannel", 60),
    ("UpdateApp", 60),
    // Assumptions (not documented by Stream):
    ("UpdateChannelPartial", 300),
    ("DeleteChannels", 60),
    ("DeleteUsers", 60),
    ("GetTask", 1_000),
    ("GetReplies", 1_000),
    ("GetReactions", 1_000),
    ("UpdateMessagePartial", 300),
    ("DeleteMessage", 300),
    ("DeleteReaction", 1_000),
    ("DeactivateUser", 60),
    ("ReactivateUser", 60),
    ("UnreadCounts", 1_000),
    ("UpdateChannelsBatch", 60),
];

/// How many finished windows per operation are kept for `/_sandbox/stats`.
const KEPT_WINDOWS: usize = 600;

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

/// The counts of one window of one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WindowStats {
    /// Unix milliseconds at which the window began.
    pub start_ms: u64,
    /// The limit.
    pub limit: u32,
    /// Clients' calls accepted.
    pub accepted: u32,
    /// Clients' calls refused with 429.
    pub rate_limited: u32,
    /// The live app's calls accepted.
    pub live_accepted: u32,
    /// The live app's calls that found the window spent.
    pub live_refused: u32,
}

#[derive(Default)]
struct Window {
    index: u64,
    /// Calls counted against the limit (clients' and live), or the limit once exceeded.
    count: u32,
    burst_index: u64,
    burst_count: u32,
    /// Live calls that have arrived in this window so far.
    live_arrived: u32,
    stats: WindowStats,
}

/// Counters for every operation.
pub struct Limiter {
    mode: LimitMode,
    window_ms: f64,
    live_share: f64,
    windows: HashMap<String, Window>,
    history: HashMap<String, VecDeque<WindowStats>>,
}

impl Limiter {
    /// A limiter whose windows last `60 s / time_scale`, with `live_share` of each window spent
    /// by simulated live traffic.
    pub fn new(mode: LimitMode, time_scale: f64, live_share: f64) -> Self {
        Self {
            mode,
            window_ms: 60_000.0 / time_scale.max(f64::MIN_POSITIVE),
            live_share: live_share.clamp(0.0, 1.0),
            windows: HashMap::new(),
            history: HashMap::new(),
        }
    }

    /// Live calls due from the start of the window until `elapsed_ms` into it.
    fn live_demand(&self, limit: u32, elapsed_ms: f64) -> u32 {
        let share = (elapsed_ms / self.window_ms).clamp(0.0, 1.0);
        (self.live_share * f64::from(limit) * share).floor() as u32
    }

    /// Lets the live calls due by `elapsed_ms` arrive; each takes a place if one is left.
    fn replay_live(live: u32, w: &mut Window, limit: u32) {
        while w.live_arrived < live {
            w.live_arrived += 1;
            if w.count < limit {
                w.count += 1;
                w.stats.live_accepted += 1;
            } else {
                w.stats.live_refused += 1;
            }
        }
    }

    /// Counts a call of `operation` at `now_ms` (Unix milliseconds). `None` when the operation is
    /// not limited (limits off, or an operation without a limit).
    pub fn check(&mut self, operation: &str, now_ms: u64) -> Option<Verdict> {
        let LimitMode::On(limits) = &self.mode else { return None };
        let limit = *limits.get(operation)?;
        let burst_cap = (limit / 30).max(1);
        let now = now_ms as f64;
        let index = (now / self.window_ms) as u64;
        let window_start = index as f64 * self.window_ms;
        let burst_ms = self.window_ms / 60.0;
        let burst_index = (now / burst_ms) as u64;
        let full_live = self.live_demand(limit, self.window_ms);
        let live_now = self.live_demand(limit, now - window_start);
        let live_at_burst_start = self.live_demand(limit, burst_index as f64 * burst_ms - window_start);

        let w = self.windows.entry(operation.to_owned()).or_default();
        if w.index != index || w.stats.limit == 0 {
            if w.stats.limit != 0 {
                // The rest of the finished window's live traffic arrives before it is kept.
                Self::replay_live(full_live, w, w.stats.limit);
                let history = self.history.entry(operation.to_owned()).or_default();
                history.push_back(std::mem::take(&mut w.stats));
                if history.len() > KEPT_WINDOWS {
                    history.pop_front();
                }
            }
            *w = Window {
                index,
                stats: WindowStats { start_ms: window_start as u64, limit, ..WindowStats::default() },
                ..Window::default()
            };
        }
        if w.burst_index != burst_index {
            w.burst_index = burst_index;
            w.burst_count = 0;
        }
        Self::replay_live(live_now, w, limit);
        let live_in_burst = live_now.saturating_sub(live_at_burst_start);
        let reset = (((index + 1) as f64 * self.window_ms) / 1000.0).ceil() as u64;
        let allowed = w.count < limit && w.burst_count + live_in_burst < burst_cap;
        if allowed {
            w.count += 1;
            w.burst_count += 1;
            w.stats.accepted += 1;
        } else {
            // Stream answers 429 for the rest of the window once it is exceeded.
            w.count = limit;
            w.stats.rate_limited += 1;
        }
        Some(Verdict { allowed, limit, remaining: limit - w.count, reset })
    }

    /// Each limited operation's limit per window, what is left of it in the window at `now_ms`
    /// (Unix milliseconds) and when that window ends (Unix seconds), by operation; empty when
    /// limits are off.
    pub fn limits(&self, now_ms: u64) -> Vec<(String, Verdict)> {
        let LimitMode::On(limits) = &self.mode else { return Vec::new() };
        let index = (now_ms as f64 / self.window_ms) as u64;
        let reset = (((index + 1) as f64 * self.window_ms) / 1000.0).ceil() as u64;
        let mut out: Vec<(String, Verdict)> = limits
            .iter()
            .map(|(op, limit)| {
                let used = self.windows.get(op).filter(|w| w.index == index).map_or(0, |w| w.count);
                (
                    op.clone(),
                    Verdict { allowed: used < *limit, limit: *limit, remaining: limit.saturating_sub(used), reset },
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every kept window of every operation, oldest first, the current one last.
    pub fn window_stats(&self) -> HashMap<String, Vec<WindowStats>> {
        let mut out: HashMap<String, Vec<WindowStats>> =
            self.history.iter().map(|(op, h)| (op.clone(), h.iter().cloned().collect())).collect();
        for (op, w) in &self.windows {
            out.entry(op.clone()).or_default().push(w.stats.clone());
        }
        out
    }

    /// Forgets the kept counts; the current windows keep counting against their limits.
    pub fn forget_stats(&mut self) {
        self.history.clear();
        for w in self.windows.values_mut() {
            w.stats = WindowStats { start_ms: w.stats.start_ms, limit: w.stats.limit, ..WindowStats::default() };
        }
    }

    /// Forgets every window, and the kept counts with them.
    pub fn reset(&mut self) {
        self.windows.clear();
        self.history.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Unix time in milliseconds on a minute boundary.
    const WINDOW_START: u64 = 1_800_000_000_000;

    #[test]
    fn a_window_allows_the_limit_then_refuses_until_it_resets() {
        let mut l = Limiter::new(LimitMode::with_overrides([("GetApp".to_owned(), 30)].into()), 1.0, 0.0);
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
        let windows = &l.window_stats()["GetApp"];
        assert_eq!((windows[0].accepted, windows[0].rate_limited, windows[1].accepted), (30, 2, 1));
    }

    #[test]
    fn bursts_are_capped_per_second_and_exceeding_blocks_the_window() {
        let mut l = Limiter::new(LimitMode::stream_defaults(), 1.0, 0.0);
        let start = WINDOW_START;
        let allowed = (0..20).filter(|_| l.check("UpdateUsers", start).unwrap().allowed).count();
        assert_eq!(allowed, 10, "300 per minute allows 10 per second");
        assert!(!l.check("UpdateUsers", start + 5_000).unwrap().allowed, "exceeded: refused until the window resets");
    }

    #[test]
    fn time_scale_shortens_windows_and_keeps_limits() {
        let mut l = Limiter::new(LimitMode::stream_defaults(), 60.0, 0.0);
        let v = l.check("DeleteChannel", 1_000_000).unwrap();
        assert_eq!((v.limit, v.reset), (60, 1_001));
    }

    #[test]
    fn off_means_unlimited_and_unknown_operations_are_unlimited() {
        assert!(Limiter::new(LimitMode::Off, 1.0, 0.0).check("GetApp", 0).is_none());
        assert!(Limiter::new(LimitMode::stream_defaults(), 1.0, 0.0).check("Nope", 0).is_none());
    }

    #[test]
    fn live_traffic_spends_its_share_evenly_and_is_refused_when_a_client_overspends() {
        let mut l = Limiter::new(LimitMode::with_overrides([("UpdateUsers".to_owned(), 300)].into()), 1.0, 0.5);
        // Halfway through the window the live app has spent a quarter of it.
        let v = l.check("UpdateUsers", WINDOW_START + 30_000).unwrap();
        assert_eq!(v.remaining, 300 - 75 - 1);
        // A client that takes 7 a second from then on (under the burst cap) leaves the live app
        // short at the end of the window.
        for s in 30..60 {
            for _ in 0..7 {
                l.check("UpdateUsers", WINDOW_START + s * 1_000 + 500);
            }
        }
        l.check("UpdateUsers", WINDOW_START + 60_000);
        let w = &l.window_stats()["UpdateUsers"][0];
        assert_eq!(w.accepted + w.live_accepted, 300, "{w:?}");
        assert_eq!(w.live_accepted + w.live_refused, 150, "{w:?}");
        assert!(w.live_refused > 0, "{w:?}");
    }
}
