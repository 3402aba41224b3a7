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
async fn users_upsert_replace_update_query_and_delete() {
    let sbx = Sandbox::start(config()).await;
    let up = sbx
        .call(Method::POST, "/users", Some(json!({ "users": { "gym_4_user_10": { "id": "gym_4_user_10", "name": "Ana", "image": "a.png", "teams": ["gym_4"] } } })))
        .await;
    assert_eq!(up.status, StatusCode::CREATED);
    assert_eq!(up.body["users"]["gym_4_user_10"]["name"], "Ana");
    // An upsert replaces the whole user: the image not sent is gone.
    sbx.call(
        Method::POST,
        "/users",
        Some(json!({ "users": { "gym_4_user_10": { "id": "gym_4_user_10", "name": "Ana T", "teams": ["gym_4"] } } })),
    )
    .await;
    let partial = sbx
        .call(
            Method::PATCH,
            "/users",
            Some(json!({ "users": [{ "id": "gym_4_user_10", "set": { "nickname": "ana" }, "unset": ["name"] }] })),
        )
        .await;
    assert_eq!(partial.status, StatusCode::OK, "{}", partial.body);
    let user = &partial.body["users"]["gym_4_user_10"];
    assert_eq!((user.get("image"), user.get("name"), &user["nickname"]), (None, None, &json!("ana")));

    sbx.upsert_users(&[("gym_5_user_21", &["gym_5"]), ("user_8", &[])]).await;
    let payload = |f: serde_json::Value| format!("/users?payload={}", urlencode(&f.to_string()));
    let by_team = sbx
        .call(Method::GET, &payload(json!({ "filter_conditions": { "teams": { "$contains": "gym_5" } } })), None)
        .await;
    assert_eq!(by_team.body["users"].as_array().unwrap().len(), 1);
    let by_ids = sbx
        .call(
            Method::GET,
            &payload(json!({ "filter_conditions": { "id": { "$in": ["user_8", "gym_4_user_10", "x"] } } })),
            None,
        )
        .await;
    assert_eq!(by_ids.body["users"].as_array().unwrap().len(), 2);
    // Looked up by id, the rest of the filter still applies.
    let by_ids_and_team = sbx
        .call(
            Method::GET,
            &payload(json!({ "filter_conditions": { "id": { "$in": ["user_8", "gym_5_user_21"] }, "teams": { "$contains": "gym_5" } } })),
            None,
        )
        .await;
    let ids: Vec<&str> =
        by_ids_and_team.body["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["gym_5_user_21"]);
    let too_many = sbx.call(Method::GET, &payload(json!({ "filter_conditions": {}, "limit": 101 })), None).await;
    assert_eq!(too_many.error_code(), 4);
    let too_far = sbx.call(Method::GET, &payload(json!({ "filter_conditions": {}, "offset": 1001 })), None).await;
    assert_eq!(too_far.error_code(), 4);

    let batch: serde_json::Map<String, serde_json::Value> =
        (0..101).map(|i| (format!("u{i}"), json!({ "id": format!("u{i}") }))).collect();
    assert_eq!(sbx.call(Method::POST, "/users", Some(json!({ "users": batch }))).await.error_code(), 4);
    let bad_id = sbx.call(Method::POST, "/users", Some(json!({ "users": { "a b": { "id": "a b" } } }))).await;
    assert_eq!((bad_id.status, bad_id.error_code()), (StatusCode::BAD_REQUEST, 4));
    assert!(bad_id.message().starts_with("UpdateUsers failed with error:"), "{}", bad_id.message());

    let deleted = sbx.call(Method::DELETE, "/users/user_8", None).await;
    assert!(deleted.body["user"]["deleted_at"].is_string(), "{}", deleted.body);
    assert_eq!(sbx.call(Method::DELETE, "/users/nobody", None).await.error_code(), 16);
    let refused =
        sbx.call(Method::POST, "/users/delete", Some(json!({ "user_ids": ["gym_5_user_21"], "user": "hard" }))).await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_REQUEST, 4), "hard needs hard conversations");
    let task = sbx
        .call(
            Method::POST,
            "/users/delete",
            Some(json!({ "user_ids": ["gym_5_user_21"], "user": "hard", "messages": "hard", "conversations": "hard" })),
        )
        .await;
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

#[tokio::test]
async fn get_or_create_creates_once_and_pages_history_oldest_first() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &["gym_4"]), ("b", &["gym_4"])]).await;
    let created = sbx
        .call(Method::POST, "/channels/messaging/room_4_1/query", Some(json!({ "data": { "created_by_id": "a", "team": "gym_4", "members": ["a", {"user_id": "b"}], "gym_id": "4", "name": "Room" } })))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let ch = &created.body["channel"];
    assert_eq!(
        (ch["cid"].as_str(), ch["team"].as_str(), ch["gym_id"].as_str(), ch["member_count"].as_u64()),
        (Some("messaging:room_4_1"), Some("gym_4"), Some("4"), Some(2))
    );
    // data is create-only: a second call with other data changes nothing.
    let again = sbx
        .call(
            Method::POST,
            "/channels/messaging/room_4_1/query",
            Some(json!({ "data": { "created_by_id": "a", "name": "Other" } })),
        )
        .await;
    assert_eq!(again.body["channel"]["name"], "Room");

    for i in 1..=7 {
        let sent = sbx.call(Method::POST, "/channels/messaging/room_4_1/message", Some(json!({ "message": { "id": format!("m{i}"), "text": format!("t{i}"), "user_id": "a", "original_id": i }, "skip_push": true }))).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
        assert_eq!(sent.body["message"]["original_id"], i);
    }
    let page = |id_lt: Option<&str>| {
        let mut m = json!({ "limit": 3 });
        if let Some(id) = id_lt {
            m["id_lt"] = json!(id);
        }
        json!({ "messages": m })
    };
    let ids = |a: &Answer| {
        a.body["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let last = sbx.call(Method::POST, "/channels/messaging/room_4_1/query", Some(page(None))).await;
    assert_eq!(ids(&last), ["m5", "m6", "m7"]);
    let before = sbx.call(Method::POST, "/channels/messaging/room_4_1/query", Some(page(Some("m5")))).await;
    assert_eq!(ids(&before), ["m2", "m3", "m4"]);
    assert_eq!(before.body["messages"][0]["user"]["id"], "a");

    let dup = sbx
        .call(
            Method::POST,
            "/channels/messaging/room_4_1/message",
            Some(json!({ "message": { "id": "m3", "text": "again", "user_id": "b" } })),
        )
        .await;
    assert_eq!(dup.error_code(), 4);
    assert!(dup.message().contains("a message with ID m3 already exists"), "{}", dup.message());
    let no_sender = sbx
        .call(Method::POST, "/channels/messaging/room_4_1/message", Some(json!({ "message": { "text": "x" } })))
        .await;
    assert_eq!(no_sender.error_code(), 4);
    let nowhere = sbx
        .call(
            Method::POST,
            "/channels/messaging/nope/message",
            Some(json!({ "message": { "text": "x", "user_id": "a" } })),
        )
        .await;
    assert_eq!((nowhere.status, nowhere.error_code()), (StatusCode::NOT_FOUND, 16));

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
    let ghost = sbx
        .call(
            Method::POST,
            "/channels/messaging/room_4_3/query",
            Some(json!({ "data": { "created_by_id": "a", "members": ["ghost"] } })),
        )
        .await;
    assert_eq!(ghost.error_code(), 4);
    sbx.stop().await;
}

#[tokio::test]
async fn update_partial_update_hide_show_truncate_and_delete() {
    let sbx = Sandbox::start(config()).await;
    sbx.upsert_users(&[("a", &["gym_4"]), ("b", &["gym_4"]), ("c", &[])]).await;
    sbx.create_channel("direct_x", None, &["a", "b"]).await;
    let path = "/channels/messaging/direct_x";

    let ghost = sbx.call(Method::POST, path, Some(json!({ "add_members": ["ghost"] }))).await;
    assert!(ghost.message().contains("could not find user ghost from add_members"), "{}", ghost.message());
    let moved = sbx
        .call(Method::POST, path, Some(json!({ "add_members": ["c"], "remove_members": ["b"], "data": { "team": "gym_4", "name": "X", "frozen": true }, "message": { "text": "frozen", "user_id": "a", "type": "system" } })))
        .await;
    assert_eq!(moved.status, StatusCode::CREATED, "{}", moved.body);
    assert_eq!(
        (moved.body["channel"]["team"].as_str(), moved.body["channel"]["frozen"].as_bool()),
        (Some("gym_4"), Some(true))
    );
    let members: Vec<&str> =
        moved.body["members"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap()).collect();
    assert_eq!(members, ["c", "a"], "most recently added first");
    assert_eq!(moved.body["message"]["type"], "system");

    let reserved = sbx.call(Method::PATCH, path, Some(json!({ "set": { "cid": "messaging:other" } }))).await;
    assert_eq!((reserved.status, reserved.error_code()), (StatusCode::FORBIDDEN, 17));
    let partial = sbx
        .call(
            Method::PATCH,
            path,
            Some(json!({ "set": { "team": "gym_5", "frozen": false, "gym_id": "5" }, "unset": ["name"] })),
        )
        .await;
    assert_eq!(partial.status, StatusCode::OK, "{}", partial.body);
    assert_eq!((partial.body["channel"]["team"].as_str(), partial.body["channel"].get("name")), (Some("gym_5"), None));
    let client_team =
        sbx.call_as(&user_token("a"), Method::PATCH, path, Some(json!({ "set": { "team": "gym_4" } }))).await;
    assert_eq!((client_team.status, client_team.error_code()), (StatusCode::FORBIDDEN, 17));
    assert!(client_team.message().contains("changing channel team is not allowed client-side"));

    assert!(
        sbx.call(Method::POST, &format!("{path}/hide"), Some(json!({ "user_id": "a", "clear_history": false })))
            .await
            .status
            .is_success()
    );
    let hidden = sbx
        .call_as(&user_token("a"), Method::POST, "/channels", Some(json!({ "filter_conditions": { "hidden": true } })))
        .await;
    assert_eq!(hidden.body["channels"].as_array().unwrap().len(), 1);
    assert!(sbx.call(Method::POST, &format!("{path}/show"), Some(json!({ "user_id": "a" }))).await.status.is_success());
    assert_eq!(sbx.call(Method::POST, &format!("{path}/hide"), Some(json!({}))).await.error_code(), 4);

    sbx.call(
        Method::POST,
        &format!("{path}/message"),
        Some(json!({ "message": { "id": "keep-unique", "text": "x", "user_id": "a" } })),
    )
    .await;
    let truncated = sbx.call(Method::POST, &format!("{path}/truncate"), None).await;
    assert!(truncated.status.is_success(), "{}", truncated.body);
    let after = sbx.call(Method::POST, &format!("{path}/query"), Some(json!({ "messages": { "limit": 10 } }))).await;
    assert_eq!(after.body["messages"].as_array().unwrap().len(), 0);

    let deleted = sbx.call(Method::DELETE, path, None).await;
    assert!(deleted.body["channel"]["deleted_at"].is_string(), "{}", deleted.body);
    let gone = sbx.call(Method::DELETE, path, None).await;
    assert_eq!((gone.status, gone.error_code()), (StatusCode::NOT_FOUND, 16));
    assert!(gone.message().contains("Can't find channel with id messaging:direct_x"), "{}", gone.message());
    // A soft-deleted channel recreated with the same cid comes back empty.
    let back = sbx.create_channel("direct_x", None, &["a"]).await;
    assert_eq!(
        (back.body["channel"]["member_count"].as_u64(), back.body["messages"].as_array().map(Vec::len)),
        (Some(1), Some(0))
    );
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
