//! What each member has of a channel, over HTTP: unread counts that leave out one's own and
//! silent messages, marking read up to a message, hiding that a new message undoes unless it is
//! sent with `keep_channel_hidden`, history hidden by `clear_history` or `hide_history`, roles,
//! and all of it kept through a snapshot.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

const ROOM: &str = "/channels/messaging/room_4_1";

async fn room(sbx: &Sandbox) {
    sbx.upsert_users(&[("a", &["gym_4"]), ("b", &["gym_4"]), ("c", &["gym_4"])]).await;
    let members = json!(["a", { "user_id": "b", "channel_role": "channel_moderator" }]);
    let data = json!({ "data": { "created_by_id": "a", "team": "gym_4", "members": members } });
    assert_eq!(sbx.call(Method::POST, &format!("{ROOM}/query"), Some(data)).await.status, StatusCode::CREATED);
}

async fn send(sbx: &Sandbox, id: &str, from: &str, extra: Value) -> StatusCode {
    let mut body = json!({ "message": { "id": id, "text": id, "user_id": from } });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if k == "silent" {
                body["message"][k] = v.clone();
            } else {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    sbx.call(Method::POST, &format!("{ROOM}/message"), Some(body)).await.status
}

/// The member's entry of the channel state's `read` list.
async fn read_of(sbx: &Sandbox, user: &str) -> Value {
    let state = sbx.call(Method::POST, &format!("{ROOM}/query"), Some(json!({ "state": true }))).await;
    state.body["read"].as_array().unwrap().iter().find(|r| r["user"]["id"] == user).cloned().unwrap_or(Value::Null)
}

#[tokio::test]
async fn unread_counts_leave_out_ones_own_and_silent_messages_and_follow_mark_read() {
    let sbx = Sandbox::start(config()).await;
    room(&sbx).await;
    for (id, from) in [("m1", "a"), ("m2", "a"), ("m3", "b"), ("m4", "a")] {
        assert_eq!(send(&sbx, id, from, json!({})).await, StatusCode::CREATED);
    }
    assert_eq!(send(&sbx, "m5", "a", json!({ "silent": true })).await, StatusCode::CREATED);
    assert_eq!(read_of(&sbx, "b").await["unread_messages"], 3, "a's three, not b's own nor the silent one");
    assert_eq!(read_of(&sbx, "a").await["unread_messages"], 1);

    let read =
        sbx.call(Method::POST, &format!("{ROOM}/read"), Some(json!({ "user_id": "b", "message_id": "m2" }))).await;
    assert_eq!(read.status, StatusCode::CREATED, "{}", read.body);
    let b = read_of(&sbx, "b").await;
    assert_eq!((b["unread_messages"].clone(), b["last_read_message_id"].clone()), (json!(1), json!("m2")));
    sbx.call(Method::POST, &format!("{ROOM}/read"), Some(json!({ "user_id": "b" }))).await;
    assert_eq!(read_of(&sbx, "b").await["unread_messages"], 0);

    let stranger = sbx.call(Method::POST, &format!("{ROOM}/read"), Some(json!({ "user_id": "c" }))).await;
    assert_eq!(stranger.status, StatusCode::BAD_REQUEST, "only members read");
    let unknown =
        sbx.call(Method::POST, &format!("{ROOM}/read"), Some(json!({ "user_id": "b", "message_id": "nope" }))).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(sbx.stats().await["operations"]["MarkRead"]["calls"], 4);
    sbx.stop().await;
}

#[tokio::test]
async fn a_new_message_unhides_unless_sent_with_keep_channel_hidden() {
    let sbx = Sandbox::start(config()).await;
    room(&sbx).await;
    let hidden_for = |state: Value| state["channels"][0]["hidden_for"].clone();
    sbx.call(Method::POST, &format!("{ROOM}/hide"), Some(json!({ "user_id": "b" }))).await;
    assert_eq!(hidden_for(sbx.state().await), json!(["b"]));
    assert_eq!(send(&sbx, "kept", "a", json!({ "keep_channel_hidden": true })).await, StatusCode::CREATED);
    assert_eq!(hidden_for(sbx.state().await), json!(["b"]), "kept hidden");
    let note = json!({ "message": { "id": "note", "text": "n", "user_id": "a" }, "keep_channel_hidden": true });
    sbx.call(Method::POST, ROOM, Some(note)).await;
    assert_eq!(hidden_for(sbx.state().await), json!(["b"]), "an update's message kept it hidden too");
    assert_eq!(send(&sbx, "shown", "a", json!({})).await, StatusCode::CREATED);
    assert!(hidden_for(sbx.state().await).is_null(), "a plain message shows it again");
    sbx.stop().await;
}

#[tokio::test]
async fn cleared_and_hidden_history_is_not_unread_and_survives_a_snapshot() {
    let sbx = Sandbox::start(config()).await;
    room(&sbx).await;
    send(&sbx, "old", "a", json!({})).await;
    sbx.call(Method::POST, &format!("{ROOM}/hide"), Some(json!({ "user_id": "b", "clear_history": true }))).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    send(&sbx, "new", "a", json!({})).await;
    assert_eq!(read_of(&sbx, "b").await["unread_messages"], 1, "what b cleared does not count");
    let add = json!({ "add_members": [{ "user_id": "c" }], "hide_history": true });
    assert_eq!(sbx.call(Method::POST, ROOM, Some(add)).await.status, StatusCode::CREATED);
    assert_eq!(read_of(&sbx, "c").await["unread_messages"], 0);

    let state = sbx.state().await;
    let channel = &state["channels"][0];
    assert_eq!(channel["members"], json!(["a", "b", "c"]));
    assert_eq!(channel["member_state"]["b"]["channel_role"], "channel_moderator");
    assert!(channel["member_state"]["b"]["hide_messages_before"].is_string(), "{channel:#}");
    assert!(channel["member_state"]["c"]["hide_messages_before"].is_string(), "{channel:#}");
    assert!(channel["member_state"].get("a").is_none(), "defaults are not written: {channel:#}");
    // The snapshot loads back as it was.
    let snapshot: gymchat_sandbox::Snapshot = serde_json::from_value(state.clone()).unwrap();
    let mut reloaded = config();
    reloaded.initial = gymchat_sandbox::InitialState::Snapshot(snapshot);
    let again = Sandbox::start(reloaded).await;
    assert_eq!(again.state().await["channels"][0], state["channels"][0]);
    assert_eq!(read_of(&again, "b").await["unread_messages"], 1);
    again.stop().await;
    sbx.stop().await;
}
