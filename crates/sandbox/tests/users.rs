//! Users over HTTP: upsert, partial update, query, delete one, delete many (a task).

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use support::*;

fn payload(filter: serde_json::Value) -> String {
    format!("/users?payload={}", urlencode(&filter.to_string()))
}

#[tokio::test]
async fn an_upsert_replaces_the_whole_user() {
    let sbx = Sandbox::start(config()).await;
    let user = |fields: serde_json::Value| json!({ "users": { "gym_4_user_10": fields } });
    let up = sbx
        .call(Method::POST, "/users", Some(user(json!({ "id": "gym_4_user_10", "name": "Ana", "image": "a.png" }))))
        .await;
    assert_eq!((up.status, &up.body["users"]["gym_4_user_10"]["name"]), (StatusCode::CREATED, &json!("Ana")));
    let again = sbx.call(Method::POST, "/users", Some(user(json!({ "id": "gym_4_user_10", "name": "Ana T" })))).await;
    assert_eq!(again.body["users"]["gym_4_user_10"].get("image"), None, "the image not sent is gone");
    sbx.stop().await;
}

#[tokio::test]
async fn a_partial_update_sets_and_unsets_only_what_it_names() {
    let sbx = Sandbox::start(config()).await;
    let full = json!({ "users": { "u": { "id": "u", "name": "Ana", "image": "a.png" } } });
    sbx.call(Method::POST, "/users", Some(full)).await;
    let patch = json!({ "users": [{ "id": "u", "set": { "nickname": "ana" }, "unset": ["name"] }] });
    let partial = sbx.call(Method::PATCH, "/users", Some(patch)).await;
    assert_eq!(partial.status, StatusCode::OK, "{}", partial.body);
    let user = &partial.body["users"]["u"];
    assert_eq!((user.get("name"), &user["nickname"], &user["image"]), (None, &json!("ana"), &json!("a.png")));
    sbx.stop().await;
}

#[tokio::test]
async fn a_user_query_by_ids_keeps_the_rest_of_its_filter() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("gym_5_user_21", &["gym_5"]), ("user_8", &[]), ("gym_4_user_10", &["gym_4"])]).await;
    let ids = |answer: &Answer| -> Vec<String> {
        answer.body["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
    };
    let by_team = sbx
        .call(Method::GET, &payload(json!({ "filter_conditions": { "teams": { "$contains": "gym_5" } } })), None)
        .await;
    assert_eq!(ids(&by_team), ["gym_5_user_21"]);
    let by_ids = json!({ "filter_conditions": { "id": { "$in": ["user_8", "gym_4_user_10", "x"] } } });
    assert_eq!(ids(&sbx.call(Method::GET, &payload(by_ids), None).await).len(), 2);
    let both = json!({ "filter_conditions": { "id": { "$in": ["user_8", "gym_5_user_21"] }, "teams": { "$contains": "gym_5" } } });
    assert_eq!(ids(&sbx.call(Method::GET, &payload(both), None).await), ["gym_5_user_21"]);
    sbx.stop().await;
}

#[tokio::test]
async fn a_user_query_past_streams_limit_or_offset_is_refused() {
    let sbx = Sandbox::start(config()).await;
    let too_many = sbx.call(Method::GET, &payload(json!({ "filter_conditions": {}, "limit": 101 })), None).await;
    assert_eq!(too_many.error_code(), 4);
    let too_far = sbx.call(Method::GET, &payload(json!({ "filter_conditions": {}, "offset": 1001 })), None).await;
    assert_eq!(too_far.error_code(), 4);
    sbx.stop().await;
}

#[tokio::test]
async fn an_upsert_of_more_than_100_users_or_a_bad_id_is_refused_with_streams_body() {
    let sbx = Sandbox::start(config()).await;
    let batch: serde_json::Map<String, serde_json::Value> =
        (0..101).map(|i| (format!("u{i}"), json!({ "id": format!("u{i}") }))).collect();
    assert_eq!(sbx.call(Method::POST, "/users", Some(json!({ "users": batch }))).await.error_code(), 4);
    let bad_id = sbx.call(Method::POST, "/users", Some(json!({ "users": { "a b": { "id": "a b" } } }))).await;
    assert_eq!((bad_id.status, bad_id.error_code()), (StatusCode::BAD_REQUEST, 4));
    assert!(bad_id.message().starts_with("UpdateUsers failed with error:"), "{}", bad_id.message());
    sbx.stop().await;
}

#[tokio::test]
async fn a_deleted_user_is_marked_and_an_unknown_one_is_not_found() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("user_8", &[])]).await;
    let deleted = sbx.call(Method::DELETE, "/users/user_8", None).await;
    assert!(deleted.body["user"]["deleted_at"].is_string(), "{}", deleted.body);
    assert_eq!(sbx.call(Method::DELETE, "/users/nobody", None).await.error_code(), 16);
    sbx.stop().await;
}

#[tokio::test]
async fn a_hard_batch_delete_needs_hard_conversations_and_runs_as_a_task() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("gym_5_user_21", &["gym_5"])]).await;
    let refused =
        sbx.call(Method::POST, "/users/delete", Some(json!({ "user_ids": ["gym_5_user_21"], "user": "hard" }))).await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_REQUEST, 4), "hard needs hard conversations");
    let body = json!({ "user_ids": ["gym_5_user_21"], "user": "hard", "messages": "hard", "conversations": "hard" });
    let task = sbx.call(Method::POST, "/users/delete", Some(body)).await;
    let task_id = task.body["task_id"].as_str().unwrap().to_owned();
    let first = sbx.call(Method::GET, &format!("/tasks/{task_id}"), None).await;
    assert_eq!(first.body["status"], "running");
    let done = sbx.call(Method::GET, &format!("/tasks/{task_id}"), None).await;
    assert_eq!(
        (done.body["status"].as_str(), &done.body["result"]["gym_5_user_21"]["status"]),
        (Some("completed"), &json!("ok"))
    );
    assert_eq!(sbx.call(Method::GET, "/tasks/nope", None).await.error_code(), 16);
    sbx.stop().await;
}
