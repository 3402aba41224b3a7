//! `GET /chat/rooms/event/{event_id}`: an event's one room, whose members follow participation.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use gymchat_ids::{EventId, GymId, StreamUserId, UserId};
use gymchat_store::{GymRole, Room, Session, User, event_room_key};
use gymchat_stream::model::{ChannelUpdate, NewMember};
use gymchat_tenant::Purpose;

use crate::access::{claim, keyed_room, load_outcome, path_id, usable};
use crate::auth::{GymCaller, Level};
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::identity::Scope;
use crate::maintenance::refuse_during_maintenance;
use crate::provision::room::{RoomSpec, create_room};
use crate::provision::{self, room_cid};
use crate::shapes::ChatRoom;
use crate::state::AppState;

/// The event's room, created on first use, with `acting` as a member. `acting` must be allowed:
/// a trainer or above, the event's creator, or a REGISTERED participant.
pub(crate) async fn event_room(s: &AppState, gym: GymId, event: EventId, acting: &User) -> ApiResult<Room> {
    let mut db = s.store().session().await?;
    let event = db.event(event).await?.ok_or_else(|| ApiError::not_found(format!("Event {event} not found")))?;
    if event.gym_id != gym {
        return Err(ApiError::forbidden("No tienes acceso a este evento - pertenece a otro gimnasio"));
    }
    let participations = db.participations(event.id).await?.rows;
    let memberships = db.memberships_of_gym(gym).await?.rows;
    let now = Utc::now();
    let active: BTreeSet<UserId> = memberships.iter().filter(|m| m.active_at(now)).map(|m| m.user_id).collect();
    let staff =
        memberships.iter().any(|m| m.user_id == acting.id && m.active_at(now) && m.role.at_least(GymRole::Trainer));
    let registered: BTreeSet<UserId> = participations
        .iter()
        .filter(|p| p.holds_place() && active.contains(&p.member_id))
        .map(|p| p.member_id)
        .collect();
    let allowed =
        staff || acting.is_super_admin() || event.creator_id == Some(acting.id) || registered.contains(&acting.id);
    if !allowed {
        return Err(ApiError::forbidden("Debes estar inscrito en este evento para acceder a su chat"));
    }
    let key = event_room_key(gym, event.id);
    let existing = match keyed_room(&mut db, gym, &key).await? {
        Some(room) => Some(room),
        None => {
            let rooms = db.rooms_of_event(gym, event.id).await?.rows;
            let chosen = rooms.iter().find(|r| r.is_active()).or(rooms.first()).cloned();
            match chosen {
                Some(room) => Some(claim(&mut db, gym, &key, room).await?),
                None => None,
            }
        }
    };
    if let Some(room) = existing {
        drop(db);
        let room = usable(s, room, &StreamUserId::for_member(gym, acting.id)).await?;
        let mut db = s.store().session().await?;
        if room.is_active() {
            let staff: BTreeSet<UserId> = memberships
                .iter()
                .filter(|m| m.active_at(now) && m.role.at_least(GymRole::Trainer))
                .map(|m| m.user_id)
                .collect();
            let mut wanted = registered;
            wanted.extend(event.creator_id.filter(|c| active.contains(c)));
            if active.contains(&acting.id) {
                wanted.insert(acting.id);
            }
            follow_participation(s, &mut db, gym, &room, &wanted, &staff).await?;
        }
        return Ok(room);
    }
    let mut member_ids: BTreeSet<UserId> = registered;
    member_ids.extend(event.creator_id.filter(|c| active.contains(c)));
    if active.contains(&acting.id) {
        member_ids.insert(acting.id);
    }
    let ids: Vec<UserId> = member_ids.into_iter().collect();
    let members: Vec<User> = db.users(&ids).await?.rows.into_iter().filter(|u| u.is_active != Some(false)).collect();
    drop(db);
    let title = event.title.clone().unwrap_or_else(|| event.id.to_string());
    let name = format!("Evento {}", title.chars().take(20).collect::<String>());
    let spec = RoomSpec {
        key: Some(key),
        gym,
        name,
        channel_id: Some(Purpose::Event(event.id).channel_id(gym)?),
        event_id: Some(event.id),
        is_direct: false,
        members,
        creator: StreamUserId::for_member(gym, acting.id),
    };
    let outcome = create_room(s.store(), s.stream(), &spec).await?;
    load_outcome(s, gym, outcome, &StreamUserId::for_member(gym, acting.id)).await
}

/// Membership follows participation: who holds a place (`wanted`: REGISTERED participants, the
/// creator, the allowed caller) and is missing joins; a member who no longer holds one (a
/// cancelled, waiting or unpaid participation, or a lapsed membership) leaves, unless they are
/// the gym's staff (trainers and above may be in any event's chat). Both sides, one Stream call.
async fn follow_participation(
    s: &AppState,
    db: &mut Session,
    gym: GymId,
    room: &Room,
    wanted: &BTreeSet<UserId>,
    staff: &BTreeSet<UserId>,
) -> ApiResult<()> {
    let members: BTreeSet<UserId> = db.room_members(room.id).await?.into_iter().collect();
    let joining: Vec<UserId> = wanted.difference(&members).copied().collect();
    let leaving: Vec<UserId> = members.iter().filter(|m| !wanted.contains(m) && !staff.contains(m)).copied().collect();
    if joining.is_empty() && leaving.is_empty() {
        return Ok(());
    }
    refuse_during_maintenance(db, gym).await?;
    let cid = room_cid(room)?;
    let users = db.users(&joining).await?.rows;
    provision::ensure_users(s.stream(), gym, &users).await?;
    let update = ChannelUpdate {
        add_members: users.iter().map(|u| NewMember::from(StreamUserId::for_member(gym, u.id))).collect(),
        remove_members: leaving.iter().map(|u| StreamUserId::for_member(gym, *u)).collect(),
        ..ChannelUpdate::default()
    };
    s.stream().update_channel(&cid, &update).await?;
    let now = Utc::now();
    for user in &users {
        db.add_room_member(room.id, user.id, now).await?;
    }
    for user in leaving {
        db.remove_room_member(room.id, user).await?;
    }
    Ok(())
}

/// `GET /chat/rooms/event/{event_id}`: the event's one room, created on first use; the caller is
/// a member of it on both sides (the platform added them to Stream only).
#[utoipa::path(get, path = "/api/v1/chat/rooms/event/{event_id}", tag = "chat", params(GymHeader, ("event_id" = i64, Path, description = "the event")), responses((status = 200, description = "done", body = ChatRoom), Refusals), security(("bearer" = [])))]
pub(crate) async fn event(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(event): Path<String>,
) -> ApiResult<Json<ChatRoom>> {
    caller.allow(Level::Member, Scope::Read)?;
    let event: EventId = path_id(&event, "event_id")?;
    Ok(Json(event_room(&s, caller.gym_id(), event, &caller.user).await?.into()))
}
