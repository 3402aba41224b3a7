//! The circuit breaker: the share of failed items over the recent window, and over the whole
//! run (the runbook's rule: more than the threshold of a run's items failed is a run to stop,
//! even when the last ones go well).

use std::collections::VecDeque;

/// Item outcomes the circuit breaker looks at.
pub const BREAKER_WINDOW: usize = 50;
/// Outcomes it needs before it may trip.
const BREAKER_MIN: usize = 10;

/// The circuit breaker: the share of failed items over the recent window, and over the whole
/// run (the runbook's rule: more than the threshold of a run's items failed is a run to stop,
/// even when the last ones go well).
pub(crate) struct Breaker {
    window: VecDeque<bool>,
    pub(crate) max_rate: f64,
    total: usize,
    failed: usize,
}

impl Breaker {
    pub(crate) fn new(max_rate: f64) -> Self {
        Self { window: VecDeque::new(), max_rate, total: 0, failed: 0 }
    }

    /// Records an outcome; true when the breaker trips.
    pub(crate) fn record(&mut self, ok: bool) -> bool {
        self.window.push_back(ok);
        if self.window.len() > BREAKER_WINDOW {
            self.window.pop_front();
        }
        self.total += 1;
        self.failed += usize::from(!ok);
        let over = |failed: usize, of: usize| of >= BREAKER_MIN && failed as f64 / of as f64 > self.max_rate;
        let recent = self.window.iter().filter(|ok| !**ok).count();
        over(recent, self.window.len()) || over(self.failed, self.total)
    }
}
