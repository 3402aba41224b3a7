//! Requests shaped as Stream's own server SDK (Go) sends them, which real Stream serves: a
//! distinct channel made without an id, a server-side sender that does not exist yet, dotted
//! paths in partial updates, deactivating and reactivating a user, unread counts and member roles
//! through `assign_roles`.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn a_channel_without_an_id_is_the_distinct_channel_of_its_members() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &[]), ("b", &[]), ("c", &[])]).await;
    let make = |members: Value| {
        let sbx = &sbx;
        async move {
            let data = json!({ "data": { "created_by_id": "a", "members": members } });
            sbx.call(Method::POST, "/channels/messaging/query", Some(data)).await
        }
    };
    let first = make(json!([{ "user_id": "a" }, { "user_id": "b" }])).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let id = first.body["channel"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("!members-"), "{id}");
    let again = make(json!([{ "user_id": "b" }, { "user_id": "a" }])).await;
    assert_eq!(again.body["channel"]["id"], json!(id), "the same members, the same channel");
    let other = make(json!([{ "user_id": "a" }, { "user_id": "c" }])).await;
    assert_ne!(other.body["channel"]["id"], json!(id));
    // It is addressed like any other channel afterwards.
    let sent = sbx
        .call(
            Method::POST,
            &format!("/channels/messaging/{id}/message"),
            Some(json!({ "message": { "text": "hi", "user_id": "a" } })),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let nobody = make(json!([])).await;
    assert_eq!(nobody.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_server_side_send_makes_its_sender_and_a_deactivated_user_cannot_send() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &[])]).await;
    sbx.create_channel("room", None, &["a"]).await;
    let send = |user: &'static str| {
        let sbx = &sbx;
        async move {
            let message = json!({ "message": { "text": "hello", "user_id": user, "type": "" } });
            sbx.call(Method::POST, "/channels/messaging/room/message", Some(message)).await
        }
    };
    assert_eq!(send("never-made").await.status, StatusCode::CREATED);
    assert!(sbx.state().await["users"].as_array().unwrap().iter().any(|u| u["id"] == "never-made"));

    let off = sbx.call(Method::POST, "/users/a/deactivate", None).await;
    assert_eq!(off.status, StatusCode::CREATED, "{}", off.body);
    assert!(off.body["user"]["deactivated_at"].is_string());
    assert_eq!(send("a").await.status, StatusCode::FORBIDDEN);
    let found = |include: bool| {
        let sbx = &sbx;
        async move {
            let payload = json!({ "filter_conditions": { "id": "a" }, "include_deactivated_users": include });
            let path = format!("/users?payload={}", urlencode(&payload.to_string()));
            sbx.call(Method::GET, &path, None).await.body["users"].as_array().unwrap().len()
        }
    };
    assert_eq!((found(false).await, found(true).await), (0, 1), "found only when asked for");
    assert_eq!(sbx.call(Method::POST, "/users/a/reactivate", None).await.status, StatusCode::CREATED);
    assert_eq!(send("a").await.status, StatusCode::CREATED);
    assert_eq!(found(false).await, 1);
}

#[tokio::test]
async fn partial_updates_take_dotted_paths() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &[])]).await;
    sbx.create_channel("room", None, &["a"]).await;
    let user = json!({ "users": [{ "id": "a", "set": { "test.passed": true, "test.runs": 2 } }] });
    let set = sbx.call(Method::PATCH, "/users", Some(user)).await;
    assert_eq!(set.body["users"]["a"]["test"], json!({ "passed": true, "runs": 2 }), "{}", set.body);
    let unset =
        sbx.call(Method::PATCH, "/users", Some(json!({ "users": [{ "id": "a", "unset": ["test.passed"] }] }))).await;
    assert_eq!(unset.body["users"]["a"]["test"], json!({ "runs": 2 }));

    let channel = json!({ "set": { "config.slow": true }, "unset": [] });
    let patched = sbx.call(Method::PATCH, "/channels/messaging/room", Some(channel)).await;
    assert_eq!(patched.body["channel"]["config"]["slow"], true, "{}", patched.body);
}

#[tokio::test]
async fn unread_counts_and_assigned_roles() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &[]), ("b", &[])]).await;
    sbx.create_channel("room", None, &["a", "b"]).await;
    for n in 0..3 {
        let message = json!({ "message": { "text": format!("m{n}"), "user_id": "a" } });
        sbx.call(Method::POST, "/channels/messaging/room/message", Some(message)).await;
    }
    let unread = sbx.call(Method::GET, "/unread?user_id=b", None).await;
    assert_eq!(unread.status, StatusCode::OK, "{}", unread.body);
    assert_eq!(unread.body["total_unread_count"], 3);
    assert_eq!(unread.body["channels"][0]["channel_id"], "messaging:room");
    let own = sbx.call_as(&user_token("a"), Method::GET, "/unread", None).await;
    assert_eq!(own.body["total_unread_count"], 0, "one's own messages are not unread");

    let roles = json!({ "assign_roles": [{ "user_id": "b", "channel_role": "channel_moderator" }] });
    let assigned = sbx.call(Method::POST, "/channels/messaging/room", Some(roles)).await;
    assert_eq!(assigned.status, StatusCode::CREATED, "{}", assigned.body);
    let b = assigned.body["members"].as_array().unwrap().iter().find(|m| m["user_id"] == "b").cloned().unwrap();
    assert_eq!(b["channel_role"], "channel_moderator");
    let stranger = json!({ "assign_roles": [{ "user_id": "nobody", "channel_role": "channel_moderator" }] });
    assert_eq!(
        sbx.call(Method::POST, "/channels/messaging/room", Some(stranger)).await.status,
        StatusCode::BAD_REQUEST
    );
}
