//! `gymchat cleanup undo RUN_ID`: every database change of a cleanup run restored, newest first;
//! what happened on Stream's side listed as not undoable.

use chrono::Utc;
use gymchat_ids::RoomId;
use gymchat_store::{ActionKind, ActionState, RoomStatus, Store, StoreError};
use serde::Serialize;

use super::apply::ROOM_TABLES;
use super::error::CleanupError;

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
        match (action.kind, action.state) {
            (ActionKind::RetireRoom, ActionState::Done) => {
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
                tx.update_action(action.id, ActionState::Undone, "status restored", Utc::now()).await?;
                tx.commit().await?;
                undone.restored.push(format!(
                    "room {room}: status back to {}",
                    status.map_or("NULL".to_owned(), |s| s.to_string())
                ));
            }
            (ActionKind::RemoveRoom, ActionState::Done) => {
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
                tx.update_action(action.id, ActionState::Undone, "rows written back", Utc::now()).await?;
                tx.commit().await?;
                undone.restored.push(format!("room {}: its rows written back", action.target));
            }
            (_, ActionState::Done) => {
                undone.not_undoable.push(format!("{} {}: a change on Stream", action.kind, action.target))
            }
            _ => {}
        }
    }
    s.mark_cleanup_undone(run_id, Utc::now()).await?;
    Ok(undone)
}
