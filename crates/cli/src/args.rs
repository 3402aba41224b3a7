//! Each subcommand's options: the groups of [`crate::options`] it reads, flattened, and its own
//! (`serve`'s are beside its code, in [`crate::serve`]).

use clap::{Args, Subcommand};
use secrecy::SecretString;

use crate::options::{DatabaseOpts, GymChoice, MoveOptions, OpsOpts, secret};

/// `gymchat audit …`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The database and Stream.
    #[command(flatten)]
    pub ops: OpsOpts,
    /// The gyms to audit.
    #[command(flatten)]
    pub gyms: GymChoice,
    /// Where to write the JSON report (default `audit_{gym}_{UTC timestamp}.json`).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Print the report on stdout instead of writing it to a file.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as one self-contained HTML page.
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
}

/// `gymchat cleanup …`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CleanupArgs {
    /// `channel` or `undo`; without one, cleans up gyms.
    #[command(subcommand)]
    pub command: Option<CleanupCommand>,
    /// The database and Stream.
    #[command(flatten)]
    pub ops: OpsOpts,
    /// The gyms to clean up.
    #[command(flatten)]
    pub gyms: GymChoice,
    /// Act only on what this audit report recommended and a fresh audit still recommends.
    #[arg(long)]
    pub from_report: Option<std::path::PathBuf>,
    /// Carry the plan out (without it, cleanup only prints what it would do).
    #[arg(long)]
    pub yes: bool,
    /// Delete channels for good, with their messages (default: soft delete).
    #[arg(long)]
    pub hard: bool,
    /// Also delete orphaned channels that hold messages.
    #[arg(long)]
    pub include_with_messages: bool,
    /// Remove the rows of rooms whose channel is gone (room, member and hidden rows; undoable)
    /// instead of retiring them.
    #[arg(long)]
    pub remove_rooms: bool,
}

/// `gymchat cleanup channel|undo`
#[derive(Debug, Subcommand)]
pub enum CleanupCommand {
    /// One channel: deleted only when an audit of its gym proves it orphaned.
    Channel {
        /// The database and Stream.
        #[command(flatten)]
        ops: OpsOpts,
        /// The channel, `type:id`.
        #[arg(long)]
        cid: gymchat_ids::Cid,
        /// Carry it out.
        #[arg(long)]
        yes: bool,
        /// Delete it for good.
        #[arg(long)]
        hard: bool,
        /// Also when it holds messages.
        #[arg(long)]
        include_with_messages: bool,
    },
    /// Restore every database change of a cleanup run.
    Undo {
        /// The database.
        #[command(flatten)]
        db: DatabaseOpts,
        /// The run id a cleanup printed.
        run_id: String,
    },
}

/// `gymchat sandbox …`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    /// `generate`; without one, runs the sandbox.
    #[command(subcommand)]
    pub command: Option<SandboxCommand>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:3030")]
    pub listen: std::net::SocketAddr,
    /// API key clients must send.
    #[arg(long, env = "STREAM_KEY")]
    pub key: Option<String>,
    /// API secret tokens are signed with. Never printed.
    #[arg(long, env = "STREAM_SECRET", hide_env_values = true, value_parser = secret)]
    pub secret: Option<SecretString>,
    /// Start from the `stream` section of this fixture file.
    #[arg(long)]
    pub fixture: Option<std::path::PathBuf>,
    /// Load this state file at start when it exists (instead of --fixture), save it on shutdown.
    #[arg(long)]
    pub state: Option<std::path::PathBuf>,
    /// `stream` (Stream's default limits), `none`, or a JSON file like {"GetApp": 5}.
    #[arg(long, default_value = "stream")]
    pub rate_limits: String,
    /// Rate windows pass this many times faster (60: a one-minute window lasts a second).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Mean added latency per call in milliseconds (jitter ±50%).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of calls that fail (500, 503, 429 without body, stall, reset, applied-then-reset).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Seed for latency jitter and faults: the same seed gives the same faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How long a stalled response hangs, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub stall_ms: u64,
    /// Refuse channel members whose teams lack the channel's team.
    #[arg(long)]
    pub strict_team_members: bool,
    /// Channels with equal sort keys come back in a different order on each query.
    #[arg(long)]
    pub shuffle_ties: bool,
    /// Share of background tasks (batch deletes) that end `error` without applying anything.
    #[arg(long, default_value_t = 0.0)]
    pub task_fail_rate: f64,
    /// Share of every operation's rate window the sandbox spends itself, as the live app would.
    #[arg(long, default_value_t = 0.0)]
    pub live_traffic: f64,
}

/// `gymchat sandbox generate`
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Write a synthetic fixture in the reference scenario's format (legacy ids, before
    /// migration), at any size, for rehearsals and benchmarks.
    Generate(GenerateArgs),
}

/// The size and shape of a generated fixture.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The file to write.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Gyms.
    #[arg(long, default_value_t = 1)]
    pub gyms: usize,
    /// Id of the first gym (the next ones follow).
    #[arg(long, default_value_t = 100)]
    pub first_gym_id: i64,
    /// People per gym.
    #[arg(long, default_value_t = 2_000)]
    pub users: usize,
    /// Rooms per gym: half direct, four in ten groups, one in ten event chats.
    #[arg(long, default_value_t = 1_500)]
    pub rooms: usize,
    /// Members of each group and event room (direct rooms have two).
    #[arg(long, default_value_t = 5)]
    pub members: usize,
    /// Messages per room.
    #[arg(long, default_value_t = 0)]
    pub messages: usize,
    /// Seed: the same options and seed give the same file (on the same UTC day).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `gymchat db …`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply gymchat's schema migrations (idempotent). Existing platform tables are left as they
    /// are; only gymchat_ tables are added.
    Migrate {
        /// The database.
        #[command(flatten)]
        db: DatabaseOpts,
    },
    /// Load the `db` section of a fixture file (e.g. fixtures/gym4.json), migrating first.
    /// All rows or none: a malformed file or a refused row leaves the database unchanged.
    LoadFixture {
        /// The database.
        #[command(flatten)]
        db: DatabaseOpts,
        /// The fixture file.
        path: std::path::PathBuf,
    },
}

/// `gymchat migrate …`
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Say what a migration would do and what it costs, per strategy; write nothing.
    Plan {
        /// The database and Stream.
        #[command(flatten)]
        ops: OpsOpts,
        /// The gyms.
        #[command(flatten)]
        gyms: GymChoice,
        /// The options.
        #[command(flatten)]
        options: MoveOptions,
        /// Write the plan as JSON (with its content hash) to this file.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Carry a migration out (or continue the unfinished run of these gyms). Exit 0 all done,
    /// 1 some items failed, 2 could not run or stopped.
    Apply {
        /// The database and Stream.
        #[command(flatten)]
        ops: OpsOpts,
        /// The gyms.
        #[command(flatten)]
        gyms: GymChoice,
        /// Apply this saved plan; refused when the world changed since it was made.
        #[arg(long, conflicts_with_all = ["gym_id", "all"])]
        plan: Option<std::path::PathBuf>,
        /// The options (a saved plan carries its own).
        #[command(flatten)]
        options: MoveOptions,
        /// Carry it out (without it, apply prints the plan and changes nothing).
        #[arg(long)]
        yes: bool,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Stop when more than this share of the recent items failed.
        #[arg(long, default_value_t = 0.2)]
        max_failure_rate: f64,
        /// Channels moved at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// With `--history import` or `import-file`: where to write the file (default
        /// `import_{run_id}.jsonl`).
        #[arg(long)]
        import_file: Option<std::path::PathBuf>,
        /// With `--history import`: seconds to wait for Stream's import before the run stops.
        #[arg(long, default_value_t = gymchat_ops::migrate::IMPORT_DEADLINE_SECONDS)]
        import_deadline: u64,
        /// When the circuit breaker stops the run, also roll it back (the runbook's rule).
        #[arg(long)]
        auto_rollback: bool,
        /// Do not hold each gym's maintenance window while its channels move (the service then
        /// keeps creating rooms and members for it during the run).
        #[arg(long)]
        no_maintenance: bool,
        /// Seconds the run's lease lasts unless renewed (tests; the default suits production).
        #[arg(long, default_value_t = 30, hide = true)]
        lease_seconds: u32,
    },
    /// Join an open run (the newest when no id is given) as one more worker, on this machine or
    /// any other that reaches the database and Stream, and work its items until none is left.
    /// Exit 0 nothing failed in its hands, 1 some items failed, 2 could not run or stopped.
    Work {
        /// The database and Stream.
        #[command(flatten)]
        ops: OpsOpts,
        /// The run (default: the newest open run).
        run_id: Option<String>,
        /// Stop when more than this share of the recent items failed.
        #[arg(long, default_value_t = 0.2)]
        max_failure_rate: f64,
        /// Channels moved at once by this worker.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Do not hold each gym's maintenance window while its channels move.
        #[arg(long)]
        no_maintenance: bool,
        /// Seconds a claim on an item lasts unless renewed (tests; the default suits production).
        #[arg(long, default_value_t = 30, hide = true)]
        lease_seconds: u32,
    },
    /// Runs, newest first; or one run with its items by state and its failures.
    Status {
        /// The database.
        #[command(flatten)]
        db: DatabaseOpts,
        /// The run.
        run_id: Option<String>,
    },
    /// Check that the gyms' rooms and channels are fully tenant-scoped (an audit of what a
    /// migration must achieve). Exit 0 when they are.
    Verify {
        /// The database and Stream.
        #[command(flatten)]
        ops: OpsOpts,
        /// The gyms.
        #[command(flatten)]
        gyms: GymChoice,
    },
    /// Point every room the run switched back at its old channel; unfreeze old channels, freeze
    /// new ones; keep target users. A rollback that stopped part way is finished by running it
    /// again.
    Rollback {
        /// The database and Stream.
        #[command(flatten)]
        ops: OpsOpts,
        /// The run.
        run_id: String,
        /// Carry it out (without it, says what it would do).
        #[arg(long)]
        yes: bool,
        /// Seconds the rollback's lease lasts unless renewed (tests; the default suits production).
        #[arg(long, default_value_t = 30, hide = true)]
        lease_seconds: u32,
    },
    /// End an unfinished run on purpose: nothing is undone (its switched rooms stay switched), and
    /// a later apply of its gyms starts a new run.
    Abandon {
        /// The database.
        #[command(flatten)]
        db: DatabaseOpts,
        /// The run.
        run_id: String,
    },
}

/// `gymchat maintenance on|off|status`
#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Open (or extend) a gym's maintenance window: the chat service answers its chat-creating
    /// and membership routes with 503 and Retry-After until it ends.
    On {
        /// The database.
        #[command(flatten)]
        db: DatabaseOpts,
        /// The gym.
        #[arg(long)]
        gym_id: gymchat_ids::GymId,
        /// Minutes until it ends by itself.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1440))]
        minutes: u32,
        /// Why, in words (shown to operators).
        #[arg(long, default_value = "maintenance")]
        reason: String,
    },
    /// End a gym's maintenance window now.
    Off {
        /// The database.
        #[command(flatten)]
        db: DatabaseOpts,
        /// The gym.
        #[arg(long)]
        gym_id: gymchat_ids::GymId,
    },
    /// Whether a gym is in a maintenance window, until when and why.
    Status {
        /// The database.
        #[command(flatten)]
        db: DatabaseOpts,
        /// The gym.
        #[arg(long)]
        gym_id: gymchat_ids::GymId,
    },
}

/// `gymchat demo`: a database only when one is given on the command line (never from
/// `DATABASE_URL`, so that a demo cannot write into a database configured for real work);
/// otherwise a fresh SQLite file in a temporary directory.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A database for the demo, which must not hold the reference scenario already (default: a
    /// fresh SQLite file in a temporary directory). Read from the command line only.
    #[arg(long, value_parser = secret)]
    pub database_url: Option<SecretString>,
    /// The share of the sandbox's limits the demo may use.
    #[arg(long, env = "GYMCHAT_RATE_BUDGET", default_value_t = 0.5)]
    pub rate_budget: f64,
}
