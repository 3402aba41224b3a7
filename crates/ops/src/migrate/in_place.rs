//! Moving one room in place: its channel keeps its id and gets the target members, team and
//! `gym_id` in one read-modify-write full update (more than 100 members in further updates).
//! What each member had follows their new id: their role (added with it), their read position
//! (read before the legacy ids leave, kept in the item's detail so a resumed run still has it,
//! and marked once the new ids are in: the same messages, so the same unread count, except that
//! a member who had read nothing reads everything, since Stream cannot mark a member unread
//! here, and that their own legacy messages after their read position count for the new id,
//! since the messages keep their legacy senders; sending marks one's channel read, so that is
//! rare), and the room hidden for whoever hid it. History a member cleared is not carried: the
//! new id sees the channel's whole history.
//!
//! `planned → updating → verifying → done`

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use gymchat_ids::{Cid, GymId, RoomId, StreamUserId};
use gymchat_store::{ItemState, MigrationItem};
use gymchat_stream::Client;
use gymchat_stream::model::Message;
use serde_json::{Map, Value, json};

use super::channels::{parse_spec, update_data_and_members, users, verify};
use super::error::StepError;
use super::plan::spec::ChannelSpec;
use super::run::Runner;

/// The order of an in-place item's states.
const ORDER: &[ItemState] = &[ItemState::Planned, ItemState::Updating, ItemState::Verifying, ItemState::Done];

/// Moves one room in place.
pub(crate) async fn move_in_place(runner: &Runner, item: MigrationItem) -> Result<(), StepError> {
    let (spec, cid, _) = parse_spec(&item)?;
    let at = ORDER.iter().position(|s| *s == item.state).unwrap_or(0);
    let want: BTreeSet<&String> = spec.members.iter().collect();
    let mut detail = item.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()).unwrap_or(json!({}));
    if at < 2 {
        if detail.get(READS).is_none() {
            detail[READS] = read_positions(&runner.client, &spec, &cid).await?;
        }
        runner.advance(item.id, ItemState::Updating, Some(&detail)).await?;
        let add = users(&spec.members)?;
        let remove: Vec<StreamUserId> =
            users(&spec.old_members.iter().filter(|m| !want.contains(m)).cloned().collect::<Vec<_>>())?;
        let (team, frozen) = (spec.team.clone(), spec.frozen_after);
        let gym_id = spec.custom.get(gymchat_tenant::GYM_ID_FIELD).cloned().unwrap_or(Value::Null);
        let edit = move |d: &mut Map<String, Value>| {
            d.insert("team".into(), json!(team));
            d.insert(gymchat_tenant::GYM_ID_FIELD.into(), gym_id);
            if frozen {
                d.insert("frozen".into(), json!(true));
            }
        };
        update_data_and_members(&runner.client, &spec, &cid, edit, &add, &remove).await?;
    }
    runner.advance(item.id, ItemState::Verifying, None).await?;
    verify(&runner.client, &spec, &cid).await?;
    carry(runner, &spec, &cid, &detail[READS]).await?;
    runner.done(item.id, ItemState::Done, None).await
}

/// Where the read positions wait in the item's detail.
const READS: &str = "reads";

/// What each member who changes id had read: the message their read state names (or its time),
/// or everything when Stream listed no read state for them (past the first hundred).
async fn read_positions(client: &Client, spec: &ChannelSpec, cid: &Cid) -> Result<Value, StepError> {
    let state = client.get_or_create_channel(cid, None, 0, None).await?.body;
    let mut reads = Map::new();
    for (old, target) in spec.member_targets.iter().filter(|(old, target)| old != target) {
        let position = match state.read.iter().find(|r| r.user.id.as_str() == old) {
            Some(r) => json!({ "message_id": r.last_read_message_id, "at": r.last_read }),
            None => json!({ "all": true }),
        };
        reads.insert(target.clone(), position);
    }
    Ok(Value::Object(reads))
}

/// Marks each new id read where its legacy id had read, and hides the room for those who hid it.
async fn carry(runner: &Runner, spec: &ChannelSpec, cid: &Cid, reads: &Value) -> Result<(), StepError> {
    let client = &runner.client;
    let members: BTreeSet<StreamUserId> = client.channel_members(cid).await?.into_iter().collect();
    let mut history: Option<Vec<Message>> = None;
    for (target, position) in reads.as_object().into_iter().flatten() {
        let target = StreamUserId::parse(target)?;
        if !members.contains(&target) {
            continue;
        }
        let upto = match (position["message_id"].as_str(), position["at"].as_str()) {
            (Some(id), _) => Some(id.to_owned()),
            (None, Some(at)) => {
                let at: DateTime<Utc> = at.parse().map_err(|e| StepError::Drift(format!("read time {at}: {e}")))?;
                if history.is_none() {
                    history = Some(client.channel_history(cid).await?);
                }
                let read = history.iter().flatten().rfind(|m| m.created_at <= at);
                // Nothing read: the new id has read everything on joining (see the module).
                let Some(read) = read else { continue };
                Some(read.id.clone())
            }
            (None, None) => None,
        };
        client.mark_read(cid, &target, upto.as_deref()).await?;
    }
    let room = RoomId::new(spec.room_id)?;
    let gym = GymId::new(spec.gym_id()?)?;
    for hidden in runner.store.session().await?.room_hidden_by(room).await?.rows {
        let target = StreamUserId::for_member(gym, hidden.user_id);
        if members.contains(&target) {
            client.hide_channel(cid, &target, false).await?;
        }
    }
    Ok(())
}
