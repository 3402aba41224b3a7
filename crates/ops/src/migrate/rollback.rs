//! `gymchat migrate rollback RUN_ID`: every room the run switched goes back to its old channel
//! (pointer and channel move in one transaction with the item's state); old channels the run
//! froze are unfrozen (unless they were frozen before) with a system note saying the conversation
//! is back; new channels are frozen, not deleted;
//! target users are kept. `in-place` items get their old members and data back.
//!
//! Rollback takes the same lock as apply, and is itself safe to repeat: an item already rolled
//! back is left alone.

use std::collections::BTreeSet;

use chrono::Utc;
use gymchat_ids::{Cid, RoomId, StreamUserId};
use gymchat_store::{ItemKind, ItemState, Lease, MigrationItem, RunState, Store};
use gymchat_stream::Client;
use gymchat_stream::model::{ChannelUpdate, NewMessage};
use serde::Serialize;

use super::channels::{parse_spec, set_frozen, update_data_and_members, users};
use super::error::{MigrateError, StepError};
use super::lock::take_lock;
use super::notes::back_note_id;
use super::options::Strategy;
use super::plan::spec::ChannelSpec;
use super::rebuild::rank;

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolledBack {
    /// The run.
    pub run_id: String,
    /// Rooms pointed back at their old channel.
    pub rooms_restored: Vec<i64>,
    /// Items put back, in words.
    pub restored: Vec<String>,
    /// Items that could not be put back, with why.
    pub failed: Vec<String>,
    /// Dry run: nothing changed.
    pub dry_run: bool,
}

/// Rolls the run back; with `yes` false, says what it would do and changes nothing.
pub async fn rollback(store: &Store, client: &Client, run_id: &str, yes: bool) -> Result<RolledBack, MigrateError> {
    let mut s = store.session().await?;
    let run =
        s.migration_run(run_id).await?.ok_or_else(|| MigrateError::NoSuchRun(format!("no migration run {run_id}")))?;
    if run.state == RunState::RolledBack {
        return Err(MigrateError::NoSuchRun(format!("run {run_id} was rolled back already")));
    }
    let strategy: Strategy = run.strategy.parse().map_err(MigrateError::NoSuchRun)?;
    let items: Vec<MigrationItem> = s
        .migration_items(run_id)
        .await?
        .into_iter()
        .filter(|i| i.kind == ItemKind::Channel && !matches!(i.state, ItemState::Planned | ItemState::RolledBack))
        .collect();
    let mut out = RolledBack {
        run_id: run_id.to_owned(),
        rooms_restored: Vec::new(),
        restored: Vec::new(),
        failed: Vec::new(),
        dry_run: !yes,
    };
    if !yes {
        out.restored = items
            .iter()
            .map(|i| format!("room {:?}: {} back from {} ({})", i.room_id, i.old_id, i.new_id, i.state))
            .collect();
        return Ok(out);
    }
    let lease = take_lock(&mut s).await?;
    for item in &items {
        let result = match strategy {
            Strategy::Rebuild => undo_rebuild(store, client, &lease, item).await,
            Strategy::InPlace => undo_in_place(client, item).await.map(|()| false),
        };
        match result {
            Ok(switched_back) => {
                s.finish_item_step(item.id, ItemState::RolledBack, None, Utc::now()).await?;
                if switched_back {
                    out.rooms_restored.extend(item.room_id);
                }
                out.restored.push(format!("{} → {}", item.new_id, item.old_id));
            }
            Err(e) => {
                s.fail_item(item.id, &format!("rollback: {e}"), Utc::now()).await?;
                out.failed.push(format!("{}: {e}", item.old_id));
            }
        }
    }
    let state = if out.failed.is_empty() { RunState::RolledBack } else { RunState::Stopped };
    let message = (!out.failed.is_empty()).then(|| format!("rollback left {} items; run it again", out.failed.len()));
    s.set_migration_run_state(run_id, state, &lease.holder, message.as_deref(), out.failed.is_empty(), Utc::now())
        .await?;
    let _ = s.release_lock(&lease).await;
    Ok(out)
}

/// The system note posted in the old channel as it is unfrozen: the conversation is back here.
/// Its id is the same for every attempt of one run (so a repeated rollback posts it once) and
/// starts like the move's own note, so a later migration does not copy it as history.
fn back_note(spec: &ChannelSpec, old: &Cid, new: &Cid, run_id: &str) -> Result<ChannelUpdate, StepError> {
    let bot = StreamUserId::parse(&spec.gym_bot())?;
    let text = format!("This conversation is back in this channel: the move to {new} was undone.");
    let note = NewMessage::new(back_note_id(old, run_id), bot, text).system();
    Ok(ChannelUpdate { message: Some(note), skip_push: true, ..ChannelUpdate::default() })
}

/// Undoes a rebuilt room; true when its pointer went back.
async fn undo_rebuild(store: &Store, client: &Client, lease: &Lease, item: &MigrationItem) -> Result<bool, StepError> {
    let (spec, old, new) = parse_spec(item)?;
    let at = rank(item.state);
    let mut switched_back = false;
    if at >= rank(ItemState::Switched) {
        let room = RoomId::new(spec.room_id)?;
        let mut tx = store.begin().await?;
        tx.guard_lease(lease).await?;
        let current = tx.room(room).await?;
        if current.as_ref().and_then(|r| r.stream_channel_id.as_deref()) == Some(new.id().as_str()) {
            tx.set_room_stream_channel_id(room, old.id().as_str(), Utc::now()).await?;
            switched_back = true;
        }
        tx.forget_channel_move(room, &spec.old_cid).await?;
        tx.commit().await?;
    }
    if at >= rank(ItemState::FreezingOld) && !spec.old_frozen {
        // Older app versions still connected to the old channel read that it is in use again.
        set_frozen(client, &old, false, back_note(&spec, &old, &new, &item.run_id)?).await?;
    }
    // The new channel stays, frozen: nobody writes where the room no longer points.
    if at >= rank(ItemState::Copying) || client.channel_exists(&new).await? {
        set_frozen(client, &new, true, ChannelUpdate::default()).await?;
    }
    Ok(switched_back)
}

/// Undoes an in-place room: old data (team, gym_id, frozen, custom fields) and old members.
async fn undo_in_place(client: &Client, item: &MigrationItem) -> Result<(), StepError> {
    let (spec, cid, _) = parse_spec(item)?;
    let old: BTreeSet<&String> = spec.old_members.iter().collect();
    let add = users(&spec.old_members)?;
    let remove = users(&spec.members.iter().filter(|m| !old.contains(m)).cloned().collect::<Vec<_>>())?;
    let data = spec.old_data.clone();
    update_data_and_members(client, &cid, move |d| *d = data, &add, &remove).await
}
