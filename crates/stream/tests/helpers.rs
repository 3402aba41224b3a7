//! The client's helpers and guarantees against the sandbox over HTTP: paging past the offset
//! cap, whole histories, batches, faults without lost or duplicated writes, and pacing that
//! draws no 429.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use gymchat_ids::{ChannelId, ChannelType, Cid, GymId, StreamUserId, Team, UserId};
use gymchat_sandbox::model::{ChannelSnapshot, MessageRec, UserRec};
use gymchat_sandbox::{Config, InitialState, LimitMode, Snapshot};
use gymchat_stream::model::{ChannelData, ChannelUpdate, NewMessage, User};
use gymchat_stream::{Client, ClientConfig, Sent};
use serde_json::{Map, Value, json};

mod support;

use support::{KEY, SECRET, sandbox};

fn member(user: i64) -> StreamUserId {
    StreamUserId::for_member(GymId::new(4).unwrap(), UserId::new(user).unwrap())
}

fn cid(id: &str) -> Cid {
    Cid::new(ChannelType::messaging(), ChannelId::parse(id).unwrap())
}

fn user_rec(id: &str) -> UserRec {
    serde_json::from_value(json!({ "id": id, "teams": ["gym_4"] })).unwrap()
}

fn channel_rec(id: &str, second: i64, messages: usize) -> ChannelSnapshot {
    let created = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(second);
    ChannelSnapshot {
        kind: "messaging".into(),
        id: id.into(),
        team: Some("gym_4".into()),
        created_by_id: Some("gym_4_user_1".into()),
        created_at: created,
        updated_at: None,
        deleted_at: None,
        frozen: false,
        members: vec!["gym_4_user_1".into()],
        messages: (0..messages)
            .map(|m| MessageRec {
                id: format!("{id}-m{m}"),
                user_id: "gym_4_user_1".into(),
                text: format!("{m}"),
                kind: "regular".into(),
                created_at: created + chrono::Duration::seconds(m as i64),
                custom: Map::new(),
            })
            .collect(),
        custom: Map::new(),
    }
}

fn preloaded(channels: Vec<ChannelSnapshot>) -> Config {
    let mut c = Config::new(KEY, SECRET);
    c.initial = InitialState::Snapshot(Snapshot {
        multi_tenant_enabled: true,
        users: vec![user_rec("gym_4_user_1")],
        channels,
    });
    c
}

#[tokio::test]
async fn listing_3000_channels_returns_each_exactly_once() {
    // Groups of 45 channels share a creation time, so ties straddle every 30-channel page.
    let channels = (0..3_000).map(|i| channel_rec(&format!("c{i:04}"), i / 45, 0)).collect();
    let s = sandbox(preloaded(channels)).await;
    let client = Client::new(ClientConfig::new(&s.url, KEY, SECRET)).unwrap();
    let listed = client.list_all_channels(json!({ "team": "gym_4" })).await.unwrap();
    let unique: BTreeSet<String> = listed.iter().map(|c| c.channel.id.to_string()).collect();
    assert_eq!((listed.len(), unique.len()), (3_000, 3_000));
    assert!(listed.windows(2).all(|w| w[0].channel.created_at <= w[1].channel.created_at));
}

#[tokio::test]
async fn a_whole_history_is_read_oldest_first() {
    let s = sandbox(preloaded(vec![channel_rec("long", 0, 700), channel_rec("short", 1, 3)])).await;
    let client = Client::new(ClientConfig::new(&s.url, KEY, SECRET)).unwrap();
    let history = client.channel_history(&cid("long")).await.unwrap();
    let ids: Vec<String> = history.iter().map(|m| m.id.clone()).collect();
    let expected: Vec<String> = (0..700).map(|m| format!("long-m{m}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(client.channel_history(&cid("short")).await.unwrap().len(), 3);
}

#[tokio::test]
async fn batches_of_users_and_channel_deletes_hide_the_limit_of_100() {
    let mut config = preloaded((0..150).map(|i| channel_rec(&format!("d{i}"), i, 0)).collect());
    config.limits = LimitMode::Off;
    let s = sandbox(config).await;
    let mut config = ClientConfig::new(&s.url, KEY, SECRET);
    config.pace = false;
    let client = Client::new(config).unwrap();

    let users: Vec<User> = (1..=250).map(|i| User::new(member(i))).collect();
    assert_eq!(client.upsert_all_users(&users).await.unwrap(), 250);
    let stored = client.query_users(json!({ "id": { "$in": [member(1), member(250)] } }), 100, 0).await.unwrap();
    assert_eq!(stored.body.len(), 2);

    let cids: Vec<Cid> = (0..150).map(|i| cid(&format!("d{i}"))).collect();
    let results = client.delete_all_channels(&cids, true).await.unwrap();
    assert_eq!(results.len(), 150);
    assert!(results.values().all(Result::is_ok), "{results:?}");
    assert!(!client.channel_exists(&cids[149]).await.unwrap());
    let again = client.delete_all_channels(&cids, true).await.unwrap();
    assert!(again.values().all(Result::is_ok), "deleting what is gone is done");
}

#[tokio::test]
async fn a_faulty_network_ends_in_exactly_the_intended_state() {
    let mut config = Config::new(KEY, SECRET);
    config.limits = LimitMode::Off;
    config.fail_rate = 0.2;
    config.seed = 2;
    config.stall = Duration::from_millis(1_500);
    let s = sandbox(config).await;
    let mut client_config = ClientConfig::new(&s.url, KEY, SECRET);
    client_config.pace = false;
    client_config.timeout = Duration::from_millis(500);
    client_config.retry.max_attempts = 10;
    client_config.retry.base_delay = Duration::from_millis(20);
    let client = Client::new(client_config).unwrap();
    // User 31 creates every room and then leaves it.
    let creator = member(31);

    let users: Vec<User> = (1..=31)
        .map(|i| {
            let mut u = User::new(member(i));
            u.teams = vec![Team::for_gym(GymId::new(4).unwrap())];
            u
        })
        .collect();
    for chunk in users.chunks(10) {
        client.upsert_users(chunk).await.unwrap();
    }
    for room in 1..=10 {
        let c = cid(&format!("room_4_{room}"));
        let data = ChannelData {
            created_by_id: Some(creator.clone()),
            members: vec![creator.clone(), member(room)],
            ..Default::default()
        };
        client.get_or_create_channel(&c, Some(&data), 0, None).await.unwrap();
        let update = ChannelUpdate {
            add_members: vec![member(room + 10), member(room + 20)],
            remove_members: vec![creator.clone()],
            ..Default::default()
        };
        client.update_channel(&c, &update).await.unwrap();
        for m in 1..=5 {
            let msg = NewMessage {
                id: format!("room_4_{room}-copy-{m}"),
                text: format!("{m}"),
                user_id: member(room),
                kind: None,
                custom: Map::new(),
            };
            let sent = client.send_message(&c, &msg, true).await.unwrap();
            assert!(matches!(sent, Sent::New(_) | Sent::AlreadyExisted));
        }
    }

    // Stalled calls finish on the server after the client gave up; let them settle, then read.
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let state: Value = reqwest::get(format!("{}/_sandbox/state", s.url)).await.unwrap().json().await.unwrap();
    assert_eq!(state["users"].as_array().unwrap().len(), 31);
    let channels = state["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 10);
    for ch in channels {
        let room: i64 = ch["id"].as_str().unwrap().trim_start_matches("room_4_").parse().unwrap();
        let members: BTreeSet<String> =
            ch["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect();
        let expected: BTreeSet<String> = [room, room + 10, room + 20].iter().map(|&u| member(u).to_string()).collect();
        assert_eq!(members, expected, "members of room {room}");
        let ids: Vec<&str> = ch["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        let expected: Vec<String> = (1..=5).map(|m| format!("room_4_{room}-copy-{m}")).collect();
        assert_eq!(ids, expected, "messages of room {room}: none lost, none repeated");
    }
    let stats: Value = reqwest::get(format!("{}/_sandbox/stats", s.url)).await.unwrap().json().await.unwrap();
    let faults: u64 = stats["operations"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|op| op["faults"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()))
        .sum();
    assert!(faults >= 10, "the workload must actually meet faults: {stats}");
    let kinds: BTreeSet<&str> = stats["operations"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|op| op["faults"].as_object().unwrap().keys().map(String::as_str))
        .collect();
    let every: BTreeSet<&str> =
        ["internal", "unavailable", "rate_limited_no_body", "stall", "reset", "applied_response_lost"].into();
    assert_eq!(kinds, every, "the workload must meet every kind of fault");
}

#[tokio::test]
async fn pacing_at_streams_default_limits_draws_no_429() {
    let mut config = Config::new(KEY, SECRET);
    config.time_scale = 60.0; // Stream's default limits, one-second windows
    let s = sandbox(config).await;
    let mut client_config = ClientConfig::new(&s.url, KEY, SECRET);
    client_config.max_in_flight = 8;
    let client = Client::new(client_config).unwrap();
    // 400 single-user upserts: more than a whole window's limit of 300.
    let calls = (1..=400).map(|i| {
        let client = client.clone();
        async move { client.upsert_users(&[User::new(member(i))]).await.map(|_| ()) }
    });
    let results = futures_join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    let stats: Value = reqwest::get(format!("{}/_sandbox/stats", s.url)).await.unwrap().json().await.unwrap();
    assert_eq!(stats["operations"]["UpdateUsers"]["calls"], 400);
    assert_eq!(stats["operations"]["UpdateUsers"]["rate_limited"], 0, "{stats}");
}

/// Runs the futures concurrently on the test's runtime and collects their results in order.
async fn futures_join_all<F: std::future::Future<Output = T> + Send + 'static, T: Send + 'static>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn concurrency_can_be_lowered_and_raised_while_calls_run() {
    let mut config = Config::new(KEY, SECRET);
    config.limits = LimitMode::Off;
    config.latency = Duration::from_millis(20);
    let s = sandbox(config).await;
    let mut client_config = ClientConfig::new(&s.url, KEY, SECRET);
    client_config.pace = false;
    client_config.max_in_flight = 8;
    let client = Client::new(client_config).unwrap();
    client.upsert_users(&[User::new(member(1))]).await.unwrap();

    let calls = |n: i64| {
        (0..n).map(|_| {
            let client = client.clone();
            async move { client.query_users(json!({ "id": member(1) }), 1, 0).await.map(|a| a.body.len()) }
        })
    };
    client.set_max_in_flight(1).await;
    assert_eq!(client.max_in_flight(), 1);
    let lowered = futures_join_all(calls(10)).await;
    client.set_max_in_flight(32).await;
    assert_eq!(client.max_in_flight(), 32);
    let raised = futures_join_all(calls(40)).await;
    assert!(lowered.iter().chain(&raised).all(|r| r.as_ref().is_ok_and(|n| *n == 1)));
}
