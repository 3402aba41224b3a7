//! The workers' endpoints under `/api/v1/worker` (header `X-API-Key`, APP_CONTRACT §3): an
//! event's chat created with its first message (W1), an event's completion (W2, W4), and the
//! events due for completion (W3).
//!
//! W1 and W2 answer every handled outcome with HTTP 200 and `{success, message, details}`, as the
//! platform's worker reads them (it retries `success: false` up to three times). Completing an
//! event posts the closing note and freezes the room's channel with a partial update (the
//! platform's full update dropped the channel's other data); the room stays ACTIVE so members
//! keep reading its history, as the note says.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use gymchat_ids::{EventId, GymId, StreamUserId, UserId};
use gymchat_store::{Event, EventStatus};
use gymchat_stream::model::{NewMessage, SendOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::active_member;
use crate::auth::WorkerKey;
use crate::chat::event::event_room;
use crate::docs::WorkerRefusals;
use crate::error::{ApiError, ApiResult};
use crate::params::{body, path_int, positive};
use crate::provision::{self, room_cid};
use crate::shapes::aware;
use crate::state::AppState;

/// The note posted in an event's room when the event is over.
pub(crate) const EVENT_OVER: &str = "Este evento ha finalizado. El chat ha sido archivado y no es posible enviar nuevos mensajes, pero puedes seguir viendo el historial de conversaciones.";

/// The answer of W1 and W2 (`WorkerResponse`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct WorkerAnswer {
    success: bool,
    message: String,
    details: Option<Value>,
}

impl WorkerAnswer {
    fn ok(message: String, details: Value) -> Json<Self> {
        Json(WorkerAnswer { success: true, message, details: Some(details) })
    }

    fn failed(message: String) -> Json<Self> {
        Json(WorkerAnswer { success: false, message, details: None })
    }
}

/// The event of a worker request when it is the gym's, else the platform's failure message.
async fn gym_event(s: &AppState, gym: i64, event: i64) -> ApiResult<Result<Event, String>> {
    let found = match EventId::try_from(event) {
        Ok(id) => s.store().session().await?.event(id).await?,
        Err(_) => None,
    };
    Ok(match found {
        None => Err(format!("Event {event} not found")),
        Some(e) if e.gym_id.get() != gym => Err(format!("Event {event} does not belong to gym {gym}")),
        Some(e) => Ok(e),
    })
}

/// The body of `POST /worker/event-chat` (`EventChatRequest`).
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct EventChat {
    /// The event.
    event_id: i64,
    /// Its creator, an active member of the gym; the first message is posted as them.
    creator_id: i64,
    /// The event's gym (> 0).
    gym_id: i64,
    /// The first message, posted when the room is created.
    #[serde(default)]
    first_message_chat: Option<String>,
}

/// `POST /worker/event-chat`: the event's room (named after the event; the worker's
/// `event_title` is ignored, as the platform ignores it), created when missing, and its first message
/// posted as the creator's gym identity when the room is new.
#[utoipa::path(post, path = "/api/v1/worker/event-chat", tag = "worker", request_body = EventChat, responses((status = 200, description = "handled; `success` says how", body = WorkerAnswer), WorkerRefusals), security(("worker_key" = [])))]
pub(crate) async fn event_chat(
    State(s): State<AppState>,
    _key: WorkerKey,
    raw: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<WorkerAnswer>> {
    let request: EventChat = body(raw)?;
    positive(request.gym_id, "gym_id")?;
    let event = match gym_event(&s, request.gym_id, request.event_id).await? {
        Ok(event) => event,
        Err(message) => return Ok(WorkerAnswer::failed(message)),
    };
    let gym = event.gym_id;
    let existing = s.store().session().await?.rooms_of_event(gym, event.id).await?.rows;
    if let Some(room) = existing.first() {
        return Ok(WorkerAnswer::ok(
            format!("Chat room for event {} already exists", event.id),
            json!({ "room_id": room.id.get(), "stream_channel_id": room.stream_channel_id }),
        ));
    }
    let made = async {
        let creator = UserId::try_from(request.creator_id).map_err(|_| ApiError::not_found(""))?;
        let creator = active_member(&mut s.store().session().await?, gym, creator)
            .await
            .map_err(|_| ApiError::not_found(format!("Usuario creador {} no encontrado", request.creator_id)))?;
        let room = event_room(&s, gym, event.id, &creator).await?;
        Ok::<_, ApiError>((room, creator))
    };
    let (room, creator) = match made.await {
        Ok(made) => made,
        Err(e) => return Ok(WorkerAnswer::failed(format!("Error creating room: {}", e.detail))),
    };
    if let Some(text) = request.first_message_chat.filter(|t| !t.trim().is_empty()) {
        let sent = async {
            let cid = room_cid(&room)?;
            provision::ensure_users(s.stream(), gym, std::slice::from_ref(&creator)).await?;
            let id = format!("gymchat-event-{gym}-{}-first", event.id);
            let message = NewMessage::new(id, StreamUserId::for_member(gym, creator.id), text);
            s.stream().send_message(&cid, &message, SendOptions::default()).await?;
            Ok::<_, ApiError>(())
        };
        if let Err(e) = sent.await {
            tracing::warn!(event = %event.id, error = %e.detail, "the event chat's first message was not sent");
        }
    }
    Ok(WorkerAnswer::ok(
        format!("Chat room for event {} successfully created", event.id),
        json!({ "room_id": room.id.get(), "stream_channel_id": room.stream_channel_id }),
    ))
}

/// The body of `POST /worker/event-completion` (`EventCompletionRequest`).
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct EventCompletion {
    /// The event.
    event_id: i64,
    /// The event's gym (> 0).
    gym_id: i64,
}

/// `POST /worker/event-completion`: the event is marked COMPLETED and its room's channel gets
/// the closing note and is frozen.
#[utoipa::path(post, path = "/api/v1/worker/event-completion", tag = "worker", request_body = EventCompletion, responses((status = 200, description = "handled; `success` says how", body = WorkerAnswer), WorkerRefusals), security(("worker_key" = [])))]
pub(crate) async fn event_completion(
    State(s): State<AppState>,
    _key: WorkerKey,
    raw: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<WorkerAnswer>> {
    let request: EventCompletion = body(raw)?;
    positive(request.gym_id, "gym_id")?;
    let event = match gym_event(&s, request.gym_id, request.event_id).await? {
        Ok(event) => event,
        Err(message) => return Ok(WorkerAnswer::failed(message)),
    };
    match event.status {
        Some(EventStatus::Completed) => {
            return Ok(WorkerAnswer::ok(
                format!("Event {} was already marked as completed", event.id),
                json!({ "event_status": "COMPLETED", "was_already_completed": true }),
            ));
        }
        Some(EventStatus::Cancelled) => {
            return Ok(WorkerAnswer::failed(format!("Could not update event {}", event.id)));
        }
        _ => {}
    }
    match complete(&s, &event).await {
        Ok(chat_closed) => Ok(WorkerAnswer::ok(
            format!("Event {} marked as completed", event.id),
            json!({ "event_status": "COMPLETED", "chat_closed": chat_closed }),
        )),
        Err(e) => Ok(WorkerAnswer::failed(format!("Error processing event: {}", e.detail))),
    }
}

/// Closes the event's chat (the note posted, the channel frozen), then marks the event
/// COMPLETED: an event whose chat could not be closed stays SCHEDULED, so the completion worker
/// finds it again, and its failure is counted where the table counts them (the platform's
/// `completion_attempts`). True when a room's note was posted.
async fn complete(s: &AppState, event: &Event) -> ApiResult<bool> {
    match close_chats(s, event).await {
        Ok(closed) => {
            s.store().session().await?.set_event_status(event.id, EventStatus::Completed).await?;
            Ok(closed)
        }
        Err(e) => {
            s.store().session().await?.count_completion_failure(event.id).await?;
            Err(e)
        }
    }
}

/// The event's rooms' channels closed; true when a room's note was posted.
async fn close_chats(s: &AppState, event: &Event) -> ApiResult<bool> {
    let gym = event.gym_id;
    let rooms = s.store().session().await?.rooms_of_event(gym, event.id).await?.rows;
    let mut closed = false;
    for room in rooms.into_iter().filter(|r| r.stream_channel_id.is_some()) {
        let cid = room_cid(&room)?;
        if !s.stream().channel_exists(&cid).await? {
            tracing::warn!(%cid, room = %room.id, "the event's room has no channel in Stream");
            continue;
        }
        closed |= close_chat(s, gym, event.id, &cid).await?;
    }
    Ok(closed)
}

/// Posts the closing note (a system message of the gym's bot) and freezes the channel with a
/// partial update; frozen even when the note fails. True when the note was posted.
async fn close_chat(s: &AppState, gym: GymId, event: EventId, cid: &gymchat_ids::Cid) -> ApiResult<bool> {
    let note = async {
        let bot = provision::ensure_bot(s.stream(), gym).await?;
        let mut message = NewMessage::new(format!("gymchat-event-{gym}-{event}-completed"), bot, EVENT_OVER);
        message.kind = Some("system".to_owned());
        let options = SendOptions { skip_push: true, skip_enrich_url: true, keep_channel_hidden: false };
        s.stream().send_message(cid, &message, options).await
    };
    let posted = match note.await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(%cid, error = %e, "the completion note could not be posted; freezing anyway");
            false
        }
    };
    s.stream()
        .update_channel_data(
            cid,
            |data| {
                data.insert("frozen".into(), Value::Bool(true));
            },
            Default::default(),
        )
        .await?;
    Ok(posted)
}

/// An event as W3 and W4 answer it (`EventCompletionStatus`; the key is `id`).
fn event_status(event: &Event, status: &str) -> Value {
    json!({ "id": event.id.get(), "gym_id": event.gym_id.get(), "end_time": aware(event.end_time), "status": status })
}

/// `GET /worker/events/due-completion`: up to 100 SCHEDULED events whose end has passed, oldest
/// first.
#[utoipa::path(get, path = "/api/v1/worker/events/due-completion", tag = "worker", responses((status = 200, description = "done", body = Object), WorkerRefusals), security(("worker_key" = [])))]
pub(crate) async fn due_completion(State(s): State<AppState>, _key: WorkerKey) -> ApiResult<Json<Vec<Value>>> {
    let due = s.store().session().await?.events_due_completion(Utc::now(), 100).await?;
    for bad in &due.skipped {
        tracing::warn!(key = %bad.key, reason = %bad.reason, "event row left out of the due list");
    }
    Ok(Json(due.rows.iter().map(|e| event_status(e, "SCHEDULED")).collect()))
}

/// `POST /worker/events/{event_id}/complete`: the event completed as W2 does; 404 when it does
/// not exist. (The platform's always failed.)
#[utoipa::path(post, path = "/api/v1/worker/events/{event_id}/complete", tag = "worker", params(("event_id" = i64, Path, description = "the event")), responses((status = 200, description = "done", body = Object), WorkerRefusals), security(("worker_key" = [])))]
pub(crate) async fn complete_event(
    State(s): State<AppState>,
    _key: WorkerKey,
    Path(event): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = path_int(&event, "event_id")?;
    let not_found = || ApiError::not_found(format!("Event with ID {id} not found"));
    let event_id = EventId::try_from(id).map_err(|_| not_found())?;
    let event = s.store().session().await?.event(event_id).await?.ok_or_else(not_found)?;
    match event.status {
        Some(EventStatus::Completed) => {}
        Some(EventStatus::Cancelled) => return Err(ApiError::conflict(format!("Event {id} was cancelled"))),
        _ => {
            complete(&s, &event).await?;
        }
    }
    Ok((StatusCode::OK, Json(event_status(&event, "COMPLETED"))))
}
