//! One operation's pacing state: its limit, its windows (aligned to the reset headers, their
//! length told or learnt), its slots, what the latest answer said was left, and the other
//! traffic that shows in it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::RateLimit;

/// Microseconds since the Unix epoch, by the wall clock (Stream's rate windows are wall-clock
/// minutes).
pub(crate) fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Stream's documented per-minute defaults. Undocumented operations get a cautious guess until
/// the first answer's headers tell the truth.
const DEFAULT_LIMITS: &[(&str, u64)] = &[
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
    ("QueryMembers", 300),
    ("DeleteChannel", 60),
    ("DeleteUser", 60),
    ("TruncateChannel", 60),
    ("UpdateApp", 60),
];
/// For operations Stream does not document (batch deletes, tasks, partial channel and message
/// updates, replies and reaction listings).
const UNDOCUMENTED_LIMIT: u64 = 60;
/// The end of each window where no call is started: 2% of it, at least 5 ms.
const GUARD_SHARE: f64 = 0.02;
const MIN_GUARD_US: u64 = 5_000;
/// Stream caps bursts at limit ÷ 30 a second: twice a window's average rate, shared with the
/// other traffic. gymchat's calls never start closer together than this share of what the cap
/// leaves it lets them, neither as reserved slots (also when many calls re-reserve at once after
/// the windows re-align) nor as departures (also when calls whose slots fell due together, after
/// the process was descheduled, all wake at once).
const BURST_SAFETY: f64 = 0.6;
/// How many consecutive, consistent readings of a shorter window it takes to believe it: two
/// (the resets of three consecutive windows equally far apart). One odd reset must not make the
/// pacer believe windows last a second and pace 60× too fast against a real app.
const SHORTER_WINDOW_READINGS: u32 = 2;
/// The shortest window ever learnt from the headers.
const MIN_LEARNT_WINDOW_US: u64 = 1_000_000;

/// What an answer said was left, and which of gymchat's calls it may not have counted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observed {
    /// `x-ratelimit-remaining`.
    pub(crate) remaining: u64,
    /// The reservation number of the call it answered.
    pub(crate) seq: u64,
    /// gymchat's calls reserved before that one and still unanswered then.
    pub(crate) older_in_flight: u64,
    /// Calls of other traffic in the window by then: the limit, less what is left, less
    /// gymchat's calls the answer may have counted.
    pub(crate) others: u64,
    /// How far into the window the answer came (µs).
    pub(crate) elapsed_us: u64,
}

/// Other traffic's projection is not trusted before a tenth of the window has passed.
const MIN_PROJECTION_SHARE: u64 = 10;

#[derive(Debug, Clone)]
pub(crate) struct OpPace {
    pub(crate) limit: u64,
    pub(crate) window_us: u64,
    /// End of the current window (Unix µs).
    pub(crate) window_end_us: u64,
    /// Whether `window_end_us` was taken from a reset header (for the current window length).
    pub(crate) aligned: bool,
    /// Grows whenever the windows are re-aligned or change length: slots reserved before belong
    /// to windows that no longer exist and must be reserved again.
    pub(crate) epoch: u64,
    /// gymchat's slots taken in the current window.
    pub(crate) used: u64,
    /// Calls every gymchat process together claimed in the current window from a shared budget
    /// (0 without one): all of them are gymchat's, none the live app's.
    pub(crate) shared: u64,
    pub(crate) last_slot_us: u64,
    /// When the last call was let go ([`Pacer::depart`]).
    pub(crate) last_departure_us: u64,
    pub(crate) hold_until_us: u64,
    /// Slots reserved so far, and those whose call has not been answered yet (with how many
    /// slots of its window had been taken when it was reserved).
    pub(crate) seq: u64,
    pub(crate) in_flight: BTreeMap<u64, u64>,
    pub(crate) observed: Option<Observed>,
    pub(crate) last_reset_s: Option<u64>,
    pub(crate) shorter: Option<(u64, u32)>,
}

/// Stream's documented per-minute limit of an operation; a cautious guess for the operations
/// Stream does not document. Estimates use it; the pacer starts from it and then follows the
/// headers.
pub fn documented_limit(op: &str) -> u64 {
    DEFAULT_LIMITS.iter().find(|(name, _)| *name == op).map_or(UNDOCUMENTED_LIMIT, |(_, n)| *n)
}

impl OpPace {
    /// An operation's pace before any answer: its documented limit over `window_us` (a minute,
    /// unless another operation's answers showed Stream's windows to be shorter).
    pub(crate) fn new(op: &str, now: u64, window_us: u64) -> Self {
        Self {
            limit: documented_limit(op),
            window_us,
            window_end_us: now + window_us,
            aligned: false,
            epoch: 0,
            used: 0,
            shared: 0,
            last_slot_us: 0,
            last_departure_us: 0,
            hold_until_us: 0,
            seq: 0,
            in_flight: BTreeMap::new(),
            observed: None,
            last_reset_s: None,
            shorter: None,
        }
    }

    pub(crate) fn guard_us(&self) -> u64 {
        ((self.window_us as f64 * GUARD_SHARE) as u64).max(MIN_GUARD_US)
    }

    /// Moves to the window that contains `t`.
    pub(crate) fn roll_to(&mut self, t: u64) {
        if t >= self.window_end_us {
            let skipped = (t - self.window_end_us) / self.window_us + 1;
            self.window_end_us += skipped * self.window_us;
            self.used = 0;
            self.shared = 0;
            self.observed = None;
        }
    }

    /// Other traffic's calls in the current window, projected to its end from the latest answer
    /// (0 before any answer in it).
    pub(crate) fn others_projected(&self) -> u64 {
        let Some(o) = self.observed else { return 0 };
        let elapsed = o.elapsed_us.max(self.window_us / MIN_PROJECTION_SHARE).max(1);
        // Rounded up, plus one: the answer was read a little after Stream counted it.
        match o.others {
            0 => 0,
            n => u64::try_from((n as u128 * self.window_us as u128).div_ceil(elapsed as u128))
                .unwrap_or(u64::MAX)
                .saturating_add(1),
        }
    }

    /// The shortest time between two of gymchat's calls: the burst cap (twice the average rate)
    /// less other traffic's rate (as projected, and at least what gymchat's share leaves to it),
    /// with [`BURST_SAFETY`].
    pub(crate) fn min_gap_us(&self, share: f64) -> u64 {
        let others = self.others_projected().max(((1.0 - share) * self.limit as f64) as u64);
        let ours_per_window = self.limit.saturating_mul(2).saturating_sub(others).max(1) as f64 * BURST_SAFETY;
        (self.window_us as f64 / ours_per_window) as u64
    }

    /// Slots gymchat may still take in the current window.
    pub(crate) fn left(&self, share: f64) -> u64 {
        let mut cap = ((self.limit as f64 * share).floor() as u64).max(1);
        let Some(o) = self.observed else { return cap.saturating_sub(self.used) };
        cap = cap.min(self.limit.saturating_sub(self.others_projected()));
        let reserved_since = self.seq.saturating_sub(o.seq);
        let for_everyone = o.remaining.saturating_sub(o.older_in_flight + reserved_since);
        cap.saturating_sub(self.used).min(for_everyone)
    }
}

/// Takes what an answer's headers say about `p`'s current window: aligns the windows to its
/// reset and records what was left, with gymchat's calls it may not have counted.
pub(crate) fn take_answer(p: &mut OpPace, seq: u64, used_then: Option<u64>, rate: RateLimit) {
    let now = now_us();
    let reset_us = rate.reset.saturating_mul(1_000_000);
    // An answer from a window already over says nothing about this one.
    if reset_us <= now {
        return;
    }
    // Windows are aligned to the first reset read (again after a new window length is
    // learnt), and only ever moved forward: answers about the window still running while
    // slots are being reserved in the next one must not pull the count back.
    if (!p.aligned || reset_us > p.window_end_us) && reset_us <= now + p.window_us {
        if reset_us != p.window_end_us {
            realign(p, now);
        }
        p.window_end_us = reset_us;
        p.aligned = true;
    }
    if reset_us != p.window_end_us {
        return;
    }
    let older_in_flight = p.in_flight.range(..seq).count() as u64;
    // With a shared budget, what every gymchat process claimed in the window is gymchat's too.
    let ours_counted = used_then.unwrap_or(p.used).saturating_sub(older_in_flight).max(p.shared);
    let others = p.limit.saturating_sub(rate.remaining).saturating_sub(ours_counted);
    let elapsed_us = now.saturating_sub(p.window_end_us.saturating_sub(p.window_us));
    if p.observed.is_none_or(|o| seq > o.seq) {
        p.observed = Some(Observed { remaining: rate.remaining, seq, older_in_flight, others, elapsed_us });
    }
    if rate.remaining == 0 {
        p.hold_until_us = p.hold_until_us.max(reset_us);
    }
}

/// The windows changed: slots reserved before are void (their calls reserve again), and none of
/// them may push later slots out.
pub(crate) fn realign(p: &mut OpPace, now: u64) {
    p.epoch += 1;
    p.last_slot_us = p.last_slot_us.min(now);
}

/// Learns the window length from consecutive resets: longer at once (slower is safe), shorter
/// only after [`SHORTER_WINDOW_READINGS`] consecutive readings of the same shorter period, and
/// never shorter than [`MIN_LEARNT_WINDOW_US`]. True when it learnt a new length.
pub(crate) fn learn_window(p: &mut OpPace, reset_s: u64) -> bool {
    let Some(previous) = p.last_reset_s else {
        p.last_reset_s = Some(reset_s);
        return false;
    };
    if reset_s <= previous {
        return false;
    }
    p.last_reset_s = Some(reset_s);
    let period = (reset_s - previous).saturating_mul(1_000_000);
    if period >= p.window_us || period < MIN_LEARNT_WINDOW_US {
        // The same window, windows passed unseen, or a period no window has: nothing to learn.
        p.shorter = None;
        return false;
    }
    let readings = match p.shorter {
        Some((candidate, n)) if candidate == period => n + 1,
        _ => 1,
    };
    if readings >= SHORTER_WINDOW_READINGS {
        p.window_us = period;
        p.shorter = None;
        p.aligned = false;
        realign(p, now_us());
        true
    } else {
        p.shorter = Some((period, readings));
        false
    }
}
