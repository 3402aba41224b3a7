//! What a migration will do, read from the database and Stream: per gym the Stream users to
//! create, the rooms to move (old cid → new cid with members, team, creator and custom fields),
//! the rooms left alone and why, and the messages to copy; plus an estimate of API calls and
//! minimum wall time for each strategy.
//!
//! Target ids follow SYSTEM.md §3. No two rooms ever get one channel: when several rooms claim
//! one event or one pair, the oldest (by `created_at`, then id) takes `event_{G}_{E}` or the
//! direct id and the others move as group rooms (`room_{G}_{R}`), each with a note saying so.
//! A target id that a channel not made for this room already holds is not taken either.
//!
//! The plan carries a hash of its content, which is everything it read that matters: applying a
//! saved plan re-plans and refuses when the hash differs (the world changed since).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use gymchat_ids::{ChannelId, Cid, GymId, RoomId, StreamUserId, Team, UserId, UserIdForm, classify_user_id};
use gymchat_store::{Event, RoomStatus, RoomWithMembers, Store, User};
use gymchat_stream::Client;
use gymchat_stream::model::ChannelState;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::estimate::{Estimate, estimates};
use super::{History, MigrateError, Strategy};
use crate::audit::read::{gym_id_matches, room_cid, sanitised_subjects};

/// The plan format's version.
pub const PLAN_VERSION: u32 = 1;
/// Custom field that marks a channel made by the migration, naming the channel it replaces.
pub const MIGRATED_FROM: &str = "migrated_from";
/// Prefix of the ids of the system notes the migration posts in old channels.
pub const NOTE_PREFIX: &str = "gymchat-moved-";
/// Old channels whose history the plan reads at once.
const HISTORY_READS_AT_ONCE: usize = 32;

/// What the operator chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// How channels move.
    pub strategy: Strategy,
    /// What happens to history (rebuild only).
    pub history: History,
}

/// A Stream user to create (or to give the gym's team).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    /// Target id.
    pub id: String,
    /// The person (none for the gym's bot).
    pub user_id: Option<i64>,
    /// The legacy ids this person had in the gym's channels.
    pub legacy_ids: Vec<String>,
    /// Display name (from the legacy Stream user, else the database).
    pub name: Option<String>,
    /// Avatar (likewise).
    pub image: Option<String>,
    /// The team.
    pub team: String,
    /// The target user exists already (it only needs the team).
    pub exists: bool,
}

/// A room to move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSpec {
    /// The room.
    pub room_id: i64,
    /// `direct`, `event`, `group`.
    pub kind: String,
    /// The channel it points at now.
    pub old_cid: String,
    /// The channel it will point at (the same for `in-place`).
    pub new_cid: String,
    /// Members, target ids, sorted.
    pub members: Vec<String>,
    /// The old channel's members (in-place removes those not in `members`).
    pub old_members: Vec<String>,
    /// Room members that get no Stream identity (no `user` row).
    pub dropped_members: Vec<i64>,
    /// Team.
    pub team: String,
    /// Creator of the new channel: the old creator's target id, else the gym's bot.
    pub created_by: String,
    /// Custom fields of the new channel (name, gym_id, the old channel's own fields).
    pub custom: Map<String, Value>,
    /// The old channel was frozen.
    pub old_frozen: bool,
    /// The new channel ends frozen (the old one was, or the room's event is over).
    pub frozen_after: bool,
    /// Messages in the old channel (the migration's own notes left out).
    pub messages: usize,
    /// Who the old channel's senders become: their target id, or the gym's bot for a sender
    /// with no `user` row.
    pub senders: BTreeMap<String, String>,
    /// The old channel's data as a full update carries it (what `in-place` rollback restores).
    pub old_data: Map<String, Value>,
    /// Why this room does not take the id its kind would give it, if so.
    pub note: Option<String>,
}

/// A room the migration leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRoom {
    /// The room.
    pub room_id: i64,
    /// The channel it points at, if any.
    pub cid: Option<String>,
    /// Why.
    pub reason: String,
}

/// One gym's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GymPlan {
    /// The gym.
    pub gym_id: i64,
    /// Users to create, before any channel is touched.
    pub users: Vec<UserSpec>,
    /// Rooms to move.
    pub channels: Vec<ChannelSpec>,
    /// Rooms left alone.
    pub skipped: Vec<SkippedRoom>,
    /// Rows or reads that failed; a gym with problems is not migrated.
    pub problems: Vec<String>,
}

impl GymPlan {
    /// Everything was read.
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A migration plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Format version.
    pub version: u32,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// The options.
    pub options: Options,
    /// Per gym.
    pub gyms: Vec<GymPlan>,
    /// Calls and minimum wall time of each strategy, side by side.
    pub estimates: Vec<Estimate>,
    /// SHA-256 of the options and the gyms' plans: what the plan read.
    pub content_hash: String,
}

impl Plan {
    /// The hash of the options and the gyms' plans.
    pub fn compute_hash(options: &Options, gyms: &[GymPlan]) -> String {
        let body = serde_json::to_vec(&json!({ "options": options, "gyms": gyms })).unwrap_or_default();
        hex::encode(Sha256::digest(&body))
    }

    /// The plan's hash matches its content (the file was not edited or cut).
    pub fn hash_holds(&self) -> bool {
        Self::compute_hash(&self.options, &self.gyms) == self.content_hash
    }

    /// Channels to move, over all gyms.
    pub fn channel_count(&self) -> usize {
        self.gyms.iter().map(|g| g.channels.len()).sum()
    }
}

/// How a Stream user id maps to a person of the gym.
pub(crate) struct People {
    gym: GymId,
    /// Sanitised Auth0 subject → person.
    by_auth0: HashMap<String, UserId>,
    /// Every person read, by id.
    pub users: HashMap<UserId, User>,
}

impl People {
    /// The person behind a Stream id, if it is one of the gym's forms.
    pub fn person(&self, stream_id: &str) -> Option<UserId> {
        match classify_user_id(stream_id) {
            UserIdForm::Legacy { user } => Some(user),
            UserIdForm::Target { gym, user } if gym == self.gym => Some(user),
            UserIdForm::Auth0 { .. } => self.by_auth0.get(stream_id).copied(),
            _ => None,
        }
    }

    /// The target id of the person behind a Stream id, when the person has a `user` row.
    pub fn target(&self, stream_id: &str) -> Option<StreamUserId> {
        self.person(stream_id).filter(|u| self.users.contains_key(u)).map(|u| StreamUserId::for_member(self.gym, u))
    }
}

/// Reads what the plan needs and makes it.
pub async fn plan(
    store: &Store,
    client: &Client,
    gyms: &[GymId],
    options: Options,
    now: DateTime<Utc>,
) -> Result<Plan, MigrateError> {
    let mut plans = Vec::with_capacity(gyms.len());
    for gym in gyms {
        plans.push(plan_gym(store, client, *gym, now).await?);
    }
    let content_hash = Plan::compute_hash(&options, &plans);
    Ok(Plan {
        version: PLAN_VERSION,
        generated_at: now,
        estimates: estimates(&plans),
        options,
        gyms: plans,
        content_hash,
    })
}

/// The database's rooms of a gym with what the plan reads around them.
struct DbRead {
    rooms: Vec<RoomWithMembers>,
    people: People,
    events: HashMap<gymchat_ids::EventId, Event>,
    gym_name: String,
}

async fn read_db(store: &Store, gym: GymId, problems: &mut Vec<String>) -> Result<DbRead, MigrateError> {
    let mut s = store.session().await?;
    let gym_row = s.gym(gym).await?.ok_or(MigrateError::UnknownGym(gym))?;
    let rooms = s.rooms_with_members(gym).await?;
    problems.extend(rooms.skipped.iter().map(|r| format!("{} {}: {}", r.table, r.key, r.reason)));
    let memberships = s.memberships_of_gym(gym).await?;
    let people: BTreeSet<UserId> = rooms
        .rows
        .iter()
        .flat_map(|r| r.members.iter().copied())
        .chain(memberships.rows.iter().map(|m| m.user_id))
        .collect();
    let users = s.users(&people.into_iter().collect::<Vec<_>>()).await?;
    problems.extend(users.skipped.iter().map(|r| format!("{} {}: {}", r.table, r.key, r.reason)));
    let by_auth0 = sanitised_subjects(&users.rows);
    let event_ids: Vec<_> = rooms.rows.iter().filter_map(|r| r.room.event_id).collect();
    let events = s.events(&event_ids).await?;
    problems.extend(events.skipped.iter().map(|r| format!("{} {}: {}", r.table, r.key, r.reason)));
    Ok(DbRead {
        rooms: rooms.rows,
        people: People { gym, by_auth0, users: users.rows.into_iter().map(|u| (u.id, u)).collect() },
        events: events.rows.into_iter().map(|e| (e.id, e)).collect(),
        gym_name: gym_row.name,
    })
}

/// Rooms in the order that decides who takes a shared id: oldest first, NULL times last.
fn by_age(rooms: &[RoomWithMembers]) -> Vec<&RoomWithMembers> {
    let mut sorted: Vec<&RoomWithMembers> = rooms.iter().collect();
    sorted.sort_by_key(|r| (r.room.created_at.is_none(), r.room.created_at, r.room.id));
    sorted
}

/// A channel is tenant-scoped for the gym: team, gym_id and every member in the gym's form.
fn scoped(state: &ChannelState, gym: GymId, expected: &BTreeSet<String>) -> bool {
    let team_ok = state.channel.team.as_ref().is_some_and(|t| *t == Team::for_gym(gym));
    let gym_ok = gym_id_matches(state.channel.custom.get("gym_id"), gym);
    let members: BTreeSet<String> = state.members.iter().map(|m| m.user_id.to_string()).collect();
    team_ok && gym_ok && members == *expected
}

async fn plan_gym(store: &Store, client: &Client, gym: GymId, now: DateTime<Utc>) -> Result<GymPlan, MigrateError> {
    let mut problems = Vec::new();
    let db = read_db(store, gym, &mut problems).await?;
    let team = Team::for_gym(gym);
    let bot = StreamUserId::bot(gym);
    let mut skipped = Vec::new();

    // Rooms that can move at all, with their channel read from Stream.
    let mut candidates: Vec<(&RoomWithMembers, Cid)> = Vec::new();
    for r in by_age(&db.rooms) {
        let skip = |reason: &str| SkippedRoom {
            room_id: r.room.id.get(),
            cid: r.room.stream_channel_id.clone(),
            reason: reason.to_owned(),
        };
        if r.room.status == Some(RoomStatus::Closed) {
            skipped.push(skip("closed room"));
            continue;
        }
        match room_cid(&r.room) {
            None => skipped.push(skip("the room has no channel")),
            Some(Err(e)) => skipped.push(skip(&format!("the room's channel id is not one Stream takes: {e}"))),
            Some(Ok(_)) if r.members.is_empty() => skipped.push(skip("the room has no members")),
            Some(Ok(cid)) => candidates.push((r, cid)),
        }
    }
    let old_cids: Vec<Cid> = candidates.iter().map(|(_, c)| c.clone()).collect();
    let old_states: HashMap<String, ChannelState> = match client.channels_by_cids(&old_cids).await {
        Ok(states) => states.into_iter().map(|s| (s.channel.cid.to_string(), s)).collect(),
        Err(e) => {
            problems.push(format!("reading the rooms' channels: {e}"));
            HashMap::new()
        }
    };

    // Ids taken: every channel id a room of the gym points at.
    let mut taken: HashSet<String> = db.rooms.iter().filter_map(|r| r.room.stream_channel_id.clone()).collect();
    let mut channels = Vec::new();
    for (r, cid) in &candidates {
        let key = cid.to_string();
        let Some(state) = old_states.get(&key) else {
            if problems.is_empty() {
                skipped.push(SkippedRoom {
                    room_id: r.room.id.get(),
                    cid: Some(key),
                    reason: "the room's channel does not exist in Stream".into(),
                });
            }
            continue;
        };
        let mut dropped = Vec::new();
        let mut members = BTreeSet::new();
        for u in &r.members {
            if db.people.users.contains_key(u) {
                members.insert(StreamUserId::for_member(gym, *u).to_string());
            } else {
                dropped.push(u.get());
            }
        }
        if scoped(state, gym, &members) {
            skipped.push(SkippedRoom {
                room_id: r.room.id.get(),
                cid: Some(key),
                reason: "already migrated: team, gym_id and every member in the gym's form".into(),
            });
            continue;
        }
        // The id its kind gives it, unless another room or a channel not made for it has it.
        let group = ChannelId::group(gym, r.room.id);
        let (kind, preferred) = match (r.room.is_direct, r.room.event_id, r.members.as_slice()) {
            (true, _, [a, b]) => ("direct", ChannelId::direct(gym, *a, *b).ok()),
            (false, Some(event), _) if db.events.contains_key(&event) => ("event", Some(ChannelId::event(gym, event))),
            _ => ("group", None),
        };
        let mut note = None;
        let new_id = match preferred {
            Some(id) if !taken.contains(id.as_str()) => id,
            Some(id) => {
                note = Some(format!("{id} belongs to an older room or channel: this room moves as a group room"));
                group
            }
            None => group,
        };
        if taken.contains(new_id.as_str()) && new_id.as_str() != cid.id().as_str() {
            skipped.push(SkippedRoom {
                room_id: r.room.id.get(),
                cid: Some(key),
                reason: format!("its target id {new_id} is taken by another room"),
            });
            continue;
        }
        taken.insert(new_id.to_string());
        let event_over = r.room.event_id.and_then(|e| db.events.get(&e)).is_some_and(|e| e.is_over(now));
        let mut custom: Map<String, Value> = state
            .channel
            .data_for_full_update()
            .into_iter()
            .filter(|(k, _)| !["team", "frozen", "created_by", "created_by_id", "member_count"].contains(&k.as_str()))
            .collect();
        if !custom.contains_key("name")
            && let Some(name) = &r.room.name
        {
            custom.insert("name".into(), json!(name));
        }
        custom.insert("gym_id".into(), json!(gym.to_string()));
        custom.insert(MIGRATED_FROM.into(), json!(key));
        let created_by = state
            .channel
            .created_by
            .as_ref()
            .and_then(|c| db.people.target(c.id.as_str()))
            .unwrap_or_else(|| bot.clone());
        let old_members: Vec<String> = state.members.iter().map(|m| m.user_id.to_string()).collect();
        channels.push(ChannelSpec {
            room_id: r.room.id.get(),
            kind: kind.to_owned(),
            old_cid: key,
            new_cid: Cid::new(cid.channel_type().clone(), new_id).to_string(),
            members: members.into_iter().collect(),
            old_members,
            dropped_members: dropped,
            team: team.to_string(),
            created_by: created_by.to_string(),
            custom,
            old_frozen: state.channel.frozen,
            frozen_after: state.channel.frozen || event_over,
            messages: 0,
            senders: BTreeMap::new(),
            old_data: state.channel.data_for_full_update(),
            note,
        });
    }

    // A target cid that a channel not made from this room holds: move as a group room instead.
    let new_cids: Vec<Cid> = channels.iter().filter_map(|c| Cid::parse(&c.new_cid).ok()).collect();
    match client.channels_by_cids(&new_cids).await {
        Ok(existing) => {
            let existing: HashMap<String, ChannelState> =
                existing.into_iter().map(|s| (s.channel.cid.to_string(), s)).collect();
            channels.retain_mut(|c| {
                let Some(found) = existing.get(&c.new_cid) else { return true };
                if found.channel.custom.get(MIGRATED_FROM) == Some(&json!(c.old_cid)) {
                    return true;
                }
                let Ok(room) = RoomId::new(c.room_id) else { return false };
                let group = ChannelId::group(gym, room);
                let group_cid = format!("{}:{group}", c.old_cid.split(':').next().unwrap_or("messaging"));
                if existing.contains_key(&group_cid) || c.new_cid == group_cid {
                    skipped.push(SkippedRoom {
                        room_id: c.room_id,
                        cid: Some(c.old_cid.clone()),
                        reason: format!("{} exists in Stream and was not made from this room", c.new_cid),
                    });
                    return false;
                }
                c.note = Some(format!(
                    "{} exists in Stream and was not made from this room: moves as a group room",
                    c.new_cid
                ));
                c.new_cid = group_cid;
                c.kind = "group".into();
                true
            });
        }
        Err(e) => problems.push(format!("reading the target channels: {e}")),
    }

    // History: how many messages each old channel holds, and who wrote them; read
    // `HISTORY_READS_AT_ONCE` channels at a time (the client paces them).
    let mut senders: BTreeSet<String> = BTreeSet::new();
    let mut reads = tokio::task::JoinSet::new();
    let mut next = 0;
    loop {
        while reads.len() < HISTORY_READS_AT_ONCE && next < channels.len() {
            let (index, client) = (next, client.clone());
            let cid = Cid::parse(&channels[next].old_cid);
            next += 1;
            reads.spawn(async move {
                let Ok(cid) = cid else { return (index, None) };
                let history = client.channel_history(&cid).await;
                (index, Some((cid, history)))
            });
        }
        let Some(done) = reads.join_next().await else { break };
        let (index, read) = match done {
            Ok(done) => done,
            // The gym is then not read whole, so it is not migrated.
            Err(e) => {
                problems.push(format!("a history read ended abnormally: {e}"));
                continue;
            }
        };
        let Some((cid, history)) = read else { continue };
        let c = &mut channels[index];
        match history {
            Ok(history) => {
                let own = history.iter().filter(|m| m.id.starts_with(NOTE_PREFIX)).count();
                c.messages = history.len() - own;
                for m in history.iter().filter(|m| !m.id.starts_with(NOTE_PREFIX)) {
                    let Some(sender) = m.user.as_ref().map(|u| u.id.to_string()) else { continue };
                    let target = db.people.target(&sender).unwrap_or_else(|| bot.clone());
                    c.senders.insert(sender.clone(), target.to_string());
                    senders.insert(sender);
                }
            }
            Err(e) => problems.push(format!("reading the history of {cid}: {e}")),
        }
    }

    let users = plan_users(client, gym, &db, &channels, &senders, &mut problems).await;
    skipped.sort_by_key(|s| s.room_id);
    channels.sort_by_key(|c| c.room_id);
    // Reads finish in any order: the plan (and its hash) must not.
    problems.sort();
    Ok(GymPlan { gym_id: gym.get(), users, channels, skipped, problems })
}

/// The target users the moved channels need: every member, every creator and every sender with a
/// `user` row, and the gym's bot (stand-in for senders who no longer exist, author of the notes).
async fn plan_users(
    client: &Client,
    gym: GymId,
    db: &DbRead,
    channels: &[ChannelSpec],
    senders: &BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Vec<UserSpec> {
    if channels.is_empty() {
        return Vec::new();
    }
    let team = Team::for_gym(gym).to_string();
    // Person → the legacy ids seen for them.
    let mut people: BTreeMap<UserId, BTreeSet<String>> = BTreeMap::new();
    for c in channels {
        for m in c.members.iter().chain(std::iter::once(&c.created_by)) {
            if let Some(u) = db.people.person(m) {
                people.entry(u).or_default();
            }
        }
        for m in &c.old_members {
            if let Some(u) = db.people.person(m).filter(|u| db.people.users.contains_key(u)) {
                people.entry(u).or_default().insert(m.clone());
            }
        }
    }
    for s in senders {
        if let Some(u) = db.people.person(s).filter(|u| db.people.users.contains_key(u)) {
            people.entry(u).or_default().insert(s.clone());
        }
    }
    let legacy: Vec<String> = people.values().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    let targets: Vec<String> = people
        .keys()
        .map(|u| StreamUserId::for_member(gym, *u).to_string())
        .chain(std::iter::once(StreamUserId::bot(gym).to_string()))
        .collect();
    let mut found: HashMap<String, gymchat_stream::model::User> = HashMap::new();
    match client.users_by_ids(&[legacy, targets].concat()).await {
        Ok(users) => found.extend(users.into_iter().map(|u| (u.id.to_string(), u))),
        Err(e) => problems.push(format!("reading Stream users: {e}")),
    }
    let needs = |id: &str| match found.get(id) {
        Some(u) if u.deleted_at.is_none() => {
            if u.teams.iter().any(|t| t.as_str() == team) {
                None
            } else {
                Some(true)
            }
        }
        _ => Some(false),
    };
    let mut users = Vec::new();
    for (person, legacy_ids) in &people {
        let id = StreamUserId::for_member(gym, *person).to_string();
        let Some(exists) = needs(&id) else { continue };
        let legacy_user = legacy_ids.iter().find_map(|l| found.get(l));
        let row = db.people.users.get(person);
        users.push(UserSpec {
            id,
            user_id: Some(person.get()),
            legacy_ids: legacy_ids.iter().cloned().collect(),
            name: legacy_user.and_then(|u| u.name.clone()).or_else(|| row.and_then(User::display_name)),
            image: legacy_user.and_then(|u| u.image.clone()).or_else(|| row.and_then(|u| u.picture.clone())),
            team: team.clone(),
            exists,
        });
    }
    let bot = StreamUserId::bot(gym).to_string();
    if let Some(exists) = needs(&bot) {
        users.push(UserSpec {
            id: bot,
            user_id: None,
            legacy_ids: Vec::new(),
            name: Some(db.gym_name.clone()),
            image: None,
            team,
            exists,
        });
    }
    users
}
