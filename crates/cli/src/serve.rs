//! `gymchat serve`: the chat service until Ctrl-C or SIGTERM.

use anyhow::{Context, Result, bail};
use gymchat_service::{AppState, IdentityConfig, ServiceConfig};
use gymchat_store::{Store, redact_url};
use serde_json::json;
use tokio::net::TcpListener;

use crate::config::{GlobalOpts, ServeArgs};

/// Who issues the callers' tokens, from the options.
fn identity(args: &ServeArgs) -> Result<IdentityConfig> {
    match (&args.jwt_hs256_secret, &args.jwks_url) {
        (Some(secret), None) => Ok(IdentityConfig::Hs256 {
            secret: secret.expose().to_owned(),
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
pub async fn run(global: &GlobalOpts, args: &ServeArgs) -> Result<serde_json::Value> {
    let identity = identity(args)?;
    let key = global.stream_key.clone().context("--stream-key (or STREAM_KEY) is required")?;
    let secret = global.stream_secret.as_ref().context("--stream-secret (or STREAM_SECRET) is required")?;
    let store = Store::open(&global.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&global.database_url)))?;
    let mut client_config = gymchat_stream::ClientConfig::new(&global.stream_url, &key, secret.expose());
    // The service is the live app's own traffic: it answers people now and is not paced to a
    // share of the limits (the operations commands are).
    client_config.pace = false;
    let stream = gymchat_stream::Client::new(client_config).context("cannot build the Stream client")?;
    let config = ServiceConfig {
        stream_key: key,
        stream_secret: secret.expose().to_owned(),
        identity,
        worker_api_key: args.worker_api_key.as_ref().map(|k| k.expose().to_owned()),
        token_ttl: chrono::Duration::hours(i64::from(args.token_ttl_hours)),
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
