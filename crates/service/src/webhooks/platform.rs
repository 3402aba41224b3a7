//! The platform's Stream webhook routes with its answers (APP_CONTRACT S1–S5, S7).
//!
//! - S1 `/new-message` (signed), the app's webhook URL: Stream posts every event there. Each
//!   delivery is taken into the inbox as on gymchat's own path; a new message by a known sender in
//!   a known room also queues its push notifications in the same transaction (`crate::push`).
//!   The answer says what was found, in the platform's words.
//! - S2 `/channel-deleted`, S3 `/user-banned` (signed): taken in; the platform's answers (its S2
//!   failed whenever the room existed; gymchat's closes the room).
//! - S4 `/auth`: whether a Stream user may use a channel, by gym, never failing.
//! - S5 `/events`: acknowledged. S7 `/health`: the platform's fixed answer.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use gymchat_ids::{UserIdForm, classify_user_id};
use gymchat_store::{Room, User};
use serde_json::{Value, json};

use super::delivery::{channel_of, delivery_id, is_copy, verify};
use crate::detach::detached;
use crate::error::{ApiError, ApiResult};
use crate::push;
use crate::state::AppState;

/// The platform's 500 for a body it could not process.
fn unprocessed(error: &str) -> ApiError {
    ApiError::internal(format!("Error processing webhook: {error}"))
}

/// The signed body as a JSON object, or the platform's answer to it.
fn signed_object(s: &AppState, headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    let signature = headers.get("x-signature").and_then(|v| v.to_str().ok());
    verify(&s.config().stream_secret, body, signature)?;
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(unprocessed("the body is not a JSON object")),
        Err(e) => Err(unprocessed(&e.to_string())),
    }
}

/// What S1 found: its answer, and the message to notify about when it is a normal one.
struct Assessed {
    answer: Value,
    notify: Option<(Room, User, String)>,
}

fn said(status: &str, message: &str) -> Assessed {
    Assessed { answer: json!({ "status": status, "message": message }), notify: None }
}

/// S1's decision, in the platform's order.
async fn assess(s: &AppState, event: &Value) -> ApiResult<Assessed> {
    let kind = event.get("type").and_then(Value::as_str);
    if kind != Some("message.new") {
        return Ok(said("ok", &format!("Event type {} ignored", kind.unwrap_or("None"))));
    }
    let message = event.get("message").filter(|m| m.as_object().is_some_and(|o| !o.is_empty()));
    let (channel_type, channel_id) = channel_of(event);
    let Some(message) = message.filter(|_| channel_id.is_some() || channel_type.is_some()) else {
        return Ok(said("error", "Invalid webhook payload"));
    };
    let sender_id = message.get("user").and_then(|u| u.get("id")).and_then(Value::as_str);
    let (Some(_), Some(channel_id), Some(sender_id)) = (channel_type, channel_id, sender_id) else {
        return Ok(said("error", "Missing required fields"));
    };
    let mut db = s.store().session().await?;
    let sender = match classify_user_id(sender_id) {
        UserIdForm::System => return Ok(said("success", "System message processed")),
        UserIdForm::Target { user, .. } | UserIdForm::Legacy { user } => match db.user(user).await? {
            Some(u) => u,
            None => return Ok(said("success", "Message processed, user not found in DB")),
        },
        _ if sender_id.starts_with("auth0") || sender_id.contains('|') => match db.user_by_auth0(sender_id).await? {
            Some(u) => u,
            None => return Ok(said("success", "Message processed, legacy user not found")),
        },
        _ => return Ok(said("success", "Message processed, unknown ID format")),
    };
    let Some(room) = db.rooms_by_channel_ids(&[channel_id.to_owned()]).await?.rows.into_iter().next() else {
        return Ok(said("success", "Message processed, chat room not found in DB"));
    };
    let text = message.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut assessed = said("success", "Message processed successfully");
    // Attachment-only messages and a migration's copies notify nobody.
    if !text.trim().is_empty() && !is_copy(message) {
        assessed.notify = Some((room, sender, text));
    }
    Ok(assessed)
}

/// `POST /api/v1/webhooks/stream/new-message`.
#[utoipa::path(post, path = "/api/v1/webhooks/stream/new-message", tag = "webhooks", params(("X-Signature" = String, Header, description = "hex HMAC-SHA256 of the raw body keyed with the Stream secret")), request_body = Object, responses((status = 200, description = "taken in; `status` and `message` say what was found", body = Object), (status = 401, description = "missing or wrong signature", body = crate::error::ErrorBody)))]
pub(crate) async fn new_message(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let event = match signed_object(&s, &headers, &body) {
        Ok(event) => event,
        Err(answer) => return answer.into_response(),
    };
    match detached(async move { take_in(&s, &headers, &body, &event).await }).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Takes the delivery in and, in the same transaction, queues its pushes; the platform's answer.
async fn take_in(s: &AppState, headers: &HeaderMap, body: &[u8], event: &Value) -> ApiResult<Value> {
    let assessed = assess(s, event).await?;
    let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
    let webhook_id = delivery_id(headers, body);
    let mut tx = s.store().begin().await?;
    let new = tx.take_in_webhook(&webhook_id, kind, &String::from_utf8_lossy(body), Utc::now()).await?;
    let mut queued = 0;
    if new && let (Some(config), Some((room, sender, text))) = (s.config().push.as_ref(), &assessed.notify) {
        for p in push::plan(&mut tx, config, event, room, sender, text).await? {
            let id = format!("{webhook_id}:{}", p.suffix);
            queued += usize::from(tx.queue_push(&id, p.kind, &p.body.to_string(), Utc::now()).await?);
        }
    }
    tx.commit().await?;
    if new {
        s.inbox().notify_one();
    }
    if queued > 0 {
        s.outbox().notify_one();
    }
    Ok(assessed.answer)
}

/// `POST /api/v1/webhooks/stream/channel-deleted`: the room of the channel is CLOSED.
#[utoipa::path(post, path = "/api/v1/webhooks/stream/channel-deleted", tag = "webhooks", request_body = Object, responses((status = 200, description = "taken in", body = Object), (status = 401, description = "missing or wrong signature", body = crate::error::ErrorBody)))]
pub(crate) async fn channel_deleted(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let event = match signed_object(&s, &headers, &body) {
        Ok(event) => event,
        Err(answer) => return answer.into_response(),
    };
    if channel_of(&event).1.is_none() {
        return unprocessed("(400, 'Missing channel ID')").into_response();
    }
    // Whatever `type` says, this path means the channel was deleted.
    let mut event = event;
    event["type"] = json!("channel.deleted");
    match detached(async move { take_in(&s, &headers, &body, &event).await }).await {
        Ok(_) => Json(json!({ "status": "success", "message": "Channel deletion processed" })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/v1/webhooks/stream/user-banned`: acknowledged (and logged).
#[utoipa::path(post, path = "/api/v1/webhooks/stream/user-banned", tag = "webhooks", request_body = Object, responses((status = 200, description = "acknowledged", body = Object), (status = 401, description = "missing or wrong signature", body = crate::error::ErrorBody)))]
pub(crate) async fn user_banned(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let event = match signed_object(&s, &headers, &body) {
        Ok(event) => event,
        Err(answer) => return answer.into_response(),
    };
    let user = event.get("user").and_then(|u| u.get("id")).and_then(Value::as_str);
    let (Some(user), Some(channel)) = (user, channel_of(&event).1) else {
        return unprocessed("(400, 'Missing required fields')").into_response();
    };
    tracing::warn!(user, channel, "Stream reports a user banned from a channel");
    Json(json!({ "status": "success", "message": "User ban processed" })).into_response()
}

/// The platform's answer of S4 to a person and a channel.
async fn allowed(s: &AppState, user: &str, channel: &str) -> ApiResult<Value> {
    let deny = |reason: &str| Ok(json!({ "allow": false, "reason": reason }));
    let person = match classify_user_id(user) {
        UserIdForm::Target { user, .. } | UserIdForm::Legacy { user } => user,
        _ if user.starts_with("gym_") || user.starts_with("user_") => return deny("ID de usuario malformado"),
        _ => return deny("ID de usuario inválido"),
    };
    let mut db = s.store().session().await?;
    let now = Utc::now();
    let gyms: Vec<_> = db.memberships_of_user(person).await?.rows.into_iter().filter(|m| m.active_at(now)).collect();
    let Some(first) = gyms.first() else { return deny("Usuario sin gimnasio válido") };
    // The channel's gym is its room's; a channel without a room passes only with the platform's
    // legacy prefixes.
    let room = db.rooms_by_channel_ids(&[channel.to_owned()]).await?.rows.into_iter().next();
    let ok = match room {
        Some(room) => gyms.iter().any(|m| m.gym_id == room.gym_id),
        None => {
            let gym_prefix = format!("gym_{}_", first.gym_id);
            channel.starts_with(&gym_prefix)
                || ["event_", "direct_user_", "room_"].iter().any(|p| channel.starts_with(p))
        }
    };
    if ok { Ok(json!({ "allow": true })) } else { deny("Acceso no autorizado al canal") }
}

/// `POST /api/v1/webhooks/stream/auth`: `{"allow": bool, "reason"?}` for `channel.join`,
/// `message.new`, `channel.read` and `channel.query`; anything else is allowed. Always 200.
#[utoipa::path(post, path = "/api/v1/webhooks/stream/auth", tag = "webhooks", request_body = Object, responses((status = 200, description = "the decision", body = Object)))]
pub(crate) async fn authorize(State(s): State<AppState>, body: Bytes) -> Json<Value> {
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return Json(json!({ "allow": false, "reason": "Error interno del servidor" }));
    };
    let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
    if !["channel.join", "message.new", "channel.read", "channel.query"].contains(&kind) {
        return Json(json!({ "allow": true }));
    }
    let user = event.get("user").and_then(|u| u.get("id")).and_then(Value::as_str).unwrap_or_default();
    let channel = channel_of(&event).1.unwrap_or_default();
    match allowed(&s, user, channel).await {
        Ok(decision) => Json(decision),
        Err(e) => {
            tracing::warn!(error = %e.detail, "the authorization webhook could not decide");
            Json(json!({ "allow": false, "reason": "Error interno de validación" }))
        }
    }
}

/// `POST /api/v1/webhooks/stream/events`: acknowledged.
#[utoipa::path(post, path = "/api/v1/webhooks/stream/events", tag = "webhooks", request_body = Object, responses((status = 200, description = "acknowledged", body = Object)))]
pub(crate) async fn events(body: Bytes) -> Json<Value> {
    match serde_json::from_slice::<Value>(&body) {
        Ok(event) if event.is_object() => {
            let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
            tracing::info!(kind, "Stream event received");
            Json(json!({ "status": "received" }))
        }
        _ => Json(json!({ "status": "error" })),
    }
}

/// `GET /api/v1/webhooks/stream/health`: the platform's fixed answer.
#[utoipa::path(get, path = "/api/v1/webhooks/stream/health", tag = "webhooks", responses((status = 200, description = "done", body = Object)))]
pub(crate) async fn health() -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "service": "stream-webhooks",
        "timestamp": "2025-07-28",
        "endpoints": ["/stream/new-message", "/stream/test", "/stream/health", "/stream/auth", "/stream/events"],
    }))
}
