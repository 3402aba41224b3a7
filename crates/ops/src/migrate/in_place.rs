//! Moving one room in place: its channel keeps its id and gets the target members, team and
//! `gym_id` in one read-modify-write full update (more than 100 members in further updates).
//!
//! `planned → updating → verifying → done`

use std::collections::BTreeSet;

use gymchat_ids::StreamUserId;
use gymchat_store::{ItemState, MigrationItem};
use serde_json::{Map, Value, json};

use super::channels::{parse_spec, update_data_and_members, users, verify};
use super::error::StepError;
use super::run::Runner;

/// The order of an in-place item's states.
const ORDER: &[ItemState] = &[ItemState::Planned, ItemState::Updating, ItemState::Verifying, ItemState::Done];

/// Moves one room in place.
pub(crate) async fn move_in_place(runner: &Runner, item: MigrationItem) -> Result<(), StepError> {
    let (spec, cid, _) = parse_spec(&item)?;
    let at = ORDER.iter().position(|s| *s == item.state).unwrap_or(0);
    let want: BTreeSet<&String> = spec.members.iter().collect();
    if at < 2 {
        runner.advance(item.id, ItemState::Updating, None).await?;
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
        update_data_and_members(&runner.client, &cid, edit, &add, &remove).await?;
    }
    runner.advance(item.id, ItemState::Verifying, None).await?;
    verify(&runner.client, &spec, &cid).await?;
    runner.done(item.id, ItemState::Done, None).await
}
