//! A room that exists on both sides or on neither, without a database connection held while
//! Stream answers.
//!
//! [`create_room`] reserves the room first: its row, members and key, and a mark in
//! `gymchat_pending_rooms` naming this request, in one transaction that commits before Stream is
//! called. Then the channel is made (get-or-create, which is safe to repeat, and the members past
//! the first hundred), and the mark is removed: the room is confirmed. Room lists leave pending
//! rooms out, so nobody sees a room whose channel may not exist.
//!
//! - A Stream failure undoes the reservation (room, members, key, mark) while this request still
//!   owns it, and then deletes the channel only when this request provably made it
//!   ([`made_by`]): created by the room's creator after the reservation, without a message, and no
//!   room of any gym pointing at it. Soft, so Stream keeps it recoverable. A channel that existed
//!   before, or that a concurrent request finished, is never touched.
//! - A request that finds a pending room (the same pair, event or General room) takes it over and
//!   finishes it ([`settle`]): get-or-create is safe to repeat, so two finishers are harmless, and
//!   the first request's undo sees it no longer owns the mark and leaves everything.
//! - A pair's, an event's or the General room that was closed because Stream deleted its channel
//!   gets a new channel at the same cid when it is asked for again ([`reopen_if_gone`]).
//! - A request cut off by its deadline leaves its mark; [`sweep`] settles marks older than a few
//!   minutes: a room whose channel exists is finished, one whose channel does not is undone.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use gymchat_ids::{ChannelId, ChannelType, Cid, EventId, GymId, StreamUserId};
use gymchat_store::{NewRoom, PendingRoom, Room, RoomStatus, Store, StoreError, User};
use gymchat_stream::model::{Channel, ChannelData, NewMember};
use gymchat_stream::{Client, StreamError};
use gymchat_tenant::Purpose;

use super::{PER_CALL, add_members, ensure_users, stream_channel};
use crate::detach::detached;
use crate::error::{ApiError, ApiResult};
use crate::maintenance::refuse_during_maintenance;

/// What a new room is.
#[derive(Clone)]
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
    Existing(gymchat_ids::RoomId),
}

/// A request's own name on the reservations it makes or takes over.
fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The channel's creation data: creator, the gym's team, the first hundred members, and the
/// tenant's custom fields.
fn channel_data(gym: GymId, name: Option<&str>, creator: &StreamUserId, members: &[StreamUserId]) -> ChannelData {
    ChannelData {
        created_by_id: Some(creator.clone()),
        team: Some(gymchat_tenant::team(gym)),
        members: members.iter().take(PER_CALL).map(NewMember::from).collect(),
        frozen: None,
        custom: gymchat_tenant::channel_custom(gym, name),
    }
}

/// Makes the channel (or finds it) and puts every member in it. Safe to repeat.
async fn make_channel(
    stream: &Client,
    cid: &Cid,
    data: &ChannelData,
    members: &[StreamUserId],
) -> Result<(), StreamError> {
    let state = stream.get_or_create_channel(cid, Some(data), 0, None).await?.body;
    let present: BTreeSet<&str> = state.members.iter().map(|m| m.user_id.as_str()).collect();
    let missing: Vec<StreamUserId> = members.iter().filter(|m| !present.contains(m.as_str())).cloned().collect();
    add_members(stream, cid, &missing).await
}

/// Creates the room on both sides, or on neither (see the module's docs).
pub(crate) async fn create_room(store: &Store, stream: &Client, spec: &RoomSpec) -> ApiResult<Outcome> {
    refuse_during_maintenance(&mut store.session().await?, spec.gym).await?;
    ensure_users(stream, spec.gym, &spec.members).await?;
    let now = Utc::now();
    let request = request_id();
    let reserved = {
        let (store, spec, request) = (store.clone(), spec.clone(), request.clone());
        detached(async move { reserve(&store, &spec, &request, now).await }).await?
    };
    let (room_id, channel_id) = match reserved {
        Reserved::Mine(room_id, channel_id) => (room_id, channel_id),
        Reserved::Theirs(existing) => return Ok(Outcome::Existing(existing)),
    };
    let cid = Cid::new(ChannelType::messaging(), channel_id.clone());
    let members: Vec<StreamUserId> = spec.members.iter().map(|u| StreamUserId::for_member(spec.gym, u.id)).collect();
    let data = channel_data(spec.gym, Some(&spec.name), &spec.creator, &members);
    if let Err(e) = make_channel(stream, &cid, &data, &members).await {
        undo(store, stream, room_id, &request, &cid, &spec.creator, now).await;
        return Err(e.into());
    }
    store.session().await?.confirm_room(room_id).await?;
    Ok(Outcome::Created(Room {
        id: room_id,
        stream_channel_id: Some(channel_id.as_str().to_owned()),
        stream_channel_type: "messaging".to_owned(),
        name: Some(spec.name.clone()),
        gym_id: spec.gym,
        event_id: spec.event_id,
        is_direct: spec.is_direct,
        status: Some(RoomStatus::Active),
        created_at: Some(now),
        updated_at: Some(now),
    }))
}

/// What [`reserve`] got.
enum Reserved {
    /// This request's reservation: the room and its channel id.
    Mine(gymchat_ids::RoomId, ChannelId),
    /// Another request's room for the same key or channel id.
    Theirs(gymchat_ids::RoomId),
}

/// Writes the room, its members, its key and its pending mark in one transaction.
async fn reserve(store: &Store, spec: &RoomSpec, request: &str, now: DateTime<Utc>) -> ApiResult<Reserved> {
    let mut tx = store.begin().await?;
    let new = NewRoom {
        gym_id: spec.gym,
        name: Some(&spec.name),
        stream_channel_id: spec.channel_id.as_ref().map(ChannelId::as_str),
        stream_channel_type: "messaging",
        event_id: spec.event_id,
        is_direct: spec.is_direct,
    };
    let room_id = match tx.insert_room(&new, now).await {
        Ok(id) => id,
        Err(StoreError::ChannelIdTaken { channel_id }) => {
            drop(tx);
            let rooms = store.session().await?.rooms_by_channel_ids(std::slice::from_ref(&channel_id)).await?;
            return match rooms.rows.into_iter().find(|r| r.gym_id == spec.gym) {
                Some(room) => Ok(Reserved::Theirs(room.id)),
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
        return match store.session().await?.room_key(key).await? {
            Some(existing) => Ok(Reserved::Theirs(existing)),
            None => Err(ApiError::conflict("another request is creating this room; try again")),
        };
    }
    for member in &spec.members {
        tx.add_room_member(room_id, member.id, now).await?;
    }
    let cid = Cid::new(ChannelType::messaging(), channel_id.clone());
    tx.reserve_room(room_id, spec.gym, &cid.to_string(), request, now).await?;
    tx.commit().await?;
    Ok(Reserved::Mine(room_id, channel_id))
}

/// Undoes this request's reservation after a Stream failure, then deletes the channel if this
/// request provably made it. Failures are logged: a mark left behind is settled by [`sweep`].
async fn undo(
    store: &Store,
    stream: &Client,
    room: gymchat_ids::RoomId,
    request: &str,
    cid: &Cid,
    creator: &StreamUserId,
    reserved_at: DateTime<Utc>,
) {
    let undone = match store.session().await {
        Ok(mut db) => db.abandon_room(room, request).await,
        Err(e) => Err(e),
    };
    match undone {
        Ok(true) => {}
        Ok(false) => return tracing::info!(%room, "another request finished the room; nothing to undo"),
        Err(e) => return tracing::error!(%room, error = %e, "the room's reservation is left for the sweeper"),
    }
    let channel = match stream_channel(stream, cid).await {
        Ok(channel) => channel,
        Err(e) => {
            return tracing::error!(%cid, error = %e, "cannot tell whether a channel was made; `gymchat audit` reports one left");
        }
    };
    let Some(channel) = channel else { return };
    let pointed_at = match store.session().await {
        Ok(mut db) => db.rooms_by_channel_ids(&[cid.id().to_string()]).await.map(|r| !r.rows.is_empty()),
        Err(e) => Err(e),
    };
    if !made_by(&channel, creator, reserved_at) || !matches!(pointed_at, Ok(false)) {
        return tracing::info!(%cid, "the channel was not provably made by this request; it is kept");
    }
    if let Err(e) = stream.delete_channel(cid, false).await {
        tracing::error!(%cid, error = %e, "a channel without a room is left behind; `gymchat audit` reports it");
    }
}

/// Whether `channel` is one this request made: created by the room's creator no earlier than the
/// reservation (less a few seconds of clock difference with Stream), and without a message.
pub(crate) fn made_by(channel: &Channel, creator: &StreamUserId, reserved_at: DateTime<Utc>) -> bool {
    let by_creator = channel.created_by.as_ref().is_some_and(|c| c.id.as_str() == creator.as_str());
    let after = channel.created_at >= reserved_at - chrono::Duration::seconds(5);
    by_creator && after && channel.last_message_at.is_none()
}

/// The room, finished first when it is still pending: this request takes the reservation over
/// and makes the channel with the room's members as the database has them (see the module's
/// docs). `acting` is the creator if the channel must be made.
pub(crate) async fn settle(store: &Store, stream: &Client, room: Room, acting: &StreamUserId) -> ApiResult<Room> {
    let mut db = store.session().await?;
    if db.pending_room(room.id).await?.is_none() {
        return Ok(room);
    }
    let request = request_id();
    if !db.take_over_room(room.id, &request).await? {
        return Ok(room);
    }
    let members: Vec<StreamUserId> =
        db.room_members(room.id).await?.into_iter().map(|u| StreamUserId::for_member(room.gym_id, u)).collect();
    drop(db);
    let cid = super::room_cid(&room)?;
    let data = channel_data(room.gym_id, room.name.as_deref(), acting, &members);
    make_channel(stream, &cid, &data, &members).await?;
    store.session().await?.confirm_room(room.id).await?;
    Ok(room)
}

/// The room, with a new channel when it was closed because its channel is gone (Stream sent
/// `channel.deleted`): a pair's or an event's room is found again by its key, so it must work
/// again. Recreated at the same cid (Stream starts a soft-deleted cid afresh, empty) with the
/// room's members, and ACTIVE again. A closed room whose channel still exists (a finished
/// event's, frozen) is returned as it is.
pub(crate) async fn reopen_if_gone(
    store: &Store,
    stream: &Client,
    room: Room,
    acting: &StreamUserId,
) -> ApiResult<Room> {
    if room.is_active() {
        return Ok(room);
    }
    let cid = super::room_cid(&room)?;
    if stream_channel(stream, &cid).await?.is_some() {
        return Ok(room);
    }
    let members: Vec<StreamUserId> = store
        .session()
        .await?
        .room_members(room.id)
        .await?
        .into_iter()
        .map(|u| StreamUserId::for_member(room.gym_id, u))
        .collect();
    let data = channel_data(room.gym_id, room.name.as_deref(), acting, &members);
    make_channel(stream, &cid, &data, &members).await?;
    let now = Utc::now();
    store.session().await?.set_room_status(room.id, RoomStatus::Active, now).await?;
    tracing::info!(room = %room.id, %cid, "a room whose channel was deleted has a new one");
    Ok(Room { status: Some(RoomStatus::Active), updated_at: Some(now), ..room })
}

/// Settles reservations older than `age` (their requests are over): a room whose channel exists
/// is finished (its members added) and confirmed; one whose channel does not is undone. Returns
/// how many were settled; one that cannot be settled now is tried again next time.
pub(crate) async fn sweep(store: &Store, stream: &Client, age: chrono::Duration) -> Result<usize, StoreError> {
    let stale = store.session().await?.stale_pending_rooms(age, 100).await?;
    let mut settled = 0;
    for pending in stale {
        match settle_stale(store, stream, &pending).await {
            Ok(()) => settled += 1,
            Err(e) => tracing::warn!(room = %pending.room_id, error = %e.detail, "a pending room is settled later"),
        }
    }
    Ok(settled)
}

async fn settle_stale(store: &Store, stream: &Client, pending: &PendingRoom) -> ApiResult<()> {
    let cid = Cid::parse(&pending.cid).map_err(ApiError::from)?;
    let request = request_id();
    let mut db = store.session().await?;
    if !db.take_over_room(pending.room_id, &request).await? {
        return Ok(());
    }
    let members: Vec<StreamUserId> = db
        .room_members(pending.room_id)
        .await?
        .into_iter()
        .map(|u| StreamUserId::for_member(pending.gym_id, u))
        .collect();
    drop(db);
    match stream_channel(stream, &cid).await? {
        Some(_) => {
            add_members(stream, &cid, &members).await?;
            store.session().await?.confirm_room(pending.room_id).await?;
        }
        None => {
            store.session().await?.abandon_room(pending.room_id, &request).await?;
        }
    }
    Ok(())
}
