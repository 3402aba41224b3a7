//! `PUT /channels/batch` as the sandbox serves it: one operation on many channels as a task,
//! filters with explicit operators only, `updateData` setting only what it names, member
//! operations, and a failed task that applies nothing.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

async fn batch(sbx: &Sandbox, body: Value) -> Answer {
    sbx.call(Method::PUT, "/channels/batch", Some(body)).await
}

/// Polls the task twice (the first poll answers `running`); answers the last answer.
async fn finished(sbx: &Sandbox, answer: &Answer) -> Value {
    let id = answer.body["task_id"].as_str().unwrap_or_else(|| panic!("{}", answer.body));
    let first = sbx.call(Method::GET, &format!("/tasks/{id}"), None).await;
    assert_eq!(first.body["status"], "running");
    sbx.call(Method::GET, &format!("/tasks/{id}"), None).await.body
}

async fn channel(sbx: &Sandbox, id: &str) -> Value {
    let state = sbx.state().await;
    state["channels"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap()
}

#[tokio::test]
async fn one_operation_on_many_channels_as_a_task() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &[]), ("b", &[]), ("c", &[])]).await;
    for id in ["one", "two", "three"] {
        let made = sbx.create_channel(id, None, &["a", "b"]).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    }
    let cids = json!({ "cids": { "$in": ["messaging:one", "messaging:two", "messaging:gone"] } });
    let update =
        json!({ "operation": "updateData", "filter": cids, "data": { "frozen": true, "custom": { "moved_to": "x" } } });
    let answer = batch(&sbx, update).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let task = finished(&sbx, &answer).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["result"]["messaging:one"]["status"], "ok");
    assert_eq!(task["result"]["messaging:gone"]["status"], "error");
    let one = channel(&sbx, "one").await;
    assert_eq!((one["frozen"].clone(), one["moved_to"].clone()), (json!(true), json!("x")));
    assert_eq!(one["members"], json!(["a", "b"]), "updateData sets only what it names");
    assert_eq!(channel(&sbx, "three").await["frozen"], false, "a channel it does not name is left alone");

    let add = json!({ "operation": "addModerators", "filter": { "cids": { "$eq": "messaging:one" } }, "members": [{ "user_id": "b" }] });
    assert_eq!(finished(&sbx, &batch(&sbx, add).await).await["status"], "completed");
    assert_eq!(channel(&sbx, "one").await["member_state"]["b"]["channel_role"], "channel_moderator");
    let by_type = json!({ "operation": "addMembers", "filter": { "types": { "$in": ["messaging"] } }, "members": [{ "user_id": "c" }] });
    assert_eq!(finished(&sbx, &batch(&sbx, by_type).await).await["status"], "completed");
    for id in ["one", "two", "three"] {
        assert_eq!(channel(&sbx, id).await["members"], json!(["a", "b", "c"]), "{id}");
    }
    assert_eq!(sbx.stats().await["operations"]["UpdateChannelsBatch"]["calls"], 3);
}

#[tokio::test]
async fn filters_need_explicit_operators_and_at_most_a_hundred_cids() {
    let sbx = Sandbox::start(config()).await;
    let data = json!({ "frozen": true });
    let bare =
        batch(&sbx, json!({ "operation": "updateData", "filter": { "cids": ["messaging:one"] }, "data": data })).await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST, "{}", bare.body);
    let many: Vec<String> = (0..101).map(|i| format!("messaging:c{i}")).collect();
    let too_many =
        batch(&sbx, json!({ "operation": "updateData", "filter": { "cids": { "$in": many } }, "data": data })).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    let unknown =
        batch(&sbx, json!({ "operation": "paint", "filter": { "cids": { "$in": ["messaging:one"] } } })).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let archive = batch(&sbx, json!({ "operation": "archive", "filter": { "cids": { "$in": ["messaging:one"] } }, "members": [{ "user_id": "a" }] })).await;
    assert!(archive.message().contains("not implemented by the sandbox"), "{}", archive.body);
}

#[tokio::test]
async fn a_failed_batch_task_applies_nothing() {
    let mut cfg = config();
    cfg.task_fail_rate = 1.0;
    let sbx = Sandbox::start(cfg).await;
    sbx.upsert_users(&[("a", &[])]).await;
    sbx.create_channel("one", None, &["a"]).await;
    let update = json!({ "operation": "updateData", "filter": { "cids": { "$in": ["messaging:one"] } }, "data": { "frozen": true } });
    let task = finished(&sbx, &batch(&sbx, update).await).await;
    assert_eq!(task["status"], "error", "{task}");
    assert_eq!(channel(&sbx, "one").await["frozen"], false);
}
