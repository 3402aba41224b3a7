//! Seeded, reproducible faults: added latency with jitter, and at the configured rate one of the
//! failures real networks and Stream's edge produce.
//!
//! The same seed and the same sequence of calls give the same faults. Every kind except
//! [`Fault::AppliedResponseLost`] fails before the request is applied, so no fault half-applies a
//! write; that one kind applies the write and then drops the connection, which is what a client
//! must settle by reading back.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// 500 with Stream's error body; nothing applied.
    Internal,
    /// 503 with Stream's error body; nothing applied.
    Unavailable,
    /// 429 with no JSON body, as Stream's edge sends; nothing applied.
    RateLimitedNoBody,
    /// The response hangs for longer than a client timeout, then 503; nothing applied.
    Stall,
    /// The connection is reset before anything is applied.
    Reset,
    /// The request is applied, then the connection is reset: the write happened, the answer is lost.
    AppliedResponseLost,
}

const KINDS: [Fault; 6] = [
    Fault::Internal,
    Fault::Unavailable,
    Fault::RateLimitedNoBody,
    Fault::Stall,
    Fault::Reset,
    Fault::AppliedResponseLost,
];

/// The fault generator.
pub struct Faults {
    rng: ChaCha8Rng,
    fail_rate: f64,
    latency: Duration,
}

impl Faults {
    /// `fail_rate` in [0, 1]; `latency` is the mean added delay (jitter ±50%).
    pub fn new(seed: u64, fail_rate: f64, latency: Duration) -> Self {
        Self { rng: ChaCha8Rng::seed_from_u64(seed), fail_rate: fail_rate.clamp(0.0, 1.0), latency }
    }

    /// Draws the delay and the fault (if any) for the next call.
    pub fn draw(&mut self) -> (Duration, Option<Fault>) {
        let delay =
            if self.latency.is_zero() { Duration::ZERO } else { self.latency.mul_f64(self.rng.random_range(0.5..1.5)) };
        let fault = (self.fail_rate > 0.0 && self.rng.random::<f64>() < self.fail_rate)
            .then(|| KINDS[self.rng.random_range(0..KINDS.len())]);
        (delay, fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let draw = |seed| {
            let mut f = Faults::new(seed, 0.3, Duration::from_millis(10));
            (0..200).map(|_| f.draw()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn every_kind_occurs_near_the_configured_rate() {
        let mut f = Faults::new(1, 0.2, Duration::ZERO);
        let faults: Vec<Fault> = (0..10_000).filter_map(|_| f.draw().1).collect();
        assert!((1_800..2_200).contains(&faults.len()), "{}", faults.len());
        for kind in KINDS {
            assert!(faults.contains(&kind), "{kind:?} never drawn");
        }
        assert!(Faults::new(1, 0.0, Duration::ZERO).draw().1.is_none());
    }
}
