//! The sandbox's settings and how its inputs (fixture, state file, rate-limit file) are read.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::model::Snapshot;
use crate::ratelimit::{DEFAULT_LIMITS, LimitMode};

/// Why the sandbox could not start or save.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A fixture, state or rate-limit file is not what it should be.
    #[error("{path}: {message}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Everything `run` needs.
#[derive(Clone)]
pub struct Config {
    /// The API key requests must carry.
    pub key: String,
    /// The API secret tokens are signed with.
    pub secret: SecretString,
    /// Rate limits.
    pub limits: LimitMode,
    /// How many times faster than real time rate windows pass.
    pub time_scale: f64,
    /// Mean added latency (jitter ±50%).
    pub latency: Duration,
    /// Share of calls that fail, in [0, 1].
    pub fail_rate: f64,
    /// Seed of the fault generator.
    pub seed: u64,
    /// How long a stalled response hangs (should exceed the client's timeout).
    pub stall: Duration,
    /// Refuse channel members whose teams lack the channel's team.
    pub strict_team_members: bool,
    /// Channels with equal sort keys come back in a different order on each query (Stream does
    /// not document the order of ties), instead of by cid.
    pub shuffle_ties: bool,
    /// Share of background tasks (batch deletes) that end `error` without applying anything.
    pub task_fail_rate: f64,
    /// Share of every limited operation's window that the sandbox itself spends, evenly over
    /// the window, as the live app's traffic would.
    pub live_traffic: f64,
    /// The state to start from and to return to on `POST /_sandbox/reset`.
    pub initial: InitialState,
    /// Where to save the state on shutdown.
    pub save_to: Option<PathBuf>,
}

/// Where the sandbox's state comes from.
#[derive(Debug, Clone)]
pub enum InitialState {
    /// An empty app.
    Empty,
    /// This snapshot; a copy is kept for resets, so use it for small states (tests).
    Snapshot(Snapshot),
    /// A fixture or state file, read at start and read again on reset, so a large state is held
    /// in memory once.
    File(PathBuf),
}

impl InitialState {
    /// Builds the snapshot to (re)start from.
    pub fn load(&self) -> Result<Snapshot, SandboxError> {
        match self {
            InitialState::Empty => Ok(Snapshot::default()),
            InitialState::Snapshot(s) => Ok(s.clone()),
            InitialState::File(path) => load_snapshot(path),
        }
    }
}

/// Every setting but the initial state, which can be a whole tenant (the secret's own `Debug`
/// is redacted).
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("key", &self.key)
            .field("secret", &self.secret)
            .field("limits", &self.limits)
            .field("time_scale", &self.time_scale)
            .field("latency", &self.latency)
            .field("fail_rate", &self.fail_rate)
            .field("seed", &self.seed)
            .field("strict_team_members", &self.strict_team_members)
            .field("shuffle_ties", &self.shuffle_ties)
            .field("task_fail_rate", &self.task_fail_rate)
            .field("live_traffic", &self.live_traffic)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Stream's default limits, real time, no latency, no faults, no live traffic, empty app.
    pub fn new(key: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        Self {
            key: key.into(),
            secret: secret.into(),
            limits: LimitMode::stream_defaults(),
            time_scale: 1.0,
            latency: Duration::ZERO,
            fail_rate: 0.0,
            seed: 0,
            stall: Duration::from_secs(30),
            strict_team_members: false,
            shuffle_ties: false,
            task_fail_rate: 0.0,
            live_traffic: 0.0,
            initial: InitialState::Empty,
            save_to: None,
        }
    }
}

fn read(path: &Path) -> Result<String, SandboxError> {
    std::fs::read_to_string(path).map_err(|source| SandboxError::Io { path: path.to_owned(), source })
}

/// A fixture file: only its `stream` section matters here; other sections are skipped unread.
#[derive(serde::Deserialize)]
struct FixtureFile {
    stream: Option<Snapshot>,
}

/// Reads a snapshot: the `stream` section of a fixture file, or a whole state file. Parsed
/// straight into the model (no intermediate JSON tree), so large state files load in one pass
/// plus a cheap skim.
pub fn load_snapshot(path: &Path) -> Result<Snapshot, SandboxError> {
    let bad = |message: String| SandboxError::BadFile { path: path.to_owned(), message };
    let text = read(path)?;
    match serde_json::from_str::<FixtureFile>(&text) {
        Ok(FixtureFile { stream: Some(snapshot) }) => Ok(snapshot),
        Ok(FixtureFile { stream: None }) => {
            serde_json::from_str(&text).map_err(|e| bad(format!("not a Stream snapshot: {e}")))
        }
        Err(e) => Err(bad(format!("not a fixture with a valid `stream` section: {e}"))),
    }
}

/// Writes a snapshot atomically (temporary file, then rename), so a crash never leaves half a file.
pub fn save_snapshot(path: &Path, snapshot: &Snapshot) -> Result<(), SandboxError> {
    let io = |source| SandboxError::Io { path: path.to_owned(), source };
    let text = serde_json::to_string_pretty(snapshot).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// `stream` (Stream's defaults), `none`, or a JSON file of per-minute overrides keyed by
/// operation name (`{"GetApp": 5, "UpdateUsers": 300}`); unknown names are refused.
pub fn parse_limits(arg: &str) -> Result<LimitMode, SandboxError> {
    match arg {
        "stream" => Ok(LimitMode::stream_defaults()),
        "none" => Ok(LimitMode::Off),
        file => {
            let path = Path::new(file);
            let bad = |message: String| SandboxError::BadFile { path: path.to_owned(), message };
            let overrides: HashMap<String, u32> = serde_json::from_str(&read(path)?)
                .map_err(|e| bad(format!("expected {{\"Operation\": per_minute}}: {e}")))?;
            if let Some(unknown) = overrides.keys().find(|op| !DEFAULT_LIMITS.iter().any(|(known, _)| known == op)) {
                return Err(bad(format!("unknown operation {unknown:?}")));
            }
            if overrides.values().any(|&n| n == 0) {
                return Err(bad("limits must be at least 1 per minute".to_owned()));
            }
            Ok(LimitMode::with_overrides(overrides))
        }
    }
}
