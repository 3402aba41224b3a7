//! Channels over HTTP: get-or-create, history pages, sends, full and partial updates, hide and
//! show, truncate, delete.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use support::*;

const ROOM: &str = "/channels/messaging/room_4_1";

async fn room(sbx: &Sandbox) {
    sbx.upsert_users(&[("a", &["gym_4"]), ("b", &["gym_4"])]).await;
    let data = json!({ "data": { "created_by_id": "a", "team": "gym_4", "members": ["a", {"user_id": "b"}], "gym_id": "4", "name": "Room" } });
    let created = sbx.call(Method::POST, &format!("{ROOM}/query"), Some(data)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}

fn ids(a: &Answer) -> Vec<String> {
    a.body["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn get_or_create_creates_with_its_data_once() {
    let sbx = Sandbox::start(config()).await;
    room(&sbx).await;
    let again = sbx
        .call(
            Method::POST,
            &format!("{ROOM}/query"),
            Some(json!({ "data": { "created_by_id": "a", "name": "Other" } })),
        )
        .await;
    let ch = &again.body["channel"];
    assert_eq!(
        (
            ch["cid"].as_str(),
            ch["team"].as_str(),
            ch["gym_id"].as_str(),
            ch["member_count"].as_u64(),
            ch["name"].as_str()
        ),
        (Some("messaging:room_4_1"), Some("gym_4"), Some("4"), Some(2), Some("Room")),
        "data is create-only"
    );
    sbx.stop().await;
}

#[tokio::test]
async fn history_pages_back_oldest_first_with_id_lt() {
    let sbx = Sandbox::start(config()).await;
    room(&sbx).await;
    for i in 1..=7 {
        let message = json!({ "message": { "id": format!("m{i}"), "text": format!("t{i}"), "user_id": "a", "original_id": i }, "skip_push": true });
        let sent = sbx.call(Method::POST, &format!("{ROOM}/message"), Some(message)).await;
        assert_eq!(
            (sent.status, &sent.body["message"]["original_id"]),
            (StatusCode::CREATED, &json!(i)),
            "{}",
            sent.body
        );
    }
    let page = |id_lt: Option<&str>| match id_lt {
        Some(id) => json!({ "messages": { "limit": 3, "id_lt": id } }),
        None => json!({ "messages": { "limit": 3 } }),
    };
    assert_eq!(ids(&sbx.call(Method::POST, &format!("{ROOM}/query"), Some(page(None))).await), ["m5", "m6", "m7"]);
    let before = sbx.call(Method::POST, &format!("{ROOM}/query"), Some(page(Some("m5")))).await;
    assert_eq!(ids(&before), ["m2", "m3", "m4"]);
    assert_eq!(before.body["messages"][0]["user"]["id"], "a");
    sbx.stop().await;
}

#[tokio::test]
async fn a_send_is_refused_for_a_taken_id_no_sender_or_no_channel() {
    let sbx = Sandbox::start(config()).await;
    room(&sbx).await;
    let path = format!("{ROOM}/message");
    let send = async |path: &str, message: serde_json::Value| {
        sbx.call(Method::POST, path, Some(json!({ "message": message }))).await
    };
    send(&path, json!({ "id": "m3", "text": "t", "user_id": "a" })).await;
    let dup = send(&path, json!({ "id": "m3", "text": "again", "user_id": "b" })).await;
    assert_eq!(dup.error_code(), 4);
    assert!(dup.message().contains("a message with ID m3 already exists"), "{}", dup.message());
    assert_eq!(send(&path, json!({ "text": "x" })).await.error_code(), 4);
    let nowhere = send("/channels/messaging/nope/message", json!({ "text": "x", "user_id": "a" })).await;
    assert_eq!((nowhere.status, nowhere.error_code()), (StatusCode::NOT_FOUND, 16));
    sbx.stop().await;
}

#[tokio::test]
async fn get_or_create_needs_a_creator_a_valid_id_and_existing_members() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &[])]).await;
    let no_creator = sbx
        .call(Method::POST, "/channels/messaging/room_4_2/query", Some(json!({ "data": { "members": ["a"] } })))
        .await;
    assert!(
        no_creator.message().contains("either data.created_by or data.created_by_id must be provided"),
        "{}",
        no_creator.message()
    );
    let long = format!("/channels/messaging/{}/query", "x".repeat(65));
    assert_eq!(sbx.call(Method::POST, &long, Some(json!({ "data": { "created_by_id": "a" } }))).await.error_code(), 4);
    let ghost = json!({ "data": { "created_by_id": "a", "members": ["ghost"] } });
    assert_eq!(sbx.call(Method::POST, "/channels/messaging/room_4_3/query", Some(ghost)).await.error_code(), 4);
    sbx.stop().await;
}

const DIRECT: &str = "/channels/messaging/direct_x";

async fn direct(sbx: &Sandbox) {
    sbx.upsert_users(&[("a", &["gym_4"]), ("b", &["gym_4"]), ("c", &[])]).await;
    sbx.create_channel("direct_x", None, &["a", "b"]).await;
}

#[tokio::test]
async fn a_full_update_changes_data_and_members_and_posts_its_message() {
    let sbx = Sandbox::start(config()).await;
    direct(&sbx).await;
    let update = json!({ "add_members": ["c"], "remove_members": ["b"], "data": { "team": "gym_4", "name": "X", "frozen": true }, "message": { "text": "frozen", "user_id": "a", "type": "system" } });
    let moved = sbx.call(Method::POST, DIRECT, Some(update)).await;
    assert_eq!(moved.status, StatusCode::CREATED, "{}", moved.body);
    assert_eq!(
        (moved.body["channel"]["team"].as_str(), moved.body["channel"]["frozen"].as_bool()),
        (Some("gym_4"), Some(true))
    );
    let members: Vec<&str> =
        moved.body["members"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap()).collect();
    assert_eq!(members, ["c", "a"], "most recently added first");
    assert_eq!(moved.body["message"]["type"], "system");
    sbx.stop().await;
}

#[tokio::test]
async fn adding_a_member_who_does_not_exist_is_refused_as_stream_words_it() {
    let sbx = Sandbox::start(config()).await;
    direct(&sbx).await;
    let ghost = sbx.call(Method::POST, DIRECT, Some(json!({ "add_members": ["ghost"] }))).await;
    assert!(ghost.message().contains("could not find user ghost from add_members"), "{}", ghost.message());
    sbx.stop().await;
}

#[tokio::test]
async fn a_partial_update_sets_and_unsets_but_never_reserved_fields_or_a_clients_team() {
    let sbx = Sandbox::start(config()).await;
    direct(&sbx).await;
    let reserved = sbx.call(Method::PATCH, DIRECT, Some(json!({ "set": { "cid": "messaging:other" } }))).await;
    assert_eq!((reserved.status, reserved.error_code()), (StatusCode::FORBIDDEN, 17));
    let set = json!({ "set": { "team": "gym_5", "frozen": false, "gym_id": "5", "name": "N" }, "unset": ["name"] });
    let partial = sbx.call(Method::PATCH, DIRECT, Some(set)).await;
    assert_eq!(partial.status, StatusCode::OK, "{}", partial.body);
    assert_eq!((partial.body["channel"]["team"].as_str(), partial.body["channel"].get("name")), (Some("gym_5"), None));
    let client_team =
        sbx.call_as(&user_token("a"), Method::PATCH, DIRECT, Some(json!({ "set": { "team": "gym_4" } }))).await;
    assert_eq!((client_team.status, client_team.error_code()), (StatusCode::FORBIDDEN, 17));
    assert!(client_team.message().contains("changing channel team is not allowed client-side"));
    sbx.stop().await;
}

#[tokio::test]
async fn a_hidden_channel_is_found_with_hidden_true_until_shown() {
    let sbx = Sandbox::start(config()).await;
    direct(&sbx).await;
    let hide = sbx
        .call(Method::POST, &format!("{DIRECT}/hide"), Some(json!({ "user_id": "a", "clear_history": false })))
        .await;
    assert!(hide.status.is_success());
    let hidden_query = json!({ "filter_conditions": { "hidden": true } });
    let hidden = sbx.call_as(&user_token("a"), Method::POST, "/channels", Some(hidden_query.clone())).await;
    assert_eq!(hidden.body["channels"].as_array().unwrap().len(), 1);
    assert!(
        sbx.call(Method::POST, &format!("{DIRECT}/show"), Some(json!({ "user_id": "a" }))).await.status.is_success()
    );
    let shown = sbx.call_as(&user_token("a"), Method::POST, "/channels", Some(hidden_query)).await;
    assert_eq!(shown.body["channels"].as_array().unwrap().len(), 0);
    assert_eq!(
        sbx.call(Method::POST, &format!("{DIRECT}/hide"), Some(json!({}))).await.error_code(),
        4,
        "hide needs a user"
    );
    sbx.stop().await;
}

#[tokio::test]
async fn truncate_removes_the_history() {
    let sbx = Sandbox::start(config()).await;
    direct(&sbx).await;
    let message = json!({ "message": { "id": "keep-unique", "text": "x", "user_id": "a" } });
    sbx.call(Method::POST, &format!("{DIRECT}/message"), Some(message)).await;
    let truncated = sbx.call(Method::POST, &format!("{DIRECT}/truncate"), None).await;
    assert!(truncated.status.is_success(), "{}", truncated.body);
    let after = sbx.call(Method::POST, &format!("{DIRECT}/query"), Some(json!({ "messages": { "limit": 10 } }))).await;
    assert_eq!(after.body["messages"].as_array().unwrap().len(), 0);
    sbx.stop().await;
}

#[tokio::test]
async fn a_deleted_channel_is_gone_and_comes_back_empty_when_recreated() {
    let sbx = Sandbox::start(config()).await;
    direct(&sbx).await;
    sbx.call(
        Method::POST,
        &format!("{DIRECT}/message"),
        Some(json!({ "message": { "id": "m", "text": "x", "user_id": "a" } })),
    )
    .await;
    let deleted = sbx.call(Method::DELETE, DIRECT, None).await;
    assert!(deleted.body["channel"]["deleted_at"].is_string(), "{}", deleted.body);
    let gone = sbx.call(Method::DELETE, DIRECT, None).await;
    assert_eq!((gone.status, gone.error_code()), (StatusCode::NOT_FOUND, 16));
    assert!(gone.message().contains("Can't find channel with id messaging:direct_x"), "{}", gone.message());
    let back = sbx.create_channel("direct_x", None, &["a"]).await;
    assert_eq!(
        (back.body["channel"]["member_count"].as_u64(), back.body["messages"].as_array().map(Vec::len)),
        (Some(1), Some(0))
    );
    sbx.stop().await;
}
