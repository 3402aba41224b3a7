//! What every request shares: the app, the limiter, the fault generator, the statistics and the
//! settings. Each part has its own lock, held only for the few microseconds an operation takes.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;

use crate::config::InitialState;
use crate::faults::{Fault, Faults};
use crate::model::App;
use crate::ratelimit::Limiter;

/// Fixed settings.
#[derive(Clone)]
pub struct Settings {
    /// The API key requests must carry.
    pub key: String,
    /// The API secret tokens are signed with.
    pub secret: String,
    /// Refuse members whose teams lack the channel's team.
    pub strict_team_members: bool,
    /// How long a stalled response hangs.
    pub stall: Duration,
}

/// Calls, 429s and faults of one operation.
#[derive(Debug, Default, Clone, Serialize)]
pub struct OpStats {
    /// Calls received.
    pub calls: u64,
    /// Calls answered 429 by the rate limiter.
    pub rate_limited: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
}

/// Everything the handlers share.
pub struct Shared {
    /// The Stream app.
    pub app: Mutex<App>,
    /// What `POST /_sandbox/reset` returns to.
    pub initial: InitialState,
    /// Settings.
    pub settings: Settings,
    /// Rate limits.
    pub limiter: Mutex<Limiter>,
    /// Faults and latency.
    pub faults: Mutex<Faults>,
    /// False when neither faults nor latency are configured: the hot path skips the generator.
    pub faults_enabled: bool,
    /// Statistics by operation.
    pub stats: Mutex<BTreeMap<&'static str, OpStats>>,
}

/// Locks a mutex, recovering from a panic in another request: the sandbox's data stays usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Records a call of `op`.
    pub fn count_call(&self, op: &'static str) {
        lock(&self.stats).entry(op).or_default().calls += 1;
    }

    /// Records a 429 from the limiter.
    pub fn count_rate_limited(&self, op: &'static str) {
        lock(&self.stats).entry(op).or_default().rate_limited += 1;
    }

    /// Records an injected fault.
    pub fn count_fault(&self, op: &'static str, fault: Fault) {
        let name = serde_json::to_value(fault).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        *lock(&self.stats).entry(op).or_default().faults.entry(name).or_default() += 1;
    }
}
