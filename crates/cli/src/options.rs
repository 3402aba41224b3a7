//! The option groups commands share, each flattened into the commands that use it (so that a
//! command's `--help` lists only what it reads), with the environment variables Stream's own
//! SDKs read. Secrets are [`SecretString`]s from the moment they are parsed: no `Debug`, log line
//! or JSON output can print them.

use anyhow::{Context, Result, bail};
use clap::Args;
use gymchat_ids::GymId;
use gymchat_store::{Store, redact_url};
use gymchat_stream::{Client, ClientConfig};
use secrecy::{ExposeSecret, SecretString};

/// Parses a value that must never be shown.
pub fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text))
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseOpts {
    /// Database: postgres://… (production) or sqlite://FILE (created when missing). Its password
    /// is never printed.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://gymchat.db", hide_env_values = true, value_parser = secret)]
    pub database_url: SecretString,
}

impl DatabaseOpts {
    /// The URL fit to show (password redacted).
    pub fn shown(&self) -> String {
        redact_url(self.database_url.expose_secret())
    }

    /// Opens the database (migrating it).
    pub async fn open(&self) -> Result<Store> {
        Store::open(self.database_url.expose_secret())
            .await
            .with_context(|| format!("cannot open database {}", self.shown()))
    }
}

/// How to reach Stream.
#[derive(Debug, Clone, Args)]
pub struct StreamOpts {
    /// Base URL of Stream's REST API (or of a local sandbox).
    #[arg(long, env = "STREAM_URL", default_value = "https://chat.stream-io-api.com")]
    pub stream_url: String,
    /// Stream API key.
    #[arg(long, env = "STREAM_KEY")]
    pub stream_key: Option<String>,
    /// Stream API secret. Never printed or logged.
    #[arg(long, env = "STREAM_SECRET", hide_env_values = true, value_parser = secret)]
    pub stream_secret: Option<SecretString>,
}

impl StreamOpts {
    /// The key, required.
    pub fn key(&self) -> Result<String> {
        self.stream_key.clone().context("--stream-key (or STREAM_KEY) is required")
    }

    /// The secret, required.
    pub fn secret(&self) -> Result<SecretString> {
        self.stream_secret.clone().context("--stream-secret (or STREAM_SECRET) is required")
    }

    /// The client's configuration with the key and secret, before pacing is set.
    pub fn client_config(&self) -> Result<ClientConfig> {
        Ok(ClientConfig::new(&self.stream_url, self.key()?, self.secret()?))
    }
}

/// How the operations commands share Stream's rate limits with the live app.
#[derive(Debug, Clone, Args)]
pub struct PacingOpts {
    /// Share of each of Stream's rate limits, and of what is left of it, that gymchat may use; the
    /// live app keeps the rest. In (0, 1].
    #[arg(long, env = "GYMCHAT_RATE_BUDGET", default_value_t = 0.5, value_parser = rate_budget)]
    pub rate_budget: f64,
    /// Length of Stream's rate windows in seconds: 60, Stream's rule. Only for a sandbox run with
    /// `--time-scale F`, whose windows last 60/F seconds (1 at F = 60): told up front, gymchat
    /// paces for them from its first call instead of learning them from the headers.
    #[arg(long, env = "GYMCHAT_RATE_WINDOW", default_value_t = 60.0, value_parser = rate_window)]
    pub rate_window: f64,
    /// Benchmarks only: instead of pacing by the rate-limit headers, one call at a time with a
    /// fixed sleep after each (the rate window ÷ (documented limit × rate budget)), the baseline
    /// of `bench/migrate.sh seed`. Use with `--concurrency 1`.
    #[arg(long, env = "GYMCHAT_FIXED_SLEEPS", hide = true)]
    pub fixed_sleeps: bool,
}

impl PacingOpts {
    /// Applies the pacing to a client's configuration.
    pub fn apply(&self, config: &mut ClientConfig) {
        config.budget_share = self.rate_budget;
        config.rate_window = std::time::Duration::from_secs_f64(self.rate_window);
        if self.fixed_sleeps {
            config.pace = false;
            config.fixed_sleeps = true;
            config.max_in_flight = 1;
        }
    }
}

/// Parses `--rate-budget`: a fraction in (0, 1].
fn rate_budget(text: &str) -> Result<f64, String> {
    let share: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number"))?;
    if share > 0.0 && share <= 1.0 {
        Ok(share)
    } else {
        Err(format!("{share} is outside (0, 1]: gymchat may use a share of each rate limit, at most all of it"))
    }
}

/// Parses `--rate-window`: seconds in (0, 60].
fn rate_window(text: &str) -> Result<f64, String> {
    let seconds: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if seconds > 0.0 && seconds <= 60.0 {
        Ok(seconds)
    } else {
        Err(format!("{seconds} is outside (0, 60]: Stream's rate windows last a minute, a time-scaled sandbox's less"))
    }
}

/// What every operations command (audit, cleanup, migrate) reads: the database, Stream, and the
/// share of Stream's limits it may use.
#[derive(Debug, Clone, Args)]
pub struct OpsOpts {
    /// The database.
    #[command(flatten)]
    pub db: DatabaseOpts,
    /// Stream.
    #[command(flatten)]
    pub stream: StreamOpts,
    /// Pacing.
    #[command(flatten)]
    pub pacing: PacingOpts,
}

impl OpsOpts {
    /// A client of Stream paced within the rate budget and window.
    pub fn client(&self) -> Result<Client> {
        let mut config = self.stream.client_config()?;
        self.pacing.apply(&mut config);
        Client::new(config).context("cannot build the Stream client")
    }
}

/// Which gyms a command covers.
#[derive(Debug, Clone, Args)]
pub struct GymChoice {
    /// A gym (repeatable).
    #[arg(long = "gym-id", conflicts_with = "all")]
    pub gym_id: Vec<GymId>,
    /// Every gym of the database.
    #[arg(long)]
    pub all: bool,
}

impl GymChoice {
    /// The gyms named, or every gym of the database (rows that cannot be read are warned about).
    pub async fn resolve(&self, store: &Store) -> Result<Vec<GymId>> {
        if self.all {
            let (gyms, unread) = gymchat_ops::audit::all_gyms(store).await?;
            for line in unread {
                eprintln!("warning: {line}");
            }
            Ok(gyms)
        } else if self.gym_id.is_empty() {
            bail!("name the gyms with --gym-id N (repeatable) or --all");
        } else {
            Ok(self.gym_id.clone())
        }
    }
}

/// How channels move.
#[derive(Debug, Args)]
pub struct MoveOptions {
    /// `rebuild` (new channel with the target id) or `in-place` (same channel, members swapped).
    #[arg(long, default_value = "rebuild")]
    pub strategy: gymchat_ops::migrate::Strategy,
    /// History of rebuilt channels: `copy` (message by message, with threads, reactions, pins
    /// and read positions), `import` (through Stream's import service, original timestamps
    /// kept), `import-file` (the same file, for an operator to upload) or `none` (members see
    /// empty chats in the app).
    #[arg(long, default_value = "copy")]
    pub history: gymchat_ops::migrate::History,
    /// Upload attachments on Stream's CDN (signed for the old channel, expiring) to the new one.
    #[arg(long)]
    pub rehost_attachments: bool,
}

/// Which id the app registers as the person's OneSignal external id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExternalIdArg {
    /// `user.auth0_id` (the platform's active new-message path).
    Auth0,
    /// The internal user id (what the platform's client docs describe).
    Internal,
}

/// Push notifications of new messages through OneSignal (`gymchat serve`). Without an app id
/// and key, no push is queued and `/readyz` says push is off.
#[derive(Debug, Clone, Args)]
pub struct PushOpts {
    /// OneSignal's app id; needs --onesignal-api-key.
    #[arg(long, env = "ONESIGNAL_APP_ID")]
    pub onesignal_app_id: Option<String>,
    /// OneSignal's REST API key (`Authorization: Basic <key>`); needs --onesignal-app-id.
    #[arg(long, env = "ONESIGNAL_REST_API_KEY", hide_env_values = true, value_parser = secret)]
    pub onesignal_api_key: Option<SecretString>,
    /// OneSignal's address.
    #[arg(long, env = "ONESIGNAL_URL", default_value = "https://onesignal.com")]
    pub onesignal_url: String,
    /// Which id people are addressed by: the one the app registers with OneSignal.
    #[arg(long, value_enum, default_value = "auth0")]
    pub push_external_id: ExternalIdArg,
}

impl PushOpts {
    /// The push configuration, `None` when push is off; an app id without a key (or the other way
    /// round) is a mistake, not "off".
    pub fn config(&self) -> Result<Option<gymchat_service::PushConfig>> {
        match (&self.onesignal_app_id, &self.onesignal_api_key) {
            (None, None) => Ok(None),
            (Some(app), Some(key)) => {
                let mut config = gymchat_service::PushConfig::new(app.clone(), key.clone());
                config.url = self.onesignal_url.clone();
                config.external_id = match self.push_external_id {
                    ExternalIdArg::Auth0 => gymchat_service::ExternalId::Auth0,
                    ExternalIdArg::Internal => gymchat_service::ExternalId::Internal,
                };
                Ok(Some(config))
            }
            _ => bail!("push needs both --onesignal-app-id and --onesignal-api-key (or neither: push off)"),
        }
    }
}
