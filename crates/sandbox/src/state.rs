//! What every request shares: the app, the limiter, the fault generator, the statistics and the
//! settings. Each part has its own lock, held only for the few microseconds an operation takes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use secrecy::SecretString;
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
    pub secret: SecretString,
    /// Refuse members whose teams lack the channel's team.
    pub strict_team_members: bool,
    /// How long a stalled response hangs.
    pub stall: Duration,
    /// Order ties of a channel query at random instead of by cid.
    pub shuffle_ties: bool,
    /// Share of tasks that end `error`.
    pub task_fail_rate: f64,
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

/// What the sandbox observed of its clients, independently of them.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// Per operation.
    pub operations: BTreeMap<&'static str, OpStats>,
    /// Stream calls being served now.
    pub in_flight: u64,
    /// The most Stream calls served at once since the last stats reset.
    pub in_flight_peak: u64,
    /// Calls without the `stream-auth-type: jwt` header (Stream's answer to them is undocumented).
    pub missing_auth_type: u64,
    /// Calls whose `Authorization` carried a `Bearer ` prefix (Stream wants the raw token).
    pub bearer_prefix: u64,
    /// Calls by the client they named in `X-Stream-Client` (`none` when they named none).
    pub clients: BTreeMap<String, u64>,
    /// Members sent as plain ids instead of `{"user_id", …}` objects (Stream's own SDK always
    /// sends objects).
    pub members_as_ids: u64,
    /// Channel queries and get-or-creates that did not say `"watch": false` (a server has no
    /// connection to watch on).
    pub watching: u64,
    /// Messages whose text ran a slash command (`/giphy`, `/ban`, …).
    pub commands_run: u64,
    /// Messages sent with `POST …/message` and handled (refused ones included).
    pub sends: u64,
    /// Sends (messages, reactions and updates with a message) that asked for no push
    /// notification.
    pub sends_skip_push: u64,
    /// Writes that would raise a push notification on a real app: a message, a reaction or an
    /// update with a message, sent without `skip_push` (refused ones included).
    pub would_push: u64,
    /// Sends that asked for no URL enrichment.
    pub sends_skip_enrich_url: u64,
    /// Answers given from a script instead of the handler.
    pub scripted: u64,
}

/// An answer a test scripted for the next call of an operation (`POST /_sandbox/script`): given
/// instead of running the handler, so nothing is applied.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ScriptedAnswer {
    /// HTTP status.
    pub status: u16,
    /// With a code, Stream's error body with that code; without, no Stream body at all.
    #[serde(default)]
    pub code: Option<i64>,
    /// A `Retry-After` header, in seconds.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// A raw body to send (only without `code`).
    #[serde(default)]
    pub raw_body: Option<String>,
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
    /// What was observed.
    pub stats: Mutex<Stats>,
    /// Scripted answers by operation, first come first served.
    pub script: Mutex<std::collections::HashMap<String, std::collections::VecDeque<ScriptedAnswer>>>,
    /// Seeded randomness for tie order and task failures, apart from the fault generator's so
    /// that turning these on does not change which calls meet faults.
    pub chance: Mutex<ChaCha8Rng>,
}

/// Counts a Stream call as in flight until dropped (also when a fault drops the connection).
pub struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut stats = lock(&self.0.stats);
        stats.in_flight = stats.in_flight.saturating_sub(1);
    }
}

/// Locks a mutex, recovering from a panic in another request: the sandbox's data stays usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Records a call of `op`, in flight until the returned guard is dropped.
    pub fn count_call(self: &Arc<Self>, op: &'static str) -> InFlight {
        let mut stats = lock(&self.stats);
        stats.operations.entry(op).or_default().calls += 1;
        stats.in_flight += 1;
        stats.in_flight_peak = stats.in_flight_peak.max(stats.in_flight);
        InFlight(Arc::clone(self))
    }

    /// Records a 429 from the limiter.
    pub fn count_rate_limited(&self, op: &'static str) {
        lock(&self.stats).operations.entry(op).or_default().rate_limited += 1;
    }

    /// Records an injected fault.
    pub fn count_fault(&self, op: &'static str, fault: Fault) {
        let name = serde_json::to_value(fault).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        *lock(&self.stats).operations.entry(op).or_default().faults.entry(name).or_default() += 1;
    }

    /// Records how a call presented its token.
    pub fn count_auth_form(&self, has_auth_type: bool, bearer: bool, client: Option<&str>) {
        let mut stats = lock(&self.stats);
        stats.missing_auth_type += u64::from(!has_auth_type);
        stats.bearer_prefix += u64::from(bearer);
        *stats.clients.entry(client.unwrap_or("none").to_owned()).or_default() += 1;
    }

    /// Records members sent as plain ids.
    pub fn count_members_as_ids(&self, n: usize) {
        lock(&self.stats).members_as_ids += n as u64;
    }

    /// Records a channel read that asked to watch (or did not say it would not).
    pub fn count_watching(&self) {
        lock(&self.stats).watching += 1;
    }

    /// Records a slash command run by a message.
    pub fn count_command(&self) {
        lock(&self.stats).commands_run += 1;
    }

    /// Records a write that could push (`message`: through `POST …/message`) and its
    /// processing flags.
    pub fn count_send(&self, message: bool, skip_push: bool, skip_enrich_url: bool) {
        let mut stats = lock(&self.stats);
        stats.sends += u64::from(message);
        stats.sends_skip_push += u64::from(skip_push);
        stats.would_push += u64::from(!skip_push);
        stats.sends_skip_enrich_url += u64::from(skip_enrich_url);
    }

    /// The next scripted answer for `op`, if a test left one.
    pub fn next_scripted(&self, op: &str) -> Option<ScriptedAnswer> {
        let answer = lock(&self.script).get_mut(op)?.pop_front()?;
        lock(&self.stats).scripted += 1;
        Some(answer)
    }

    /// Whether a new task fails (`task_fail_rate`).
    pub fn task_fails(&self) -> bool {
        self.settings.task_fail_rate > 0.0 && lock(&self.chance).random::<f64>() < self.settings.task_fail_rate
    }

    /// Zeroes the counters (calls, faults, peaks, windows) without touching the app.
    pub fn reset_stats(&self) {
        let mut stats = lock(&self.stats);
        let in_flight = stats.in_flight;
        *stats = Stats { in_flight, in_flight_peak: in_flight, ..Stats::default() };
    }
}
