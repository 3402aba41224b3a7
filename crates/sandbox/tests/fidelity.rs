//! The sandbox refuses what Stream refuses and answers as Stream answers (STREAM_API.md, issue 8):
//! message limits, hard user deletes, token forms counted, clamped limits, member order, sorts and
//! operators, team checks of user tokens, full updates, ids Stream generated, slash commands, and
//! the seeded switches (shuffled ties, failing tasks, live traffic).

mod support;

use std::collections::{BTreeSet, HashMap};

use gymchat_sandbox::{InitialState, LimitMode, Snapshot};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

fn message(id: &str, extra: Value) -> Value {
    let mut m = json!({ "id": id, "text": "hi", "user_id": "a" });
    if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
        m.extend(extra.clone());
    }
    json!({ "message": m })
}

async fn with_channel(config: gymchat_sandbox::Config) -> Sandbox {
    let sbx = Sandbox::start(config).await;
    sbx.upsert_users(&[("a", &[]), ("b", &[])]).await;
    sbx.create_channel("room_1", None, &["a", "b"]).await;
    sbx
}

#[tokio::test]
async fn messages_over_streams_limits_are_refused() {
    let sbx = with_channel(config()).await;
    let path = "/channels/messaging/room_1/message";
    let long = sbx.call(Method::POST, path, Some(message("long", json!({ "text": "x".repeat(5_001) })))).await;
    assert_eq!((long.status, long.error_code()), (StatusCode::BAD_REQUEST, 20));
    let at_limit = sbx.call(Method::POST, path, Some(message("at-limit", json!({ "text": "é".repeat(5_000) })))).await;
    assert_eq!(at_limit.status, StatusCode::CREATED, "5,000 characters (not bytes) is allowed: {}", at_limit.body);
    let custom = sbx.call(Method::POST, path, Some(message("custom", json!({ "blob": "x".repeat(5_200) })))).await;
    assert_eq!((custom.status, custom.error_code()), (StatusCode::BAD_REQUEST, 4));
    let attachments: Vec<Value> = (0..31).map(|i| json!({ "type": "image", "title": i })).collect();
    let many = sbx.call(Method::POST, path, Some(message("att", json!({ "attachments": attachments })))).await;
    assert_eq!((many.status, many.error_code()), (StatusCode::BAD_REQUEST, 4));
    let mentions: Vec<String> = (0..26).map(|i| format!("u{i}")).collect();
    let mentioned = sbx.call(Method::POST, path, Some(message("men", json!({ "mentioned_users": mentions })))).await;
    assert_eq!((mentioned.status, mentioned.error_code()), (StatusCode::BAD_REQUEST, 4));
    let state = sbx.state().await;
    let ids: Vec<&str> =
        state["channels"][0]["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["at-limit"], "refused messages are not stored");
    sbx.stop().await;
}

#[tokio::test]
async fn slash_commands_run_and_are_recorded() {
    let sbx = with_channel(config()).await;
    let path = "/channels/messaging/room_1/message";
    sbx.call(Method::POST, path, Some(message("plain", json!({ "text": "a /giphy in the middle" })))).await;
    let ran = sbx.call(Method::POST, path, Some(message("giphy", json!({ "text": "/giphy cats" })))).await;
    assert_eq!(ran.body["message"]["command"], "giphy", "{}", ran.body);
    sbx.call(Method::POST, path, Some(message("unknown", json!({ "text": "/notacommand" })))).await;
    let stats = sbx.stats().await;
    assert_eq!(stats["commands_run"], 1, "{stats}");
    let state = sbx.state().await;
    let commands: Vec<(&str, &Value)> = state["channels"][0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), &m["command"]))
        .collect();
    assert_eq!(commands, [("plain", &Value::Null), ("giphy", &json!("giphy")), ("unknown", &Value::Null)]);
    sbx.stop().await;
}

#[tokio::test]
async fn token_forms_stream_does_not_document_are_counted() {
    let sbx = Sandbox::start(config()).await;
    let url = format!("{}/app?api_key={KEY}", sbx.url);
    sbx.call(Method::GET, "/app", None).await;
    let bare = sbx.http.get(&url).header("Authorization", server_token()).send().await.unwrap();
    assert!(bare.status().is_success());
    let bearer = sbx
        .http
        .get(&url)
        .header("Authorization", format!("Bearer {}", server_token()))
        .header("stream-auth-type", "jwt")
        .send()
        .await
        .unwrap();
    assert!(bearer.status().is_success());
    let stats = sbx.stats().await;
    assert_eq!((stats["missing_auth_type"].as_u64(), stats["bearer_prefix"].as_u64()), (Some(1), Some(1)), "{stats}");
    sbx.stop().await;
}

#[tokio::test]
async fn a_hard_user_delete_takes_the_users_conversations_with_it() {
    let sbx = with_channel(config()).await;
    sbx.create_channel("room_2", None, &["b"]).await;
    let body = json!({ "user_ids": ["a"], "user": "hard", "messages": "hard", "conversations": "hard" });
    let task = sbx.call(Method::POST, "/users/delete", Some(body)).await;
    let task_id = task.body["task_id"].as_str().unwrap().to_owned();
    sbx.call(Method::GET, &format!("/tasks/{task_id}"), None).await;
    let done = sbx.call(Method::GET, &format!("/tasks/{task_id}"), None).await;
    assert_eq!(done.body["status"], "completed");
    let state = sbx.state().await;
    let channels: Vec<&str> = state["channels"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(channels, ["room_2"], "every channel user a was in is gone");
    sbx.stop().await;
}

#[tokio::test]
async fn state_clamps_the_message_limit_and_lists_newest_members_first() {
    let sbx = with_channel(config()).await;
    sbx.upsert_users(&[("c", &[])]).await;
    sbx.call(Method::POST, "/channels/messaging/room_1", Some(json!({ "add_members": ["c"] }))).await;
    for i in 0..3 {
        sbx.call(Method::POST, "/channels/messaging/room_1/message", Some(message(&format!("m{i}"), json!({})))).await;
    }
    let state = sbx
        .call(Method::POST, "/channels/messaging/room_1/query", Some(json!({ "messages": { "limit": 1_000 } })))
        .await;
    assert_eq!(state.status, StatusCode::CREATED, "a limit over 300 is clamped, not refused: {}", state.body);
    assert_eq!(state.body["messages"].as_array().unwrap().len(), 3);
    let members: Vec<&str> =
        state.body["members"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap()).collect();
    assert_eq!(members, ["c", "b", "a"]);
    sbx.stop().await;
}

#[tokio::test]
async fn channel_queries_sort_as_stream_does_and_refuse_undocumented_operators() {
    let sbx = with_channel(config()).await;
    sbx.create_channel("room_2", None, &["a"]).await;
    sbx.create_channel("room_3", None, &["a", "b"]).await;
    // room_1 gets a message last: by `last_updated` (the default, newest first) it leads.
    sbx.call(Method::POST, "/channels/messaging/room_1/message", Some(message("m", json!({})))).await;
    let ids = |a: &Answer| -> Vec<String> {
        a.body["channels"].as_array().unwrap().iter().map(|c| c["channel"]["id"].as_str().unwrap().to_owned()).collect()
    };
    let default = sbx.call(Method::POST, "/channels", Some(json!({ "filter_conditions": {}, "state": false }))).await;
    assert_eq!(ids(&default), ["room_1", "room_3", "room_2"]);
    let by_members = sbx
        .call(
            Method::POST,
            "/channels",
            Some(json!({ "filter_conditions": {}, "sort": [{ "field": "member_count", "direction": 1 }, { "field": "created_at", "direction": 1 }], "state": false })),
        )
        .await;
    assert_eq!(ids(&by_members), ["room_2", "room_1", "room_3"]);
    let last_updated = sbx
        .call(
            Method::POST,
            "/channels",
            Some(json!({ "filter_conditions": {}, "sort": [{ "field": "last_updated", "direction": 1 }] })),
        )
        .await;
    assert_eq!(last_updated.status, StatusCode::CREATED, "{}", last_updated.body);
    for op in ["$ne", "$nin"] {
        let value = if op == "$ne" { json!("x") } else { json!(["x"]) };
        let refused =
            sbx.call(Method::POST, "/channels", Some(json!({ "filter_conditions": { "id": { op: value } } }))).await;
        assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_REQUEST, 4), "{op}");
    }
    let patched = sbx.call(Method::PATCH, "/app", Some(json!({ "multi_tenant_enabled": true }))).await;
    assert_eq!(patched.status, StatusCode::OK);
    sbx.stop().await;
}

#[tokio::test]
async fn user_tokens_naming_teams_are_answered_as_stream_answers() {
    let mut c = config();
    c.initial = InitialState::Snapshot(Snapshot { multi_tenant_enabled: true, ..Snapshot::default() });
    let sbx = Sandbox::start(c).await;
    sbx.upsert_users(&[("gym_4_user_10", &["gym_4"]), ("gym_5_user_21", &["gym_5"])]).await;
    sbx.create_channel("room_4_1", Some("gym_4"), &["gym_4_user_10"]).await;
    let ana = user_token("gym_4_user_10");

    let foreign =
        sbx.call_as(&ana, Method::POST, "/channels", Some(json!({ "filter_conditions": { "team": "gym_5" } }))).await;
    assert_eq!((foreign.status, foreign.error_code()), (StatusCode::FORBIDDEN, 17));
    assert!(foreign.message().contains("cannot query a channel for team \"gym_5\""), "{}", foreign.message());
    let own = sbx
        .call_as(
            &ana,
            Method::POST,
            "/channels",
            Some(json!({ "filter_conditions": { "team": { "$in": ["gym_4"] } } })),
        )
        .await;
    assert_eq!(own.body["channels"].as_array().unwrap().len(), 1);

    // QueryUsers adds the caller's teams only when the query names none.
    let ids = |a: &Answer| -> BTreeSet<String> {
        a.body["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
    };
    let implicit = sbx.call_as(&ana, Method::GET, &users_query(json!({})), None).await;
    assert_eq!(ids(&implicit), BTreeSet::from(["gym_4_user_10".to_owned()]));
    let named = sbx.call_as(&ana, Method::GET, &users_query(json!({ "teams": { "$in": ["gym_5"] } })), None).await;
    assert_eq!(ids(&named), BTreeSet::from(["gym_5_user_21".to_owned()]), "{}", named.body);
    sbx.stop().await;
}

#[tokio::test]
async fn a_full_update_removes_what_it_does_not_carry() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &["gym_4"])]).await;
    let data = json!({ "data": { "created_by_id": "a", "members": ["a"], "team": "gym_4", "frozen": true, "name": "R", "gym_id": "4" } });
    sbx.call(Method::POST, "/channels/messaging/room_4_1/query", Some(data)).await;
    let updated =
        sbx.call(Method::POST, "/channels/messaging/room_4_1", Some(json!({ "data": { "name": "Renamed" } }))).await;
    let ch = &updated.body["channel"];
    assert_eq!(
        (ch["name"].as_str(), ch.get("team"), ch["frozen"].as_bool(), ch.get("gym_id")),
        (Some("Renamed"), None, Some(false), None),
        "{ch}"
    );
    sbx.stop().await;
}

#[tokio::test]
async fn channels_stream_generated_load_and_are_addressed_but_never_created() {
    let mut c = config();
    let mut snapshot = gym4();
    let mut generated = snapshot.channels[0].clone();
    generated.id = "!members-Xy12ab".to_owned();
    generated.messages.clear();
    snapshot.channels.push(generated);
    c.initial = InitialState::Snapshot(snapshot);
    let sbx = Sandbox::start(c).await;
    let read = sbx.call(Method::POST, "/channels/messaging/!members-Xy12ab/query", Some(json!({}))).await;
    assert_eq!(read.body["channel"]["cid"], "messaging:!members-Xy12ab", "{}", read.body);
    let listed =
        sbx.call(Method::POST, "/channels", Some(json!({ "filter_conditions": { "id": "!members-Xy12ab" } }))).await;
    assert_eq!(listed.body["channels"].as_array().unwrap().len(), 1);
    let sent = sbx
        .call(
            Method::POST,
            "/channels/messaging/!members-Xy12ab/message",
            Some(json!({ "message": { "text": "x", "user_id": "user_10" } })),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let created = sbx
        .call(
            Method::POST,
            "/channels/messaging/!members-new/query",
            Some(json!({ "data": { "created_by_id": "user_10" } })),
        )
        .await;
    assert_eq!((created.status, created.error_code()), (StatusCode::BAD_REQUEST, 4));
    sbx.stop().await;
}

#[tokio::test]
async fn messages_are_read_by_id_and_truncation_stops_at_its_time() {
    let sbx = with_channel(config()).await;
    sbx.call(Method::POST, "/channels/messaging/room_1/message", Some(message("old", json!({})))).await;
    let one = sbx.call(Method::GET, "/messages/old", None).await;
    assert_eq!(
        (one.body["message"]["id"].as_str(), one.body["message"]["cid"].as_str()),
        (Some("old"), Some("messaging:room_1"))
    );
    assert_eq!(sbx.call(Method::GET, "/messages/nope", None).await.error_code(), 16);
    let cut_at = chrono::Utc::now();
    let cut = cut_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // The next message must be sent after the cut: wait (a bounded number of times) for the
    // clock to pass it.
    for _ in 0..1_000 {
        if chrono::Utc::now() > cut_at {
            break;
        }
        tokio::task::yield_now().await;
    }
    sbx.call(Method::POST, "/channels/messaging/room_1/message", Some(message("new", json!({})))).await;
    sbx.call(Method::POST, "/channels/messaging/room_1/truncate", Some(json!({ "truncated_at": cut }))).await;
    let state =
        sbx.call(Method::POST, "/channels/messaging/room_1/query", Some(json!({ "messages": { "limit": 10 } }))).await;
    let ids: Vec<&str> = state.body["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["new"], "a message newer than truncated_at survives");
    sbx.stop().await;
}

#[tokio::test]
async fn shuffled_ties_come_back_in_different_orders() {
    let query = json!({ "filter_conditions": {}, "sort": [{ "field": "created_at", "direction": 1 }], "limit": 30, "state": false });
    let orders = |shuffle: bool| {
        let query = query.clone();
        async move {
            let mut c = config();
            let mut snapshot = gym4();
            let template = snapshot.channels[0].clone();
            snapshot.channels = (0..20)
                .map(|i| {
                    let mut ch = template.clone();
                    ch.id = format!("tie_{i}");
                    ch.messages.clear();
                    ch
                })
                .collect();
            c.initial = InitialState::Snapshot(snapshot);
            c.shuffle_ties = shuffle;
            let sbx = Sandbox::start(c).await;
            let mut seen = BTreeSet::new();
            for _ in 0..5 {
                let a = sbx.call(Method::POST, "/channels", Some(query.clone())).await;
                let ids: Vec<String> = a.body["channels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["channel"]["id"].as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(ids.len(), 20);
                seen.insert(ids);
            }
            sbx.stop().await;
            seen.len()
        }
    };
    assert_eq!(orders(false).await, 1, "ties by cid: the same order every time");
    assert!(orders(true).await > 1, "shuffled ties: a different order per query");
}

#[tokio::test]
async fn a_failed_task_ends_in_error_and_deletes_nothing() {
    let mut c = config();
    c.task_fail_rate = 1.0;
    let sbx = with_channel(c).await;
    let task = sbx
        .call(Method::POST, "/channels/delete", Some(json!({ "cids": ["messaging:room_1"], "hard_delete": true })))
        .await;
    let task_id = task.body["task_id"].as_str().unwrap().to_owned();
    assert_eq!(sbx.call(Method::GET, &format!("/tasks/{task_id}"), None).await.body["status"], "running");
    let done = sbx.call(Method::GET, &format!("/tasks/{task_id}"), None).await;
    assert_eq!(done.body["status"], "error", "{}", done.body);
    assert_eq!(sbx.state().await["channels"].as_array().unwrap().len(), 1);
    sbx.stop().await;
}

#[tokio::test]
async fn live_traffic_spends_its_share_of_each_window() {
    let mut c = config();
    c.limits = LimitMode::with_overrides(HashMap::from([("GetApp".to_owned(), 600)]));
    c.time_scale = 60.0;
    c.live_traffic = 0.5;
    let sbx = Sandbox::start(c).await;
    // Whatever moment of the one-second window the call lands in, the live app has spent half of
    // 600 times the part of the window gone by then.
    let (remaining, before, after) = loop {
        let before = chrono::Utc::now().timestamp_millis();
        let a = sbx.call(Method::GET, "/app", None).await;
        let after = chrono::Utc::now().timestamp_millis();
        if before / 1_000 == after / 1_000 {
            let remaining: u64 = a.headers["x-ratelimit-remaining"].to_str().unwrap().parse().unwrap();
            break (remaining, (before % 1_000) as u64, (after % 1_000) as u64);
        }
    };
    let live = |ms: u64| 300 * ms / 1_000;
    assert!(
        (599 - live(after)..=599 - live(before)).contains(&remaining),
        "remaining {remaining} between {before} and {after} ms into the window"
    );
    let stats = sbx.stats().await;
    let windows = stats["operations"]["GetApp"]["windows"].as_array().unwrap();
    let current = windows.last().unwrap();
    assert_eq!(current["accepted"], 1);
    assert!(current["live_accepted"].as_u64().unwrap() >= live(before), "{current}");
    sbx.stop().await;
}

#[tokio::test]
async fn calls_in_flight_are_observed_and_counters_reset() {
    let mut c = config();
    c.latency = std::time::Duration::from_millis(100);
    let sbx = Sandbox::start(c).await;
    let app = || sbx.call(Method::GET, "/app", None);
    tokio::join!(app(), app(), app(), app(), app());
    let stats = sbx.stats().await;
    assert_eq!((stats["in_flight_peak"].as_u64(), stats["in_flight"].as_u64()), (Some(5), Some(0)), "{stats}");
    sbx.http.post(format!("{}/_sandbox/stats/reset", sbx.url)).send().await.unwrap();
    let stats = sbx.stats().await;
    assert_eq!(
        (stats["in_flight_peak"].as_u64(), stats["operations"].as_object().map(|o| o.len())),
        (Some(0), Some(0))
    );
    sbx.stop().await;
}
