//! Stream's webhooks (`POST /api/v1/webhooks/stream`, and the paths the platform registered with
//! Stream before: `/new-message`, `/channel-deleted`, `/user-banned`, `/events`).
//!
//! `X-Signature` is the lowercase hex HMAC-SHA256 of the raw body keyed with the API secret,
//! checked in constant time (a gzip body is unzipped first, by the router's decompression layer).
//!
//! At least once, never twice: a signed, well-formed delivery is written to the inbox
//! (`gymchat_webhook_inbox`, keyed by `X-Webhook-Id`, or by a digest of the body when Stream sent
//! none) before the 200, so an acknowledged delivery is never lost; a repeat is acknowledged and
//! not taken in again. The work runs after the answer, on any replica ([`work_inbox`]): done, or
//! retried later with a doubling delay while it fails, and failed for good after the configured
//! attempts (counted in `/metrics`). The work itself is safe to repeat.
//!
//! - `message.new`: the room is shown again to everyone who hid it and its `updated_at` touched;
//!   a message a migration copied (custom field `gymchat_copy` or `original_id`) triggers nothing.
//! - `channel.deleted`: the room is CLOSED.
//! - anything else is acknowledged and logged.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use chrono::Utc;
use gymchat_store::RoomStatus;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// 401 unless `signature` is the HMAC-SHA256 of `body` keyed with `secret`.
fn verify(secret: &SecretString, body: &[u8], signature: Option<&str>) -> ApiResult<()> {
    let signature = signature.ok_or_else(|| ApiError::unauthorized("missing X-Signature header"))?;
    let given = hex::decode(signature.trim()).map_err(|_| ApiError::unauthorized("X-Signature is not hex"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| ApiError::unavailable("the webhook secret cannot be used"))?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).map_err(|_| ApiError::unauthorized("invalid X-Signature"))
}

/// Receives one webhook delivery.
#[utoipa::path(post, path = "/api/v1/webhooks/stream", tag = "webhooks", params(("X-Signature" = String, Header, description = "hex HMAC-SHA256 of the raw body keyed with the Stream secret"), ("X-Webhook-Id" = Option<String>, Header, description = "deduplication key; the same across Stream's retries")), request_body = Object, responses((status = 200, description = "done", body = Object), (status = 401, description = "missing or wrong signature", body = ErrorBody)))]
pub(crate) async fn receive(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify(&s.config().stream_secret, &body, header("x-signature"))?;
    let event: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
    let webhook_id = match header("x-webhook-id").map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => format!("sha256:{}", hex::encode(Sha256::digest(&body))),
    };
    let body = String::from_utf8_lossy(&body);
    let new = s.store().session().await?.take_in_webhook(&webhook_id, kind, &body, Utc::now()).await?;
    if new {
        s.inbox().notify_one();
    } else {
        tracing::debug!(webhook_id, "repeated webhook delivery acknowledged");
    }
    Ok(Json(json!({ "ok": true })))
}

/// Works the inbox's due deliveries, a batch at a time, until none is due. Each is done, or put
/// back to be retried after a doubling delay, or failed for good after its last attempt.
pub(crate) async fn work_inbox(s: &AppState) -> Result<usize, gymchat_store::StoreError> {
    let limits = s.limits();
    let hold = chrono::Duration::from_std(limits.request_deadline * 3).unwrap_or(chrono::Duration::seconds(30));
    let mut worked = 0;
    loop {
        let due = s.store().session().await?.claim_webhooks(20, hold).await?;
        if due.is_empty() {
            return Ok(worked);
        }
        for item in due {
            worked += 1;
            let outcome = match serde_json::from_str::<Value>(&item.body) {
                Ok(event) => handle(s, &item.kind, &event).await,
                Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
            };
            let mut db = s.store().session().await?;
            match outcome {
                Ok(()) => {
                    db.webhook_done(&item.webhook_id, Utc::now()).await?;
                    crate::metrics::webhook("done");
                }
                Err(e) if item.attempts < limits.webhook_attempts => {
                    let shift = u32::try_from(item.attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(20);
                    let delay = limits.webhook_retry_base.saturating_mul(1 << shift).min(MAX_RETRY_DELAY);
                    tracing::warn!(webhook_id = item.webhook_id, kind = item.kind, attempt = item.attempts, error = %e.detail, "webhook work failed; retried later");
                    let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::minutes(10));
                    db.webhook_attempt_failed(&item.webhook_id, &e.detail, Some(delay)).await?;
                    crate::metrics::webhook("retry");
                }
                Err(e) => {
                    tracing::error!(webhook_id = item.webhook_id, kind = item.kind, error = %e.detail, "webhook work failed for good");
                    db.webhook_attempt_failed(&item.webhook_id, &e.detail, None).await?;
                    crate::metrics::webhook("failed");
                }
            }
        }
    }
}

/// The longest wait before a webhook delivery's next attempt.
const MAX_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether a message is a copy a migration made.
fn is_copy(message: &Value) -> bool {
    message.get("gymchat_copy").is_some_and(|v| v.as_bool() == Some(true)) || message.get("original_id").is_some()
}

/// The work of one delivery; safe to repeat.
async fn handle(s: &AppState, kind: &str, event: &Value) -> ApiResult<()> {
    let mut db = s.store().session().await?;
    let channel_id = event
        .get("channel_id")
        .and_then(Value::as_str)
        .or_else(|| event.get("cid").and_then(Value::as_str).and_then(|c| c.split_once(':').map(|(_, id)| id)));
    let channel_type = event.get("channel_type").and_then(Value::as_str).unwrap_or("messaging");
    let rooms = match channel_id {
        Some(id) => db.rooms_by_channel_ids(&[id.to_owned()]).await?.rows,
        None => Vec::new(),
    };
    let rooms = rooms.into_iter().filter(|r| r.stream_channel_type == channel_type);
    match kind {
        "message.new" => {
            if event.get("message").is_some_and(is_copy) {
                return Ok(());
            }
            for room in rooms {
                db.show_room_to_all(room.id).await?;
                db.touch_room(room.id, Utc::now()).await?;
            }
        }
        "channel.deleted" => {
            for room in rooms {
                db.set_room_status(room.id, RoomStatus::Closed, Utc::now()).await?;
            }
        }
        other => tracing::debug!(kind = other, "webhook acknowledged"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn only_the_secrets_signature_of_these_exact_bytes_passes() {
        let body = br#"{"type":"message.new"}"#;
        let s = SecretString::from("s");
        assert!(verify(&s, body, Some(&sign("s", body))).is_ok());
        assert_eq!(verify(&s, body, Some(&sign("other", body))).unwrap_err().status, 401);
        assert_eq!(verify(&s, b"{}", Some(&sign("s", body))).unwrap_err().status, 401);
        assert_eq!(verify(&s, body, Some("zz")).unwrap_err().status, 401);
        assert_eq!(verify(&s, body, None).unwrap_err().status, 401);
    }
}
