//! The command line: global options shared by every subcommand, each also an environment variable
//! with the names Stream's own SDKs read.

use std::fmt;

use clap::{Args, Parser, Subcommand};

/// gymchat: tenant-scoped Stream Chat service and operations toolkit for multi-gym platforms.
#[derive(Debug, Parser)]
#[command(name = "gymchat", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand understands.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the database and Stream are.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Database: postgres://… (production) or sqlite://FILE (created when missing).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://gymchat.db", global = true, hide_env_values = true)]
    pub database_url: String,
    /// Base URL of Stream's REST API (or of a local sandbox).
    #[arg(long, env = "STREAM_URL", default_value = "https://chat.stream-io-api.com", global = true)]
    pub stream_url: String,
    /// Stream API key.
    #[arg(long, env = "STREAM_KEY", global = true)]
    pub stream_key: Option<String>,
    /// Stream API secret. Never printed or logged.
    #[arg(long, env = "STREAM_SECRET", global = true, hide_env_values = true)]
    pub stream_secret: Option<Secret>,
}

/// A value that must never be shown: `Debug` and `Display` print `***`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The first 8 hex digits of the secret's SHA-256: enough to tell which secret is configured,
    /// useless for recovering it.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = hex::encode(Sha256::digest(self.0.as_bytes()));
        h.truncate(8);
        h
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The platform database: schema migrations and fixtures.
    #[command(subcommand)]
    Db(DbCommand),
    /// Print the effective configuration as JSON (secrets and passwords redacted).
    Config,
}

/// `gymchat db …`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply gymchat's schema migrations (idempotent). Existing platform tables are left as they
    /// are; only gymchat_ tables are added.
    Migrate,
    /// Load the `db` section of a fixture file (e.g. shared/fixtures/gym4.json), migrating first.
    /// All rows or none: a malformed file or a refused row leaves the database unchanged.
    LoadFixture {
        /// The fixture file.
        path: std::path::PathBuf,
    },
}
