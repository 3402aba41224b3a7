//! `gymchat cleanup`: acts on the audit's findings (SYSTEM.md §7).
//!
//! - [`plan`]: what a fresh, complete audit recommends that cleanup does: delete stream-only
//!   channels proven orphaned (refusing those with messages unless asked), retire closed rooms
//!   whose channel is gone, repair member sets, team, `gym_id` and frozen state of target
//!   channels. An audit that was not complete gives no action at all.
//! - [`apply`] carries a plan out under a run id. Channel deletes go in batches with their tasks
//!   awaited and each cid confirmed. Every database change is journaled in
//!   `gymchat_cleanup_actions` in the transaction that makes it, with what it replaced, so that
//!   [`undo`] restores it exactly. Stream's side cannot be undone (a deleted channel is gone):
//!   the journal says so.
//!
//! Cleanup never deletes Stream users (a hard user delete takes every channel of the user with
//! it) and never touches a channel that a room points at: the audit's orphan proof and a check of
//! the rooms just before acting both say so.

pub mod plan;

use chrono::Utc;
use gymchat_ids::{Cid, GymId, RoomId, StreamUserId};
use gymchat_store::{RetiredRoom, RoomStatus, Store, StoreError};
use gymchat_stream::Client;
use gymchat_stream::model::ChannelUpdate;
use serde::Serialize;
use serde_json::json;

pub use plan::{Action, Options, Plan, Refusal, restrict_to};

/// Why cleanup could not run.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit behind the plan could not run.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// An undo named a run that does not exist or was undone already.
    #[error("cleanup run {0} does not exist or was undone already")]
    NoSuchRun(String),
}

/// How one action ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The action.
    pub action: Action,
    /// `done` or `failed`.
    pub state: String,
    /// What happened.
    pub detail: String,
}

/// A carried-out plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    /// The run, for `gymchat cleanup undo`.
    pub run_id: String,
    /// Each action's outcome.
    pub outcomes: Vec<Outcome>,
    /// What was refused.
    pub refused: Vec<Refusal>,
}

impl Applied {
    /// True when every action was done and nothing was refused.
    pub fn all_done(&self) -> bool {
        self.refused.is_empty() && self.outcomes.iter().all(|o| o.state == "done")
    }
}

/// Carries out `plan` under a new run id.
pub async fn apply(store: &Store, client: &Client, plan: &Plan, options: Options) -> Result<Applied, CleanupError> {
    let run_id = format!("cleanup-{}", uuid::Uuid::new_v4().simple());
    let mut s = store.session().await?;
    s.start_cleanup_run(&run_id, Utc::now()).await?;
    let mut outcomes = Vec::new();

    // Channel deletes, in batches, after checking once more that no room points at them.
    let deletes: Vec<&Action> = plan.actions.iter().filter(|a| matches!(a, Action::DeleteChannel { .. })).collect();
    let mut refused = plan.refused.clone();
    let mut to_delete = Vec::new();
    for action in deletes {
        let Action::DeleteChannel { gym_id, cid } = action else { continue };
        let bare = cid.split_once(':').map_or(cid.clone(), |(_, id)| id.to_owned());
        let claimed = s.rooms_by_channel_ids(std::slice::from_ref(&bare)).await?;
        match (Cid::parse(cid), claimed.rows.first(), claimed.skipped.is_empty()) {
            (Ok(parsed), None, true) => {
                let Ok(gym) = GymId::new(*gym_id) else {
                    refused.push(Refusal { target: cid.clone(), reason: format!("{gym_id} is not a gym id") });
                    continue;
                };
                let id = s.journal_action(&run_id, gym, "delete_channel", cid, "planned", None, Utc::now()).await?;
                to_delete.push((action.clone(), parsed, id));
            }
            (_, Some(room), _) => refused.push(Refusal {
                target: cid.clone(),
                reason: format!("room {} of gym {} points at it now", room.id, room.gym_id),
            }),
            (Err(e), _, _) => refused.push(Refusal { target: cid.clone(), reason: e.to_string() }),
            (_, None, false) => refused.push(Refusal {
                target: cid.clone(),
                reason: "a room row that could not be read may point at it".to_owned(),
            }),
        }
    }
    if !to_delete.is_empty() {
        let cids: Vec<Cid> = to_delete.iter().map(|(_, c, _)| c.clone()).collect();
        let results = client.delete_all_channels(&cids, options.hard).await;
        for (action, cid, id) in to_delete {
            let (state, detail) = match &results {
                Ok(r) => match r.get(&cid.to_string()) {
                    Some(Ok(())) => {
                        ("done", format!("deleted ({}), confirmed gone", if options.hard { "hard" } else { "soft" }))
                    }
                    Some(Err(why)) => ("failed", why.clone()),
                    None => ("failed", "no result for this cid".to_owned()),
                },
                Err(e) => ("failed", e.to_string()),
            };
            s.update_action(id, state, &detail, Utc::now()).await?;
            outcomes.push(Outcome { action, state: state.to_owned(), detail });
        }
    }

    for action in &plan.actions {
        let outcome = match action {
            Action::DeleteChannel { .. } => continue,
            Action::RetireRoom { gym_id, room_id, cid } => {
                retire(store, &run_id, *gym_id, *room_id, cid.clone()).await?
            }
            Action::RemoveRoom { gym_id, room_id, .. } => remove(store, &run_id, action, *gym_id, *room_id).await?,
            Action::RepairMembers { gym_id, cid, add, remove } => {
                let update = ChannelUpdate {
                    add_members: add.iter().filter_map(|u| StreamUserId::parse(u).ok()).collect(),
                    remove_members: remove.iter().filter_map(|u| StreamUserId::parse(u).ok()).collect(),
                    ..ChannelUpdate::default()
                };
                stream_change(store, client, &run_id, *gym_id, action, cid, |client, cid| async move {
                    client.update_channel(&cid, &update).await.map(|_| ())
                })
                .await?
            }
            Action::RepairData { gym_id, cid, set } => {
                let set = plan::as_map(set);
                stream_change(store, client, &run_id, *gym_id, action, cid, |client, cid| async move {
                    client
                        .update_channel_data(&cid, |data| data.extend(set), ChannelUpdate::default())
                        .await
                        .map(|_| ())
                })
                .await?
            }
        };
        outcomes.push(outcome);
    }
    let summary = json!({ "actions": outcomes.len(), "refused": refused.len() }).to_string();
    s.finish_cleanup_run(&run_id, Utc::now(), &summary).await?;
    Ok(Applied { run_id, outcomes, refused })
}

/// The plan for one channel (`gymchat cleanup channel --cid`): deleted only when a fresh,
/// complete audit of the gym whose team it carries proves it orphaned, with the same refusals as
/// a whole gym's cleanup.
pub async fn plan_for_channel(
    store: &Store,
    client: &Client,
    cid: &Cid,
    options: Options,
) -> Result<Plan, CleanupError> {
    let refuse = |reason: String| Plan {
        actions: Vec::new(),
        refused: vec![Refusal { target: cid.to_string(), reason }],
        complete: true,
    };
    let channel = match client.channels_by_cids(std::slice::from_ref(cid)).await {
        Ok(found) => found.into_iter().next(),
        Err(e) => return Ok(Plan { complete: false, ..refuse(format!("the channel could not be read: {e}")) }),
    };
    let Some(channel) = channel else { return Ok(refuse("no live channel has this cid".into())) };
    let gym = channel.channel.team.as_ref().and_then(|t| t.as_str().strip_prefix("gym_")?.parse::<GymId>().ok());
    let Some(gym) = gym else {
        return Ok(refuse("the channel has no gym_{G} team: gymchat cannot tell whose it is".into()));
    };
    let report = crate::audit::audit(store, client, &[gym], &|_| {}).await?;
    let mut whole = plan::plan(&report, options);
    let key = cid.to_string();
    let found = report
        .gyms
        .iter()
        .flat_map(|g| &g.findings)
        .find(|f| f.kind == crate::audit::FindingKind::StreamOnly && f.cid.as_deref() == Some(key.as_str()));
    whole.actions.retain(|a| matches!(a, Action::DeleteChannel { cid, .. } if *cid == key));
    whole.refused.retain(|r| r.target == key || r.target.starts_with("gym "));
    if whole.actions.is_empty() && whole.refused.is_empty() {
        let reason = match found {
            Some(f) => format!("the audit does not prove it orphaned: {}", f.recommendation),
            None => "a room of the gym points at it".to_owned(),
        };
        whole.refused.push(Refusal { target: key, reason });
    }
    Ok(whole)
}

/// Retires a room: its previous status journaled, status CLOSED, the retirement recorded; one
/// transaction.
async fn retire(
    store: &Store,
    run_id: &str,
    gym_id: i64,
    room_id: i64,
    cid: Option<String>,
) -> Result<Outcome, CleanupError> {
    let action = Action::RetireRoom { gym_id, room_id, cid: cid.clone() };
    let (Ok(gym), Ok(room)) = (GymId::new(gym_id), RoomId::new(room_id)) else {
        return Ok(Outcome { action, state: "failed".into(), detail: "not a valid gym or room id".into() });
    };
    let mut tx = store.begin().await?;
    let Some(current) = tx.room(room).await? else {
        return Ok(Outcome { action, state: "failed".into(), detail: "the room no longer exists".into() });
    };
    let before = json!({ "status": current.status }).to_string();
    let now = Utc::now();
    tx.journal_action(run_id, gym, "retire_room", &room.to_string(), "done", Some(&before), now).await?;
    tx.set_room_status_only(room, Some(RoomStatus::Closed)).await?;
    tx.record_retired_room(&RetiredRoom {
        room_id: room,
        gym_id: gym,
        cid,
        run_id: run_id.to_owned(),
        retired_at: now,
    })
    .await?;
    tx.commit().await?;
    Ok(Outcome { action, state: "done".into(), detail: format!("status {:?} → CLOSED, recorded", current.status) })
}

/// The tables a room's rows live in, in the order they are written back (deleted in reverse).
const ROOM_TABLES: &[(&str, &str)] =
    &[("chat_rooms", "id"), ("chat_members", "room_id"), ("chat_member_hidden", "room_id")];

/// Removes a room with its member and hidden rows, every row journaled whole first; one
/// transaction.
async fn remove(
    store: &Store,
    run_id: &str,
    action: &Action,
    gym_id: i64,
    room_id: i64,
) -> Result<Outcome, CleanupError> {
    let outcome = |state: &str, detail: String| Outcome { action: action.clone(), state: state.into(), detail };
    let (Ok(gym), Ok(room)) = (GymId::new(gym_id), RoomId::new(room_id)) else {
        return Ok(outcome("failed", "not a valid gym or room id".into()));
    };
    let mut tx = store.begin().await?;
    let mut before = serde_json::Map::new();
    for (table, column) in ROOM_TABLES {
        before.insert((*table).to_owned(), json!(tx.rows_as_text(table, column, room.get()).await?));
    }
    if before["chat_rooms"].as_array().is_none_or(Vec::is_empty) {
        return Ok(outcome("failed", "the room no longer exists".into()));
    }
    let before = serde_json::Value::Object(before);
    let mut removed = Vec::new();
    for (table, column) in ROOM_TABLES.iter().rev() {
        match tx.delete_rows(table, column, room.get()).await {
            Ok(n) => removed.push(format!("{n} {table}")),
            // Another table of the platform still points at the room: nothing is removed.
            Err(e) => return Ok(outcome("failed", format!("the database refused to remove it: {e}"))),
        }
    }
    let detail = format!("removed {}", removed.join(", "));
    tx.journal_action(run_id, gym, "remove_room", &room.to_string(), "done", Some(&before.to_string()), Utc::now())
        .await?;
    tx.commit().await?;
    Ok(outcome("done", detail))
}

/// A change on Stream's side, journaled before and after.
async fn stream_change<F, Fut>(
    store: &Store,
    client: &Client,
    run_id: &str,
    gym_id: i64,
    action: &Action,
    cid: &str,
    change: F,
) -> Result<Outcome, CleanupError>
where
    F: FnOnce(Client, Cid) -> Fut,
    Fut: std::future::Future<Output = Result<(), gymchat_stream::StreamError>>,
{
    let mut s = store.session().await?;
    let failed = |detail: String| Outcome { action: action.clone(), state: "failed".into(), detail };
    let (Ok(gym), Ok(parsed)) = (GymId::new(gym_id), Cid::parse(cid)) else {
        return Ok(failed("not a valid gym id or cid".into()));
    };
    let id = s.journal_action(run_id, gym, action.kind(), cid, "planned", None, Utc::now()).await?;
    let (state, detail) = match change(client.clone(), parsed).await {
        Ok(()) => ("done", "applied on Stream".to_owned()),
        Err(e) => ("failed", e.to_string()),
    };
    s.update_action(id, state, &detail, Utc::now()).await?;
    Ok(Outcome { action: action.clone(), state: state.into(), detail })
}

/// What an undo restored, and what it could not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Undone {
    /// The run.
    pub run_id: String,
    /// Database changes restored (`room 641: status back to CLOSED`).
    pub restored: Vec<String>,
    /// Changes on Stream that cannot be undone (a deleted channel is gone).
    pub not_undoable: Vec<String>,
}

/// Restores every database change of a cleanup run, newest first, each in one transaction.
pub async fn undo(store: &Store, run_id: &str) -> Result<Undone, CleanupError> {
    let mut s = store.session().await?;
    if s.cleanup_run_undone(run_id).await? != Some(false) {
        return Err(CleanupError::NoSuchRun(run_id.to_owned()));
    }
    let mut undone = Undone { run_id: run_id.to_owned(), restored: Vec::new(), not_undoable: Vec::new() };
    for action in s.cleanup_actions(run_id).await?.into_iter().rev() {
        match (action.kind.as_str(), action.state.as_str()) {
            ("retire_room", "done") => {
                let room = action.target.parse::<RoomId>().map_err(|e| StoreError::BadRow {
                    table: "gymchat_cleanup_actions",
                    key: action.id.to_string(),
                    reason: e.to_string(),
                })?;
                let before: serde_json::Value =
                    action.before_json.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default();
                let status: Option<RoomStatus> = serde_json::from_value(before["status"].clone()).unwrap_or(None);
                let mut tx = store.begin().await?;
                tx.set_room_status_only(room, status).await?;
                tx.forget_retired_room(room).await?;
                tx.update_action(action.id, "undone", "status restored", Utc::now()).await?;
                tx.commit().await?;
                undone.restored.push(format!(
                    "room {room}: status back to {}",
                    status.map_or("NULL".to_owned(), |s| s.to_string())
                ));
            }
            ("remove_room", "done") => {
                let before: serde_json::Value =
                    action.before_json.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default();
                let mut tx = store.begin().await?;
                for (table, _) in ROOM_TABLES {
                    let rows: Vec<gymchat_store::TextRow> =
                        serde_json::from_value(before[*table].clone()).map_err(|e| StoreError::BadRow {
                            table: "gymchat_cleanup_actions",
                            key: action.id.to_string(),
                            reason: e.to_string(),
                        })?;
                    tx.insert_text_rows(table, &rows).await?;
                }
                tx.update_action(action.id, "undone", "rows written back", Utc::now()).await?;
                tx.commit().await?;
                undone.restored.push(format!("room {}: its rows written back", action.target));
            }
            (_, "done") => undone.not_undoable.push(format!("{} {}: a change on Stream", action.kind, action.target)),
            _ => {}
        }
    }
    s.mark_cleanup_undone(run_id, Utc::now()).await?;
    Ok(undone)
}
