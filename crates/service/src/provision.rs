//! The Stream side of a room, and a room that exists on both sides or on neither.
//!
//! - Users: a room's members exist in Stream as their tenant-scoped identity with the gym's team
//!   before any channel names them. Existing users get a partial update (team, and name and
//!   avatar only when the database has them: never placeholders); missing ones are created.
//! - Rooms ([`create_room`]): the room row, its members and its key are written in a transaction;
//!   the channel is created while it is open; the transaction commits only once the channel
//!   exists. A Stream failure rolls the row back; a failure whose outcome is unknown, or a commit
//!   that fails after the channel was made, deletes the channel again. So neither a row without a
//!   channel nor a channel without a row is left behind. Concurrent first requests for one pair or
//!   one event meet at the key (or at the channel id's unique key) and get the one room.

use std::collections::BTreeSet;

use chrono::Utc;
use gymchat_ids::{ChannelId, ChannelType, Cid, EventId, GymId, RoomId, StreamUserId, Team};
use gymchat_store::{NewRoom, Room, Store, StoreError, User};
use gymchat_stream::model::{ChannelData, ChannelUpdate, NewMember, User as StreamUser, UserPatch};
use gymchat_stream::{Client, StreamError};
use gymchat_tenant::Purpose;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::maintenance::refuse_during_maintenance;

/// Stream's most users per upsert or partial update, and members per channel call.
const PER_CALL: usize = 100;

fn stream_user(gym: GymId, user: &User) -> StreamUser {
    let mut u = StreamUser::new(StreamUserId::for_member(gym, user.id));
    u.name = user.display_name();
    u.image = user.picture.clone().filter(|p| !p.trim().is_empty());
    u.teams = vec![Team::for_gym(gym)];
    u
}

fn patch(gym: GymId, user: &User) -> UserPatch {
    let full = stream_user(gym, user);
    let mut set = Map::new();
    set.insert("teams".into(), json!([Team::for_gym(gym)]));
    if let Some(name) = full.name {
        set.insert("name".into(), Value::String(name));
    }
    if let Some(image) = full.image {
        set.insert("image".into(), Value::String(image));
    }
    UserPatch { id: full.id, set, unset: Vec::new() }
}

/// What the service sends of a person's identity in a gym, as 16 hex digits of its SHA-256: when
/// it has not changed since the last upsert, the token needs no call to Stream.
pub(crate) fn fingerprint(gym: GymId, user: &User) -> String {
    use sha2::{Digest, Sha256};
    let sent = serde_json::to_vec(&stream_user(gym, user)).unwrap_or_default();
    let mut hex = hex::encode(Sha256::digest(sent));
    hex.truncate(16);
    hex
}

/// The caller's own identity, in one call when it exists already: a partial update, and an
/// upsert only when Stream does not know the user yet.
pub(crate) async fn ensure_caller(stream: &Client, gym: GymId, user: &User) -> Result<(), StreamError> {
    match stream.update_users_partial(&[patch(gym, user)]).await {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(400) || e.is_not_found() => {
            stream.upsert_users(&[stream_user(gym, user)]).await.map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// Every one of `users` exists in Stream as `gym_{G}_user_{U}` with team `gym_{G}`.
pub(crate) async fn ensure_users(stream: &Client, gym: GymId, users: &[User]) -> Result<(), StreamError> {
    for chunk in users.chunks(PER_CALL) {
        let ids: Vec<StreamUserId> = chunk.iter().map(|u| StreamUserId::for_member(gym, u.id)).collect();
        let found = stream.query_users(json!({ "id": { "$in": ids } }), PER_CALL as u32, 0).await?;
        // A user Stream returned but that cannot be decoded exists: it gets a partial update, never
        // an upsert that would replace it whole.
        let existing: BTreeSet<&str> =
            found.body.iter().map(|u| u.id.as_str()).chain(found.undecodable.iter().map(|u| u.id.as_str())).collect();
        let (known, new): (Vec<&User>, Vec<&User>) =
            chunk.iter().partition(|u| existing.contains(StreamUserId::for_member(gym, u.id).as_str()));
        if !known.is_empty() {
            let patches: Vec<UserPatch> = known.iter().map(|u| patch(gym, u)).collect();
            stream.update_users_partial(&patches).await?;
        }
        if !new.is_empty() {
            let users: Vec<StreamUser> = new.iter().map(|u| stream_user(gym, u)).collect();
            stream.upsert_users(&users).await?;
        }
    }
    Ok(())
}

/// The gym's announcer (`gym_{G}_bot`), for system messages.
pub(crate) async fn ensure_bot(stream: &Client, gym: GymId) -> Result<StreamUserId, StreamError> {
    let id = StreamUserId::bot(gym);
    let mut bot = StreamUser::new(id.clone());
    bot.teams = vec![Team::for_gym(gym)];
    bot.name = Some("Gym".to_owned());
    stream.upsert_users(&[bot]).await?;
    Ok(id)
}

/// The room's cid, or 409 when it has no channel.
pub(crate) fn room_cid(room: &Room) -> ApiResult<Cid> {
    let cid = gymchat_tenant::room_cid(room)
        .ok_or_else(|| ApiError::conflict("this room has no chat channel"))?
        .map_err(|e| {
            tracing::error!(room = %room.id, error = %e, "room points at a malformed channel id");
            ApiError::conflict("this room's chat channel id is malformed")
        })?;
    Ok(cid)
}

/// Adds `members` to an existing channel, 100 per call.
pub(crate) async fn add_members(stream: &Client, cid: &Cid, members: &[StreamUserId]) -> Result<(), StreamError> {
    for chunk in members.chunks(PER_CALL) {
        let update =
            ChannelUpdate { add_members: chunk.iter().map(NewMember::from).collect(), ..ChannelUpdate::default() };
        stream.update_channel(cid, &update).await?;
    }
    Ok(())
}

/// What a new room is.
pub(crate) struct RoomSpec {
    /// The key that makes it unique (a pair's or an event's), if any.
    pub key: Option<String>,
    /// The gym.
    pub gym: GymId,
    /// Display name.
    pub name: String,
    /// The channel id; `None` for a group (`room_{G}_{R}`, known once the row exists).
    pub channel_id: Option<ChannelId>,
    /// The event it is the chat of.
    pub event_id: Option<EventId>,
    /// A 1:1 chat.
    pub is_direct: bool,
    /// Its members (at least the creator).
    pub members: Vec<User>,
    /// The channel's creator.
    pub creator: StreamUserId,
}

/// What [`create_room`] found.
pub(crate) enum Outcome {
    /// The room was created now.
    Created(Room),
    /// Another request created it first (or it existed): its id.
    Existing(RoomId),
}

/// Creates the room on both sides, or on neither (see the module's docs).
pub(crate) async fn create_room(store: &Store, stream: &Client, spec: &RoomSpec) -> ApiResult<Outcome> {
    refuse_during_maintenance(&mut store.session().await?, spec.gym).await?;
    ensure_users(stream, spec.gym, &spec.members).await?;
    let now = Utc::now();
    let mut tx = store.begin().await?;
    let fixed_id = spec.channel_id.as_ref().map(ChannelId::as_str);
    let new = NewRoom {
        gym_id: spec.gym,
        name: Some(&spec.name),
        stream_channel_id: fixed_id,
        stream_channel_type: "messaging",
        event_id: spec.event_id,
        is_direct: spec.is_direct,
    };
    let room_id = match tx.insert_room(&new, now).await {
        Ok(id) => id,
        Err(StoreError::ChannelIdTaken { channel_id }) => {
            drop(tx);
            let mut db = store.session().await?;
            let rooms = db.rooms_by_channel_ids(std::slice::from_ref(&channel_id)).await?;
            return match rooms.rows.into_iter().find(|r| r.gym_id == spec.gym) {
                Some(room) => Ok(Outcome::Existing(room.id)),
                None => Err(ApiError::conflict("the chat channel belongs to another room")),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let channel_id = match &spec.channel_id {
        Some(id) => id.clone(),
        None => {
            let id = Purpose::Group(room_id).channel_id(spec.gym)?;
            tx.set_room_stream_channel_id(room_id, id.as_str(), now).await?;
            id
        }
    };
    if let Some(key) = &spec.key
        && !tx.claim_room_key(key, spec.gym, room_id).await?
    {
        drop(tx);
        let mut db = store.session().await?;
        return match db.room_key(key).await? {
            Some(existing) => Ok(Outcome::Existing(existing)),
            None => Err(ApiError::conflict("another request is creating this room; try again")),
        };
    }
    for member in &spec.members {
        tx.add_room_member(room_id, member.id, now).await?;
    }
    let cid = Cid::new(ChannelType::messaging(), channel_id.clone());
    let member_ids: Vec<StreamUserId> = spec.members.iter().map(|u| StreamUserId::for_member(spec.gym, u.id)).collect();
    let data = ChannelData {
        created_by_id: Some(spec.creator.clone()),
        team: Some(gymchat_tenant::team(spec.gym)),
        members: member_ids.iter().take(PER_CALL).map(NewMember::from).collect(),
        frozen: None,
        custom: gymchat_tenant::channel_custom(spec.gym, Some(&spec.name)),
    };
    let created = async {
        let state = stream.get_or_create_channel(&cid, Some(&data), 0, None).await?.body;
        let present: BTreeSet<&str> = state.members.iter().map(|m| m.user_id.as_str()).collect();
        let missing: Vec<StreamUserId> = member_ids.iter().filter(|m| !present.contains(m.as_str())).cloned().collect();
        add_members(stream, &cid, &missing).await
    }
    .await;
    if let Err(e) = created {
        drop(tx);
        if e.outcome_unknown() || e.status().is_some_and(|s| s >= 500) {
            forget_channel(stream, &cid).await;
        }
        return Err(e.into());
    }
    if let Err(e) = tx.commit().await {
        forget_channel(stream, &cid).await;
        return Err(e.into());
    }
    Ok(Outcome::Created(Room {
        id: room_id,
        stream_channel_id: Some(channel_id.as_str().to_owned()),
        stream_channel_type: "messaging".to_owned(),
        name: Some(spec.name.clone()),
        gym_id: spec.gym,
        event_id: spec.event_id,
        is_direct: spec.is_direct,
        status: Some(gymchat_store::RoomStatus::Active),
        created_at: Some(now),
        updated_at: Some(now),
    }))
}

/// Deletes a channel whose room was rolled back. When even that fails, the channel is left for
/// the audit, which reports it as stream-only with its evidence.
async fn forget_channel(stream: &Client, cid: &Cid) {
    if let Err(e) = stream.delete_channel(cid, true).await {
        tracing::error!(%cid, error = %e, "a channel without a room is left behind; `gymchat audit` reports it");
    }
}

/// The channel as Stream has it (without state), or `None` when it does not exist.
pub(crate) async fn stream_channel(
    stream: &Client,
    cid: &Cid,
) -> Result<Option<gymchat_stream::model::Channel>, StreamError> {
    let query = gymchat_stream::model::ChannelQuery {
        filter_conditions: json!({ "cid": cid.to_string() }),
        sort: Vec::new(),
        limit: 1,
        offset: 0,
        state: false,
        message_limit: 0,
        member_limit: 0,
    };
    Ok(stream.query_channels(&query).await?.body.into_iter().next().map(|state| state.channel))
}
