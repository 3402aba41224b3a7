//! The apps' endpoints under `/api/v1/chat`: the Stream token, the caller's rooms, the direct,
//! event and group rooms, their members, and hide, show, leave and delete.
//!
//! Every room is loaded through the request's gym ([`room_in_gym`]): a room of another gym is not
//! found. Every user a request names must be an active member of the request's gym
//! ([`active_member`]).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, SecondsFormat, Utc};
use gymchat_ids::{ChannelId, EventId, GymId, RoomId, StreamUserId, UserId};
use gymchat_store::{GymRole, Room, Session, User, direct_room_key, event_room_key};
use gymchat_stream::model::ChannelUpdate;
use gymchat_stream::user_token;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::GymCaller;
use crate::error::{ApiError, ApiResult};
use crate::openapi::{GymHeader, Refusals};
use crate::provision::{self, Outcome, RoomSpec, room_cid};

/// A room as the apps know it (the platform's `ChatRoom`), plus its gym.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct ChatRoom {
    /// The room id.
    id: i64,
    /// Display name.
    name: Option<String>,
    /// A 1:1 chat.
    is_direct: bool,
    /// The event it is the chat of.
    event_id: Option<i64>,
    /// The bare Stream channel id.
    stream_channel_id: Option<String>,
    /// The Stream channel type.
    stream_channel_type: String,
    /// When it was created (RFC 3339, UTC).
    created_at: Option<String>,
    /// Its gym.
    gym_id: i64,
}

/// The answer of `GET /chat/token`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct TokenAnswer {
    /// The Stream user token (HS256 with the Stream secret; `user_id`, `iat`, `exp`).
    token: String,
    /// The Stream API key the app connects with.
    api_key: String,
    /// The caller's internal user id.
    internal_user_id: i64,
    /// The caller's Stream identity in this gym: `gym_{G}_user_{U}`.
    stream_user_id: String,
    /// When the token runs out (RFC 3339, UTC).
    expires_at: String,
    /// The gym.
    gym_id: i64,
}

fn iso(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

impl From<Room> for ChatRoom {
    fn from(r: Room) -> Self {
        ChatRoom {
            id: r.id.get(),
            name: r.name,
            is_direct: r.is_direct,
            event_id: r.event_id.map(EventId::get),
            stream_channel_id: r.stream_channel_id,
            stream_channel_type: r.stream_channel_type,
            created_at: iso(r.created_at),
            gym_id: r.gym_id.get(),
        }
    }
}

/// A positive integer id from the path, or 400.
pub(crate) fn path_id<T: TryFrom<i64>>(text: &str, what: &str) -> ApiResult<T> {
    text.trim()
        .parse::<i64>()
        .ok()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| ApiError::bad_request(format!("{what} must be a positive integer, not {text:?}")))
}

/// The room, when it belongs to the caller's gym; otherwise 404, whether it exists elsewhere or not.
pub(crate) async fn room_in_gym(db: &mut Session, gym: GymId, room: RoomId) -> ApiResult<Room> {
    db.room(room)
        .await?
        .filter(|r| r.gym_id == gym)
        .ok_or_else(|| ApiError::not_found(format!("room {room} not found")))
}

/// The user, when they are an active member of the gym; otherwise 404.
pub(crate) async fn active_member(db: &mut Session, gym: GymId, user: UserId) -> ApiResult<User> {
    let not_member = || ApiError::not_found(format!("user {user} is not an active member of this gym"));
    let membership = db.membership(user, gym).await?.filter(|m| m.active_at(Utc::now())).ok_or_else(not_member)?;
    let user = db.user(membership.user_id).await?.ok_or_else(not_member)?;
    if user.is_active == Some(false) {
        return Err(not_member());
    }
    Ok(user)
}

/// 404 unless the caller is a member of the room (SUPER_ADMIN, OWNER and ADMIN of the gym see
/// every room of it).
async fn require_member(db: &mut Session, caller: &GymCaller, room: &Room) -> ApiResult<Vec<UserId>> {
    let members = db.room_members(room.id).await?;
    if members.contains(&caller.user_id()) || caller.has_role(GymRole::Admin) {
        Ok(members)
    } else {
        Err(ApiError::not_found(format!("room {} not found", room.id)))
    }
}

/// The caller's Stream identity is upserted again after this long even when nothing changed.
const RESYNC_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// `GET /chat/token`: a Stream user token for the caller's identity in this gym. The identity is
/// upserted with the gym's team (a partial update that keeps name and avatar) when the person's
/// name, avatar or team changed since the last upsert, or a day has passed: usually the token
/// needs one database statement and no call to Stream.
#[utoipa::path(get, path = "/api/v1/chat/token", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = TokenAnswer), Refusals), security(("bearer" = [])))]
pub(crate) async fn token(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<TokenAnswer>> {
    let gym = caller.gym_id();
    let now = Utc::now();
    let fingerprint = provision::fingerprint(gym, &caller.user);
    let fresh =
        caller.stream_synced.as_ref().is_some_and(|(sent, at)| *sent == fingerprint && now - *at < RESYNC_AFTER);
    if !fresh {
        provision::ensure_caller(s.stream(), gym, &caller.user).await?;
        s.store().session().await?.record_stream_user(gym, caller.user_id(), &fingerprint, now).await?;
    }
    let id = caller.stream_id();
    let expires = now + s.config().token_ttl;
    let token = user_token(&s.config().stream_secret, &id, now, Some(expires)).map_err(ApiError::from)?;
    Ok(Json(TokenAnswer {
        token,
        api_key: s.config().stream_key.clone(),
        internal_user_id: caller.user_id().get(),
        stream_user_id: id.as_str().to_owned(),
        expires_at: expires.to_rfc3339_opts(SecondsFormat::Secs, true),
        gym_id: gym.get(),
    }))
}

/// The query of `GET /chat/my-rooms`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MyRoomsQuery {
    /// Also the rooms the caller hid (default false).
    #[serde(default)]
    include_hidden: bool,
}

/// `GET /chat/my-rooms?include_hidden=false`: the caller's active rooms of this gym.
#[utoipa::path(get, path = "/api/v1/chat/my-rooms", tag = "chat", params(GymHeader, MyRoomsQuery), responses((status = 200, description = "done", body = [ChatRoom]), Refusals), security(("bearer" = [])))]
pub(crate) async fn my_rooms(
    State(s): State<AppState>,
    caller: GymCaller,
    Query(q): Query<MyRoomsQuery>,
) -> ApiResult<Json<Vec<ChatRoom>>> {
    let mut db = s.store().session().await?;
    let rooms = db.rooms_of_member(caller.gym_id(), caller.user_id(), q.include_hidden).await?;
    for bad in &rooms.skipped {
        tracing::warn!(table = bad.table, key = %bad.key, reason = %bad.reason, "room row left out of my-rooms");
    }
    Ok(Json(rooms.rows.into_iter().map(ChatRoom::from).collect()))
}

/// The room a key points at, when it still exists in the gym; a key whose room is gone is
/// released.
pub(crate) async fn keyed_room(db: &mut Session, gym: GymId, key: &str) -> ApiResult<Option<Room>> {
    let Some(id) = db.room_key(key).await? else { return Ok(None) };
    match db.room(id).await?.filter(|r| r.gym_id == gym) {
        Some(room) => Ok(Some(room)),
        None => {
            db.forget_room_key(key).await?;
            Ok(None)
        }
    }
}

/// An existing room found another way is claimed for the key, unless another request claimed
/// the key first (then theirs is the room).
pub(crate) async fn claim(db: &mut Session, gym: GymId, key: &str, room: Room) -> ApiResult<Room> {
    if db.claim_room_key(key, gym, room.id).await? {
        return Ok(room);
    }
    keyed_room(db, gym, key).await?.ok_or_else(|| ApiError::conflict("the room changed meanwhile; try again"))
}

/// The room [`provision::create_room`] made or found.
pub(crate) async fn load_outcome(s: &AppState, gym: GymId, outcome: Outcome) -> ApiResult<Room> {
    match outcome {
        Outcome::Created(room) => Ok(room),
        Outcome::Existing(id) => room_in_gym(&mut s.store().session().await?, gym, id).await,
    }
}

/// `GET /chat/rooms/direct/{other_user_id}`: the one 1:1 room of the caller and the other user
/// in this gym, created on first use. Found through the database, never by recomputing an id.
#[utoipa::path(get, path = "/api/v1/chat/rooms/direct/{other_user_id}", tag = "chat", params(GymHeader, ("other_user_id" = i64, Path, description = "the other member's internal user id")), responses((status = 200, description = "done", body = ChatRoom), Refusals), security(("bearer" = [])))]
pub(crate) async fn direct(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(other): Path<String>,
) -> ApiResult<Json<ChatRoom>> {
    let other: UserId = path_id(&other, "other_user_id")?;
    if other == caller.user_id() {
        return Err(ApiError::bad_request("a direct chat needs another user than yourself"));
    }
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    let other = active_member(&mut db, gym, other).await?;
    let key = direct_room_key(gym, caller.user_id(), other.id);
    if let Some(room) = keyed_room(&mut db, gym, &key).await? {
        return Ok(Json(room.into()));
    }
    if let Some(room) = db.direct_rooms_of_pair(gym, caller.user_id(), other.id).await?.rows.into_iter().next() {
        return Ok(Json(claim(&mut db, gym, &key, room).await?.into()));
    }
    drop(db);
    let name = format!(
        "Chat {} - {}",
        caller.user.display_name().unwrap_or_else(|| format!("user {}", caller.user_id())),
        other.display_name().unwrap_or_else(|| format!("user {}", other.id))
    );
    let spec = RoomSpec {
        key: Some(key),
        gym,
        name,
        channel_id: Some(
            ChannelId::direct(gym, caller.user_id(), other.id).map_err(|e| ApiError::bad_request(e.to_string()))?,
        ),
        event_id: None,
        is_direct: true,
        members: vec![caller.user.clone(), other],
        creator: caller.stream_id(),
    };
    let outcome = provision::create_room(s.store(), s.stream(), &spec).await?;
    Ok(Json(load_outcome(&s, gym, outcome).await?.into()))
}

/// The event's room, created on first use, with `acting` as a member. `acting` must be allowed:
/// a trainer or above, the event's creator, or a REGISTERED participant.
pub(crate) async fn event_room(
    s: &AppState,
    gym: GymId,
    event: EventId,
    acting: &User,
    title: Option<&str>,
) -> ApiResult<Room> {
    let mut db = s.store().session().await?;
    let event = db
        .event(event)
        .await?
        .filter(|e| e.gym_id == gym)
        .ok_or_else(|| ApiError::not_found(format!("event {event} not found")))?;
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
        return Err(ApiError::forbidden(
            "only the event's trainers, its creator and registered participants may use its chat",
        ));
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
    let name = title.map(str::to_owned).or(event.title.clone()).unwrap_or_else(|| format!("Event {}", event.id));
    let spec = RoomSpec {
        key: Some(key),
        gym,
        name,
        channel_id: Some(ChannelId::event(gym, event.id)),
        event_id: Some(event.id),
        is_direct: false,
        members,
        creator: StreamUserId::for_member(gym, acting.id),
    };
    let outcome = provision::create_room(s.store(), s.stream(), &spec).await?;
    load_outcome(s, gym, outcome).await
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
    let cid = room_cid(room)?;
    let users = db.users(&joining).await?.rows;
    provision::ensure_users(s.stream(), gym, &users).await?;
    let update = ChannelUpdate {
        add_members: users.iter().map(|u| StreamUserId::for_member(gym, u.id)).collect(),
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

/// `GET /chat/rooms/event/{event_id}`: the event's one room, created on first use.
#[utoipa::path(get, path = "/api/v1/chat/rooms/event/{event_id}", tag = "chat", params(GymHeader, ("event_id" = i64, Path, description = "the event")), responses((status = 200, description = "done", body = ChatRoom), Refusals), security(("bearer" = [])))]
pub(crate) async fn event(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(event): Path<String>,
) -> ApiResult<Json<ChatRoom>> {
    let event: EventId = path_id(&event, "event_id")?;
    Ok(Json(event_room(&s, caller.gym_id(), event, &caller.user, None).await?.into()))
}

/// The body of `POST /chat/rooms`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewGroup {
    /// Display name, 1 to 255 characters.
    name: String,
    /// Internal ids of the other members, each an active member of the gym.
    #[serde(default)]
    member_ids: Vec<i64>,
}

/// `POST /chat/rooms` (TRAINER and above): a group room of the caller and the named members.
#[utoipa::path(post, path = "/api/v1/chat/rooms", tag = "chat", params(GymHeader), request_body = NewGroup, responses((status = 200, description = "done", body = ChatRoom), Refusals), security(("bearer" = [])))]
pub(crate) async fn create_group(
    State(s): State<AppState>,
    caller: GymCaller,
    body: Result<Json<NewGroup>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<ChatRoom>> {
    let Json(body) = body.map_err(|e| ApiError::unprocessable(e.body_text()))?;
    caller.require(GymRole::Trainer)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::unprocessable("name must be 1 to 255 characters"));
    }
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    let mut members = vec![caller.user.clone()];
    let mut seen = BTreeSet::from([caller.user_id()]);
    for raw in body.member_ids {
        let id = UserId::try_from(raw).map_err(|_| ApiError::unprocessable(format!("member id {raw} is not valid")))?;
        if seen.insert(id) {
            members.push(
                active_member(&mut db, gym, id)
                    .await
                    .map_err(|_| ApiError::unprocessable(format!("user {id} is not an active member of this gym")))?,
            );
        }
    }
    drop(db);
    let spec = RoomSpec {
        key: None,
        gym,
        name: name.to_owned(),
        channel_id: None,
        event_id: None,
        is_direct: false,
        members,
        creator: caller.stream_id(),
    };
    let outcome = provision::create_room(s.store(), s.stream(), &spec).await?;
    Ok(Json(load_outcome(&s, gym, outcome).await?.into()))
}

/// `POST /chat/rooms/{room_id}/members/{user_id}` (ADMIN and OWNER).
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/members/{user_id}", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room"), ("user_id" = i64, Path, description = "an internal user id")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn add_member(
    State(s): State<AppState>,
    caller: GymCaller,
    Path((room, user)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (mut db, room, user) = members_route(&s, &caller, &room, &user).await?;
    let member = active_member(&mut db, caller.gym_id(), user).await?;
    let added = join_room(&s, &mut db, caller.gym_id(), &room, &member).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "user_id": member.id.get(), "added": added })))
}

/// The session, room and user of a members route, checked: ADMIN or OWNER, the room is this
/// gym's, and it is not a 1:1 chat.
async fn members_route(s: &AppState, caller: &GymCaller, room: &str, user: &str) -> ApiResult<(Session, Room, UserId)> {
    let (room, user): (RoomId, UserId) = (path_id(room, "room_id")?, path_id(user, "user_id")?);
    caller.require(GymRole::Admin)?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), room).await?;
    if room.is_direct {
        return Err(ApiError::conflict("a direct chat has exactly its two members"));
    }
    Ok((db, room, user))
}

/// Adds `user` to the room on both sides: their identity upserted, the channel's member, the
/// member row. True when the row was new.
pub(crate) async fn join_room(s: &AppState, db: &mut Session, gym: GymId, room: &Room, user: &User) -> ApiResult<bool> {
    let cid = room_cid(room)?;
    provision::ensure_users(s.stream(), gym, std::slice::from_ref(user)).await?;
    provision::add_members(s.stream(), &cid, &[StreamUserId::for_member(gym, user.id)]).await?;
    Ok(db.add_room_member(room.id, user.id, Utc::now()).await?)
}

/// `DELETE /chat/rooms/{room_id}/members/{user_id}` (ADMIN and OWNER).
#[utoipa::path(delete, path = "/api/v1/chat/rooms/{room_id}/members/{user_id}", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room"), ("user_id" = i64, Path, description = "an internal user id")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn remove_member(
    State(s): State<AppState>,
    caller: GymCaller,
    Path((room, user)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (mut db, room, user) = members_route(&s, &caller, &room, &user).await?;
    if !db.room_members(room.id).await?.contains(&user) {
        return Err(ApiError::not_found(format!("user {user} is not a member of room {}", room.id)));
    }
    remove_from_room(&s, &mut db, caller.gym_id(), &room, user).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "user_id": user.get(), "removed": true })))
}

pub(crate) async fn remove_from_room(
    s: &AppState,
    db: &mut Session,
    gym: GymId,
    room: &Room,
    user: UserId,
) -> ApiResult<()> {
    let cid = room_cid(room)?;
    let update =
        ChannelUpdate { remove_members: vec![StreamUserId::for_member(gym, user)], ..ChannelUpdate::default() };
    s.stream().update_channel(&cid, &update).await?;
    db.remove_room_member(room.id, user).await?;
    db.show_room(user, room.id).await?;
    Ok(())
}

/// The session and the room of a per-member route (hide, show), checked: the room is this gym's
/// and the caller is in it ([`require_member`]).
async fn member_room(s: &AppState, caller: &GymCaller, room: &str) -> ApiResult<(Session, Room)> {
    let room: RoomId = path_id(room, "room_id")?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), room).await?;
    require_member(&mut db, caller, &room).await?;
    Ok((db, room))
}

/// A per-user change of a channel (hide, show) that Stream refused because the caller's
/// tenant-scoped identity is not in it (a room not migrated yet holds the legacy ids): the
/// database's record, which the room lists follow, is enough. Other failures stop the request.
fn tolerate_legacy(result: Result<(), gymchat_stream::StreamError>, room: &Room) -> ApiResult<()> {
    match result {
        Err(e) if e.status().is_some_and(|s| (400..500).contains(&s) && s != 429) => {
            tracing::info!(room = %room.id, error = %e, "Stream refused a per-user change; the database records it");
            Ok(())
        }
        other => other.map_err(ApiError::from),
    }
}

/// `POST /chat/rooms/{room_id}/hide`: hidden from the caller's list until a new message arrives;
/// the history stays.
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/hide", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn hide(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let (mut db, room) = member_room(&s, &caller, &room).await?;
    tolerate_legacy(s.stream().hide_channel(&room_cid(&room)?, &caller.stream_id(), false).await, &room)?;
    db.hide_room(caller.user_id(), room.id, Utc::now()).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "hidden": true })))
}

/// `POST /chat/rooms/{room_id}/show`.
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/show", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn show(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let (mut db, room) = member_room(&s, &caller, &room).await?;
    tolerate_legacy(s.stream().show_channel(&room_cid(&room)?, &caller.stream_id()).await, &room)?;
    db.show_room(caller.user_id(), room.id).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "hidden": false })))
}

/// `POST /chat/rooms/{room_id}/leave`: the caller leaves a group or event room.
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/leave", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn leave(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let room: RoomId = path_id(&room, "room_id")?;
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, gym, room).await?;
    if room.is_direct {
        return Err(ApiError::conflict("a direct chat cannot be left; hide it instead"));
    }
    if !db.room_members(room.id).await?.contains(&caller.user_id()) {
        return Err(ApiError::not_found(format!("room {} not found", room.id)));
    }
    remove_from_room(&s, &mut db, gym, &room, caller.user_id()).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "left": true })))
}

/// `DELETE /chat/rooms/{room_id}` (ADMIN, OWNER, or the room's creator): deletes an empty group
/// room and its channel (soft, so Stream keeps it recoverable).
#[utoipa::path(delete, path = "/api/v1/chat/rooms/{room_id}", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn delete_group(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let room: RoomId = path_id(&room, "room_id")?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), room).await?;
    if !caller.has_role(GymRole::Admin) {
        // The room's creator may delete it too; the channel records who that is.
        let cid = room_cid(&room)?;
        let creator = stream_channel(&s, &cid).await?.and_then(|c| c.created_by).map(|u| u.id);
        if creator.as_ref() != Some(&caller.stream_id()) {
            return Err(ApiError::forbidden("only the gym's ADMIN and OWNER, and the room's creator, may delete it"));
        }
    }
    if room.is_direct || room.event_id.is_some() {
        return Err(ApiError::conflict("only group rooms can be deleted"));
    }
    let members = db.room_members(room.id).await?;
    if !members.is_empty() {
        return Err(ApiError::conflict(format!("the group still has {} members; remove them first", members.len())));
    }
    if room.stream_channel_id.is_some() {
        s.stream().delete_channel(&room_cid(&room)?, false).await?;
    }
    db.delete_room(room.id).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "deleted": true })))
}

/// The channel as Stream has it (without state), or `None` when it does not exist.
async fn stream_channel(s: &AppState, cid: &gymchat_ids::Cid) -> ApiResult<Option<gymchat_stream::model::Channel>> {
    let query = gymchat_stream::model::ChannelQuery {
        filter_conditions: json!({ "cid": cid.to_string() }),
        sort: Vec::new(),
        limit: 1,
        offset: 0,
        state: false,
        message_limit: 0,
        member_limit: 0,
    };
    Ok(s.stream().query_channels(&query).await?.body.into_iter().next().map(|state| state.channel))
}

/// `DELETE /chat/rooms/{room_id}/conversation`: clears a 1:1 chat's history for the caller
/// only (the other member keeps it) and hides it until a new message arrives.
#[utoipa::path(delete, path = "/api/v1/chat/rooms/{room_id}/conversation", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn clear_conversation(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let room: RoomId = path_id(&room, "room_id")?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), room).await?;
    if !room.is_direct {
        return Err(ApiError::conflict("only a direct chat's conversation can be cleared"));
    }
    if !db.room_members(room.id).await?.contains(&caller.user_id()) {
        return Err(ApiError::not_found(format!("room {} not found", room.id)));
    }
    s.stream().hide_channel(&room_cid(&room)?, &caller.stream_id(), true).await?;
    db.hide_room(caller.user_id(), room.id, Utc::now()).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "cleared": true })))
}

/// `DELETE /chat/channels/orphan/{channel_id}` (ADMIN and OWNER): deletes (soft) a Stream
/// channel of this gym that no room points at. `type:id` and a bare id (type `messaging`) are the
/// same channel. A channel of another gym, or one whose gym cannot be proven, is not found.
#[utoipa::path(delete, path = "/api/v1/chat/channels/orphan/{channel_id}", tag = "chat", params(GymHeader, ("channel_id" = String, Path, description = "`type:id` or a bare id (type `messaging`)")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn delete_orphan(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(channel): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(GymRole::Admin)?;
    let gym = caller.gym_id();
    let (kind, id) = channel.split_once(':').unwrap_or(("messaging", channel.as_str()));
    let cid = gymchat_ids::ChannelType::parse(kind)
        .and_then(|t| ChannelId::parse(id).map(|id| gymchat_ids::Cid::new(t, id)))
        .map_err(|e| ApiError::bad_request(format!("{channel:?} is not a channel id: {e}")))?;
    let not_found = || ApiError::not_found(format!("channel {cid} not found in this gym"));
    let found = stream_channel(&s, &cid).await?.ok_or_else(not_found)?;
    let team_gym = found.team.as_ref().is_some_and(|t| *t == gymchat_ids::Team::for_gym(gym));
    let field_gym = found.custom.get("gym_id").and_then(Value::as_i64) == Some(gym.get());
    if !team_gym && !field_gym {
        return Err(not_found());
    }
    let mut db = s.store().session().await?;
    let pointing = db.rooms_by_channel_ids(&[cid.id().as_str().to_owned()]).await?;
    if let Some(room) = pointing.rows.iter().find(|r| r.stream_channel_type == cid.channel_type().as_str()) {
        return Err(ApiError::conflict(format!("room {} points at this channel; it is not an orphan", room.id)));
    }
    s.stream().delete_channel(&cid, false).await?;
    Ok(Json(json!({ "cid": cid.to_string(), "deleted": true })))
}
