//! The client against the sandbox over real HTTP: every endpoint, and Stream's errors mapped.

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, Utc};
use gymchat_ids::{ChannelId, ChannelType, Cid, GymId, StreamUserId, Team, UserId};
use gymchat_sandbox::{Config, LimitMode};
use gymchat_stream::model::{
    ChannelData, ChannelQuery, ChannelUpdate, NewMessage, SendOptions, SortField, User, UserPatch,
};
use gymchat_stream::{Client, ClientConfig, ErrorKind, Sent, Updated, UserDeletion, user_token};
use serde_json::{Map, json};

mod support;

use support::{KEY, SECRET};

/// A sandbox and a client of it.
struct Running {
    client: Client,
    url: String,
    _sandbox: support::Running,
}

async fn sandbox(config: Config) -> Running {
    let running = support::sandbox(config).await;
    Running { client: support::client(&running), url: running.url.clone(), _sandbox: running }
}

fn unlimited() -> Config {
    let mut c = Config::new(KEY, SECRET);
    c.limits = LimitMode::Off;
    c
}

fn member(user: i64) -> StreamUserId {
    StreamUserId::for_member(GymId::new(4).unwrap(), UserId::new(user).unwrap())
}

fn gym4() -> Team {
    Team::for_gym(GymId::new(4).unwrap())
}

fn cid(id: &str) -> Cid {
    Cid::new(ChannelType::messaging(), ChannelId::parse(id).unwrap())
}

async fn seed_users(client: &Client, ids: &[i64]) {
    let users: Vec<User> = ids
        .iter()
        .map(|&i| {
            let mut u = User::new(member(i));
            u.name = Some(format!("User {i}"));
            u.teams = vec![gym4()];
            u
        })
        .collect();
    client.upsert_users(&users).await.unwrap();
}

#[tokio::test]
async fn app_and_users_round_trip() {
    let s = sandbox(unlimited()).await;
    assert!(!s.client.get_app().await.unwrap().body.multi_tenant_enabled);
    s.client.set_multi_tenant(true).await.unwrap();
    assert!(s.client.get_app().await.unwrap().body.multi_tenant_enabled);

    let mut ana = User::new(member(10));
    ana.name = Some("Ana".into());
    ana.image = Some("https://img/a.png".into());
    ana.teams = vec![gym4()];
    ana.custom.insert("gym_id".into(), json!("4"));
    let up = s.client.upsert_users(&[ana.clone()]).await.unwrap();
    let stored = &up.body["gym_4_user_10"];
    assert_eq!(
        (stored.name.as_deref(), &stored.teams, stored.custom.get("gym_id")),
        (Some("Ana"), &vec![gym4()], Some(&json!("4")))
    );
    assert!(stored.created_at.is_some());

    let patched = s
        .client
        .update_users_partial(&[UserPatch {
            id: member(10),
            set: Map::from_iter([("nickname".into(), json!("ana"))]),
            unset: vec!["image".into()],
        }])
        .await
        .unwrap();
    let patched = &patched.body["gym_4_user_10"];
    assert_eq!((patched.image.as_deref(), patched.custom.get("nickname")), (None, Some(&json!("ana"))));

    seed_users(&s.client, &[8, 11]).await;
    let found =
        s.client.query_users(json!({ "id": { "$in": ["gym_4_user_8", "gym_4_user_11"] } }), 100, 0).await.unwrap();
    assert_eq!(found.body.len(), 2);
    assert!(s.client.delete_user(&member(8), false).await.unwrap(), "deleted now");
    assert!(!s.client.delete_user(&member(99), false).await.unwrap(), "deleting what is gone is done");
    let task =
        s.client.delete_users(&[member(11)], UserDeletion::hard_with_messages_and_conversations()).await.unwrap();
    let mut status = String::new();
    for _ in 0..5 {
        status = s.client.get_task(&task).await.unwrap().status;
        if status == "completed" {
            break;
        }
    }
    assert_eq!(status, "completed");
}

#[tokio::test]
async fn channels_members_messages_and_tasks() {
    let s = sandbox(unlimited()).await;
    seed_users(&s.client, &[10, 8, 11]).await;
    let room = cid("room_4_639");
    let data = ChannelData {
        created_by_id: Some(member(10)),
        team: Some(gym4()),
        members: vec![member(10).into(), member(8).into()],
        frozen: None,
        custom: Map::from_iter([("name".into(), json!("General")), ("gym_id".into(), json!("4"))]),
    };
    let created = s.client.get_or_create_channel(&room, Some(&data), 0, None).await.unwrap();
    let ch = &created.body.channel;
    assert_eq!((&ch.cid, ch.team.as_ref(), ch.custom.get("gym_id")), (&room, Some(&gym4()), Some(&json!("4"))));
    assert_eq!(created.body.members.len(), 2);

    for i in 1..=5 {
        let mut msg = NewMessage::new(format!("copy-{i}"), member(10), format!("m{i}"));
        msg.custom.insert("original_id".into(), json!(i));
        let Sent::New(sent) = s.client.send_message(&room, &msg, SendOptions::copy()).await.unwrap() else {
            panic!("copy-{i} already existed")
        };
        assert_eq!((sent.id.as_str(), sent.custom.get("original_id")), (format!("copy-{i}").as_str(), Some(&json!(i))));
    }
    let again = NewMessage::new("copy-3", member(10), "dup");
    assert_eq!(s.client.send_message(&room, &again, SendOptions::copy()).await.unwrap(), Sent::AlreadyExisted);

    let newest = s.client.get_or_create_channel(&room, None, 2, None).await.unwrap();
    let ids: Vec<&str> = newest.body.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["copy-4", "copy-5"]);
    let older = s.client.get_or_create_channel(&room, None, 2, Some("copy-4")).await.unwrap();
    assert_eq!(older.body.messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["copy-2", "copy-3"]);

    let both = ChannelUpdate {
        add_members: vec![member(11).into()],
        data: Some(Map::from_iter([("name".into(), json!("General"))])),
        ..ChannelUpdate::default()
    };
    let refused = s.client.update_channel(&room, &both).await.unwrap_err();
    assert!(matches!(refused.kind, ErrorKind::Refused(_)), "data and members never go in one update: {refused}");
    let members_update = ChannelUpdate {
        add_members: vec![member(11).into()],
        remove_members: vec![member(8)],
        message: Some(NewMessage::new("sys-1", member(10), "closed").system()),
        skip_push: true,
        ..ChannelUpdate::default()
    };
    let Updated::Now(updated) = s.client.update_channel(&room, &members_update).await.unwrap() else {
        panic!("not applied now")
    };
    let members: BTreeSet<String> = updated.members.iter().map(|m| m.user_id.to_string()).collect();
    assert_eq!(members, BTreeSet::from(["gym_4_user_10".to_owned(), "gym_4_user_11".to_owned()]));
    assert_eq!(updated.message.unwrap().kind, "system");
    let data_update = ChannelUpdate {
        data: Some(Map::from_iter([
            ("name".into(), json!("General")),
            ("frozen".into(), json!(true)),
            ("team".into(), json!("gym_4")),
        ])),
        ..ChannelUpdate::default()
    };
    let Updated::Now(updated) = s.client.update_channel(&room, &data_update).await.unwrap() else {
        panic!("not applied now")
    };
    assert!(updated.channel.frozen);
    let partial = s
        .client
        .update_channel_partial(&room, Map::from_iter([("frozen".into(), json!(false))]), &["name"])
        .await
        .unwrap();
    assert!(!partial.body.channel.frozen && !partial.body.channel.custom.contains_key("name"));

    s.client.hide_channel(&room, &member(10), false).await.unwrap();
    s.client.show_channel(&room, &member(10)).await.unwrap();
    s.client.truncate_channel(&room, Utc::now()).await.unwrap();
    assert!(s.client.get_or_create_channel(&room, None, 10, None).await.unwrap().body.messages.is_empty());

    let query = ChannelQuery {
        filter_conditions: json!({ "team": "gym_4" }),
        sort: vec![SortField { field: "created_at".into(), direction: 1 }],
        limit: 30,
        offset: 0,
        state: false,
        message_limit: 0,
        member_limit: 0,
    };
    assert_eq!(s.client.query_channels(&query).await.unwrap().body.len(), 1);
    let deleted = s.client.delete_channel(&room, false).await.unwrap().unwrap();
    assert!(deleted.deleted_at.is_some());
    assert_eq!(s.client.delete_channel(&room, false).await.unwrap(), None, "deleting what is gone is done");

    let other = cid("room_4_640");
    s.client.get_or_create_channel(&other, Some(&data), 0, None).await.unwrap();
    let task = s.client.delete_channels(std::slice::from_ref(&other), true).await.unwrap();
    s.client.get_task(&task).await.unwrap();
    let done = s.client.get_task(&task).await.unwrap();
    assert_eq!(done.result.unwrap()["messaging:room_4_640"]["status"], "ok");
}

#[tokio::test]
async fn pacing_waits_for_the_window_and_an_unforeseen_429_is_mapped() {
    let mut config = unlimited();
    config.limits = LimitMode::with_overrides(HashMap::from([("GetApp".to_owned(), 1)]));
    config.time_scale = 60.0;
    let s = sandbox(config).await;
    let first = s.client.get_app().await.unwrap();
    assert_eq!(first.rate_limit.map(|r| (r.limit, r.remaining)), Some((1, 0)));
    // The window is used up: the client waits for its reset instead of drawing a 429.
    s.client.get_app().await.unwrap();

    // A client that has not seen the headers, allowed one attempt, meets the 429.
    let mut blind = ClientConfig::new(&s.url, KEY, SECRET);
    blind.retry.max_attempts = 1;
    let blind = Client::new(blind).unwrap();
    let limited = blind.get_app().await.unwrap_err();
    assert_eq!((limited.status(), limited.code()), (Some(429), Some(9)));
    assert!(limited.is_transient() && !limited.outcome_unknown());
    assert_eq!(limited.rate_limit.map(|r| r.remaining), Some(0));
    let stats: serde_json::Value =
        reqwest::get(format!("{}/_sandbox/stats", s.url)).await.unwrap().json().await.unwrap();
    assert_eq!(stats["operations"]["GetApp"]["rate_limited"], 1, "only the blind client was refused: {stats}");
}

#[tokio::test]
async fn stream_errors_are_mapped_with_codes_and_messages() {
    let s = sandbox(unlimited()).await;
    let no_creator =
        s.client.get_or_create_channel(&cid("room_4_1"), Some(&ChannelData::default()), 0, None).await.unwrap_err();
    assert_eq!((no_creator.status(), no_creator.code()), (Some(400), Some(4)));
    assert!(!no_creator.is_transient());
    let creator = StreamUserId::parse("creator").unwrap();
    s.client.upsert_users(&[User::new(creator.clone())]).await.unwrap();
    let data = ChannelData { created_by_id: Some(creator), ..Default::default() };
    s.client.get_or_create_channel(&cid("room_4_2"), Some(&data), 0, None).await.unwrap();
    let missing_member = ChannelUpdate { add_members: vec![member(77).into()], ..Default::default() };
    let err = s.client.update_channel(&cid("room_4_2"), &missing_member).await.unwrap_err();
    assert!(err.to_string().contains("could not find user gym_4_user_77 from add_members"), "{err}");
}

#[tokio::test]
async fn user_tokens_are_accepted_and_expire() {
    let mut config = unlimited();
    config.initial = gymchat_sandbox::InitialState::Snapshot(gymchat_sandbox::Snapshot {
        multi_tenant_enabled: true,
        ..Default::default()
    });
    let s = sandbox(config).await;
    seed_users(&s.client, &[10]).await;
    let now = Utc::now();
    let call = |token: String| {
        let url = format!("{}/channels?api_key={KEY}", s.url);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("Authorization", token)
                .json(&json!({ "filter_conditions": {} }))
                .send()
                .await
                .unwrap()
        }
    };
    let fresh = user_token(&SECRET.into(), &member(10), now, Some(now + Duration::hours(1))).unwrap();
    assert_eq!(call(fresh).await.status(), 201);
    let expired =
        user_token(&SECRET.into(), &member(10), now - Duration::hours(2), Some(now - Duration::hours(1))).unwrap();
    let res = call(expired).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["code"], 40);
}

#[test]
fn the_secret_never_shows_in_debug_output() {
    let config = ClientConfig::new("http://127.0.0.1:1", "k", "super-secret");
    let client = Client::new(config).unwrap();
    assert!(!format!("{client:?}").contains("super-secret"));
}
