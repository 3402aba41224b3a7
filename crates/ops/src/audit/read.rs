//! What the audit reads for one gym: the rooms, members, people, events and gymchat's own records
//! from the database, and from Stream every channel of the gym's team plus every channel a room
//! points at, the rooms of other gyms that claim the gym's unclaimed channels, and the history of
//! those unclaimed channels (their evidence).
//!
//! A read that fails does not stop the audit: the source is marked incomplete with the reason, and
//! what was read is kept, so the report says what it knows and that it is not everything.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use gymchat_ids::{Cid, EventId, GymId, RoomId, StreamUserId, Team, UserId};
use gymchat_store::{ChannelMove, Event, Membership, RetiredRoom, Room, RoomWithMembers, SkippedRow, Store, User};
use gymchat_stream::model::ChannelState;
use gymchat_stream::{ChannelListing, Client, StreamError};
use serde_json::{Value, json};

use super::error::AuditError;

/// Hash maps and sets keyed by the audit's hundreds of thousands of cids and ids: foldhash
/// hashes short strings several times faster than the standard library's SipHash, and the keys
/// come from the operator's own database and Stream app.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// See [`FastMap`].
pub(crate) type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;

/// A channel as the audit needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChannelInfo {
    pub cid: Cid,
    pub team: Option<String>,
    pub frozen: bool,
    pub members: Vec<String>,
    pub gym_id: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    /// Known for channels no room of the gym points at (their history was read).
    pub message_count: Option<usize>,
    /// Listed as a channel of the gym's team (not only read because a room points at it).
    pub in_team: bool,
}

impl ChannelInfo {
    fn from_state(state: ChannelState) -> Self {
        let c = state.channel;
        Self {
            gym_id: c.custom.get("gym_id").cloned(),
            team: c.team.map(|t| t.to_string()),
            frozen: c.frozen,
            members: state.members.into_iter().map(|m| m.user_id.to_string()).collect(),
            created_at: c.created_at,
            last_message_at: c.last_message_at,
            message_count: None,
            in_team: false,
            cid: c.cid,
        }
    }
}

/// A channel a room names, as a cid and as the text the audit keys channels by.
#[derive(Debug, Clone)]
pub(crate) struct Pointer {
    pub cid: Cid,
    pub key: String,
}

/// A room with what it points at: none, a channel, or why its channel id is not one Stream
/// accepts.
pub(crate) type RoomAndPointer<'a> = (&'a RoomWithMembers, Option<&'a Result<Pointer, String>>);

/// The database's side of a gym.
#[derive(Debug, Default)]
pub(crate) struct DbSide {
    pub rooms: Vec<RoomWithMembers>,
    /// What each room points at (`rooms[i]` at `pointers[i]`), worked out once as the rooms are
    /// read: none, a channel, or why the id it names is not one Stream accepts.
    pub pointers: Vec<Option<Result<Pointer, String>>>,
    pub memberships: Vec<Membership>,
    pub users: HashMap<UserId, User>,
    /// Sanitised Auth0 subjects of the gym's people, to map the oldest Stream ids back.
    pub by_auth0: HashMap<String, UserId>,
    pub events: HashMap<EventId, Event>,
    pub moves: Vec<ChannelMove>,
    pub retired: Vec<RetiredRoom>,
    pub roomless_member_rows: Vec<(i64, i64)>,
    /// The rooms (of any gym) that exist among those the gym's unclaimed channels name.
    pub named_rooms: BTreeSet<RoomId>,
    pub skipped: Vec<SkippedRow>,
    pub problems: Vec<String>,
}

impl DbSide {
    /// Read whole: no failed read and no row set aside.
    pub fn complete(&self) -> bool {
        self.problems.is_empty() && self.skipped.is_empty()
    }

    /// Each room with the channel it points at.
    pub fn rooms_and_pointers(&self) -> impl Iterator<Item = RoomAndPointer<'_>> {
        self.rooms.iter().zip(&self.pointers).map(|(room, pointer)| (room, pointer.as_ref()))
    }

    /// The channels the gym's rooms point at, by key.
    pub fn pointed_keys(&self) -> FastSet<&str> {
        self.pointers.iter().filter_map(|p| p.as_ref()?.as_ref().ok()).map(|p| p.key.as_str()).collect()
    }
}

/// Stream's side of a gym.
#[derive(Debug, Default)]
pub(crate) struct StreamSide {
    /// Every channel read, by cid; those of the gym's team say so ([`ChannelInfo::in_team`]).
    pub channels: FastMap<String, ChannelInfo>,
    /// The cids of the team's channels that no room of the gym points at, sorted.
    pub unclaimed: Vec<String>,
    /// Rooms of other gyms pointing at a channel of this gym's team, by cid.
    pub claimed_elsewhere: HashMap<String, Room>,
    /// The Stream users who are members of the gym's channels, with their teams; a member id
    /// missing here has no Stream user (or it is deleted).
    pub users: HashMap<String, Vec<String>>,
    pub problems: Vec<String>,
}

impl StreamSide {
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The cid a room points at, if it names one; an id Stream would not accept, with why.
pub(crate) fn room_cid(room: &Room) -> Option<Result<Cid, String>> {
    Some(gymchat_tenant::room_cid(room)?.map_err(|e| e.to_string()))
}

/// Reads the database's side of `gym`. Fails only when the gym does not exist or the database
/// cannot be reached at all.
pub(crate) async fn read_db(store: &Store, gym: GymId) -> Result<DbSide, AuditError> {
    let mut s = store.session().await?;
    if s.gym(gym).await?.is_none() {
        return Err(AuditError::UnknownGym(gym));
    }
    let mut side = DbSide::default();
    let rooms = s.rooms_with_members(gym).await?;
    side.skipped.extend(rooms.skipped);
    side.rooms = rooms.rows;
    side.pointers =
        side.rooms.iter().map(|r| Some(room_cid(&r.room)?.map(|cid| Pointer { key: cid.to_string(), cid }))).collect();
    let memberships = s.memberships_of_gym(gym).await?;
    side.skipped.extend(memberships.skipped);
    side.memberships = memberships.rows;

    let people: BTreeSet<UserId> = side
        .rooms
        .iter()
        .flat_map(|r| r.members.iter().copied())
        .chain(side.memberships.iter().map(|m| m.user_id))
        .collect();
    let people: Vec<UserId> = people.into_iter().collect();
    let users = s.users(&people).await?;
    side.skipped.extend(users.skipped);
    side.by_auth0 = gymchat_tenant::people_by_auth0(&users.rows);
    side.users = users.rows.into_iter().map(|u| (u.id, u)).collect();
    let event_ids: Vec<EventId> = side.rooms.iter().filter_map(|r| r.room.event_id).collect();
    read_events(&mut s, &mut side, &event_ids).await?;
    side.moves = s.channel_moves(gym).await?;
    side.retired = s.retired_rooms(gym).await?;
    side.roomless_member_rows = s.roomless_member_rows(gym).await?;
    Ok(side)
}

async fn read_events(s: &mut gymchat_store::Session, side: &mut DbSide, ids: &[EventId]) -> Result<(), AuditError> {
    let wanted: Vec<EventId> = ids.iter().filter(|id| !side.events.contains_key(id)).copied().collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let events = s.events(&wanted).await?;
    side.skipped.extend(events.skipped);
    side.events.extend(events.rows.into_iter().map(|e| (e.id, e)));
    Ok(())
}

/// Every channel of the gym's team, each page turned into the audit's smaller records as it
/// arrives. Needs nothing from the database, so it runs while the database is read.
/// Each channel comes with its key, made while the listing waits for pages.
pub(crate) async fn list_team(
    client: &Client,
    gym: GymId,
) -> Result<ChannelListing<(String, ChannelInfo)>, StreamError> {
    let to_info: gymchat_stream::ChannelMapper<(String, ChannelInfo)> = std::sync::Arc::new(|state| {
        let info = ChannelInfo { in_team: true, ..ChannelInfo::from_state(state) };
        (info.cid.to_string(), info)
    });
    client.list_all_channels_as(json!({ "team": Team::for_gym(gym).as_str() }), to_info).await
}

/// Stream users looked up by id: which ids were asked for, the teams of those found, and why a
/// lookup failed.
#[derive(Debug, Default)]
pub(crate) struct UserLookup {
    asked: HashSet<String>,
    found: HashMap<String, Vec<String>>,
    problems: Vec<String>,
}

impl UserLookup {
    /// Looks up the ids not asked for yet.
    pub async fn look_up(&mut self, client: &Client, ids: impl IntoIterator<Item = impl AsRef<str>>) {
        let mut fresh = Vec::new();
        for id in ids {
            let id = id.as_ref();
            if !self.asked.contains(id) {
                self.asked.insert(id.to_owned());
                fresh.push(id.to_owned());
            }
        }
        if fresh.is_empty() {
            return;
        }
        match client.users_by_ids(&fresh).await {
            Ok(users) => {
                self.problems.extend(users.problems("Stream user"));
                self.found.extend(
                    users
                        .items
                        .into_iter()
                        .map(|u| (u.id.to_string(), u.teams.iter().map(|t| t.to_string()).collect())),
                );
            }
            Err(e) => self.problems.push(format!("reading the Stream users of the gym's channels: {e}")),
        }
    }

    /// The users the gym's channels should have: each person's tenant-scoped id. Looked up while
    /// the team's channels are still being listed, so that once they are, only the ids nobody
    /// expected (legacy ones, strangers) are left to ask for.
    pub async fn expected(client: &Client, gym: GymId, db: &DbSide) -> Self {
        let mut lookup = Self::default();
        lookup.look_up(client, db.users.keys().map(|u| StreamUserId::for_member(gym, *u).to_string())).await;
        lookup
    }
}

/// Reads Stream's side of `gym`, given the database's side, the team's listing and the users
/// looked up so far. Never fails: what could not be read makes the side incomplete, with the
/// reason.
pub(crate) async fn read_stream(
    store: &Store,
    client: &Client,
    gym: GymId,
    db: &mut DbSide,
    team_listing: Result<ChannelListing<(String, ChannelInfo)>, StreamError>,
    mut users: UserLookup,
) -> StreamSide {
    let mut side = StreamSide::default();
    let team = Team::for_gym(gym);
    match team_listing {
        Ok(listing) => {
            for t in &listing.incomplete_at {
                side.problems.push(format!(
                    "more than a page of channels share the creation time {t}: the listing cannot vouch for all of them"
                ));
            }
            for u in &listing.undecodable {
                side.problems.push(format!("channel {} of the team could not be read: {}", u.id, u.reason));
            }
            side.channels.extend(listing.channels);
        }
        Err(e) => side.problems.push(format!("listing the channels of team {team}: {e}")),
    }

    // Channels the rooms point at that the team listing did not hold (legacy channels have no team).
    let pointed: Vec<Cid> = db
        .pointers
        .iter()
        .filter_map(|p| p.as_ref()?.as_ref().ok())
        .filter(|p| !side.channels.contains_key(&p.key))
        .map(|p| p.cid.clone())
        .collect();
    match client.channels_by_cids(&pointed).await {
        Ok(states) => {
            side.problems.extend(states.problems("channel"));
            for state in states.items {
                let info = ChannelInfo::from_state(state);
                side.channels.insert(info.cid.to_string(), info);
            }
        }
        Err(e) => side.problems.push(format!("reading the channels the rooms point at: {e}")),
    }
    // The Stream users involved: every member of the gym's channels not looked up already.
    let mut members: Vec<&str> = side
        .channels
        .values()
        .flat_map(|c| c.members.iter().map(String::as_str))
        .collect::<FastSet<_>>()
        .into_iter()
        .collect();
    members.sort_unstable();
    users.look_up(client, members).await;
    side.users = users.found;
    side.problems.extend(users.problems);

    // The team's channels that no room of the gym points at: who else claims them, what they hold.
    let ours = db.pointed_keys();
    let mut unclaimed: Vec<String> = side
        .channels
        .iter()
        .filter(|(cid, c)| c.in_team && !ours.contains(cid.as_str()))
        .map(|(cid, _)| cid.clone())
        .collect();
    drop(ours);
    unclaimed.sort_unstable();
    if !unclaimed.is_empty() {
        let bare: Vec<String> =
            unclaimed.iter().filter_map(|c| c.split_once(':').map(|(_, id)| id.to_owned())).collect();
        let mut session = match store.session().await {
            Ok(s) => Some(s),
            Err(e) => {
                db.problems.push(format!("opening a database session: {e}"));
                None
            }
        };
        if let Some(s) = session.as_mut() {
            match s.rooms_by_channel_ids(&bare).await {
                Ok(rooms) => {
                    db.skipped.extend(rooms.skipped);
                    for room in rooms.rows.into_iter().filter(|r| r.gym_id != gym) {
                        if let Some(Ok(cid)) = room_cid(&room) {
                            side.claimed_elsewhere.insert(cid.to_string(), room);
                        }
                    }
                }
                Err(e) => db.problems.push(format!("reading rooms by channel: {e}")),
            }
        }
        let (mut events, mut rooms) = (Vec::new(), Vec::new());
        for cid in &unclaimed {
            if let Some(info) = side.channels.get_mut(cid) {
                match client.channel_history(&info.cid).await {
                    Ok(history) => info.message_count = Some(history.len()),
                    Err(e) => side.problems.push(format!("reading the history of {cid}: {e}")),
                }
                let named = gymchat_tenant::named(info.cid.id().as_str());
                events.extend(named.events);
                rooms.extend(named.room);
            }
        }
        if let Some(s) = session.as_mut() {
            if let Err(e) = read_events(s, db, &events).await {
                db.problems.push(format!("reading the events channels name: {e}"));
            }
            match s.existing_room_ids(&rooms).await {
                Ok(found) => db.named_rooms = found,
                Err(e) => db.problems.push(format!("reading the rooms channels name: {e}")),
            }
        }
    }
    side.unclaimed = unclaimed;
    side
}

/// A small helper for evidence: JSON of anything serialisable.
pub(crate) fn value<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
