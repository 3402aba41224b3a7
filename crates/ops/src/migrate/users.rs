//! The users phase: the target users a run needs, before any channel is touched. One upsert for
//! the new users of a batch of 100, one partial update for those that only need the gym's team;
//! each item journaled before and after.

use chrono::Utc;
use gymchat_ids::{StreamUserId, Team};
use gymchat_store::{ItemState, MigrationItem};
use gymchat_stream::StreamError;
use gymchat_stream::model::{User, UserPatch};
use serde_json::{Map, json};

use super::error::MigrateError;
use super::plan::spec::UserSpec;
use super::run::Runner;

/// Upserts one batch of users; true when Stream took it.
pub(crate) async fn upsert_users(runner: &Runner, batch: &[&MigrationItem]) -> Result<bool, MigrateError> {
    let mut s = runner.store.session().await?;
    let now = Utc::now();
    let mut new = Vec::new();
    let mut patches = Vec::new();
    for item in batch {
        let bad = |reason: String| MigrateError::BadItem { id: item.id, reason };
        let spec: UserSpec = serde_json::from_str(&item.spec).map_err(|e| bad(e.to_string()))?;
        let (Ok(id), Ok(team)) = (StreamUserId::parse(&spec.id), Team::parse(&spec.team)) else {
            return Err(bad("not a Stream user id or team".into()));
        };
        s.start_item_step(item.id, ItemState::Upserting, now).await?;
        if spec.exists {
            let mut set = Map::new();
            set.insert("teams".into(), json!([team]));
            patches.push(UserPatch { id, set, unset: Vec::new() });
        } else {
            let mut user = User::new(id);
            user.name = spec.name.clone();
            user.image = spec.image.clone();
            user.teams = vec![team];
            if !spec.legacy_ids.is_empty() {
                user.custom.insert("legacy_ids".into(), json!(spec.legacy_ids));
            }
            new.push(user);
        }
    }
    let mut result: Result<(), StreamError> = Ok(());
    if !new.is_empty() {
        result = runner.client.upsert_users(&new).await.map(|_| ());
    }
    if result.is_ok() && !patches.is_empty() {
        result = runner.client.update_users_partial(&patches).await.map(|_| ());
    }
    let now = Utc::now();
    for item in batch {
        match &result {
            Ok(()) => s.finish_item_step(item.id, ItemState::Done, None, now).await?,
            Err(e) => s.fail_item(item.id, &e.to_string(), now).await?,
        }
    }
    Ok(result.is_ok())
}
