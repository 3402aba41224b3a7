//! Stream's webhooks: `POST /api/v1/webhooks/stream`, and the platform's paths with their answers
//! (`platform`: `/new-message`, the app's webhook URL, where new messages also queue their push
//! notifications; `/channel-deleted`, `/user-banned`, `/auth`, `/events`, `/health`).
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
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

mod delivery;
pub(crate) mod platform;

use delivery::{channel_of, delivery_id, is_copy, verify};
pub(crate) use platform::{authorize, channel_deleted, events, health, new_message, user_banned};

/// Receives one webhook delivery.
#[utoipa::path(post, path = "/api/v1/webhooks/stream", tag = "webhooks", params(("X-Signature" = String, Header, description = "hex HMAC-SHA256 of the raw body keyed with the Stream secret"), ("X-Webhook-Id" = Option<String>, Header, description = "deduplication key; the same across Stream's retries")), request_body = Object, responses((status = 200, description = "done", body = Object), (status = 401, description = "missing or wrong signature", body = ErrorBody)))]
pub(crate) async fn receive(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify(&s.config().stream_secret, &body, header("x-signature"))?;
    let event: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
    let webhook_id = delivery_id(&headers, &body);
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

/// The work of one delivery; safe to repeat.
async fn handle(s: &AppState, kind: &str, event: &Value) -> ApiResult<()> {
    let mut db = s.store().session().await?;
    let (channel_type, channel_id) = channel_of(event);
    let channel_type = channel_type.unwrap_or("messaging");
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
