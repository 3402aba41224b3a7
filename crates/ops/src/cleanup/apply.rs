//! Carrying a cleanup plan out under a run id: channel deletes in batches (checked once more
//! against the rooms just before), room retirements and removals (each with its journal row in
//! one transaction), repairs on Stream's side journaled before and after.

use chrono::Utc;
use gymchat_ids::{Cid, GymId, RoomId, StreamUserId};
use gymchat_store::{ActionKind, ActionState, RetiredRoom, RoomStatus, Store};
use gymchat_stream::Client;
use gymchat_stream::model::{ChannelUpdate, NewMember};
use serde::Serialize;
use serde_json::json;

use super::error::CleanupError;
use super::plan::{self, Action, Options, Plan, Refusal};

/// How one action ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The action.
    pub action: Action,
    /// `done` or `failed`.
    pub state: ActionState,
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
        self.refused.is_empty() && self.outcomes.iter().all(|o| o.state == ActionState::Done)
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
                let id = s
                    .journal_action(
                        &run_id,
                        gym,
                        ActionKind::DeleteChannel,
                        cid,
                        ActionState::Planned,
                        None,
                        Utc::now(),
                    )
                    .await?;
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
                    Some(Ok(())) => (
                        ActionState::Done,
                        format!("deleted ({}), confirmed gone", if options.hard { "hard" } else { "soft" }),
                    ),
                    Some(Err(why)) => (ActionState::Failed, why.clone()),
                    None => (ActionState::Failed, "no result for this cid".to_owned()),
                },
                Err(e) => (ActionState::Failed, e.to_string()),
            };
            s.update_action(id, state, &detail, Utc::now()).await?;
            outcomes.push(Outcome { action, state, detail });
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
                    add_members: add.iter().filter_map(|u| StreamUserId::parse(u).ok()).map(NewMember::from).collect(),
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
        return Ok(Outcome { action, state: ActionState::Failed, detail: "not a valid gym or room id".into() });
    };
    let mut tx = store.begin().await?;
    let Some(current) = tx.room(room).await? else {
        return Ok(Outcome { action, state: ActionState::Failed, detail: "the room no longer exists".into() });
    };
    let before = json!({ "status": current.status }).to_string();
    let now = Utc::now();
    tx.journal_action(run_id, gym, ActionKind::RetireRoom, &room.to_string(), ActionState::Done, Some(&before), now)
        .await?;
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
    Ok(Outcome {
        action, state: ActionState::Done, detail: format!("status {:?} → CLOSED, recorded", current.status)
    })
}

/// The tables a room's rows live in, in the order they are written back (deleted in reverse).
pub(crate) const ROOM_TABLES: &[(&str, &str)] =
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
    let outcome = |state: ActionState, detail: String| Outcome { action: action.clone(), state, detail };
    let (Ok(gym), Ok(room)) = (GymId::new(gym_id), RoomId::new(room_id)) else {
        return Ok(outcome(ActionState::Failed, "not a valid gym or room id".into()));
    };
    let mut tx = store.begin().await?;
    let mut before = serde_json::Map::new();
    for (table, column) in ROOM_TABLES {
        before.insert((*table).to_owned(), json!(tx.rows_as_text(table, column, room.get()).await?));
    }
    if before["chat_rooms"].as_array().is_none_or(Vec::is_empty) {
        return Ok(outcome(ActionState::Failed, "the room no longer exists".into()));
    }
    let before = serde_json::Value::Object(before);
    let mut removed = Vec::new();
    for (table, column) in ROOM_TABLES.iter().rev() {
        match tx.delete_rows(table, column, room.get()).await {
            Ok(n) => removed.push(format!("{n} {table}")),
            // Another table of the platform still points at the room: nothing is removed.
            Err(e) => return Ok(outcome(ActionState::Failed, format!("the database refused to remove it: {e}"))),
        }
    }
    let detail = format!("removed {}", removed.join(", "));
    tx.journal_action(
        run_id,
        gym,
        ActionKind::RemoveRoom,
        &room.to_string(),
        ActionState::Done,
        Some(&before.to_string()),
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(outcome(ActionState::Done, detail))
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
    let failed = |detail: String| Outcome { action: action.clone(), state: ActionState::Failed, detail };
    let (Ok(gym), Ok(parsed)) = (GymId::new(gym_id), Cid::parse(cid)) else {
        return Ok(failed("not a valid gym id or cid".into()));
    };
    let id = s.journal_action(run_id, gym, action.kind(), cid, ActionState::Planned, None, Utc::now()).await?;
    let (state, detail) = match change(client.clone(), parsed).await {
        Ok(()) => (ActionState::Done, "applied on Stream".to_owned()),
        Err(e) => (ActionState::Failed, e.to_string()),
    };
    s.update_action(id, state, &detail, Utc::now()).await?;
    Ok(Outcome { action: action.clone(), state, detail })
}
