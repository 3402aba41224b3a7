//! The client's helpers and guarantees against the sandbox over HTTP: listing past the offset cap
//! when Stream orders ties differently on every query, whole member lists and histories, batches
//! confirmed per cid, tasks that fail or outlive their deadline, faults without lost or
//! duplicated writes, and concurrency changed while calls run, observed by the sandbox.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use gymchat_ids::{ChannelId, ChannelType, Cid, GymId, StreamUserId, Team, UserId};
use gymchat_sandbox::model::{ChannelSnapshot, MessageRec, UserRec};
use gymchat_sandbox::{Config, InitialState, LimitMode, Snapshot};
use gymchat_stream::error::ErrorKind;
use gymchat_stream::model::{ChannelData, ChannelUpdate, NewMessage, SendOptions, User};
use gymchat_stream::{Client, ClientConfig};
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
        member_state: Default::default(),
        hidden_for: Default::default(),
        messages: (0..messages)
            .map(|m| MessageRec {
                id: format!("{id}-m{m}"),
                user_id: "gym_4_user_1".into(),
                text: format!("{m}"),
                kind: "regular".into(),
                created_at: created + chrono::Duration::seconds(m as i64),
                command: None,
                reactions: Vec::new(),
                custom: Map::new(),
            })
            .collect(),
        custom: Map::new(),
    }
}

fn preloaded(channels: Vec<ChannelSnapshot>) -> Config {
    let mut c = Config::new(KEY, SECRET);
    c.limits = LimitMode::Off;
    c.initial = InitialState::Snapshot(Snapshot {
        multi_tenant_enabled: true,
        users: (1..=3).map(|u| user_rec(&format!("gym_4_user_{u}"))).collect(),
        channels,
    });
    c
}

fn unpaced(url: &str) -> Client {
    let mut config = ClientConfig::new(url, KEY, SECRET);
    config.pace = false;
    Client::new(config).unwrap()
}

#[tokio::test]
async fn listing_3000_channels_with_ties_returns_each_exactly_once() {
    // Groups of 7 channels share a creation time, so ties straddle every 30-channel page. With
    // shuffled ties the sandbox orders each tie group differently on every query (and scans);
    // without, it walks its team index.
    for shuffle_ties in [true, false] {
        let channels = (0..3_000).map(|i| channel_rec(&format!("c{i:04}"), i / 7, 0)).collect();
        let mut config = preloaded(channels);
        config.shuffle_ties = shuffle_ties;
        let s = sandbox(config).await;
        let listing = unpaced(&s.url).list_all_channels(json!({ "team": "gym_4" })).await.unwrap();
        let unique: BTreeSet<String> = listing.channels.iter().map(|c| c.channel.id.to_string()).collect();
        assert_eq!((listing.channels.len(), unique.len()), (3_000, 3_000), "shuffle_ties {shuffle_ties}");
        assert!(listing.is_complete());
        assert!(listing.channels.windows(2).all(|w| w[0].channel.created_at <= w[1].channel.created_at));
        let none = unpaced(&s.url).list_all_channels(json!({ "team": "gym_5" })).await.unwrap();
        assert!(none.channels.is_empty(), "another team's listing is empty");
    }
}

#[tokio::test]
async fn a_tie_group_of_200_is_listed_exactly_by_splitting_it_on_other_keys() {
    // 200 channels share one creation time; in fives of 40 they share an update time too, and
    // none has a message: only their member counts (1 to 3) tell them apart within a five.
    let t = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 5).unwrap();
    let mut channels: Vec<ChannelSnapshot> = (0..200)
        .map(|i| {
            let mut c = channel_rec(&format!("tie{i:03}"), 5, 0);
            c.updated_at = Some(t + chrono::Duration::seconds(1 + i as i64 / 40));
            c.members = (1..=1 + i % 3).map(|u| format!("gym_4_user_{u}")).collect();
            c
        })
        .collect();
    channels.extend((0..10).map(|i| channel_rec(&format!("before{i}"), i - 20, 0)));
    channels.extend((0..10).map(|i| channel_rec(&format!("after{i}"), 100 + i, 0)));
    let mut config = preloaded(channels);
    config.shuffle_ties = true;
    let s = sandbox(config).await;
    let listing = unpaced(&s.url).list_all_channels(json!({})).await.unwrap();
    assert!(listing.is_complete(), "nothing left unvouched: {:?}", listing.incomplete_at);
    let ids: Vec<String> = listing.channels.iter().map(|c| c.channel.id.to_string()).collect();
    assert_eq!(ids.len(), 220, "each channel exactly once");
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 220);
    assert!((0..200).all(|i| distinct.contains(&format!("tie{i:03}"))));
}

#[tokio::test]
async fn a_tie_group_that_nothing_splits_is_reported_not_dropped() {
    // 40 channels share their creation and update times and member counts, and have no message:
    // no query can vouch for all of them.
    let mut channels: Vec<ChannelSnapshot> = (0..40).map(|i| channel_rec(&format!("tie{i:02}"), 5, 0)).collect();
    channels.extend((0..10).map(|i| channel_rec(&format!("before{i}"), i - 20, 0)));
    channels.extend((0..10).map(|i| channel_rec(&format!("after{i}"), 100 + i, 0)));
    let mut config = preloaded(channels);
    config.shuffle_ties = true;
    let s = sandbox(config).await;
    let listing = unpaced(&s.url).list_all_channels(json!({})).await.unwrap();
    assert_eq!(listing.incomplete_at, [Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 5).unwrap()]);
    let ids: BTreeSet<String> = listing.channels.iter().map(|c| c.channel.id.to_string()).collect();
    assert!((0..10).all(|i| ids.contains(&format!("before{i}")) && ids.contains(&format!("after{i}"))), "{ids:?}");
    assert!(ids.iter().filter(|i| i.starts_with("tie")).count() >= 30);
}

#[tokio::test]
async fn listed_channels_carry_every_member_past_the_query_limit() {
    let mut big = channel_rec("crowded", 0, 0);
    big.members = (1..=250).map(|i| format!("gym_4_user_{i}")).collect();
    let mut config = preloaded(vec![big, channel_rec("small", 1, 0)]);
    if let InitialState::Snapshot(snapshot) = &mut config.initial {
        snapshot.users = (1..=250).map(|i| user_rec(&format!("gym_4_user_{i}"))).collect();
    }
    let s = sandbox(config).await;
    let listing = unpaced(&s.url).list_all_channels(json!({})).await.unwrap();
    let crowded = listing.channels.iter().find(|c| c.channel.id.as_str() == "crowded").unwrap();
    let members: BTreeSet<&str> = crowded.members.iter().map(|m| m.user_id.as_str()).collect();
    assert_eq!(members.len(), 250);
}

#[tokio::test]
async fn a_whole_history_is_read_oldest_first() {
    let s = sandbox(preloaded(vec![channel_rec("long", 0, 700), channel_rec("short", 1, 3)])).await;
    let client = unpaced(&s.url);
    let history = client.channel_history(&cid("long")).await.unwrap();
    let ids: Vec<String> = history.iter().map(|m| m.id.clone()).collect();
    let expected: Vec<String> = (0..700).map(|m| format!("long-m{m}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(client.channel_history(&cid("short")).await.unwrap().len(), 3);
}

#[tokio::test]
async fn batches_hide_the_limit_of_100_and_each_delete_is_confirmed() {
    let s = sandbox(preloaded((0..150).map(|i| channel_rec(&format!("d{i}"), i, 0)).collect())).await;
    let client = unpaced(&s.url);

    let users: Vec<User> = (1..=250).map(|i| User::new(member(i))).collect();
    assert_eq!(client.upsert_all_users(&users).await.unwrap(), 250);
    let stored = client.query_users(json!({ "id": { "$in": [member(1), member(250)] } }), 100, 0).await.unwrap();
    assert_eq!(stored.body.len(), 2);

    let cids: Vec<Cid> = (0..150).map(|i| cid(&format!("d{i}"))).collect();
    let results = client.delete_all_channels(&cids, true).await.unwrap();
    assert_eq!(results.len(), 150);
    assert!(results.values().all(Result::is_ok), "{results:?}");
    assert!(client.existing_cids(&cids).await.unwrap().is_empty());
    // Stream answers 404 for a batch of cids none of which exists: each is confirmed gone.
    let again = client.delete_all_channels(&cids, true).await.unwrap();
    assert!(again.values().all(Result::is_ok), "deleting what is gone is done");
}

#[tokio::test]
async fn a_batch_whose_task_fails_is_not_marked_deleted() {
    let mut config = preloaded((0..3).map(|i| channel_rec(&format!("f{i}"), i, 0)).collect());
    config.task_fail_rate = 1.0;
    let s = sandbox(config).await;
    let client = unpaced(&s.url);
    let cids: Vec<Cid> = (0..3).map(|i| cid(&format!("f{i}"))).collect();
    let results = client.delete_all_channels(&cids, false).await.unwrap();
    for (cid, result) in &results {
        let why = result.as_ref().unwrap_err();
        assert!(why.contains("ended error"), "{cid}: {why}");
    }
    assert_eq!(client.existing_cids(&cids).await.unwrap().len(), 3);

    let task = client.delete_channels(&cids, false).await.unwrap();
    let failed = client.wait_for_task(&task, Duration::from_secs(10)).await.unwrap_err();
    assert!(matches!(&failed.kind, ErrorKind::TaskFailed(t) if t.status == "error"), "{failed}");
}

#[tokio::test]
async fn polling_a_task_stops_at_its_deadline() {
    let s = sandbox(preloaded(vec![channel_rec("t", 0, 0)])).await;
    let client = unpaced(&s.url);
    let task = client.delete_channels(&[cid("t")], false).await.unwrap();
    // The sandbox's task is still running at its first poll; no time is allowed for a second.
    let late = client.wait_for_task(&task, Duration::ZERO).await.unwrap_err();
    assert!(matches!(late.kind, ErrorKind::TaskDeadline { .. }), "{late}");
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
            members: vec![creator.clone().into(), member(room).into()],
            ..Default::default()
        };
        client.get_or_create_channel(&c, Some(&data), 0, None).await.unwrap();
        let update = ChannelUpdate {
            add_members: vec![member(room + 10).into(), member(room + 20).into()],
            remove_members: vec![creator.clone()],
            ..Default::default()
        };
        client.update_channel(&c, &update).await.unwrap();
        for m in 1..=5 {
            let msg = NewMessage::new(format!("room_4_{room}-copy-{m}"), member(room), format!("{m}"));
            client.send_message(&c, &msg, SendOptions::copy()).await.unwrap();
        }
    }

    // Stalled calls answer 503 without applying anything, so the state can be read at once.
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
    let stats = s.stats().await;
    let kinds: BTreeSet<&str> = stats["operations"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|op| op["faults"].as_object().unwrap().keys().map(String::as_str))
        .collect();
    let every: BTreeSet<&str> =
        ["internal", "unavailable", "rate_limited_no_body", "stall", "reset", "applied_response_lost"].into();
    assert_eq!(kinds, every, "the workload must meet every kind of fault");
    // The client sent every call in Stream's transport form.
    assert_eq!((stats["missing_auth_type"].as_u64(), stats["bearer_prefix"].as_u64()), (Some(0), Some(0)), "{stats}");
    let sends = stats["sends"].as_u64().unwrap();
    assert!(sends >= 50 && stats["sends_skip_enrich_url"] == sends, "every copy asks for no URL enrichment: {stats}");
}

#[tokio::test]
async fn concurrency_can_be_lowered_and_raised_while_calls_run() {
    let mut config = Config::new(KEY, SECRET);
    config.limits = LimitMode::Off;
    config.latency = Duration::from_millis(40);
    let s = sandbox(config).await;
    let mut client_config = ClientConfig::new(&s.url, KEY, SECRET);
    client_config.pace = false;
    client_config.max_in_flight = 8;
    let client = Client::new(client_config).unwrap();
    let calls = |n: usize| {
        (0..n)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.get_app().await.map(|_| ()) })
            })
            .collect::<Vec<_>>()
    };
    let in_flight = async || s.stats().await["in_flight"].as_u64().unwrap_or(0);

    // Waits, a bounded number of times, until `holds` says yes.
    async fn until<F: std::future::Future<Output = bool>>(what: &str, mut holds: impl FnMut() -> F) {
        for _ in 0..2_500 {
            if holds().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("never: {what}");
    }
    let served = async || s.stats().await["operations"]["GetApp"]["calls"].as_u64().unwrap_or(0);

    // 60 calls start 8 wide; while they run, lower to 2.
    let running = calls(60);
    until("8 calls in flight", || async { in_flight().await >= 8 }).await;
    client.set_max_in_flight(2);
    // The 8 already running finish; from then on the sandbox must never see more than 2.
    until("at most 2 in flight", || async { in_flight().await <= 2 }).await;
    reqwest::Client::new().post(format!("{}/_sandbox/stats/reset", s.url)).send().await.unwrap();
    // Ten calls served under the lowered bound, with more still waiting; then raise to 16.
    until("10 calls served while lowered", || async { served().await >= 10 }).await;
    let lowered_peak = s.stats().await["in_flight_peak"].as_u64().unwrap();
    assert!(running.iter().any(|h| !h.is_finished()), "calls were still to come when the bound was raised");
    client.set_max_in_flight(16);
    for h in running {
        h.await.unwrap().unwrap();
    }
    assert_eq!(lowered_peak, 2, "after lowering, the sandbox saw at most 2 calls at once");
    let raised_peak = s.stats().await["in_flight_peak"].as_u64().unwrap();
    assert!(raised_peak > 2, "after raising, more ran at once: {raised_peak}");
}

#[tokio::test]
async fn a_call_waiting_for_its_window_does_not_hold_a_slot_of_another_operation() {
    let mut config = Config::new(KEY, SECRET);
    config.initial = InitialState::Snapshot(Snapshot { users: vec![user_rec("gym_4_user_1")], ..Snapshot::default() });
    let s = sandbox(config).await;
    let mut client_config = ClientConfig::new(&s.url, KEY, SECRET);
    client_config.max_in_flight = 1;
    let client = Client::new(client_config).unwrap();
    // DeleteUser: 60 a minute, half for gymchat: the second call waits about two seconds.
    client.delete_user(&member(1), false).await.unwrap();
    let waiting = {
        let client = client.clone();
        tokio::spawn(async move { client.delete_user(&member(2), false).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    client.get_app().await.unwrap();
    let other = started.elapsed();
    assert!(other < Duration::from_millis(1_000), "GetApp waited {other:?} behind DeleteUser's window");
    assert!(!waiting.is_finished(), "the DeleteUser call is still waiting for its slot");
    waiting.await.unwrap().unwrap();
}
