//! Stream's webhooks (`POST /api/v1/webhooks/stream`, and the paths the platform registered with
//! Stream before: `/new-message`, `/channel-deleted`, `/user-banned`, `/events`).
//!
//! `X-Signature` is the lowercase hex HMAC-SHA256 of the raw body keyed with the API secret,
//! checked in constant time (a gzip body is unzipped first, by the router's decompression layer).
//! The answer is 200 at once; the work runs after it, once per `X-Webhook-Id` (recorded in
//! `gymchat_webhooks`, so a retry that reaches another replica is also done once).
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
use sha2::Sha256;

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
    let kind = event.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    let webhook_id = header("x-webhook-id").map(str::to_owned);
    tokio::spawn(async move {
        if let Err(e) = handle(&s, webhook_id.as_deref(), &kind, &event).await {
            tracing::error!(kind, webhook_id, error = %e.detail, "webhook work failed");
        }
    });
    Ok(Json(json!({ "ok": true })))
}

/// Whether a message is a copy a migration made.
fn is_copy(message: &Value) -> bool {
    message.get("gymchat_copy").is_some_and(|v| v.as_bool() == Some(true)) || message.get("original_id").is_some()
}

async fn handle(s: &AppState, webhook_id: Option<&str>, kind: &str, event: &Value) -> ApiResult<()> {
    let mut db = s.store().session().await?;
    if let Some(id) = webhook_id
        && !db.record_webhook(id, kind, Utc::now()).await?
    {
        tracing::debug!(webhook_id = id, "repeated webhook delivery ignored");
        return Ok(());
    }
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
