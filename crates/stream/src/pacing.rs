//! Pacing: gymchat never takes more than its share of each endpoint's rate limit, because the
//! live app runs on the same limits.
//!
//! The share is a share of what the app has: per operation and per rate window, gymchat may use
//! `share × limit`, less whatever other traffic (the live app, a second gymchat) is on course to
//! spend in the window, and never more than `x-ratelimit-remaining` says is left. Other traffic's
//! course is what it spent so far in the window (the limit, less what is left, less gymchat's own
//! calls) projected to the window's end. So when the live app spends more, gymchat slows down
//! instead of driving the endpoint into 429 for everyone.
//!
//! - **Windows.** The pacer counts its own calls per window. Windows are aligned to
//!   `x-ratelimit-reset`; they last one minute (Stream's rule, or the length the pacer was
//!   told: [`Pacer::with_window`], for a sandbox with a time scale) unless the headers clearly
//!   show a shorter one (the resets of two consecutive windows a shorter period apart: a sandbox
//!   with a time scale). Resets within one window never shrink it. A length learnt from one operation
//!   holds for every operation, at once also for those already in use, and calls waiting for a
//!   slot of the old windows reserve again instead of sleeping out the old spacing.
//! - **Slots.** While the answers show no other traffic in the window, gymchat's calls start as
//!   soon as the burst cap (below) lets them, until its share of the window is spent; then they
//!   wait for the next window. Once other traffic shows (and before the window's first answer),
//!   the calls left are spread evenly over the time left, so that they interleave with the live
//!   app's while its course is still being learnt: sent at once, early in a window, they would
//!   be counted against a projection of a few calls, and the live app's last calls could find the
//!   window spent. None starts in a guard band at the window's end, so no call sent late in one
//!   window lands in the next one's count.
//! - **Bursts.** Stream also caps each second at limit ÷ 30, shared with the other traffic. Two of
//!   gymchat's calls never leave closer together than what the cap leaves it allows, with a
//!   margin: neither as slots nor as departures, so calls whose slots fell due together (the
//!   process was descheduled for a while) are let go one by one, not as a burst.
//! - **What is left.** Each answer's `remaining` is taken with gymchat's calls reserved after it
//!   (and those reserved before it and still unanswered) subtracted, so the estimate errs towards
//!   less.
//! - **429.** A refusal holds the operation until `Retry-After` or the window's reset.
//!
//! The pacer only decides when a call may start; the client waits for that moment before it takes
//! one of its concurrency slots, so calls waiting for one operation's window never hold a slot
//! another operation could use.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
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
/// Stream's rate window.
const MINUTE_US: u64 = 60_000_000;
/// The end of each window where no call is started: 2% of it, at least 5 ms.
const GUARD_SHARE: f64 = 0.02;
const MIN_GUARD_US: u64 = 5_000;
/// Stream caps bursts at limit ÷ 30 a second: twice a window's average rate, shared with the
/// other traffic. gymchat's calls never start closer together than this share of what the cap
/// leaves it lets them, neither as reserved slots (also when many calls re-reserve at once after
/// the windows re-align) nor as departures (also when calls whose slots fell due together, after
/// the process was descheduled, all wake at once).
const BURST_SAFETY: f64 = 0.6;
/// The runtime's timer resolution: a sleep lasts at least this long (µs).
pub const TIMER_RESOLUTION_US: u64 = 1_000;
/// How many consecutive readings of a shorter window it takes to believe it. One suffices: a
/// reading is the difference between the resets of two consecutive windows, which Stream's fixed
/// windows keep equal to their length (a minute), so a shorter one is never an accident of timing.
const SHORTER_WINDOW_READINGS: u32 = 1;

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// What an answer said was left, and which of gymchat's calls it may not have counted.
#[derive(Debug, Clone, Copy)]
struct Observed {
    /// `x-ratelimit-remaining`.
    remaining: u64,
    /// The reservation number of the call it answered.
    seq: u64,
    /// gymchat's calls reserved before that one and still unanswered then.
    older_in_flight: u64,
    /// Calls of other traffic in the window by then: the limit, less what is left, less
    /// gymchat's calls the answer may have counted.
    others: u64,
    /// How far into the window the answer came (µs).
    elapsed_us: u64,
}

/// Other traffic's projection is not trusted before a tenth of the window has passed.
const MIN_PROJECTION_SHARE: u64 = 10;

#[derive(Debug, Clone)]
struct OpPace {
    limit: u64,
    window_us: u64,
    /// End of the current window (Unix µs).
    window_end_us: u64,
    /// Whether `window_end_us` was taken from a reset header (for the current window length).
    aligned: bool,
    /// Grows whenever the windows are re-aligned or change length: slots reserved before belong
    /// to windows that no longer exist and must be reserved again.
    epoch: u64,
    /// gymchat's slots taken in the current window.
    used: u64,
    last_slot_us: u64,
    /// When the last call was let go ([`Pacer::depart`]).
    last_departure_us: u64,
    hold_until_us: u64,
    /// Slots reserved so far, and those whose call has not been answered yet (with how many
    /// slots of its window had been taken when it was reserved).
    seq: u64,
    in_flight: BTreeMap<u64, u64>,
    observed: Option<Observed>,
    last_reset_s: Option<u64>,
    shorter: Option<(u64, u32)>,
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
    fn new(op: &str, now: u64, window_us: u64) -> Self {
        Self {
            limit: documented_limit(op),
            window_us,
            window_end_us: now + window_us,
            aligned: false,
            epoch: 0,
            used: 0,
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

    fn guard_us(&self) -> u64 {
        ((self.window_us as f64 * GUARD_SHARE) as u64).max(MIN_GUARD_US)
    }

    /// Moves to the window that contains `t`.
    fn roll_to(&mut self, t: u64) {
        if t >= self.window_end_us {
            let skipped = (t - self.window_end_us) / self.window_us + 1;
            self.window_end_us += skipped * self.window_us;
            self.used = 0;
            self.observed = None;
        }
    }

    /// Other traffic's calls in the current window, projected to its end from the latest answer
    /// (0 before any answer in it).
    fn others_projected(&self) -> u64 {
        let Some(o) = self.observed else { return 0 };
        let elapsed = o.elapsed_us.max(self.window_us / MIN_PROJECTION_SHARE).max(1);
        // Rounded up, plus one: the answer was read a little after Stream counted it.
        match o.others {
            0 => 0,
            n => (n as u128 * self.window_us as u128).div_ceil(elapsed as u128) as u64 + 1,
        }
    }

    /// The shortest time between two of gymchat's calls: the burst cap (twice the average rate)
    /// less other traffic's rate (as projected, and at least what gymchat's share leaves to it),
    /// with [`BURST_SAFETY`].
    fn min_gap_us(&self, share: f64) -> u64 {
        let others = self.others_projected().max(((1.0 - share) * self.limit as f64) as u64);
        let ours_per_window = (2 * self.limit).saturating_sub(others).max(1) as f64 * BURST_SAFETY;
        (self.window_us as f64 / ours_per_window) as u64
    }

    /// Slots gymchat may still take in the current window.
    fn left(&self, share: f64) -> u64 {
        let mut cap = ((self.limit as f64 * share).floor() as u64).max(1);
        let Some(o) = self.observed else { return cap.saturating_sub(self.used) };
        cap = cap.min(self.limit.saturating_sub(self.others_projected()));
        let reserved_since = self.seq.saturating_sub(o.seq);
        let for_everyone = o.remaining.saturating_sub(o.older_in_flight + reserved_since);
        cap.saturating_sub(self.used).min(for_everyone)
    }
}

/// A reserved start slot: when to start, and the window it was counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The reservation's number, for [`Pacer::answered`] or [`Pacer::abandon`].
    pub seq: u64,
    /// How long to wait before starting.
    pub wait: Duration,
    /// The end of the window the slot belongs to (Unix µs): a call that has not started by then
    /// must reserve again.
    pub window_end_us: u64,
    epoch: u64,
}

/// Per-operation pacing, shared by every clone of a client.
#[derive(Debug)]
pub struct Pacer {
    share: f64,
    ops: Mutex<HashMap<&'static str, OpPace>>,
    /// The window length last learnt from any operation's answers, or told at the start (µs; 0
    /// for a minute): all of Stream's windows have one length, so an operation first used later
    /// starts from it instead of learning it again.
    learnt_window_us: AtomicU64,
    /// Told whenever windows change length, so calls waiting for a slot of the old windows
    /// reserve again at once instead of sleeping out a wait that no longer holds.
    realigned: tokio::sync::Notify,
}

impl Pacer {
    /// `share` of each limit and of what is left of it, in (0, 1].
    pub fn new(share: f64) -> Self {
        Self {
            share: share.clamp(0.01, 1.0),
            ops: Mutex::new(HashMap::new()),
            learnt_window_us: AtomicU64::new(0),
            realigned: tokio::sync::Notify::new(),
        }
    }

    /// A pacer told Stream's window length up front instead of a minute: a sandbox run with a
    /// time scale F has windows F times shorter, and a pacer that had to learn that from the
    /// resets would spend its first window at a minute's pace (a sixtieth of the rate at F = 60).
    /// A shorter window seen in the headers is still learnt; a window of a minute or more is the
    /// plain default.
    pub fn with_window(self, window: Duration) -> Self {
        let us = window.as_micros().min(MINUTE_US as u128) as u64;
        self.learnt_window_us.store(if us == MINUTE_US { 0 } else { us.max(1) }, Ordering::Relaxed);
        self
    }

    fn with_op<R>(&self, op: &'static str, f: impl FnOnce(&mut OpPace, f64) -> R) -> R {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let learnt = self.learnt_window_us.load(Ordering::Relaxed);
        let window = if learnt == 0 { MINUTE_US } else { learnt };
        let pace = ops.entry(op).or_insert_with(|| OpPace::new(op, now_us(), window));
        f(pace, self.share)
    }

    /// Reserves the next start slot of `op`.
    pub fn reserve(&self, op: &'static str) -> Slot {
        let now = now_us();
        self.with_op(op, |p, share| {
            let mut start = now.max(p.hold_until_us);
            loop {
                p.roll_to(start);
                let end = p.window_end_us - p.guard_us();
                let left = p.left(share);
                if left == 0 || start >= end {
                    // Nothing left in this window: the next one.
                    start = start.max(p.window_end_us);
                    continue;
                }
                let min_gap = p.min_gap_us(share);
                let slot = if p.used == 0 {
                    start
                } else if p.observed.is_some_and(|o| o.others == 0) {
                    // The window holds no other traffic so far: at the burst cap's pace.
                    start.max(p.last_slot_us + min_gap)
                } else {
                    // Other traffic, or no answer in this window yet: spread over what is left.
                    let from = p.last_slot_us.max(p.window_end_us - p.window_us);
                    start.max(from + end.saturating_sub(from) / left).max(p.last_slot_us + min_gap)
                };
                // `end` is already a guard band before the window's end: a slot at it is safe.
                if slot > end {
                    start = p.window_end_us;
                    continue;
                }
                p.used += 1;
                p.last_slot_us = slot;
                p.seq += 1;
                p.in_flight.insert(p.seq, p.used);
                return Slot {
                    seq: p.seq,
                    wait: Duration::from_micros(slot - now),
                    window_end_us: p.window_end_us,
                    epoch: p.epoch,
                };
            }
        })
    }

    /// How long a call whose slot has come must still wait so that it does not leave within
    /// the shortest gap after gymchat's previous call of `op`. Slots are spaced already; this
    /// spaces the departures too, when calls whose slots fell due together wake at once (the
    /// process was descheduled, or they waited for a concurrency slot).
    ///
    /// A wait shorter than [`TIMER_RESOLUTION_US`] is not slept (a timer cannot sleep less, so
    /// each such sleep would cost a whole tick and throttle fast operations to one call a tick);
    /// the departures it stands for still count, so a backlog is spaced once it adds up to a tick.
    pub fn depart(&self, op: &'static str) -> Duration {
        let now = now_us();
        self.with_op(op, |p, share| {
            let at = now.max(p.last_departure_us + p.min_gap_us(share));
            p.last_departure_us = at;
            match at - now {
                wait if wait < TIMER_RESOLUTION_US => Duration::ZERO,
                wait => Duration::from_micros(wait),
            }
        })
    }

    /// Whether a call may start now on `slot`: its window is still open and still the window it
    /// was counted in (the windows were not re-aligned meanwhile). Otherwise it must give the
    /// slot up ([`Pacer::abandon`]) and reserve again.
    pub fn still_open(&self, op: &'static str, slot: &Slot) -> bool {
        let now = now_us();
        self.with_op(op, |p, _| p.epoch == slot.epoch && now < slot.window_end_us)
    }

    /// Gives up a slot whose call was never sent (its window closed before it could start).
    pub fn abandon(&self, op: &'static str, seq: u64) {
        self.with_op(op, |p, _| {
            p.in_flight.remove(&seq);
        });
    }

    /// Learns from the answer to the call of slot `seq` of `op` (its headers, when it had them).
    pub fn answered(&self, op: &'static str, seq: u64, rate: Option<RateLimit>) {
        let learnt = self.with_op(op, |p, _| {
            let used_then = p.in_flight.remove(&seq);
            let rate = rate?;
            p.limit = rate.limit.max(1);
            let learnt = learn_window(p, rate.reset).then_some(p.window_us);
            take_answer(p, seq, used_then, rate);
            learnt
        });
        if let Some(window_us) = learnt {
            self.share_window(op, window_us);
        }
    }

    /// All of Stream's windows have one length: once one operation's answers show a shorter one,
    /// operations first used later start from it, and those already in use that still assume a
    /// longer one take it at once (a sandbox with a time scale: an operation started while
    /// another was learning would otherwise keep a minute's spacing until it learnt for itself).
    fn share_window(&self, from: &'static str, window_us: u64) {
        self.learnt_window_us.store(window_us, Ordering::Relaxed);
        let now = now_us();
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        for (_, p) in ops.iter_mut().filter(|(op, p)| **op != from && p.window_us > window_us) {
            p.window_us = window_us;
            p.window_end_us = p.window_end_us.min(now + window_us);
            p.aligned = false;
            p.shorter = None;
            realign(p, now);
        }
        self.realigned.notify_waiters();
    }

    /// Sleeps until `slot` is due. False when the windows of `op` changed meanwhile: the slot is
    /// void, and the caller gives it up ([`Pacer::abandon`]) and reserves again.
    pub async fn wait_for(&self, op: &'static str, slot: &Slot) -> bool {
        let due = tokio::time::Instant::now() + slot.wait;
        loop {
            // Created before the check, so a change between the two is not missed.
            let realigned = self.realigned.notified();
            if !self.with_op(op, |p, _| p.epoch == slot.epoch) {
                return false;
            }
            tokio::select! {
                () = tokio::time::sleep_until(due) => return true,
                () = realigned => {}
            }
        }
    }

    /// After a 429: nothing of `op` starts before `until_ms` (Unix milliseconds).
    pub fn hold_until(&self, op: &'static str, until_ms: u64) {
        self.with_op(op, |p, _| p.hold_until_us = p.hold_until_us.max(until_ms * 1000));
    }

    /// The window length the pacer believes `op` has.
    pub fn window(&self, op: &'static str) -> Duration {
        self.with_op(op, |p, _| Duration::from_micros(p.window_us))
    }
}

/// Takes what an answer's headers say about `p`'s current window: aligns the windows to its
/// reset and records what was left, with gymchat's calls it may not have counted.
fn take_answer(p: &mut OpPace, seq: u64, used_then: Option<u64>, rate: RateLimit) {
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
    let ours_counted = used_then.unwrap_or(p.used).saturating_sub(older_in_flight);
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
fn realign(p: &mut OpPace, now: u64) {
    p.epoch += 1;
    p.last_slot_us = p.last_slot_us.min(now);
}

/// Learns the window length from consecutive resets: longer at once (slower is safe), shorter
/// only after the same shorter period was read twice in a row. True when it learnt a new length.
fn learn_window(p: &mut OpPace, reset_s: u64) -> bool {
    let Some(previous) = p.last_reset_s else {
        p.last_reset_s = Some(reset_s);
        return false;
    };
    if reset_s <= previous {
        return false;
    }
    p.last_reset_s = Some(reset_s);
    let period = (reset_s - previous) * 1_000_000;
    if period >= p.window_us {
        // The same window, or windows passed unseen: nothing to learn.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A call answered with these headers (its slot's wait ignored).
    fn answer(pacer: &Pacer, op: &'static str, limit: u64, remaining: u64, reset: u64) {
        let seq = pacer.reserve(op).seq;
        pacer.answered(op, seq, Some(RateLimit { limit, remaining, reset }));
    }

    #[test]
    fn the_first_call_goes_at_once_and_the_rest_are_spread_over_the_window() {
        let pacer = Pacer::new(0.5);
        // DeleteChannel: 60 a minute, half of it is 30; before any answer, 29 over the ~59 s left.
        assert_eq!(pacer.reserve("DeleteChannel").wait, Duration::ZERO);
        let second = pacer.reserve("DeleteChannel").wait;
        assert!(second > Duration::from_millis(1_900) && second < Duration::from_millis(2_100), "{second:?}");
    }

    #[test]
    fn alone_in_the_window_calls_go_at_the_burst_caps_pace() {
        let pacer = Pacer::new(0.5);
        let now_s = now_us() / 1_000_000;
        // An answer showing nobody else spent the window: 59 of 60 left after gymchat's call.
        answer(&pacer, "DeleteChannel", 60, 59, now_s + 60);
        // A burst cap of 2 a second (120 a minute); the live app keeps at least its half of the
        // window (30), and gymchat takes 0.6 of the 90 left: 54 a minute, one every 1.11 s, until
        // its 30 of the window are spent.
        let first = pacer.reserve("DeleteChannel").wait;
        let waits: Vec<Duration> = (1..29).map(|_| pacer.reserve("DeleteChannel").wait - first).collect();
        for (n, wait) in waits.iter().enumerate() {
            let expected = 1_111 * (n as u64 + 1);
            let ms = wait.as_millis() as u64;
            assert!(ms + 5 >= expected && ms <= expected + 5, "call {}: {wait:?}", n + 2);
        }
        // The 31st belongs to the next window.
        assert!(pacer.reserve("DeleteChannel").wait >= Duration::from_secs(55));
    }

    #[test]
    fn a_window_never_gets_more_than_the_share() {
        let pacer = Pacer::new(1.0);
        let now_s = now_us() / 1_000_000;
        // One call answered (59 left), then reservations until one falls in the next window.
        answer(&pacer, "DeleteChannel", 60, 59, now_s + 60);
        let window_end = pacer.reserve("DeleteChannel").window_end_us;
        let mut in_window = 2;
        loop {
            let slot = pacer.reserve("DeleteChannel");
            if slot.window_end_us != window_end {
                break;
            }
            in_window += 1;
        }
        assert_eq!(in_window, 60, "the whole limit, not one more");
    }

    #[test]
    fn others_spending_the_window_slow_the_pacer_down() {
        let alone = Pacer::new(0.5);
        let shared = Pacer::new(0.5);
        let now_s = now_us() / 1_000_000;
        answer(&alone, "UpdateUsers", 300, 299, now_s + 60);
        // Others have spent 279 of 300 in the window so far: they are on course to spend it all.
        answer(&shared, "UpdateUsers", 300, 20, now_s + 60);
        alone.reserve("UpdateUsers");
        shared.reserve("UpdateUsers");
        let (a, s) = (alone.reserve("UpdateUsers").wait, shared.reserve("UpdateUsers").wait);
        assert!(s > a * 10, "alone {a:?}, with the window nearly spent by others {s:?}");
    }

    #[test]
    fn an_exhausted_window_holds_calls_until_its_reset() {
        let pacer = Pacer::new(0.5);
        let reset = now_us() / 1_000_000 + 3;
        answer(&pacer, "GetApp", 10_000, 0, reset);
        assert!(pacer.reserve("GetApp").wait > Duration::from_secs(1));
    }

    #[test]
    fn an_operation_first_used_later_starts_from_the_window_another_learnt() {
        let pacer = Pacer::new(0.5);
        let now_s = now_us() / 1_000_000;
        for k in 1..=3 {
            answer(&pacer, "QueryChannels", 10_000, 9_999, now_s + k);
        }
        assert_eq!(pacer.window("QueryChannels"), Duration::from_secs(1));
        assert_eq!(pacer.window("UpdateChannel"), Duration::from_secs(1), "learnt once for every operation");
        let fresh = Pacer::new(0.5);
        assert_eq!(fresh.window("UpdateChannel"), Duration::from_secs(60), "a minute until an answer says otherwise");
    }

    #[test]
    fn a_pacer_told_the_window_paces_for_it_from_the_first_call() {
        let told = Pacer::new(1.0).with_window(Duration::from_secs(1));
        assert_eq!(told.window("UpdateChannel"), Duration::from_secs(1));
        // 300 a one-second window: after the first call, the next slots are milliseconds apart,
        // not the fifth of a second a minute's pace would give.
        told.reserve("UpdateChannel");
        let second = told.reserve("UpdateChannel").wait;
        assert!(second < Duration::from_millis(10), "{second:?}");
        let minute = Pacer::new(1.0).with_window(Duration::from_secs(60));
        assert_eq!(minute.window("UpdateChannel"), Duration::from_secs(60));
        minute.reserve("UpdateChannel");
        assert!(minute.reserve("UpdateChannel").wait > Duration::from_millis(150));
    }

    #[test]
    fn an_operation_already_in_use_takes_the_window_another_learnt() {
        let pacer = Pacer::new(0.5);
        // QueryUsers starts while the window is still taken to be a minute: its calls are spaced
        // for a minute's burst cap.
        let first = pacer.reserve("QueryUsers");
        let minute_gap = pacer.reserve("QueryUsers").wait.saturating_sub(first.wait);
        assert!(minute_gap >= Duration::from_millis(50), "{minute_gap:?}");
        let now_s = now_us() / 1_000_000;
        for k in 1..=3 {
            answer(&pacer, "QueryChannels", 10_000, 9_999, now_s + k);
        }
        assert_eq!(pacer.window("QueryUsers"), Duration::from_secs(1), "taken from QueryChannels at once");
        // The slots reserved before are void (their calls reserve again); new ones follow the
        // second's spacing.
        let a = pacer.reserve("QueryUsers");
        let b = pacer.reserve("QueryUsers");
        assert_ne!(a.epoch, first.epoch);
        assert!(b.wait.saturating_sub(a.wait) < Duration::from_millis(5), "{:?} then {:?}", a.wait, b.wait);
    }

    #[test]
    fn calls_due_together_depart_one_by_one_within_the_burst_cap() {
        let pacer = Pacer::new(0.5);
        let now_s = now_us() / 1_000_000;
        answer(&pacer, "UpdateUsers", 300, 299, now_s + 60);
        // Eight calls whose slots all fell due while the process was descheduled wake at once.
        let waits: Vec<Duration> = (0..8).map(|_| pacer.depart("UpdateUsers")).collect();
        // The cap is 10 a second (twice 300 a minute); the live app is left at least its half
        // (2.5 a second), so gymchat departs at most 0.6 × 7.5 = 4.5 a second: 222 ms apart.
        for pair in waits.windows(2) {
            let gap = pair[1].saturating_sub(pair[0]);
            assert!(gap >= Duration::from_millis(215) && gap <= Duration::from_millis(230), "{waits:?}");
        }
    }

    #[test]
    fn fast_operations_are_not_held_to_one_departure_a_timer_tick() {
        let pacer = Pacer::new(1.0);
        let now_s = now_us() / 1_000_000;
        answer(&pacer, "GetOrCreateChannel", 10_000, 9_999, now_s + 1);
        answer(&pacer, "GetOrCreateChannel", 10_000, 9_999, now_s + 2);
        // One-second windows of 10,000: the shortest gap is 1 s / (0.6 × 20,000) ≈ 83 µs, so the
        // first twelve calls due together leave at once, and later ones wait their turn.
        let waits: Vec<Duration> = (0..40).map(|_| pacer.depart("GetOrCreateChannel")).collect();
        let at_once = waits.iter().take_while(|w| w.is_zero()).count();
        assert!((10..=13).contains(&at_once), "{waits:?}");
        assert!(waits[39] >= Duration::from_millis(2) && waits[39] <= Duration::from_millis(4), "{waits:?}");
    }

    #[test]
    fn a_shorter_window_is_believed_once_two_windows_show_it() {
        let pacer = Pacer::new(0.5);
        let now_s = now_us() / 1_000_000;
        answer(&pacer, "UpdateUsers", 300, 299, now_s + 1);
        answer(&pacer, "UpdateUsers", 300, 298, now_s + 1);
        assert_eq!(pacer.window("UpdateUsers"), Duration::from_secs(60), "one window says nothing of its length");
        answer(&pacer, "UpdateUsers", 300, 299, now_s + 2);
        assert_eq!(pacer.window("UpdateUsers"), Duration::from_secs(1));
        // A one-second window with 150 allowed: slots about 6.5 ms apart once the first has gone.
        let wait = |p: &Pacer| p.reserve("UpdateUsers").wait;
        wait(&pacer);
        wait(&pacer);
        let third = wait(&pacer);
        assert!(third > Duration::from_millis(3), "{third:?}");
    }
}
