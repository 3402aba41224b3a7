//! The workers' endpoints under `/api/v1/worker` (header `X-API-Key`): an event's chat created
//! with its first message, and an event's completion.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use chrono::Utc;
use gymchat_ids::{EventId, GymId, StreamUserId, UserId};
use gymchat_store::{EventStatus, RoomStatus};
use gymchat_stream::model::{NewMessage, SendOptions};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::active_member;
use crate::auth::WorkerKey;
use crate::chat::event::event_room;
use crate::docs::WorkerRefusals;
use crate::error::{ApiError, ApiResult};
use crate::provision::{self, room_cid};
use crate::shapes::ChatRoom;
use crate::state::AppState;

fn ids(gym: i64, event: i64) -> ApiResult<(GymId, EventId)> {
    let gym = GymId::new(gym).map_err(|_| ApiError::unprocessable(format!("gym_id {gym} is not valid")))?;
    let event = EventId::new(event).map_err(|_| ApiError::unprocessable(format!("event_id {event} is not valid")))?;
    Ok((gym, event))
}

/// The body of `POST /worker/event-chat`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct EventChat {
    /// The event.
    event_id: i64,
    /// Its creator, an active member of the gym; the first message is posted as them.
    creator_id: i64,
    /// The event's gym.
    gym_id: i64,
    /// The room's name when it is created (default: the event's title).
    #[serde(default)]
    event_title: Option<String>,
    /// The first message, posted once.
    #[serde(default)]
    first_message_chat: Option<String>,
}

/// `POST /worker/event-chat`: the event's room, created when missing, and its first message
/// posted as the creator's gym identity (a deterministic id: a repeated call posts it once).
#[utoipa::path(post, path = "/api/v1/worker/event-chat", tag = "worker", request_body = EventChat, responses((status = 200, description = "done", body = Object), WorkerRefusals), security(("worker_key" = [])))]
pub(crate) async fn event_chat(
    State(s): State<AppState>,
    _key: WorkerKey,
    body: Result<Json<EventChat>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(body) = body.map_err(|e| ApiError::unprocessable(e.body_text()))?;
    let (gym, event) = ids(body.gym_id, body.event_id)?;
    let creator = UserId::new(body.creator_id)
        .map_err(|_| ApiError::unprocessable(format!("creator_id {} is not valid", body.creator_id)))?;
    let creator = active_member(&mut s.store().session().await?, gym, creator).await?;
    let room = event_room(&s, gym, event, &creator, body.event_title.as_deref()).await?;
    let mut posted = false;
    if let Some(text) = body.first_message_chat.filter(|t| !t.trim().is_empty()) {
        let cid = room_cid(&room)?;
        provision::ensure_users(s.stream(), gym, std::slice::from_ref(&creator)).await?;
        let message = NewMessage::new(
            format!("gymchat-event-{gym}-{event}-first"),
            StreamUserId::for_member(gym, creator.id),
            text,
        );
        s.stream().send_message(&cid, &message, SendOptions::default()).await?;
        posted = true;
    }
    Ok(Json(json!({ "room": ChatRoom::from(room), "first_message_posted": posted })))
}

/// The body of `POST /worker/event-completion`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct EventCompletion {
    /// The event.
    event_id: i64,
    /// The event's gym.
    gym_id: i64,
}

/// `POST /worker/event-completion`: the event is marked COMPLETED, its room CLOSED, a system
/// message says so, and the channel is frozen (frozen even when the message fails).
#[utoipa::path(post, path = "/api/v1/worker/event-completion", tag = "worker", request_body = EventCompletion, responses((status = 200, description = "done", body = Object), WorkerRefusals), security(("worker_key" = [])))]
pub(crate) async fn event_completion(
    State(s): State<AppState>,
    _key: WorkerKey,
    body: Result<Json<EventCompletion>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(body) = body.map_err(|e| ApiError::unprocessable(e.body_text()))?;
    let (gym, event) = ids(body.gym_id, body.event_id)?;
    let mut db = s.store().session().await?;
    let found = db.event(event).await?.filter(|e| e.gym_id == gym);
    let event = found.ok_or_else(|| ApiError::not_found(format!("event {event} not found")))?;
    db.set_event_status(event.id, EventStatus::Completed).await?;
    let rooms = db.rooms_of_event(gym, event.id).await?.rows;
    let (mut frozen, mut without_channel) = (Vec::new(), Vec::new());
    for room in rooms.into_iter().filter(|r| r.stream_channel_id.is_some()) {
        let cid = room_cid(&room)?;
        if !s.stream().channel_exists(&cid).await? {
            // Nothing to freeze (the audit reports such a room); the room is closed all the same.
            tracing::warn!(%cid, room = %room.id, "the event's room has no channel in Stream");
            db.set_room_status(room.id, RoomStatus::Closed, Utc::now()).await?;
            without_channel.push(room.id.get());
            continue;
        }
        let note = async {
            let bot = provision::ensure_bot(s.stream(), gym).await?;
            let mut message = NewMessage::new(
                format!("gymchat-event-{gym}-{}-completed-{}", event.id, room.id),
                bot,
                "This event is over; the chat is now read-only.",
            );
            message.kind = Some("system".to_owned());
            s.stream()
                .send_message(
                    &cid,
                    &message,
                    SendOptions { skip_push: true, skip_enrich_url: true, keep_channel_hidden: false },
                )
                .await
        };
        if let Err(e) = note.await {
            tracing::warn!(%cid, error = %e, "the completion message could not be posted; freezing anyway");
        }
        s.stream()
            .update_channel_data(
                &cid,
                |data| {
                    data.insert("frozen".into(), Value::Bool(true));
                },
                Default::default(),
            )
            .await?;
        db.set_room_status(room.id, RoomStatus::Closed, Utc::now()).await?;
        frozen.push(room.id.get());
    }
    Ok(Json(json!({
        "event_id": event.id.get(),
        "status": "COMPLETED",
        "rooms_closed": frozen,
        "rooms_without_channel": without_channel,
    })))
}
