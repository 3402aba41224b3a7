//! What the client promises about repeats and Stream's answers, against the sandbox over HTTP:
//! "gone" only when Stream says so, transient answers retried (408, 429 with `Retry-After` with
//! or without a body, pacing on or off), answers without a body accepted where none is needed,
//! repeats settled by reading back (sends, updates with a message), truncation that cannot reach
//! newer messages, full updates that keep what they do not change, ids Stream generated, and
//! hard user deletes with the options Stream requires.

use std::time::{Duration, Instant};

use chrono::Utc;
use gymchat_ids::{ChannelId, ChannelType, Cid, GymId, StreamUserId, Team, UserId};
use gymchat_sandbox::{Config, InitialState, LimitMode, load_snapshot};
use gymchat_stream::error::ErrorKind;
use gymchat_stream::model::{ChannelData, ChannelUpdate, NewMessage, SendOptions, User};
use gymchat_stream::{Client, ClientConfig, Sent, Updated, UserDeletion};
use serde_json::{Map, json};

mod support;

use support::{KEY, SECRET, sandbox};

fn member(user: i64) -> StreamUserId {
    StreamUserId::for_member(GymId::new(4).unwrap(), UserId::new(user).unwrap())
}

fn cid(id: &str) -> Cid {
    Cid::new(ChannelType::messaging(), ChannelId::parse(id).unwrap())
}

fn unlimited() -> Config {
    let mut c = Config::new(KEY, SECRET);
    c.limits = LimitMode::Off;
    c
}

fn client(url: &str, pace: bool) -> Client {
    let mut config = ClientConfig::new(url, KEY, SECRET);
    config.pace = pace;
    config.retry.base_delay = Duration::from_millis(10);
    Client::new(config).unwrap()
}

/// A sandbox with users 10, 8 and 11 of gym 4 and two channels of theirs.
async fn two_rooms() -> (support::Running, Client) {
    let s = sandbox(unlimited()).await;
    let c = client(&s.url, false);
    let users: Vec<User> = [10, 8, 11]
        .iter()
        .map(|&i| {
            let mut u = User::new(member(i));
            u.teams = vec![Team::for_gym(GymId::new(4).unwrap())];
            u
        })
        .collect();
    c.upsert_users(&users).await.unwrap();
    for room in ["room_4_1", "room_4_2"] {
        let data = ChannelData {
            created_by_id: Some(member(10)),
            team: Some(Team::for_gym(GymId::new(4).unwrap())),
            members: vec![member(10).into(), member(8).into()],
            custom: Map::from_iter([("name".into(), json!("Room")), ("gym_id".into(), json!("4"))]),
            ..Default::default()
        };
        c.get_or_create_channel(&cid(room), Some(&data), 0, None).await.unwrap();
    }
    (s, c)
}

#[tokio::test]
async fn a_404_without_streams_body_is_an_error_not_gone() {
    let (s, c) = two_rooms().await;
    s.script("DeleteChannel", json!([{ "status": 404, "raw_body": "<html>Not Found</html>" }])).await;
    let err = c.delete_channel(&cid("room_4_1"), false).await.unwrap_err();
    assert!(!err.is_not_found() && err.status() == Some(404), "{err}");
    assert!(c.channel_exists(&cid("room_4_1")).await.unwrap());
    // A client pointed at the wrong base URL meets plain 404s: errors, never "already gone".
    let lost = client(&format!("{}/wrong-prefix", s.url), false);
    let err = lost.delete_channel(&cid("room_4_1"), false).await.unwrap_err();
    assert!(!err.is_not_found(), "{err}");
    // Stream's own 404/16 is what "gone" means.
    assert_eq!(c.delete_channel(&cid("room_4_9"), false).await.unwrap(), None);
}

#[tokio::test]
async fn a_request_timeout_is_retried() {
    let (s, c) = two_rooms().await;
    s.script("GetApp", json!([{ "status": 408, "code": 23 }, { "status": 408, "code": 23 }])).await;
    c.get_app().await.unwrap();
    assert_eq!(s.stats().await["scripted"], 2);
}

#[tokio::test]
async fn a_429_waits_for_retry_after_with_or_without_a_body_even_unpaced() {
    let (s, _) = two_rooms().await;
    for (paced, answer) in [
        (false, json!({ "status": 429, "retry_after": 1 })),
        (false, json!({ "status": 429, "code": 9, "retry_after": 1 })),
        (true, json!({ "status": 429, "retry_after": 1 })),
    ] {
        s.script("GetApp", json!([answer])).await;
        let started = Instant::now();
        client(&s.url, paced).get_app().await.unwrap();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(950), "paced {paced}, {answer}: retried after {waited:?}");
    }
}

#[tokio::test]
async fn an_answer_without_a_body_is_enough_for_a_user_delete() {
    let (s, c) = two_rooms().await;
    s.script("DeleteUser", json!([{ "status": 200 }])).await;
    assert!(c.delete_user(&member(11), false).await.unwrap());
}

#[tokio::test]
async fn a_repeated_send_is_settled_by_reading_the_message() {
    let (_s, c) = two_rooms().await;
    let message = NewMessage::new("copy-1", member(10), "hola");
    assert!(matches!(c.send_message(&cid("room_4_1"), &message, SendOptions::copy()).await.unwrap(), Sent::New(_)));
    assert_eq!(c.send_message(&cid("room_4_1"), &message, SendOptions::copy()).await.unwrap(), Sent::AlreadyExisted);
    // Message ids are app-wide: the same id meant for another channel is a conflict, not done.
    let elsewhere = c.send_message(&cid("room_4_2"), &message, SendOptions::copy()).await.unwrap_err();
    assert!(matches!(&elsewhere.kind, ErrorKind::Conflict(why) if why.contains("room_4_1")), "{elsewhere}");
}

#[tokio::test]
async fn a_repeated_update_with_a_message_is_settled_by_reading_the_channel() {
    let (_s, c) = two_rooms().await;
    let freeze = |id: &str| ChannelUpdate {
        add_members: vec![member(11).into()],
        message: Some(NewMessage::new(id, member(10), "closed").system()),
        skip_push: true,
        ..Default::default()
    };
    let update = freeze("note-1");
    assert!(matches!(c.update_channel(&cid("room_4_1"), &update).await.unwrap(), Updated::Now(_)));
    // The answer of the first attempt was lost, say: the repeat is answered "already exists".
    assert_eq!(c.update_channel(&cid("room_4_1"), &update).await.unwrap(), Updated::AlreadyApplied);
    // An update whose message id exists but whose changes are not there is not settled.
    let other = ChannelUpdate { add_members: vec![member(11).into()], ..freeze("note-1") };
    let err = c.update_channel(&cid("room_4_2"), &other).await.unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Conflict(_)), "{err}");
}

#[tokio::test]
async fn truncation_at_a_fixed_time_never_removes_newer_messages() {
    let (_s, c) = two_rooms().await;
    let room = cid("room_4_1");
    c.send_message(&room, &NewMessage::new("old", member(10), "old"), SendOptions::default()).await.unwrap();
    let until = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    c.send_message(&room, &NewMessage::new("new", member(10), "new"), SendOptions::default()).await.unwrap();
    // A repeat of the truncation (its first answer lost) comes after the newer message.
    c.truncate_channel(&room, until).await.unwrap();
    c.truncate_channel(&room, until).await.unwrap();
    let left: Vec<String> = c.channel_history(&room).await.unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(left, ["new"]);
}

#[tokio::test]
async fn a_full_update_through_the_helper_keeps_what_it_does_not_change() {
    let (_s, c) = two_rooms().await;
    let room = cid("room_4_1");
    c.update_channel_data(
        &room,
        |data| {
            data.insert("frozen".into(), json!(true));
        },
        ChannelUpdate::default(),
    )
    .await
    .unwrap();
    let channel = c.get_or_create_channel(&room, None, 0, None).await.unwrap().body.channel;
    assert_eq!(
        (
            channel.frozen,
            channel.team.as_ref().map(|t| t.as_str()),
            channel.custom.get("gym_id"),
            channel.custom.get("name")
        ),
        (true, Some("gym_4"), Some(&json!("4")), Some(&json!("Room")))
    );
    // A full update built by hand from only the change loses everything else: why the helper exists.
    let bare = ChannelUpdate { data: Some(Map::from_iter([("frozen".into(), json!(false))])), ..Default::default() };
    c.update_channel(&room, &bare).await.unwrap();
    let channel = c.get_or_create_channel(&room, None, 0, None).await.unwrap().body.channel;
    assert_eq!((channel.team, channel.custom.get("gym_id")), (None, None));
}

#[tokio::test]
async fn channels_with_ids_stream_generated_are_listed_and_addressed() {
    let mut snapshot =
        load_snapshot(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gym4.json")).unwrap();
    let mut generated = snapshot.channels[0].clone();
    generated.id = "!members-9fK2xQ".to_owned();
    generated.messages.truncate(2);
    snapshot.channels.push(generated);
    let mut config = unlimited();
    config.initial = InitialState::Snapshot(snapshot);
    let s = sandbox(config).await;
    let c = client(&s.url, false);
    let listing = c.list_all_channels(json!({})).await.unwrap();
    let generated = listing.channels.iter().find(|ch| ch.channel.id.is_stream_generated()).expect("listed");
    assert_eq!(generated.channel.cid.to_string(), "messaging:!members-9fK2xQ");
    assert_eq!(
        listing.channels.len(),
        10,
        "the fixture's 9 and the generated one: the page with a `!` id is read whole"
    );
    let history = c.channel_history(&generated.channel.cid).await.unwrap();
    assert_eq!(history.len(), 2);
}

#[tokio::test]
async fn a_hard_user_delete_sends_the_options_stream_requires() {
    let (_s, c) = two_rooms().await;
    let task = c.delete_users(&[member(11)], UserDeletion::hard_with_messages_and_conversations()).await.unwrap();
    c.wait_for_task(&task, Duration::from_secs(10)).await.unwrap();
    assert!(c.query_users(json!({ "id": member(11) }), 10, 0).await.unwrap().body.is_empty());
    let soft = c.delete_users(&[member(8)], UserDeletion::soft()).await.unwrap();
    c.wait_for_task(&soft, Duration::from_secs(10)).await.unwrap();
    assert!(c.channel_exists(&cid("room_4_1")).await.unwrap(), "a soft user delete leaves the channels");
}

#[tokio::test]
async fn a_rate_budget_outside_zero_to_one_is_refused() {
    for share in [0.0, -0.5, 1.5, f64::NAN] {
        let mut config = ClientConfig::new("http://127.0.0.1:1", KEY, SECRET);
        config.budget_share = share;
        let err = Client::new(config).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Refused(_)), "{share}: {err}");
    }
}
