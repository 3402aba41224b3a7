//! `POST /chat/admin/cleanup-expired-channels` (APP_CONTRACT C21, ADMIN and OWNER): the channels
//! of this gym's events that ended more than `hours` ago and whose rooms are still ACTIVE are
//! deleted in Stream and their rooms CLOSED; `dry_run=true` only says what would be. The
//! platform truncated each channel before a deletion; gymchat deletes softly and truncates
//! nothing, so a mistaken cleanup can still be undone with Stream (nothing a member had is lost).

use axum::Json;
use axum::extract::{Query, State};
use chrono::{Duration, Utc};
use gymchat_ids::EventId;
use gymchat_store::RoomStatus;
use serde_json::{Value, json};

use crate::auth::{GymCaller, Level};
use crate::docs::{GymHeader, Refusals};
use crate::error::ApiResult;
use crate::identity::Scope;
use crate::maintenance::refuse_during_maintenance;
use crate::params::{QueryMap, query_bool, query_int};
use crate::provision::room_cid;
use crate::shapes::aware_isoformat;
use crate::state::AppState;

/// `POST /chat/admin/cleanup-expired-channels?hours=48&dry_run=false`.
#[utoipa::path(post, path = "/api/v1/chat/admin/cleanup-expired-channels", tag = "chat", params(GymHeader, ("hours" = Option<i64>, Query, description = "events that ended more than this many hours ago (default 48)"), ("dry_run" = Option<bool>, Query, description = "only say what would be deleted (default false)")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn cleanup_expired(
    State(s): State<AppState>,
    caller: GymCaller,
    Query(q): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    caller.allow(Level::Admin, Scope::Admin)?;
    let hours = query_int(&q, "hours", Some(48), None)?.unwrap_or(48);
    let dry_run = query_bool(&q, "dry_run", false)?;
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    if !dry_run {
        refuse_during_maintenance(&mut db, gym).await?;
    }
    let rooms: Vec<_> = db
        .rooms_with_members(gym)
        .await?
        .rows
        .into_iter()
        .map(|r| r.room)
        .filter(|r| r.event_id.is_some() && r.is_active() && r.stream_channel_id.is_some())
        .collect();
    let ids: Vec<EventId> = rooms.iter().filter_map(|r| r.event_id).collect();
    let cutoff = Utc::now() - Duration::hours(hours);
    let mut events: Vec<_> =
        db.events(&ids).await?.rows.into_iter().filter(|e| e.gym_id == gym && e.end_time < cutoff).collect();
    events.sort_by_key(|e| e.end_time);
    let (mut details, mut errors, mut cleaned) = (Vec::new(), Vec::new(), 0);
    for event in events {
        let mut channels = Vec::new();
        let mut deleted = 0;
        for room in rooms.iter().filter(|r| r.event_id == Some(event.id)) {
            let cid = room_cid(room)?;
            let mut entry = json!({
                "channel_id": cid.id().as_str(),
                "channel_type": cid.channel_type().as_str(),
                "room_name": room.name,
            });
            if dry_run {
                entry["status"] = json!("would_delete");
                deleted += 1;
            } else {
                match s.stream().delete_channel(&cid, false).await {
                    Ok(_) => {
                        db.set_room_status(room.id, RoomStatus::Closed, Utc::now()).await?;
                        entry["status"] = json!("deleted");
                        deleted += 1;
                    }
                    Err(e) => {
                        tracing::warn!(%cid, error = %e, "an expired event's channel could not be deleted");
                        entry["status"] = json!("failed");
                        entry["error"] = json!("the chat provider refused or did not answer");
                        errors.push(format!("Canal {cid}: no se pudo eliminar"));
                    }
                }
            }
            channels.push(entry);
        }
        if deleted > 0 {
            cleaned += deleted;
            details.push(json!({
                "event_id": event.id.get(),
                "event_title": event.title.as_deref().unwrap_or_default(),
                "end_time": aware_isoformat(event.end_time),
                "channels": channels,
                "channels_processed": channels.len(),
            }));
        }
    }
    Ok(Json(json!({
        "success": true,
        "events_processed": details.len(),
        "channels_cleaned": cleaned,
        "dry_run": dry_run,
        "hours_threshold": hours,
        "gym_id": gym.get(),
        "details": details,
        "errors": if errors.is_empty() { Value::Null } else { json!(errors) },
    })))
}
