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

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod op;
#[cfg(test)]
mod tests;

use crate::error::RateLimit;
pub(crate) use op::now_us;
use op::{OpPace, learn_window, take_answer};

pub use op::documented_limit;

/// Stream's rate window.
pub(crate) const MINUTE_US: u64 = 60_000_000;
/// The runtime's timer resolution: a sleep lasts at least this long (µs).
pub const TIMER_RESOLUTION_US: u64 = 1_000;

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
    /// The window length told at the start (µs; 0 for a minute), every operation's first
    /// assumption. A shorter one learnt from one operation's headers is that operation's alone.
    told_window_us: AtomicU64,
    /// Told whenever an operation's windows change length, so calls waiting for a slot of the
    /// old windows reserve again at once instead of sleeping out a wait that no longer holds.
    realigned: tokio::sync::Notify,
    /// How many processes share the budget (the workers of one run): each keeps its calls that
    /// many times further apart than the burst cap alone would, so that together they stay
    /// under it.
    processes: AtomicU64,
}

impl Pacer {
    /// `share` of each limit and of what is left of it, in (0, 1].
    pub fn new(share: f64) -> Self {
        Self {
            share: share.clamp(0.01, 1.0),
            ops: Mutex::new(HashMap::new()),
            told_window_us: AtomicU64::new(0),
            realigned: tokio::sync::Notify::new(),
            processes: AtomicU64::new(1),
        }
    }

    /// `n` processes (this one included) share the budget and Stream's per-second burst cap.
    pub fn share_bursts_with(&self, n: u64) {
        self.processes.store(n.max(1), Ordering::Relaxed);
    }

    /// A pacer told Stream's window length up front instead of a minute: a sandbox run with a
    /// time scale F has windows F times shorter, and a pacer that had to learn that from the
    /// resets would spend its first window at a minute's pace (a sixtieth of the rate at F = 60).
    /// A shorter window seen in the headers is still learnt; a window of a minute or more is the
    /// plain default.
    pub fn with_window(self, window: Duration) -> Self {
        let us = window.as_micros().min(MINUTE_US as u128) as u64;
        self.told_window_us.store(if us == MINUTE_US { 0 } else { us.max(1) }, Ordering::Relaxed);
        self
    }

    fn with_op<R>(&self, op: &'static str, f: impl FnOnce(&mut OpPace, f64) -> R) -> R {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let told = self.told_window_us.load(Ordering::Relaxed);
        let window = if told == 0 { MINUTE_US } else { told };
        let pace = ops.entry(op).or_insert_with(|| OpPace::new(op, now_us(), window));
        f(pace, self.share)
    }

    /// Reserves the next start slot of `op`.
    pub fn reserve(&self, op: &'static str) -> Slot {
        let now = now_us();
        let processes = self.processes.load(Ordering::Relaxed);
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
                let min_gap = p.min_gap_us(share) * processes;
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
        let processes = self.processes.load(Ordering::Relaxed);
        self.with_op(op, |p, share| {
            let at = now.max(p.last_departure_us + p.min_gap_us(share) * processes);
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
            let Some(rate) = rate else { return false };
            p.limit = rate.limit.max(1);
            let learnt = learn_window(p, rate.reset);
            take_answer(p, seq, used_then, rate);
            learnt
        });
        if learnt {
            self.realigned.notify_waiters();
        }
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
        self.with_op(op, |p, _| p.hold_until_us = p.hold_until_us.max(until_ms.saturating_mul(1000)));
    }

    /// The limit the pacer believes `op` has per window (documented, then from the headers).
    pub fn limit(&self, op: &'static str) -> u64 {
        self.with_op(op, |p, _| p.limit)
    }

    /// Every gymchat process together has claimed `claimed` calls of `op` in the current window
    /// from a shared budget: the answers' other traffic leaves them out.
    pub fn note_shared(&self, op: &'static str, claimed: u64) {
        self.with_op(op, |p, _| {
            p.roll_to(now_us());
            p.shared = p.shared.max(claimed);
        });
    }

    /// The window length the pacer believes `op` has.
    pub fn window(&self, op: &'static str) -> Duration {
        self.with_op(op, |p, _| Duration::from_micros(p.window_us))
    }
}
