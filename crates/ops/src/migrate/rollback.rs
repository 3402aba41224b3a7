//! `gymchat migrate rollback RUN_ID`: every room the run switched goes back to its old channel
//! (pointer and channel move in one transaction with the item's state); old channels the run
//! froze are unfrozen (unless they were frozen before) with a system note saying the conversation
//! is back; new channels are frozen, not deleted;
//! target users are kept. `in-place` items get their old members and data back.
//!
//! Rollback takes the same lock as apply, renews it while it runs, and is itself safe to repeat:
//! an item already rolled back is left alone, and a rollback that stopped part way is finished by
//! running it again (the run stays `rolling_back` until then, and `apply` never resumes it).

use std::collections::BTreeSet;

use std::sync::{Arc, Mutex};

use chrono::Utc;
use gymchat_ids::{Cid, RoomId, StreamUserId};
use gymchat_store::{ItemKind, ItemState, MigrationItem, RunState, Store};
use gymchat_stream::Client;
use gymchat_stream::model::{ChannelUpdate, NewMessage};
use serde::Serialize;

use super::breaker::Breaker;
use super::channels::{parse_spec, set_frozen, update_data_and_members, users};
use super::error::{MigrateError, StepError};
use super::lock::{no_live_worker, take_lock};
use super::notes::back_note_id;
use super::options::{RollbackOptions, Strategy};
use super::plan::spec::ChannelSpec;
use super::rebuild::rank;
use super::renew::keep_lease;
use super::run::{Fence, Runner};

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

/// Rolls the run back; with `options.yes` false, says what it would do and changes nothing.
///
/// The run is marked `rolling_back` first, so `apply` never resumes it; the lease is renewed
/// while the rollback runs and every journal write is fenced by it; each item is marked
/// `rolled_back` once undone. A rollback that stops part way (killed, or items that failed)
/// leaves the run `rolling_back`, and running it again finishes it.
pub async fn rollback(
    store: &Store,
    client: &Client,
    run_id: &str,
    options: RollbackOptions,
) -> Result<RolledBack, MigrateError> {
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
        dry_run: !options.yes,
    };
    if !options.yes {
        out.restored = items
            .iter()
            .map(|i| format!("room {:?}: {} back from {} ({})", i.room_id, i.old_id, i.new_id, i.state))
            .collect();
        return Ok(out);
    }
    let lease = take_lock(&mut s, options.lease_ttl).await?;
    if let Err(e) = no_live_worker(&mut s, run_id, &lease.holder, options.lease_ttl).await {
        let _ = s.release_lock(&lease).await;
        return Err(e);
    }
    s.set_migration_run_state(run_id, RunState::RollingBack, &lease.holder, None, false, Utc::now()).await?;
    let runner = Arc::new(Runner::new(
        store.clone(),
        client.clone(),
        run_id.to_owned(),
        Fence::Lock(Mutex::new(lease)),
        options.lease_ttl,
        Breaker::new(1.0),
    ));
    let renewer = keep_lease(runner.clone());
    for item in &items {
        if let Err(e) = runner.check() {
            out.failed.push(format!("{}: {e}", item.old_id));
            continue;
        }
        let repair = parse_spec(item).is_ok_and(|(spec, _, _)| spec.repair);
        let result = match (strategy, repair) {
            (_, true) | (Strategy::InPlace, _) => undo_in_place(&runner, item).await.map(|()| false),
            (Strategy::Rebuild, false) => undo_rebuild(&runner, item).await,
        };
        let result = match result {
            Ok(switched_back) => runner.done(item.id, ItemState::RolledBack, None).await.map(|()| switched_back),
            Err(e) => Err(e),
        };
        match result {
            Ok(switched_back) => {
                if switched_back {
                    out.rooms_restored.extend(item.room_id);
                }
                out.restored.push(format!("{} → {}", item.new_id, item.old_id));
            }
            Err(e) => {
                runner.fail(item.id, &StepError::Drift(format!("rollback: {e}"))).await;
                out.failed.push(format!("{}: {e}", item.old_id));
            }
        }
    }
    drop(renewer);
    let lease = runner.lease().ok_or_else(|| MigrateError::NoSuchRun("the rollback holds no lock".into()))?;
    let done = out.failed.is_empty();
    let (state, message) = if done {
        (RunState::RolledBack, None)
    } else {
        let why = format!(
            "the rollback left {} items; run `gymchat migrate rollback {run_id} --yes` again",
            out.failed.len()
        );
        (RunState::RollingBack, Some(why))
    };
    let mut s = store.session().await?;
    s.set_migration_run_state(run_id, state, &lease.holder, message.as_deref(), done, Utc::now()).await?;
    let _ = s.release_lock(&lease).await;
    Ok(out)
}

/// The system note posted in the old channel as it is unfrozen: the conversation is back here.
/// Its id is the same for every attempt of one run (so a repeated rollback posts it once) and
/// starts like the move's own note, so a later migration does not copy it as history.
fn back_note(spec: &ChannelSpec, old: &Cid, new: &Cid, run_id: &str) -> Result<ChannelUpdate, StepError> {
    let bot = StreamUserId::parse(&spec.gym_bot())?;
    let text = format!("This conversation is back in this channel: the move to {new} was undone.");
    // Silent: the note changes nobody's unread count.
    let mut note = NewMessage::new(back_note_id(old, run_id), bot, text).system();
    note.silent = true;
    Ok(ChannelUpdate { message: Some(note), skip_push: true, ..ChannelUpdate::default() })
}

/// Undoes a rebuilt room; true when its pointer went back.
async fn undo_rebuild(runner: &Runner, item: &MigrationItem) -> Result<bool, StepError> {
    let (spec, old, new) = parse_spec(item)?;
    let client = &runner.client;
    let at = rank(item.state);
    let mut switched_back = false;
    if at >= rank(ItemState::Switched) {
        let room = RoomId::new(spec.room_id)?;
        let mut tx = runner.store.begin().await?;
        runner.guard(&mut tx, item.id).await?;
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
async fn undo_in_place(runner: &Runner, item: &MigrationItem) -> Result<(), StepError> {
    let client = &runner.client;
    let (spec, cid, _) = parse_spec(item)?;
    let old: BTreeSet<&String> = spec.old_members.iter().collect();
    let add = users(&spec.old_members)?;
    let remove = users(&spec.members.iter().filter(|m| !old.contains(m)).cloned().collect::<Vec<_>>())?;
    let data = spec.old_data.clone();
    update_data_and_members(client, &spec, &cid, move |d| *d = data, &add, &remove).await
}
