//! The command line: the subcommands, each with the options it reads ([`crate::args`], and
//! `serve`'s beside it in [`crate::serve`], built from the shared groups of [`crate::options`]).

use clap::{Args, Parser, Subcommand};

use crate::args::{AuditArgs, CleanupArgs, DbCommand, DemoArgs, MaintenanceCommand, MigrateCommand, SandboxArgs};
use crate::options::{DatabaseOpts, PacingOpts, StreamOpts};
use crate::serve::ServeArgs;

/// gymchat: tenant-scoped Stream Chat service and operations toolkit for multi-gym platforms.
#[derive(Debug, Parser)]
#[command(name = "gymchat", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The platform database: schema migrations and fixtures.
    #[command(subcommand)]
    Db(DbCommand),
    /// Print the effective configuration as JSON (whether each secret is set, never the secret;
    /// the database password redacted).
    Config(ConfigArgs),
    /// Say whether this database and this Stream app are ready (credentials, multi-tenancy, the
    /// channel type, the webhook, the app's real limits; migrations, platform tables, the member
    /// index), changing nothing. Exit 0 ready, 1 something to fix, 2 could not check.
    Doctor(DoctorArgs),
    /// Compare the database with Stream, gym by gym; write the report. Exit 0 all synced and
    /// clean, 1 findings, 2 the audit could not complete.
    Audit(AuditArgs),
    /// Act on a fresh audit: delete orphaned channels, retire rooms whose channel is gone, repair
    /// target channels. Dry-run unless --yes; every database change can be undone.
    Cleanup(CleanupArgs),
    /// Move gyms from legacy Stream ids to tenant-scoped ids: plan, apply, status, verify,
    /// rollback. Journaled per item, resumable, one run per database.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// A gym's maintenance window: while it lasts, the chat service refuses the gym's
    /// chat-creating and membership routes (503) so that nothing changes while its channels move.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
    /// The main job on the embedded defaults: a fresh SQLite database and an in-process sandbox
    /// with the reference scenario, then audit → plan → apply → verify → cleanup → audit. Exits 0
    /// only when the final audit of gym 4 is fully synced.
    Demo(DemoArgs),
    /// Serve the chat API the apps, workers and Stream's webhooks call (SYSTEM.md §4). Prints
    /// {"url": …} when ready; stops on Ctrl-C or SIGTERM after the requests in flight.
    Serve(ServeArgs),
    /// Run a local stand-in for Stream's endpoints (for tests, demos and rehearsals). Prints
    /// {"url": …} when ready; stops on Ctrl-C or SIGTERM, saving --state if given.
    Sandbox(SandboxArgs),
}

/// `gymchat config`: the options whose effect it shows.
#[derive(Debug, Args)]
pub struct ConfigArgs {
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

/// `gymchat doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The database.
    #[command(flatten)]
    pub db: DatabaseOpts,
    /// Stream.
    #[command(flatten)]
    pub stream: StreamOpts,
    /// Only the JSON report on stdout (no checklist on stderr).
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use secrecy::SecretString;

    use super::Cli;

    const SECRETS: &[&str] =
        &["stream-secret-x1", "jwt-secret-x2", "worker-key-x3", "db-password-x4", "onesignal-key-x4"];

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("gymchat").chain(args.iter().copied())).unwrap()
    }

    fn assert_hidden(what: &str, shown: &str) {
        for secret in SECRETS {
            assert!(!shown.contains(secret), "{what} shows {secret}: {shown}");
        }
    }

    #[test]
    fn no_config_type_prints_a_secret_in_debug() {
        let db = "postgres://app:db-password-x4@db/prod?password=db-password-x4";
        let serve = parse(&[
            "serve",
            "--database-url",
            db,
            "--stream-key",
            "k",
            "--stream-secret",
            "stream-secret-x1",
            "--jwt-hs256-secret",
            "jwt-secret-x2",
            "--worker-api-key",
            "worker-key-x3",
            "--onesignal-app-id",
            "app",
            "--onesignal-api-key",
            "onesignal-key-x4",
        ]);
        assert_hidden("serve's options", &format!("{serve:?}"));
        let audit = parse(&["audit", "--all", "--database-url", db, "--stream-secret", "stream-secret-x1"]);
        assert_hidden("audit's options", &format!("{audit:?}"));
        let sandbox = parse(&["sandbox", "--key", "k", "--secret", "stream-secret-x1"]);
        assert_hidden("sandbox's options", &format!("{sandbox:?}"));

        let secret = || SecretString::from("stream-secret-x1");
        let client_config = gymchat_stream::ClientConfig::new("http://127.0.0.1:1", "k", secret());
        assert_hidden("the client's configuration", &format!("{client_config:?}"));
        let client = gymchat_stream::Client::new(client_config).unwrap();
        assert_hidden("the client (its server token included)", &format!("{client:?}"));
        let identity = gymchat_service::IdentityConfig::Hs256 {
            secret: SecretString::from("jwt-secret-x2"),
            issuer: None,
            audience: None,
        };
        let service = gymchat_service::ServiceConfig {
            stream_key: "k".into(),
            stream_secret: secret(),
            identity,
            worker_api_key: Some(SecretString::from("worker-key-x3")),
            token_ttl: chrono::Duration::hours(1),
            push: Some(gymchat_service::PushConfig::new("app".into(), SecretString::from("onesignal-key-x4"))),
            limits: gymchat_service::ServiceLimits::default(),
        };
        assert_hidden("the service's configuration", &format!("{service:?}"));
        let sandbox = gymchat_sandbox::Config::new("k", secret());
        assert_hidden("the sandbox's configuration", &format!("{sandbox:?}"));
    }

    #[test]
    fn the_server_token_is_not_shown_either() {
        let client = gymchat_stream::Client::new(gymchat_stream::ClientConfig::new("http://x", "k", "s")).unwrap();
        let token = gymchat_stream::server_token(&SecretString::from("s")).unwrap();
        let token = secrecy::ExposeSecret::expose_secret(&token).to_owned();
        assert!(!format!("{client:?}").contains(&token));
    }

    #[test]
    fn each_command_lists_only_the_options_it_reads() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let options = |name: &str| -> Vec<String> {
            let command = cli.find_subcommand(name).unwrap();
            command.get_arguments().filter_map(|a| a.get_long().map(str::to_owned)).collect()
        };
        let sandbox = options("sandbox");
        for foreign in ["database-url", "rate-budget", "stream-url", "stream-secret", "gym-id"] {
            assert!(!sandbox.iter().any(|o| o == foreign), "sandbox lists --{foreign}: {sandbox:?}");
        }
        let serve = options("serve");
        assert!(serve.iter().any(|o| o == "database-url") && !serve.iter().any(|o| o == "rate-budget"), "{serve:?}");
        let audit = options("audit");
        for own in ["gym-id", "all", "database-url", "rate-budget", "html"] {
            assert!(audit.iter().any(|o| o == own), "audit lacks --{own}: {audit:?}");
        }
    }
}
