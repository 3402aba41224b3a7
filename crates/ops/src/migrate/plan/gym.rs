//! One gym's plan: which rooms move and to which channel, which are left alone and why, what
//! their old channels hold, and who their senders become.
//!
//! No two rooms ever get one channel: when several rooms claim one event or one pair, the oldest
//! (by `created_at`, then id) takes `event_{G}_{E}` or the direct id and the others move as group
//! rooms (`room_{G}_{R}`), each with a note saying so. A target id that a channel not made for
//! this room already holds is not taken either.
//!
//! A room already on the channel its purpose gives it keeps that channel: when its members, team
//! or `gym_id` drifted, it is repaired in place (never frozen, never moved). A closed room whose
//! channel still exists moves too, to a frozen new channel, so that its history stays readable
//! under the target ids.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use gymchat_ids::{ChannelId, Cid, GymId, RoomId, StreamUserId, Team};
use gymchat_store::{RoomStatus, RoomWithMembers, Store};
use gymchat_stream::Client;
use gymchat_stream::model::ChannelState;
use gymchat_tenant::{ChannelKind, Purpose};
use serde_json::{Map, Value, json};

use super::read::{DbRead, by_age, read_db};
use super::spec::{ChannelSpec, ConversationCounts, GymPlan, MIGRATED_FROM, SkippedRoom};
use super::users::plan_users;
use crate::migrate::error::MigrateError;
use crate::migrate::notes::is_note;
use crate::migrate::options::Options;

/// Old channels whose history the plan reads at once.
const HISTORY_READS_AT_ONCE: usize = 32;
/// Fields of the old channel's data that the new channel does not take over as custom fields.
const NOT_CARRIED: &[&str] = &["team", "frozen", "created_by", "created_by_id", "member_count"];

/// Plans one gym.
pub(crate) async fn plan_gym(
    store: &Store,
    client: &Client,
    gym: GymId,
    options: Options,
    now: DateTime<Utc>,
) -> Result<GymPlan, MigrateError> {
    let history = options.history;
    let mut problems = Vec::new();
    let db = read_db(store, gym, &mut problems).await?;
    let mut skipped = Vec::new();
    let candidates = candidates(&db, &mut skipped);
    let old_cids: Vec<Cid> = candidates.iter().map(|(_, c)| c.clone()).collect();
    let old_states = channels_by_cid(client, &old_cids, "reading the rooms' channels", &mut problems).await;
    let mut channels = Vec::new();
    // Ids taken: every channel id a room of the gym points at.
    let mut taken: HashSet<String> = db.rooms.iter().filter_map(|r| r.room.stream_channel_id.clone()).collect();
    for (room, cid) in &candidates {
        let key = cid.to_string();
        let skip =
            |reason: &str| SkippedRoom { room_id: room.room.id.get(), cid: Some(key.clone()), reason: reason.into() };
        let Some(state) = old_states.get(&key) else {
            if problems.is_empty() {
                skipped.push(skip("the room's channel does not exist in Stream"));
            }
            continue;
        };
        match channel_spec(gym, &db, room, cid, state, &mut taken, now) {
            Ok(spec) => channels.push(spec),
            Err(reason) => skipped.push(skip(&reason)),
        }
    }
    avoid_foreign_targets(client, gym, &mut channels, &mut skipped, &mut problems).await;
    for c in &mut channels {
        c.rehost_attachments = options.rehost_attachments && history.reads_history();
    }
    // The history is read only when it moves: its messages counted, its senders mapped.
    let senders = if history.reads_history() {
        read_history(client, gym, &db, &mut channels, &mut problems).await
    } else {
        BTreeSet::new()
    };
    let users = plan_users(client, gym, &db, &channels, &senders, &mut problems).await;
    skipped.sort_by_key(|s| s.room_id);
    channels.sort_by_key(|c| c.room_id);
    // Reads finish in any order: the plan (and its hash) must not.
    problems.sort();
    Ok(GymPlan { gym_id: gym.get(), users, channels, skipped, problems })
}

/// Rooms that can move at all (closed ones included: their channel, when it exists, moves to a
/// frozen new one), oldest first, with the channel each points at; the others are skipped with
/// why.
fn candidates<'a>(db: &'a DbRead, skipped: &mut Vec<SkippedRoom>) -> Vec<(&'a RoomWithMembers, Cid)> {
    let mut out = Vec::new();
    for r in by_age(&db.rooms) {
        let skip = |reason: &str| SkippedRoom {
            room_id: r.room.id.get(),
            cid: r.room.stream_channel_id.clone(),
            reason: reason.to_owned(),
        };
        match gymchat_tenant::room_cid(&r.room) {
            None => skipped.push(skip("the room has no channel")),
            Some(Err(e)) => skipped.push(skip(&format!("the room's channel id is not one Stream takes: {e}"))),
            Some(Ok(_)) if r.members.is_empty() => skipped.push(skip("the room has no members")),
            Some(Ok(cid)) => out.push((r, cid)),
        }
    }
    out
}

/// The live channels among `cids`, by cid; a failed read is a problem of the gym.
async fn channels_by_cid(
    client: &Client,
    cids: &[Cid],
    what: &str,
    problems: &mut Vec<String>,
) -> HashMap<String, ChannelState> {
    match client.channels_by_cids(cids).await {
        Ok(states) => {
            problems.extend(states.problems("channel"));
            states.items.into_iter().map(|s| (s.channel.cid.to_string(), s)).collect()
        }
        Err(e) => {
            problems.push(format!("{what}: {e}"));
            HashMap::new()
        }
    }
}

/// A channel is tenant-scoped for the gym: team, gym_id and every member in the gym's form.
fn scoped(state: &ChannelState, gym: GymId, expected: &BTreeSet<String>) -> bool {
    let team = state.channel.team.as_ref().map(Team::as_str);
    let members = state.members.iter().map(|m| m.user_id.as_str());
    gymchat_tenant::team_matches(team, gym)
        && gymchat_tenant::gym_id_matches(state.channel.custom.get(gymchat_tenant::GYM_ID_FIELD), gym)
        && gymchat_tenant::member_diff(expected.iter().map(String::as_str), members).is_empty()
}

/// What moving `room` means, or why it is left alone. Takes the new channel's id in `taken`.
fn channel_spec(
    gym: GymId,
    db: &DbRead,
    room: &RoomWithMembers,
    cid: &Cid,
    state: &ChannelState,
    taken: &mut HashSet<String>,
    now: DateTime<Utc>,
) -> Result<ChannelSpec, String> {
    let (mut members, mut dropped) = (BTreeSet::new(), Vec::new());
    for u in &room.members {
        if db.people.users.contains_key(u) {
            members.insert(StreamUserId::for_member(gym, *u).to_string());
        } else {
            dropped.push(u.get());
        }
    }
    if scoped(state, gym, &members) {
        return Err("already migrated: team, gym_id and every member in the gym's form".into());
    }
    let purpose = Purpose::of_room(room, |e| db.events.contains_key(&e));
    let on_target =
        purpose.channel_id(gym).is_ok_and(|id| id == *cid.id()) || ChannelId::group(gym, room.room.id) == *cid.id();
    let (kind, new_id, mut note) =
        if on_target { (purpose.kind(), cid.id().clone(), None) } else { target_id(gym, db, room, taken) };
    if taken.contains(new_id.as_str()) && new_id.as_str() != cid.id().as_str() {
        return Err(format!("its target id {new_id} is taken by another room"));
    }
    taken.insert(new_id.to_string());
    if on_target {
        note = Some(format!(
            "{cid} is already the room's target channel: its members, team and gym_id are repaired in place, it is \
             neither moved nor frozen"
        ));
    }
    let closed = room.room.status == Some(RoomStatus::Closed);
    let event_over = room.room.event_id.and_then(|e| db.events.get(&e)).is_some_and(|e| e.is_over(now));
    let created_by = state
        .channel
        .created_by
        .as_ref()
        .and_then(|c| db.people.target(c.id.as_str()))
        .unwrap_or_else(|| StreamUserId::bot(gym));
    let mut member_targets = BTreeMap::new();
    let mut member_roles = BTreeMap::new();
    for m in &state.members {
        let Some(target) = db.people.target(m.user_id.as_str()) else { continue };
        if let Some(role) = m.channel_role.as_deref().filter(|r| *r != "channel_member" && !r.is_empty()) {
            member_roles.insert(target.to_string(), role.to_owned());
        }
        member_targets.insert(m.user_id.to_string(), target.to_string());
    }
    Ok(ChannelSpec {
        room_id: room.room.id.get(),
        kind,
        old_cid: cid.to_string(),
        new_cid: Cid::new(cid.channel_type().clone(), new_id).to_string(),
        members: members.into_iter().collect(),
        old_members: state.members.iter().map(|m| m.user_id.to_string()).collect(),
        dropped_members: dropped,
        team: gymchat_tenant::team(gym).to_string(),
        created_by: created_by.to_string(),
        custom: new_custom(gym, room, cid, state),
        old_frozen: state.channel.frozen,
        frozen_after: !on_target && (state.channel.frozen || event_over || closed),
        messages: 0,
        senders: BTreeMap::new(),
        rehost_attachments: false,
        mentioned: BTreeMap::new(),
        old_data: state.channel.data_for_full_update(),
        note,
        repair: on_target,
        member_targets,
        member_roles,
        conversation: ConversationCounts::default(),
        last_message_at: state.channel.last_message_at,
    })
}

/// The id a room's purpose gives it, unless another room or channel took it: then its group id,
/// with a note saying why.
fn target_id(
    gym: GymId,
    db: &DbRead,
    room: &RoomWithMembers,
    taken: &HashSet<String>,
) -> (ChannelKind, ChannelId, Option<String>) {
    let group = ChannelId::group(gym, room.room.id);
    let purpose = Purpose::of_room(room, |e| db.events.contains_key(&e));
    match purpose.channel_id(gym) {
        Ok(id) if purpose.kind() == ChannelKind::Group => (ChannelKind::Group, id, None),
        Ok(id) if !taken.contains(id.as_str()) => (purpose.kind(), id, None),
        Ok(id) => {
            let note = format!("{id} belongs to an older room or channel: this room moves as a group room");
            (ChannelKind::Group, group, Some(note))
        }
        Err(_) => (ChannelKind::Group, group, None),
    }
}

/// The new channel's custom fields: the old channel's own, its name (the room's when it had
/// none), the gym's `gym_id`, and `migrated_from`.
fn new_custom(gym: GymId, room: &RoomWithMembers, old: &Cid, state: &ChannelState) -> Map<String, Value> {
    let mut custom: Map<String, Value> =
        state.channel.data_for_full_update().into_iter().filter(|(k, _)| !NOT_CARRIED.contains(&k.as_str())).collect();
    let name = if custom.contains_key("name") { None } else { room.room.name.as_deref() };
    custom.extend(gymchat_tenant::channel_custom(gym, name));
    custom.insert(MIGRATED_FROM.into(), json!(old.to_string()));
    custom
}

/// A target cid that a channel not made from this room holds: the room moves as a group room
/// instead, or is left alone when its group id is taken too.
async fn avoid_foreign_targets(
    client: &Client,
    gym: GymId,
    channels: &mut Vec<ChannelSpec>,
    skipped: &mut Vec<SkippedRoom>,
    problems: &mut Vec<String>,
) {
    let new_cids: Vec<Cid> = channels.iter().filter_map(|c| Cid::parse(&c.new_cid).ok()).collect();
    let existing = match client.channels_by_cids(&new_cids).await {
        Ok(existing) => existing,
        Err(e) => return problems.push(format!("reading the target channels: {e}")),
    };
    problems.extend(existing.problems("target channel"));
    let existing: HashMap<String, ChannelState> =
        existing.items.into_iter().map(|s| (s.channel.cid.to_string(), s)).collect();
    channels.retain_mut(|c| {
        let Some(found) = existing.get(&c.new_cid) else { return true };
        if c.repair || found.channel.custom.get(MIGRATED_FROM) == Some(&json!(c.old_cid)) {
            return true;
        }
        let Ok(room) = RoomId::new(c.room_id) else { return false };
        let group_cid =
            format!("{}:{}", c.old_cid.split(':').next().unwrap_or("messaging"), ChannelId::group(gym, room));
        if existing.contains_key(&group_cid) || c.new_cid == group_cid {
            skipped.push(SkippedRoom {
                room_id: c.room_id,
                cid: Some(c.old_cid.clone()),
                reason: format!("{} exists in Stream and was not made from this room", c.new_cid),
            });
            return false;
        }
        c.note = Some(format!("{} exists in Stream and was not made from this room: moves as a group room", c.new_cid));
        c.new_cid = group_cid;
        c.kind = ChannelKind::Group;
        true
    });
}

/// How many messages each old channel holds and who wrote them, reading
/// [`HISTORY_READS_AT_ONCE`] channels at a time (the client paces them). Returns every sender
/// and every mentioned gym member seen (their target users must exist).
async fn read_history(
    client: &Client,
    gym: GymId,
    db: &DbRead,
    channels: &mut [ChannelSpec],
    problems: &mut Vec<String>,
) -> BTreeSet<String> {
    let bot = StreamUserId::bot(gym);
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
                let history: Vec<_> = history.into_iter().filter(|m| !is_note(&m.id)).collect();
                c.messages = history.len();
                c.conversation = ConversationCounts::of(&history, &|url| client.on_stream_cdn(url));
                for m in &history {
                    let Some(sender) = m.user.as_ref().map(|u| u.id.to_string()) else { continue };
                    let target = db.people.target(&sender).unwrap_or_else(|| bot.clone());
                    c.senders.insert(sender.clone(), target.to_string());
                    senders.insert(sender);
                }
                // A mentioned gym member needs their target user too, member of the room or not.
                for m in &history {
                    for named in m.mentioned_user_ids() {
                        if let Some(target) = db.people.target(named) {
                            c.mentioned.insert(named.to_owned(), target.to_string());
                            senders.insert(named.to_owned());
                        }
                    }
                }
            }
            Err(e) => problems.push(format!("reading the history of {cid}: {e}")),
        }
    }
    senders
}
