//! The Stream side of a room.
//!
//! - Users: a room's members exist in Stream as their tenant-scoped identity with the gym's team
//!   before any channel names them. Existing users get a partial update (team, and name and
//!   avatar only when the database has them: never placeholders); missing ones are created.
//! - Rooms ([`room`]): a room exists on both sides or on neither, reserved in the database before
//!   Stream is called and confirmed after. Concurrent first requests for one pair or one event
//!   meet at the key (or at the channel id's unique key) and get the one room.

use std::collections::BTreeSet;

use gymchat_ids::{Cid, GymId, StreamUserId, Team};
use gymchat_store::{Room, User};
use gymchat_stream::model::{ChannelUpdate, NewMember, User as StreamUser, UserPatch};
use gymchat_stream::{Client, StreamError};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};

/// Stream's most users per upsert or partial update, and members per channel call.
const PER_CALL: usize = 100;

pub(crate) mod room;

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

/// The channel's members (the first hundred), or none when it does not exist.
pub(crate) async fn channel_members(
    stream: &Client,
    cid: &Cid,
) -> Result<Vec<gymchat_stream::model::Member>, StreamError> {
    let query = gymchat_stream::model::ChannelQuery {
        filter_conditions: json!({ "cid": cid.to_string() }),
        sort: Vec::new(),
        limit: 1,
        offset: 0,
        state: true,
        message_limit: 0,
        member_limit: 100,
    };
    Ok(stream.query_channels(&query).await?.body.into_iter().next().map(|state| state.members).unwrap_or_default())
}
