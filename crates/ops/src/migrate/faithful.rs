//! Whether members see in each new channel what they saw in the old one (SYSTEM.md §5), for
//! every room a run moved with its history copied and that still points at the new channel:
//! every message of the old channel has its copy (thread replies, deleted placeholders), with
//! its reactions and its pin; each member's unread count and channel role are what they were.
//! Each difference is reported with its room. It compares the channels as they are now: run it
//! right after the migration, since what members do afterwards (reading, reacting, deleting)
//! shows too.

use std::collections::BTreeMap;

use gymchat_ids::{Cid, GymId, RoomId};
use gymchat_store::{ItemKind, ItemState, Store};
use gymchat_stream::Client;
use serde::Serialize;

use super::error::{MigrateError, StepError};
use super::history::sync_history;
use super::options::History;
use super::plan::spec::ChannelSpec;

/// One way a moved room's new channel differs from its old one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The room.
    pub room_id: i64,
    /// Its old channel.
    pub old_cid: String,
    /// Its new channel.
    pub new_cid: String,
    /// What differs.
    pub what: String,
}

/// The rooms of `gym` moved with their history copied and still on their new channel, newest
/// run first, one spec per room.
async fn copied_rooms(store: &Store, gym: GymId) -> Result<Vec<ChannelSpec>, MigrateError> {
    let mut session = store.session().await?;
    let mut runs = session.migration_runs().await?;
    runs.retain(|r| r.gyms.contains(&gym.get()) && r.history.parse::<History>().is_ok_and(History::moves_messages));
    runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
    let mut rooms: BTreeMap<i64, ChannelSpec> = BTreeMap::new();
    for run in runs {
        for item in session.migration_items(&run.run_id).await? {
            if item.kind != ItemKind::Channel || item.state != ItemState::Done || item.gym_id != gym.get() {
                continue;
            }
            let Ok(spec) = serde_json::from_str::<ChannelSpec>(&item.spec) else { continue };
            if spec.repair || rooms.contains_key(&spec.room_id) {
                continue;
            }
            let Ok(new) = Cid::parse(&spec.new_cid) else { continue };
            let Ok(room) = RoomId::new(spec.room_id) else { continue };
            let pointed = session.room(room).await?.and_then(|r| r.stream_channel_id);
            if pointed.as_deref() == Some(new.id().as_str()) {
                rooms.insert(spec.room_id, spec);
            }
        }
    }
    Ok(rooms.into_values().collect())
}

/// Every difference between the old and new channels of the gym's copied rooms.
pub(crate) async fn differences(store: &Store, client: &Client, gym: GymId) -> Result<Vec<Difference>, MigrateError> {
    let mut found = Vec::new();
    for spec in copied_rooms(store, gym).await? {
        let differ = |what: String| Difference {
            room_id: spec.room_id,
            old_cid: spec.old_cid.clone(),
            new_cid: spec.new_cid.clone(),
            what,
        };
        match compare(client, &spec).await {
            Ok(whats) => found.extend(whats.into_iter().map(differ)),
            Err(e) => found.push(differ(format!("could not be compared: {e}"))),
        }
    }
    Ok(found)
}

/// What differs between one room's old and new channel.
async fn compare(client: &Client, spec: &ChannelSpec) -> Result<Vec<String>, StepError> {
    let (old, new) = (Cid::parse(&spec.old_cid)?, Cid::parse(&spec.new_cid)?);
    let mut whats = Vec::new();
    let synced = sync_history(client, spec, &old, &new, false, None).await?;
    if synced.missing > 0 {
        whats.push(format!(
            "{} of the old channel's {} messages, their reactions and pins have no copy",
            synced.missing, synced.expected
        ));
    }
    let was = client.get_or_create_channel(&old, None, 0, None).await?.body;
    let is = client.get_or_create_channel(&new, None, 0, None).await?.body;
    for (old_id, target) in &spec.member_targets {
        let unread = |reads: &[gymchat_stream::model::ReadState], id: &str| {
            reads.iter().find(|r| r.user.id.as_str() == id).map(|r| r.unread_messages)
        };
        // Read state is listed for the first hundred members only: compare where both sides
        // list it.
        if let (Some(before), Some(after)) = (unread(&was.read, old_id), unread(&is.read, target))
            && before != after
        {
            whats.push(format!("{target} has {after} unread messages, {before} before as {old_id}"));
        }
    }
    let roles: BTreeMap<String, String> = client
        .channel_member_objects(&new)
        .await?
        .into_iter()
        .map(|m| (m.user_id.to_string(), m.channel_role.unwrap_or_else(|| "channel_member".to_owned())))
        .collect();
    for (target, role) in &spec.member_roles {
        let now = roles.get(target.as_str()).map_or("none (not a member)", String::as_str);
        if now != role {
            whats.push(format!("{target} is {now} in the new channel, {role} before"));
        }
    }
    Ok(whats)
}
