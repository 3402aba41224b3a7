//! Stream's import API as the sandbox serves it: an upload URL, the upload (no Stream auth), a
//! task that moves one state per poll, a file in the documented format applied with its own
//! times, and a file that breaks the format refused with each reason and nothing applied.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

/// Uploads `lines` as an import file and starts an import of it; answers the task's id.
async fn start_import(sbx: &Sandbox, lines: &[Value]) -> String {
    let url = sbx.call(Method::POST, "/import_urls", Some(json!({ "filename": "history.jsonl" }))).await;
    assert_eq!(url.status, StatusCode::CREATED, "{}", url.body);
    let file: String = lines.iter().map(|l| format!("{l}\n")).collect();
    // A pre-signed URL: no api key, no token.
    let put = sbx.http.put(url.body["upload_url"].as_str().unwrap()).body(file).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let task = sbx.call(Method::POST, "/imports", Some(json!({ "path": url.body["path"], "mode": "upsert" }))).await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);
    assert_eq!(task.body["import_task"]["state"], "uploaded");
    task.body["import_task"]["id"].as_str().unwrap().to_owned()
}

/// Polls the import until it ends; answers the states seen and the last answer.
async fn poll(sbx: &Sandbox, id: &str) -> (Vec<String>, Value) {
    let mut states = Vec::new();
    for _ in 0..5 {
        let task = sbx.call(Method::GET, &format!("/imports/{id}"), None).await.body["import_task"].clone();
        states.push(task["state"].as_str().unwrap().to_owned());
        if ["completed", "analyze_failed", "failed"].contains(&task["state"].as_str().unwrap()) {
            return (states, task);
        }
    }
    panic!("the import never ended: {states:?}");
}

fn item(kind: &str, data: Value) -> Value {
    json!({ "type": kind, "data": data })
}

/// A small conversation: two users of team `gym_4`, their channel, a thread, a pin, a reaction,
/// and Bruno's read position after the first message.
fn conversation() -> Vec<Value> {
    vec![
        item("user", json!({ "id": "ana", "teams": ["gym_4"], "name": "Ana" })),
        item("user", json!({ "id": "bruno", "teams": ["gym_4"] })),
        item(
            "channel",
            json!({ "id": "chat", "type": "messaging", "created_by": "ana", "team": "gym_4", "frozen": false, "created_at": "2024-01-01T09:00:00Z", "name": "Ana and Bruno" }),
        ),
        item(
            "member",
            json!({ "channel_type": "messaging", "channel_id": "chat", "user_id": "ana", "channel_role": "channel_moderator" }),
        ),
        item(
            "member",
            json!({ "channel_type": "messaging", "channel_id": "chat", "user_id": "bruno", "last_read": "2024-01-01T10:00:00Z", "hide_channel": true }),
        ),
        item(
            "message",
            json!({ "id": "m1", "channel_type": "messaging", "channel_id": "chat", "user": "ana", "text": "hello", "created_at": "2024-01-01T10:00:00Z" }),
        ),
        item(
            "message",
            json!({ "id": "m2", "channel_type": "messaging", "channel_id": "chat", "user": "ana", "text": "see this", "created_at": "2024-01-01T11:00:00Z", "pinned_at": "2024-01-01T11:05:00Z", "pinned_by_id": "bruno", "pin_expires": null, "mentioned_users_ids": ["bruno"] }),
        ),
        item(
            "message",
            json!({ "id": "r1", "channel_type": "messaging", "channel_id": "chat", "user": "bruno", "type": "reply", "parent_id": "m2", "text": "seen", "created_at": "2024-01-01T12:00:00Z" }),
        ),
        item(
            "reaction",
            json!({ "message_id": "m1", "type": "like", "user_id": "bruno", "created_at": "2024-01-01T10:30:00Z" }),
        ),
    ]
}

#[tokio::test]
async fn a_file_in_the_documented_format_is_imported_with_its_own_times() {
    let mut cfg = config();
    cfg.initial = gymchat_sandbox::InitialState::Snapshot(gymchat_sandbox::Snapshot {
        multi_tenant_enabled: true,
        ..Default::default()
    });
    let sbx = Sandbox::start(cfg).await;
    let id = start_import(&sbx, &conversation()).await;
    let (states, task) = poll(&sbx, &id).await;
    assert_eq!(states, ["analyzing", "completed"], "{task:#}");
    assert_eq!(task["result"]["stats"], json!({ "user": 2, "channel": 1, "member": 2, "message": 3, "reaction": 1 }));
    let moves: Vec<&str> =
        task["history"].as_array().unwrap().iter().map(|h| h["next_state"].as_str().unwrap()).collect();
    assert_eq!(moves, ["analyzing", "importing", "completed"]);

    let state =
        sbx.call(Method::POST, "/channels/messaging/chat/query", Some(json!({ "state": true, "watch": false }))).await;
    assert_eq!(state.status, StatusCode::CREATED, "{}", state.body);
    let channel = &state.body["channel"];
    assert_eq!(channel["created_at"], "2024-01-01T09:00:00.000000Z");
    assert_eq!(channel["team"], "gym_4");
    assert_eq!(channel["name"], "Ana and Bruno");
    let messages = state.body["messages"].as_array().unwrap();
    let texts: Vec<(&str, &str)> =
        messages.iter().map(|m| (m["text"].as_str().unwrap(), m["created_at"].as_str().unwrap())).collect();
    assert_eq!(texts, [("hello", "2024-01-01T10:00:00.000000Z"), ("see this", "2024-01-01T11:00:00.000000Z")]);
    assert_eq!(messages[0]["reaction_counts"], json!({ "like": 1 }));
    assert_eq!(messages[1]["reply_count"], 1);
    assert_eq!(messages[1]["pinned_by"]["id"], "bruno");
    assert_eq!(messages[1]["mentioned_users"], json!(["bruno"]));
    assert_eq!(state.body["pinned_messages"].as_array().unwrap().len(), 1);
    let read =
        |user: &str| state.body["read"].as_array().unwrap().iter().find(|r| r["user"]["id"] == user).cloned().unwrap();
    // Bruno read the first message: Ana's second is unread for him (the reply is only in its thread).
    assert_eq!(read("bruno")["unread_messages"], 1);
    let role =
        state.body["members"].as_array().unwrap().iter().find(|m| m["user_id"] == "ana").unwrap()["channel_role"]
            .clone();
    assert_eq!(role, "channel_moderator");
    let snapshot = sbx.state().await;
    assert_eq!(snapshot["channels"][0]["hidden_for"], json!(["bruno"]), "Bruno hid it");
    assert_eq!(sbx.stats().await["would_push"], 0, "an import pushes nothing");
}

#[tokio::test]
async fn a_file_that_breaks_the_format_fails_its_analysis_and_changes_nothing() {
    let mut cfg = config();
    cfg.initial = gymchat_sandbox::InitialState::Snapshot(gymchat_sandbox::Snapshot {
        multi_tenant_enabled: true,
        ..Default::default()
    });
    let sbx = Sandbox::start(cfg).await;
    let mut lines = conversation();
    // The key is `data`, not `item`.
    lines.insert(2, json!({ "type": "user", "item": { "id": "carla" } }));
    // A member of another team.
    lines.insert(3, item("user", json!({ "id": "diego", "teams": ["gym_5"] })));
    lines.insert(6, item("member", json!({ "channel_type": "messaging", "channel_id": "chat", "user_id": "diego" })));
    // Before the reaction: a message whose sender is nowhere, one with `user_id` for `user`, a
    // reply to nothing, a pin without its other fields and an attachment that is not public.
    let reaction = lines.pop().unwrap();
    lines.push(item("message", json!({ "id": "x1", "channel_type": "messaging", "channel_id": "chat", "user": "nobody", "text": "?", "created_at": "2024-01-02T00:00:00Z" })));
    lines.push(item("message", json!({ "id": "x2", "channel_type": "messaging", "channel_id": "chat", "user_id": "ana", "text": "?", "created_at": "2024-01-02T00:00:00Z" })));
    lines.push(item("message", json!({ "id": "x3", "channel_type": "messaging", "channel_id": "chat", "user": "ana", "type": "reply", "parent_id": "gone", "created_at": "2024-01-02T00:00:00Z" })));
    lines.push(item("message", json!({ "id": "x4", "channel_type": "messaging", "channel_id": "chat", "user": "ana", "pinned_at": "2024-01-02T00:00:00Z", "created_at": "2024-01-02T00:00:00Z" })));
    lines.push(item("message", json!({ "id": "x5", "channel_type": "messaging", "channel_id": "chat", "user": "ana", "created_at": "2024-01-02T00:00:00Z", "attachments": [{ "type": "file", "asset_url": "/files/local.pdf" }] })));
    lines.push(reaction);
    // A user after the reaction: out of order.
    lines.push(item("user", json!({ "id": "late" })));
    let id = start_import(&sbx, &lines).await;
    let (states, task) = poll(&sbx, &id).await;
    assert_eq!(states, ["analyzing", "analyze_failed"], "{task:#}");
    let errors: Vec<String> =
        task["result"]["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect();
    for expected in [
        "line 3: no \"data\" object",
        "line 7: member: user diego is not in team \"gym_4\"",
        "user \"nobody\" is neither in the file nor in the app",
        "the sender's key is user, not user_id",
        "parent gone is neither earlier in the file nor in the app",
        "carries [\"pinned_at\", \"pinned_by_id\", \"pin_expires\"] together",
        "asset_url \"/files/local.pdf\" is not a public http(s) URL",
        "a user item after reaction items",
    ] {
        assert!(errors.iter().any(|e| e.contains(expected)), "{expected:?} in {errors:#?}");
    }
    assert_eq!(errors.len(), 8, "{errors:#?}");
    let state = sbx.state().await;
    assert_eq!(state["channels"], json!([]), "nothing applied");
    assert_eq!(state["users"], json!([]));

    // An import of a path nothing was uploaded to is refused at once.
    let url = sbx.call(Method::POST, "/import_urls", Some(json!({ "filename": "empty.jsonl" }))).await;
    let refused = sbx.call(Method::POST, "/imports", Some(json!({ "path": url.body["path"], "mode": "upsert" }))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let unknown =
        sbx.http.put(format!("{}/_sandbox/uploads/imports/nowhere.jsonl", sbx.url)).body("{}").send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::FORBIDDEN, "an upload needs a path the API gave");
}
