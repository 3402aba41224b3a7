//! `DELETE /chat/channels/orphan/{channel_id}`: a channel of this gym deleted only when the tenant
//! rules prove it orphaned ([`gymchat_tenant::Verdict`]).

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use gymchat_ids::{ChannelId, ChannelType, Cid, GymId, Team};
use gymchat_store::GymRole;
use gymchat_tenant::{EventStanding, OrphanEvidence, PersonStanding, RoomStanding, Verdict};
use serde_json::{Value, json};

use crate::auth::GymCaller;
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::provision;
use crate::state::AppState;

/// `DELETE /chat/channels/orphan/{channel_id}` (ADMIN and OWNER): deletes (soft) a Stream
/// channel of this gym that the tenant rules prove orphaned: the gym's by its team (or its
/// `gym_id`), no room of any gym points at it (by bare id or `type:id`), and what it was for is
/// gone (its event, one of its direct chat's two people, or the room its group id names). `type:id` and a bare id (type
/// `messaging`) are the same channel. A channel of another gym is not found; one whose orphaning
/// is not proven is 409 with why.
#[utoipa::path(delete, path = "/api/v1/chat/channels/orphan/{channel_id}", tag = "chat", params(GymHeader, ("channel_id" = String, Path, description = "`type:id` or a bare id (type `messaging`)")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn delete_orphan(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(channel): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(GymRole::Admin)?;
    let gym = caller.gym_id();
    let (kind, id) = channel.split_once(':').unwrap_or(("messaging", channel.as_str()));
    let cid = ChannelType::parse(kind)
        .and_then(|t| ChannelId::parse(id).map(|id| Cid::new(t, id)))
        .map_err(|e| ApiError::bad_request(format!("{channel:?} is not a channel id: {e}")))?;
    let not_found = || ApiError::not_found(format!("channel {cid} not found in this gym"));
    let found = provision::stream_channel(s.stream(), &cid).await?.ok_or_else(not_found)?;
    let team = found.team.as_ref().map(Team::as_str);
    let gym_id = found.custom.get(gymchat_tenant::GYM_ID_FIELD);
    if !gymchat_tenant::belongs_to_gym(team, gym_id, gym) {
        return Err(not_found());
    }
    let evidence = evidence(&s, gym, &cid).await?;
    match Verdict::of(gym, &evidence) {
        Verdict::Orphaned(_) => {}
        Verdict::NotProven(why) => return Err(ApiError::conflict(format!("{cid} is not proven orphaned: {why}"))),
    }
    s.stream().delete_channel(&cid, false).await?;
    Ok(Json(json!({ "cid": cid.to_string(), "deleted": true })))
}

/// What the database says about the channel (a channel of the gym): the rooms that point at it
/// in either form, the events and people its id names.
async fn evidence(s: &AppState, gym: GymId, cid: &Cid) -> ApiResult<OrphanEvidence> {
    let mut db = s.store().session().await?;
    let forms = [cid.id().as_str().to_owned(), cid.to_string()];
    let pointing = db.rooms_by_channel_ids(&forms).await?;
    if let Some(bad) = pointing.skipped.first() {
        tracing::warn!(key = %bad.key, reason = %bad.reason, "a room row that may point at the channel cannot be read");
        return Err(ApiError::conflict("a room that cannot be read may point at this channel; it is not deleted"));
    }
    let claimed_by = pointing
        .rows
        .iter()
        .find(|r| {
            r.stream_channel_id.as_deref() == Some(&forms[1]) || r.stream_channel_type == cid.channel_type().as_str()
        })
        .map(|r| (r.id.get(), r.gym_id));
    let named = gymchat_tenant::named(cid.id().as_str());
    let found_events = db.events(&named.events).await?.rows;
    let users = db.users(&named.people).await?.rows;
    let rooms = db.existing_room_ids(named.room.as_slice()).await?;
    let memberships = db.memberships_of_gym(gym).await?.rows;
    let now = Utc::now();
    Ok(OrphanEvidence {
        belongs: true,
        claimed_by,
        events: named
            .events
            .iter()
            .map(|e| EventStanding { event: *e, gym: found_events.iter().find(|f| f.id == *e).map(|f| f.gym_id) })
            .collect(),
        people: named
            .people
            .iter()
            .map(|u| PersonStanding {
                user: *u,
                exists: users.iter().any(|x| x.id == *u),
                active_member: memberships.iter().any(|m| m.user_id == *u && m.active_at(now)),
            })
            .collect(),
        room: named.room.map(|room| RoomStanding { room, exists: rooms.contains(&room) }),
    })
}
