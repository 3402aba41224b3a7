//! A message's conversation over HTTP: threads (replies left out of channel state unless shown in
//! the channel, read through their parent, `reply_count`), quotes, reactions (one per user and
//! type, refused in a frozen channel) and pins (in `pinned_messages`), kept through a snapshot.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

const ROOM: &str = "/channels/messaging/room_4_1";

async fn room(sbx: &Sandbox) {
    sbx.upsert_users(&[("a", &["gym_4"]), ("b", &["gym_4"])]).await;
    let data = json!({ "data": { "created_by_id": "a", "team": "gym_4", "members": [{ "user_id": "a" }, { "user_id": "b" }] } });
    assert_eq!(sbx.call(Method::POST, &format!("{ROOM}/query"), Some(data)).await.status, StatusCode::CREATED);
}

async fn send(sbx: &Sandbox, message: Value) -> Answer {
    sbx.call(Method::POST, &format!("{ROOM}/message"), Some(json!({ "message": message }))).await
}

async fn channel_messages(sbx: &Sandbox) -> Vec<Value> {
    let state = sbx
        .call(Method::POST, &format!("{ROOM}/query"), Some(json!({ "state": true, "messages": { "limit": 100 } })))
        .await;
    state.body["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn threads_and_quotes() {
    let sbx = Sandbox::start(config()).await;
    room(&sbx).await;
    assert_eq!(
        send(&sbx, json!({ "id": "p", "text": "parent", "user_id": "a", "type": "" })).await.status,
        StatusCode::CREATED,
        "an empty type is regular"
    );
    let reply = send(&sbx, json!({ "id": "r1", "text": "in thread", "user_id": "b", "parent_id": "p" })).await;
    assert_eq!((reply.status, reply.body["message"]["type"].clone()), (StatusCode::CREATED, json!("reply")));
    send(&sbx, json!({ "id": "r2", "text": "also here", "user_id": "a", "parent_id": "p", "show_in_channel": true }))
        .await;
    send(&sbx, json!({ "id": "q", "text": "quoting", "user_id": "b", "quoted_message_id": "p" })).await;
    let nested = send(&sbx, json!({ "id": "r3", "text": "x", "user_id": "b", "parent_id": "r1" })).await;
    assert_eq!(nested.status, StatusCode::BAD_REQUEST, "{}", nested.body);
    let stray = send(&sbx, json!({ "id": "r4", "text": "x", "user_id": "b", "parent_id": "nowhere" })).await;
    assert_eq!(stray.status, StatusCode::BAD_REQUEST);

    let messages = channel_messages(&sbx).await;
    let shown: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(shown, ["p", "r2", "q"], "r1 lives in its thread only");
    assert_eq!(messages[0]["reply_count"], 2);
    assert_eq!(messages[2]["quoted_message"]["id"], "p");

    let thread = sbx.call(Method::GET, "/messages/p/replies?limit=10", None).await;
    let ids: Vec<&str> =
        thread.body["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["r1", "r2"]);
    let back = sbx.call(Method::GET, "/messages/p/replies?limit=10&id_lt=r2", None).await;
    assert_eq!(back.body["messages"].as_array().unwrap().len(), 1);
    sbx.stop().await;
}

#[tokio::test]
async fn reactions_and_pins() {
    let sbx = Sandbox::start(config()).await;
    room(&sbx).await;
    send(&sbx, json!({ "id": "m", "text": "hello", "user_id": "a" })).await;
    for (user, kind) in [("a", "like"), ("b", "like"), ("b", "love"), ("b", "like")] {
        let sent = sbx
            .call(
                Method::POST,
                "/messages/m/reaction",
                Some(json!({ "reaction": { "type": kind, "user_id": user }, "skip_push": true })),
            )
            .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    }
    let message = &channel_messages(&sbx).await[0];
    assert_eq!(message["reaction_counts"], json!({ "like": 2, "love": 1 }), "one per user and type");
    assert_eq!(message["latest_reactions"].as_array().unwrap().len(), 3);
    let listed = sbx.call(Method::GET, "/messages/m/reactions?limit=2&offset=1", None).await;
    assert_eq!(listed.body["reactions"].as_array().unwrap().len(), 2);

    let pin = sbx.call(Method::PUT, "/messages/m", Some(json!({ "set": { "pinned": true }, "user_id": "b" }))).await;
    assert_eq!(pin.status, StatusCode::OK, "{}", pin.body);
    assert_eq!(pin.body["message"]["pinned_by"]["id"], "b");
    let state = sbx.call(Method::POST, &format!("{ROOM}/query"), Some(json!({ "state": true }))).await;
    assert_eq!(state.body["pinned_messages"][0]["id"], "m");
    let unpin = sbx.call(Method::PUT, "/messages/m", Some(json!({ "set": { "pinned": false }, "user_id": "b" }))).await;
    assert!(unpin.body["message"]["pinned_at"].is_null(), "{}", unpin.body);

    // A frozen channel takes no reactions; the snapshot keeps them.
    sbx.call(Method::PATCH, ROOM, Some(json!({ "set": { "frozen": true } }))).await;
    let refused = sbx
        .call(Method::POST, "/messages/m/reaction", Some(json!({ "reaction": { "type": "wow", "user_id": "a" } })))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let saved = sbx.state().await;
    assert_eq!(saved["channels"][0]["messages"][0]["reactions"].as_array().unwrap().len(), 3);
    sbx.stop().await;
}

#[tokio::test]
async fn each_member_sees_only_what_is_theirs_to_see() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &["gym_4"]), ("b", &["gym_4"]), ("c", &["gym_4"])]).await;
    let members = json!([{ "user_id": "a" }, { "user_id": "b" }, { "user_id": "c" }]);
    let data = json!({ "data": { "created_by_id": "a", "team": "gym_4", "members": members } });
    sbx.call(Method::POST, &format!("{ROOM}/query"), Some(data)).await;
    send(&sbx, json!({ "id": "old", "text": "before", "user_id": "a" })).await;
    send(&sbx, json!({ "id": "private", "text": "for b", "user_id": "a", "restricted_visibility": ["b"] })).await;
    let cleared =
        sbx.call(Method::POST, &format!("{ROOM}/hide"), Some(json!({ "user_id": "c", "clear_history": true }))).await;
    assert_eq!(cleared.status, StatusCode::CREATED, "{}", cleared.body);
    send(&sbx, json!({ "id": "new", "text": "after", "user_id": "b" })).await;

    let seen = |user: &'static str| {
        let sbx = &sbx;
        async move {
            let query = json!({ "state": true, "messages": { "limit": 100 } });
            let state = sbx.call_as(&user_token(user), Method::POST, &format!("{ROOM}/query"), Some(query)).await;
            let ids: Vec<String> = state.body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            ids
        }
    };
    assert_eq!(seen("a").await, ["old", "private", "new"], "the sender sees their private message");
    assert_eq!(seen("b").await, ["old", "private", "new"], "so does the one it names");
    assert_eq!(seen("c").await, ["new"], "c cleared the history and is not named");
    assert_eq!(channel_messages(&sbx).await.len(), 3, "the server sees everything");
}

#[tokio::test]
async fn a_deleted_message_stays_as_a_placeholder_unless_deleted_hard() {
    let sbx = Sandbox::start(config()).await;
    room(&sbx).await;
    send(&sbx, json!({ "id": "soft", "text": "oops", "user_id": "a" })).await;
    send(&sbx, json!({ "id": "hard", "text": "gone", "user_id": "a" })).await;
    let soft = sbx.call(Method::DELETE, "/messages/soft", None).await;
    assert_eq!(
        (soft.status, soft.body["message"]["type"].clone()),
        (StatusCode::OK, json!("deleted")),
        "{}",
        soft.body
    );
    assert!(soft.body["message"]["deleted_at"].is_string());
    assert_eq!(sbx.call(Method::DELETE, "/messages/soft", None).await.status, StatusCode::OK, "again: no change");
    assert_eq!(sbx.call(Method::DELETE, "/messages/hard?hard=true", None).await.status, StatusCode::OK);
    let messages = channel_messages(&sbx).await;
    let kept: Vec<(&str, &str)> =
        messages.iter().map(|m| (m["id"].as_str().unwrap(), m["type"].as_str().unwrap())).collect();
    assert_eq!(kept, [("soft", "deleted")]);
    assert_eq!(sbx.call(Method::DELETE, "/messages/hard", None).await.status, StatusCode::NOT_FOUND);
    let state = sbx.call(Method::POST, &format!("{ROOM}/query"), Some(json!({ "state": true }))).await;
    let b = state.body["read"].as_array().unwrap().iter().find(|r| r["user"]["id"] == "b").cloned().unwrap();
    assert_eq!(b["unread_messages"], 0, "a deleted message is nobody's unread: {b}");
}
