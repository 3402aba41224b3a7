//! The migration's journey as tests drive it: plan and apply gym 4, and the sandbox's state,
//! channels, users and the rooms' pointers as two runs' ends compare them.

use std::collections::BTreeMap;

use chrono::Utc;
use gymchat_ids::GymId;
use gymchat_ops::migrate::{self, ApplyOptions, History, Options, Plan, Report, RollbackOptions, Strategy};
use gymchat_testkit::read_fixture;
use gymchat_testkit::sandbox::comparable_message_id;
use serde_json::{Value, json};

use super::World;

pub fn gym4_id() -> GymId {
    GymId::new(4).unwrap()
}

pub fn expect() -> Value {
    let doc: Value = serde_json::from_str(&read_fixture("gym4.json")).unwrap();
    doc["expect"].clone()
}

pub async fn plan(w: &World, strategy: Strategy, history: History) -> Plan {
    migrate::plan::plan(
        &w.store,
        &w.client,
        &[gym4_id()],
        Options { strategy, history, rehost_attachments: false },
        Utc::now(),
    )
    .await
    .unwrap()
}

pub async fn apply(w: &World, strategy: Strategy, history: History) -> Report {
    let p = plan(w, strategy, history).await;
    migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap()
}

/// The sandbox's whole state.
pub async fn state(w: &World) -> Value {
    w.sandbox.state().await
}

/// Channels by cid: members, team, frozen and messages (id, sender, text), without times.
pub fn channels(state: &Value) -> BTreeMap<String, Value> {
    state["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["deleted_at"].is_null())
        .map(|c| {
            let mut members: Vec<String> =
                c["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect();
            members.sort();
            let messages: Vec<Value> = c["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| json!([comparable_message_id(&m["id"]), m["user_id"], m["text"], m["original_id"]]))
                .collect();
            let cid = format!("{}:{}", c["type"].as_str().unwrap(), c["id"].as_str().unwrap());
            (cid, json!({ "members": members, "team": c["team"], "frozen": c["frozen"], "messages": messages }))
        })
        .collect()
}

/// Users by id: teams and name.
pub fn users(state: &Value) -> BTreeMap<String, Value> {
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap().to_owned(), json!({ "teams": u["teams"], "name": u["name"] })))
        .collect()
}

/// Every room's pointer.
pub async fn pointers(w: &World) -> BTreeMap<i64, Option<String>> {
    let mut s = w.store.session().await.unwrap();
    let mut out = BTreeMap::new();
    for gym in [4, 5] {
        for r in s.rooms_with_members(GymId::new(gym).unwrap()).await.unwrap().rows {
            out.insert(r.room.id.get(), r.room.stream_channel_id);
        }
    }
    out
}

/// A rollback that goes ahead (`--yes`).
pub fn yes() -> RollbackOptions {
    RollbackOptions { yes: true, ..RollbackOptions::default() }
}
