//! Every endpoint over HTTP with a plain client: shapes, errors and multi-tenancy.

mod support;

use gymchat_sandbox::InitialState;
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::*;

#[tokio::test]
async fn authentication_errors_carry_streams_codes() {
    let sbx = Sandbox::start(config()).await;
    let url = |q: &str| format!("{}/app{q}", sbx.url);
    let no_key = sbx.http.get(url("")).header("Authorization", server_token()).send().await.unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(no_key.json::<serde_json::Value>().await.unwrap()["code"], 2);
    let wrong_key = sbx.http.get(url("?api_key=other")).header("Authorization", server_token()).send().await.unwrap();
    assert_eq!(wrong_key.json::<serde_json::Value>().await.unwrap()["code"], 2);
    let no_token = sbx.http.get(url(&format!("?api_key={KEY}"))).send().await.unwrap();
    assert_eq!(no_token.json::<serde_json::Value>().await.unwrap()["code"], 5);

    let now = chrono::Utc::now().timestamp();
    let cases = [
        (token(json!({ "server": true }), "wrong-secret"), 43),
        (token(json!({ "user_id": "u", "exp": now - 60 }), SECRET), 40),
        (token(json!({ "user_id": "u", "nbf": now + 600 }), SECRET), 41),
        (token(json!({ "user_id": "u", "iat": now + 600 }), SECRET), 42),
        ("not-a-jwt".to_owned(), 5),
    ];
    for (tok, code) in cases {
        let a = sbx.call_as(&tok, Method::GET, "/app", None).await;
        assert_eq!((a.status, a.error_code()), (StatusCode::UNAUTHORIZED, code), "{}", a.body);
        assert!(a.message().starts_with("GetApp failed with error: \""), "{}", a.message());
    }
    let user = sbx.call_as(&user_token("u"), Method::GET, "/app", None).await;
    assert_eq!((user.status, user.error_code()), (StatusCode::FORBIDDEN, 17));
    sbx.stop().await;
}

#[tokio::test]
async fn app_settings_toggle_multi_tenancy() {
    let sbx = Sandbox::start(config()).await;
    let before = sbx.call(Method::GET, "/app", None).await;
    assert_eq!(before.body["app"]["multi_tenant_enabled"], false);
    assert!(before.body["duration"].as_str().unwrap().ends_with("ms"));
    let patch = sbx.call(Method::PATCH, "/app", Some(json!({ "multi_tenant_enabled": true }))).await;
    assert!(patch.status.is_success());
    assert_eq!(sbx.call(Method::GET, "/app", None).await.body["app"]["multi_tenant_enabled"], true);
    sbx.stop().await;
}

#[tokio::test]
async fn batch_delete_needs_cids_and_reports_through_a_task() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &[])]).await;
    for id in ["c1", "c2"] {
        sbx.create_channel(id, None, &["a"]).await;
    }
    let bare = sbx.call(Method::POST, "/channels/delete", Some(json!({ "cids": ["c1", "c2"] }))).await;
    assert_eq!((bare.status, bare.error_code()), (StatusCode::NOT_FOUND, 16));
    assert!(bare.message().contains("channels not found"));
    let too_many: Vec<String> = (0..101).map(|i| format!("messaging:c{i}")).collect();
    assert_eq!(sbx.call(Method::POST, "/channels/delete", Some(json!({ "cids": too_many }))).await.error_code(), 4);
    let task = sbx
        .call(
            Method::POST,
            "/channels/delete",
            Some(json!({ "cids": ["messaging:c1", "messaging:c2"], "hard_delete": true })),
        )
        .await;
    let id = task.body["task_id"].as_str().unwrap().to_owned();
    sbx.call(Method::GET, &format!("/tasks/{id}"), None).await;
    let done = sbx.call(Method::GET, &format!("/tasks/{id}"), None).await;
    assert_eq!(done.body["result"]["messaging:c1"]["status"], "ok");
    assert_eq!(sbx.state().await["channels"].as_array().unwrap().len(), 0, "hard delete removes the channels");
    sbx.stop().await;
}

#[tokio::test]
async fn query_channels_filters_sorts_and_bounds_its_paging() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &["gym_4"]), ("b", &["gym_5"])]).await;
    for (id, team, member) in [("r1", "gym_4", "a"), ("r2", "gym_4", "a"), ("r3", "gym_5", "b")] {
        sbx.create_channel(id, Some(team), &[member]).await;
    }
    let query = |f: serde_json::Value| sbx.call(Method::POST, "/channels", Some(f));
    let cids = |a: &Answer| {
        a.body["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["channel"]["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let team4 =
        query(json!({ "filter_conditions": { "team": "gym_4" }, "sort": [{ "field": "created_at", "direction": 1 }] }))
            .await;
    assert_eq!(cids(&team4), ["r1", "r2"]);
    let desc = query(json!({ "filter_conditions": { "type": "messaging" }, "sort": [{ "field": "created_at", "direction": -1 }], "limit": 2 })).await;
    assert_eq!(cids(&desc), ["r3", "r2"]);
    let first = &team4.body["channels"][0]["channel"]["created_at"];
    let later = query(json!({ "filter_conditions": { "created_at": { "$gt": first }, "members": { "$in": ["a"] } }, "sort": [{ "field": "created_at", "direction": 1 }] })).await;
    assert_eq!(cids(&later), ["r2"]);
    // A team's span of creation times, as the keyset listing asks: the upper bound holds.
    let second = &team4.body["channels"][1]["channel"]["created_at"];
    let by_creation = [{ json!({ "field": "created_at", "direction": 1 }) }];
    let span = |lo: &str, hi: &str| json!({ "filter_conditions": { "team": "gym_4", "created_at": { lo: first, hi: second } }, "sort": by_creation });
    assert_eq!(cids(&query(span("$gte", "$lt")).await), ["r1"]);
    assert_eq!(cids(&query(span("$gte", "$lte")).await), ["r1", "r2"]);
    assert_eq!(cids(&query(span("$gt", "$lte")).await), ["r2"]);
    let by_cid =
        query(json!({ "filter_conditions": { "cid": { "$in": ["messaging:r3", "messaging:zz"] } }, "state": false }))
            .await;
    assert_eq!(cids(&by_cid), ["r3"]);
    assert!(by_cid.body["channels"][0].get("messages").is_none());
    assert_eq!(query(json!({ "filter_conditions": {}, "limit": 31 })).await.error_code(), 4);
    assert_eq!(query(json!({ "filter_conditions": {}, "offset": 1001 })).await.error_code(), 4);
    assert_eq!(query(json!({ "filter_conditions": { "team": { "$regex": "x" } } })).await.error_code(), 4);
    sbx.stop().await;
}

#[tokio::test]
async fn a_teams_channels_newest_first_walk_the_index_as_a_full_scan_would_find_them() {
    // Twelve channels of gym_4 in groups of three created at the same instant (ids out of
    // creation order), one soft-deleted, and channels of another team and of none around them.
    let mut c = config();
    let mut snapshot = gym4();
    let template = snapshot.channels[0].clone();
    let base = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00.123456Z").unwrap().to_utc();
    snapshot.channels = (0..12)
        .map(|i| {
            let mut ch = template.clone();
            ch.id = format!("w_{}", (i * 7) % 12);
            ch.team = Some("gym_4".to_owned());
            ch.created_at = base + chrono::Duration::seconds(i / 3);
            ch.deleted_at = (i == 4).then_some(base);
            ch.messages.clear();
            ch
        })
        .chain((0..4).map(|i| {
            let mut ch = template.clone();
            ch.id = format!("o_{i}");
            ch.team = (i % 2 == 0).then(|| "gym_5".to_owned());
            ch.created_at = base + chrono::Duration::seconds(i);
            ch.messages.clear();
            ch
        }))
        .collect();
    c.initial = InitialState::Snapshot(snapshot);
    let sbx = Sandbox::start(c).await;
    let ids = |a: &Answer| {
        let channels = a.body["channels"].as_array().unwrap_or_else(|| panic!("{}", a.body));
        channels.iter().map(|c| c["channel"]["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let at = |s: i64| (base + chrono::Duration::seconds(s)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let bounds = [
        json!({}),
        json!({ "$lt": at(3) }),
        json!({ "$lte": at(2) }),
        json!({ "$gte": at(1) }),
        json!({ "$gt": at(1), "$lt": at(3) }),
    ];
    let mut compared = 0;
    for created_at in &bounds {
        for (limit, offset) in [(1, 0), (2, 0), (3, 0), (4, 1), (30, 0), (5, 4)] {
            let ask = |team: serde_json::Value| {
                let mut filter = json!({ "team": team });
                if created_at.as_object().is_some_and(|b| !b.is_empty()) {
                    filter["created_at"] = created_at.clone();
                }
                json!({ "filter_conditions": filter, "sort": [{ "field": "created_at", "direction": -1 }],
                        "limit": limit, "offset": offset, "state": false })
            };
            // `"team": "gym_4"` takes the index walk; `$in` scans every channel.
            let walked = ids(&sbx.call(Method::POST, "/channels", Some(ask(json!("gym_4")))).await);
            let scanned = ids(&sbx.call(Method::POST, "/channels", Some(ask(json!({ "$in": ["gym_4"] })))).await);
            assert_eq!(walked, scanned, "created_at {created_at}, limit {limit}, offset {offset}");
            compared += usize::from(!walked.is_empty());
        }
    }
    assert!(compared >= 25, "most of the pages hold channels: {compared}");
    let newest = ids(&sbx
        .call(
            Method::POST,
            "/channels",
            Some(json!({ "filter_conditions": { "team": "gym_4" },
        "sort": [{ "field": "created_at", "direction": -1 }], "limit": 4, "state": false })),
        )
        .await);
    assert_eq!(
        newest,
        ["w_10", "w_3", "w_5", "w_1"],
        "the newest three (ties by cid), then the first of the next three"
    );
    sbx.stop().await;
}

#[tokio::test]
async fn multi_tenancy_keeps_user_tokens_inside_their_teams() {
    let mut c = config();
    c.initial = InitialState::Snapshot(gym4());
    let sbx = Sandbox::start(c).await;
    sbx.upsert_users(&[("gym_4_user_10", &["gym_4"]), ("gym_5_user_21", &["gym_5"])]).await;
    sbx.create_channel("room_4_639", Some("gym_4"), &["gym_4_user_10"]).await;

    let mine = sbx
        .call_as(&user_token("gym_4_user_10"), Method::POST, "/channels", Some(json!({ "filter_conditions": {} })))
        .await;
    let teams: Vec<&str> =
        mine.body["channels"].as_array().unwrap().iter().map(|c| c["channel"]["team"].as_str().unwrap()).collect();
    assert!(!teams.is_empty() && teams.iter().all(|t| *t == "gym_4"), "{teams:?}");
    let legacy = sbx
        .call_as(
            &user_token("gym_4_user_10"),
            Method::POST,
            "/channels/messaging/direct_user_10_user_8/query",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (legacy.status, legacy.error_code()),
        (StatusCode::FORBIDDEN, 17),
        "a channel without team is unreadable for a gym_4 user"
    );
    let foreign = sbx
        .call_as(&user_token("gym_5_user_21"), Method::POST, "/channels/messaging/room_4_639/query", Some(json!({})))
        .await;
    assert_eq!(foreign.error_code(), 17);
    assert!(foreign.message().contains("cannot query a channel for team \"gym_4\""), "{}", foreign.message());
    let send = sbx
        .call_as(
            &user_token("gym_5_user_21"),
            Method::POST,
            "/channels/messaging/room_4_639/message",
            Some(json!({ "message": { "text": "hi" } })),
        )
        .await;
    assert_eq!(send.error_code(), 17);
    // Server-side requests are not filtered, and add a foreign-team member without complaint.
    let add = sbx
        .call(Method::POST, "/channels/messaging/room_4_639", Some(json!({ "add_members": ["gym_5_user_21"] })))
        .await;
    assert_eq!(add.status, StatusCode::CREATED, "{}", add.body);
    sbx.stop().await;
}

#[tokio::test]
async fn strict_team_members_refuses_members_outside_the_team() {
    let mut c = config();
    c.strict_team_members = true;
    c.initial = InitialState::Snapshot(gymchat_sandbox::Snapshot { multi_tenant_enabled: true, ..Default::default() });
    let sbx = Sandbox::start(c).await;
    sbx.upsert_users(&[("gym_4_user_10", &["gym_4"]), ("gym_5_user_21", &["gym_5"])]).await;
    sbx.create_channel("room_4_639", Some("gym_4"), &["gym_4_user_10"]).await;
    let add = sbx
        .call(Method::POST, "/channels/messaging/room_4_639", Some(json!({ "add_members": ["gym_5_user_21"] })))
        .await;
    assert_eq!((add.status, add.error_code()), (StatusCode::FORBIDDEN, 17), "{}", add.body);
    let create = sbx.create_channel("room_4_640", Some("gym_4"), &["gym_4_user_10", "gym_5_user_21"]).await;
    assert_eq!(create.error_code(), 17);
    sbx.stop().await;
}

#[tokio::test]
async fn malformed_bodies_and_unknown_endpoints_are_refused() {
    let sbx = Sandbox::start(config()).await;
    let res = sbx
        .http
        .post(format!("{}/users?api_key={KEY}", sbx.url))
        .header("Authorization", server_token())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["code"], 4);
    let unknown = sbx.http.get(format!("{}/nope", sbx.url)).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.json::<serde_json::Value>().await.is_err(), "an unknown path has no Stream error body");
    sbx.stop().await;
}
