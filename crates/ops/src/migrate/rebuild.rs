//! Moving one room by rebuilding its channel, from whatever state the journal holds:
//!
//! `planned → creating → copying → verifying → freezing_old → switched → finishing → done`
//!
//! Each state is written before the call it guards; the write that starts a step also records
//! that the previous one succeeded, so an item's state is always the step under way, whose call
//! may or may not have happened, and every step before it is done.
//!
//! - create: the target channel with members, team, creator and custom fields (`migrated_from`
//!   names the old cid, so a channel with that id not made from this room is refused);
//! - copy: the old channel's history, when it is copied ([`super::history`]: thread replies,
//!   quotes, private readers; then reactions and pins, [`super::marks`]), its last message in
//!   the gym's channel-list order ([`super::order`]); with `--history import` the item waits
//!   here, in `copying`, until Stream's import of the run's file has completed
//!   ([`super::import`]);
//! - verify: members, team, `gym_id`, and every old message's copy present with its reactions
//!   and pin;
//! - freeze old: a silent system note in it saying where the conversation went (`SendMessage`,
//!   no push, kept hidden for whoever hid it), then the freeze, batched with the other rooms'
//!   by the run's [`super::freezer`] and read back; then the messages written meanwhile are
//!   copied;
//! - switch: one transaction holds the lease check, the room's new `stream_channel_id`, the
//!   channel move (the audit's "archived") and the item's state;
//! - finish: what each member had of the old channel follows them ([`super::carry`]: read
//!   position, hidden), and the new channel is frozen when the old one was or the room's event
//!   is over.

use chrono::Utc;
use gymchat_ids::{Cid, GymId, RoomId, StreamUserId};
use gymchat_store::{ChannelMove, ItemState, MigrationItem};
use gymchat_stream::model::{ChannelUpdate, NewMessage, SendOptions};
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use super::carry::carry_member_state;
use super::channels::{create, parse_spec, set_frozen, set_members, verify};
use super::error::StepError;
use super::history::sync_history;
use super::notes::moved_note_id;
use super::options::History;
use super::order::{LastMessageOrder, Turn};
use super::plan::spec::ChannelSpec;
use super::run::Runner;

/// The order of a rebuilt item's states.
const ORDER: &[ItemState] = &[
    ItemState::Planned,
    ItemState::Creating,
    ItemState::Copying,
    ItemState::Verifying,
    ItemState::FreezingOld,
    ItemState::Switched,
    ItemState::Finishing,
    ItemState::Done,
];

/// Position of a state in a rebuild; a state of no rebuild starts over (every step is safe to
/// repeat).
pub(crate) fn rank(state: ItemState) -> usize {
    ORDER.iter().position(|s| *s == state).unwrap_or(0)
}

/// How a room is rebuilt: its history mode, whether Stream's import of it completed, and its
/// place among the rooms at work (given up while its old channel waits for the batch freeze).
pub(crate) struct RebuildStep {
    pub history: History,
    pub imported: bool,
    pub place: OwnedSemaphorePermit,
}

/// Moves one room by rebuilding its channel, from whatever state the journal holds.
pub(crate) async fn move_rebuild(
    runner: &Runner,
    item: MigrationItem,
    order: &LastMessageOrder,
    step: RebuildStep,
) -> Result<(), StepError> {
    let RebuildStep { history, imported, place } = step;
    let (spec, old, new) = parse_spec(&item)?;
    let (id, at) = (item.id, rank(item.state));
    let client = &runner.client;
    let mut detail = item.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()).unwrap_or(json!({}));

    if at < rank(ItemState::Copying) {
        runner.advance(id, ItemState::Creating, None).await?;
        create(client, &spec, &new).await?;
    }
    if at < rank(ItemState::Verifying) {
        runner.advance(id, ItemState::Copying, None).await?;
        if history == History::Copy {
            let turn = Turn { order, gym: item.gym_id, item: id };
            let copied = sync_history(client, &spec, &old, &new, true, Some(turn)).await?;
            detail["copied"] = json!(copied.sent);
            detail["messages"] = json!(copied.expected);
            detail["reactions"] = json!(copied.marks.reactions);
            detail["pins"] = json!(copied.marks.pins);
            if copied.marks.left_out > 0 {
                detail["reactions_left_out"] = json!(copied.marks.left_out);
            }
            detail["altered"] = json!(copied.altered);
            if copied.rehosted > 0 {
                detail["rehosted"] = json!(copied.rehosted);
            }
        }
        if history == History::Import && !imported {
            // Stream's import brings the history; the item goes on once it has completed.
            return Ok(());
        }
    }
    if at < rank(ItemState::FreezingOld) {
        runner.advance(id, ItemState::Verifying, Some(&detail)).await?;
        verify(client, &spec, &new).await?;
        if history.moves_messages() {
            let check = sync_history(client, &spec, &old, &new, false, None).await?;
            if check.missing > 0 {
                let (missing, expected) = (check.missing, check.expected);
                return Err(StepError::Drift(format!(
                    "{new} lacks {missing} of the old channel's {expected} messages, their reactions and pins"
                )));
            }
        }
    }
    if at < rank(ItemState::Switched) {
        runner.advance(id, ItemState::FreezingOld, None).await?;
        // Whoever joined or left the room since the plan (the service kept working until the
        // gym's maintenance window opened) is a member of the new channel, or not, from now on.
        let members = current_members(runner, &spec).await?;
        if members != spec.members {
            set_members(client, &new, &members).await?;
            detail["members_at_switch"] = json!(members);
        }
        freeze_old(runner, &spec, &old, &new, place).await?;
        if history.moves_messages() {
            // Messages written to the old channel between the copy and the freeze.
            let late = sync_history(client, &spec, &old, &new, true, None).await?;
            if late.sent > 0 {
                detail["copied_after_freeze"] = json!(late.sent);
            }
            detail["messages"] = json!(late.expected);
            if !late.altered.is_empty()
                && let Some(list) = detail["altered"].as_array_mut()
            {
                list.extend(late.altered);
            }
        }
        switch_room(runner, &item, &spec, &old, &new, &detail).await?;
    }
    if at < rank(ItemState::Done) {
        runner.advance(id, ItemState::Finishing, None).await?;
        let members = current_members(runner, &spec).await?;
        carry_member_state(runner, &spec, &old, &new, history, &members).await?;
        if spec.frozen_after {
            set_frozen(client, &new, true, ChannelUpdate::default()).await?;
        }
        runner.done(id, ItemState::Done, None).await?;
    }
    Ok(())
}

/// The room's members now, as the new channel must hold them (target ids of members with a
/// `user` row, sorted); the plan's when the room is gone (the switch then leaves it alone).
async fn current_members(runner: &Runner, spec: &ChannelSpec) -> Result<Vec<String>, StepError> {
    let room = RoomId::new(spec.room_id)?;
    let gym = GymId::new(spec.gym_id()?)?;
    let mut s = runner.store.session().await?;
    let ids = s.room_members(room).await?;
    let people: std::collections::BTreeSet<gymchat_ids::UserId> =
        s.users(&ids).await?.rows.into_iter().map(|u| u.id).collect();
    let members = gymchat_tenant::member_ids(gym, ids.into_iter().filter(|u| people.contains(u)));
    Ok(members.into_iter().map(String::from).collect())
}

/// Posts where the conversation moved in the old channel, then freezes it with the run's batch
/// freezer.
async fn freeze_old(
    runner: &Runner,
    spec: &ChannelSpec,
    old: &Cid,
    new: &Cid,
    place: OwnedSemaphorePermit,
) -> Result<(), StepError> {
    let bot = StreamUserId::parse(&spec.gym_bot())?;
    let text = format!(
        "This conversation moved to a new channel ({new}). Update the app to keep writing; this one stays readable."
    );
    // Silent: the note changes nobody's unread count.
    let mut note = NewMessage::new(moved_note_id(old, &runner.run_id), bot, text).system();
    note.silent = true;
    // Members who hid the old channel keep it hidden: the note does not bring it back. A note
    // already there (a repeated step) is taken as sent.
    let quiet = SendOptions { skip_push: true, skip_enrich_url: true, keep_channel_hidden: true };
    runner.client.send_message(old, &note, quiet).await?;
    // The next room may start while this one waits for its batch.
    drop(place);
    runner.freezer.freeze(old).await
}

/// Points the room at the new channel: the lease check, the pointer, the channel move and the
/// item's state in one transaction.
async fn switch_room(
    runner: &Runner,
    item: &MigrationItem,
    spec: &ChannelSpec,
    old: &Cid,
    new: &Cid,
    detail: &Value,
) -> Result<(), StepError> {
    let room = RoomId::new(spec.room_id)?;
    let gym = GymId::new(item.gym_id)?;
    let now = Utc::now();
    let mut tx = runner.store.begin().await?;
    runner.guard(&mut tx, item.id).await?;
    let current = tx.room(room).await?.ok_or_else(|| StepError::LeftAlone(format!("room {room} no longer exists")))?;
    let pointed = current.stream_channel_id.as_deref().unwrap_or_default();
    if pointed != old.id().as_str() && pointed != new.id().as_str() {
        return Err(StepError::LeftAlone(format!("room {room} points at {pointed:?} now, not at {old}: left alone")));
    }
    tx.set_room_stream_channel_id(room, new.id().as_str(), now).await?;
    tx.record_channel_move(&ChannelMove {
        room_id: room,
        gym_id: gym,
        old_cid: old.to_string(),
        new_cid: new.to_string(),
        run_id: runner.run_id.clone(),
        moved_at: now,
    })
    .await?;
    tx.finish_item_step(item.id, ItemState::Switched, Some(&detail.to_string()), now).await?;
    Ok(tx.commit().await?)
}
