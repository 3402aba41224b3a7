//! Sends the outbox's due pushes to OneSignal (`POST {url}/api/v1/notifications`,
//! `Authorization: Basic <key>`), a batch at a time on any replica, the batch's requests at once. A 2xx answer is sent; a
//! 5xx, a 429, a timeout or a connection failure is tried again after a doubling delay; any other
//! answer, or the last attempt, fails the push for good (counted in `/metrics`).

use std::time::Duration;

use chrono::Utc;
use gymchat_store::StoreError;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::PushConfig;
use crate::state::AppState;

/// Pushes claimed, and sent at once, per batch.
const BATCH: i64 = 64;

/// The longest wait before a push's next attempt.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);

/// What became of one attempt.
enum Outcome {
    Sent,
    Retry(String),
    Failed(String),
}

async fn post(http: reqwest::Client, config: PushConfig, body: String) -> Outcome {
    let mut request: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(format!("the queued push is not JSON: {e}")),
    };
    request["app_id"] = Value::String(config.app_id.clone());
    let url = format!("{}/api/v1/notifications", config.url.trim_end_matches('/'));
    let sent = http
        .post(url)
        .timeout(config.timeout)
        .header(reqwest::header::AUTHORIZATION, format!("Basic {}", config.api_key.expose_secret()))
        .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(request.to_string())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Outcome::Sent,
        Ok(r) if r.status().is_server_error() || r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
            Outcome::Retry(format!("OneSignal answered {}", r.status()))
        }
        Ok(r) => {
            let status = r.status();
            let text: String = r.text().await.unwrap_or_default().chars().take(300).collect();
            Outcome::Failed(format!("OneSignal answered {status}: {text}"))
        }
        Err(e) => Outcome::Retry(format!("OneSignal did not answer: {e}")),
    }
}

/// Sends the due pushes until none is due; returns how many were attempted.
pub(crate) async fn send_due(s: &AppState) -> Result<usize, StoreError> {
    let Some(config) = s.config().push.as_ref() else { return Ok(0) };
    let hold = chrono::Duration::from_std(config.timeout * 3).unwrap_or(chrono::Duration::seconds(30));
    let mut attempted = 0;
    loop {
        let due = s.store().session().await?.claim_pushes(BATCH, hold).await?;
        if due.is_empty() {
            return Ok(attempted);
        }
        let mut sending = tokio::task::JoinSet::new();
        for (n, item) in due.iter().enumerate() {
            let (http, config, body) = (s.push_http().clone(), config.clone(), item.body.clone());
            sending.spawn(async move { (n, post(http, config, body).await) });
        }
        let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(due.len());
        while let Some(done) = sending.join_next().await {
            match done {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    tracing::error!(error = %e, "a push's sending task failed; its claim runs out and it is sent again")
                }
            }
        }
        let mut db = s.store().session().await?;
        let mut sent = Vec::new();
        for (n, outcome) in outcomes {
            let item = &due[n];
            attempted += 1;
            match outcome {
                Outcome::Sent => {
                    sent.push(item.webhook_id.clone());
                    crate::metrics::push("sent");
                }
                Outcome::Retry(why) if item.attempts < config.attempts => {
                    let shift = u32::try_from(item.attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(20);
                    let delay = config.retry_base.saturating_mul(1 << shift).min(MAX_RETRY_DELAY);
                    tracing::warn!(
                        push = item.webhook_id,
                        attempt = item.attempts,
                        error = why,
                        "push not sent; tried again later"
                    );
                    let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::minutes(10));
                    db.push_attempt_failed(&item.webhook_id, &why, Some(delay)).await?;
                    crate::metrics::push("retry");
                }
                Outcome::Retry(why) | Outcome::Failed(why) => {
                    tracing::error!(
                        push = item.webhook_id,
                        attempt = item.attempts,
                        error = why,
                        "push failed for good"
                    );
                    db.push_attempt_failed(&item.webhook_id, &why, None).await?;
                    crate::metrics::push("failed");
                }
            }
        }
        db.pushes_sent(&sent, Utc::now()).await?;
    }
}
