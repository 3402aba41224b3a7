//! `gymchat serve`: the chat service until Ctrl-C or SIGTERM.

use anyhow::{Context, Result, bail};
use gymchat_service::{AppState, IdentityConfig, ServiceConfig};
use serde_json::json;
use tokio::net::TcpListener;

use crate::args::ServeArgs;

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
