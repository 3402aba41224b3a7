//! `gymchat serve`: its options, and the chat service until Ctrl-C or SIGTERM.

use anyhow::{Context, Result, bail};
use clap::Args;
use gymchat_service::{AppState, IdentityConfig, ServiceConfig};
use secrecy::SecretString;
use serde_json::json;
use tokio::net::TcpListener;

use crate::options::{DatabaseOpts, PushOpts, StreamOpts, secret};

/// `gymchat serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The database.
    #[command(flatten)]
    pub db: DatabaseOpts,
    /// Stream (the service's calls are the live app's own traffic: not paced to a budget).
    #[command(flatten)]
    pub stream: StreamOpts,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "GYMCHAT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Shared HS256 secret of the callers' JWTs (development and tests).
    #[arg(long, env = "GYMCHAT_JWT_HS256_SECRET", hide_env_values = true, conflicts_with = "jwks_url", value_parser = secret)]
    pub jwt_hs256_secret: Option<SecretString>,
    /// The identity provider's JWKS URL (RS256, production); needs --jwt-issuer and --jwt-audience.
    #[arg(long, env = "GYMCHAT_JWKS_URL", requires_all = ["jwt_issuer", "jwt_audience"])]
    pub jwks_url: Option<String>,
    /// Required `iss` of the callers' JWTs.
    #[arg(long, env = "GYMCHAT_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` of the callers' JWTs.
    #[arg(long, env = "GYMCHAT_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// The workers' key (`X-API-Key`); without it the worker endpoints refuse every call.
    #[arg(long, env = "GYMCHAT_WORKER_API_KEY", hide_env_values = true, value_parser = secret)]
    pub worker_api_key: Option<SecretString>,
    /// How long the Stream user tokens handed out are valid, in hours (the platform's: one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8760))]
    pub token_ttl_hours: u32,
    /// Push notifications.
    #[command(flatten)]
    pub push: PushOpts,
    /// Each chat and worker request ends within this many seconds (503 with Retry-After after).
    #[arg(long, env = "GYMCHAT_REQUEST_DEADLINE", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub request_deadline: u64,
    /// Requests of routes that call Stream in flight at once (default: half the database pool).
    #[arg(long, env = "GYMCHAT_STREAM_IN_FLIGHT", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub stream_in_flight: Option<u64>,
}

/// Who issues the callers' tokens, from the options.
fn identity(args: &ServeArgs) -> Result<IdentityConfig> {
    match (&args.jwt_hs256_secret, &args.jwks_url) {
        (Some(secret), None) => Ok(IdentityConfig::Hs256 {
            secret: secret.clone(),
            issuer: args.jwt_issuer.clone(),
            audience: args.jwt_audience.clone(),
        }),
        (None, Some(url)) => Ok(IdentityConfig::Jwks {
            url: url.clone(),
            issuer: args.jwt_issuer.clone().context("--jwks-url needs --jwt-issuer")?,
            audience: args.jwt_audience.clone().context("--jwks-url needs --jwt-audience")?,
            refetch_interval: gymchat_service::JWKS_REFETCH_INTERVAL,
        }),
        _ => bail!("say who issues the callers' tokens: --jwks-url (production) or --jwt-hs256-secret (development)"),
    }
}

/// Serves until a stop signal; returns the final report.
pub async fn run(args: &ServeArgs) -> Result<serde_json::Value> {
    let identity = identity(args)?;
    let push = args.push.config()?;
    let key = args.stream.key()?;
    let store = args.db.open().await?;
    let mut client_config = args.stream.client_config()?;
    // The service is the live app's own traffic: it answers people now and is not paced to a
    // share of the limits (the operations commands are).
    client_config.pace = false;
    let stream = gymchat_stream::Client::new(client_config).context("cannot build the Stream client")?;
    let config = ServiceConfig {
        stream_key: key,
        stream_secret: args.stream.secret()?,
        identity,
        worker_api_key: args.worker_api_key.clone(),
        token_ttl: chrono::Duration::hours(i64::from(args.token_ttl_hours)),
        push,
        limits: gymchat_service::ServiceLimits {
            request_deadline: std::time::Duration::from_secs(args.request_deadline),
            stream_bound_in_flight: args.stream_in_flight.and_then(|n| usize::try_from(n).ok()),
            ..gymchat_service::ServiceLimits::default()
        },
    };
    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    // One line on stdout as soon as requests can be served, for scripts waiting on it.
    println!("{}", json!({ "url": url }));
    gymchat_service::serve(listener, AppState::new(store.clone(), stream, config), crate::sandbox::stop_signal())
        .await
        .context("the server stopped with an error")?;
    store.close().await;
    Ok(json!({ "stopped": true, "url": url }))
}
