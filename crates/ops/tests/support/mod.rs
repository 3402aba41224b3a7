//! What the ops tests share: a database loaded with a fixture and the sandbox serving a snapshot
//! (in-process, over HTTP), a Stream outage, and a room moved to a target channel as the
//! migration will move it.

#![allow(dead_code, reason = "each test file uses a different part of the helper")]

use std::time::Duration;

use chrono::Utc;
use gymchat_ids::{ChannelId, ChannelType, Cid, GymId, RoomId, StreamUserId, Team, UserId};
use gymchat_sandbox::{Config, InitialState, LimitMode, Snapshot, load_snapshot};
use gymchat_store::{DbFixture, Store};
use gymchat_stream::model::{ChannelData, User};
use gymchat_stream::{Client, ClientConfig};
use gymchat_testkit::sandbox::Sandbox;
use gymchat_testkit::{TestDb, fixture_path, read_fixture};
use serde_json::json;

pub mod journey;

/// A database, the sandbox, and a client of it; the sandbox stops when this is dropped.
pub struct World {
    pub store: Store,
    pub client: Client,
    pub url: String,
    pub sandbox: Sandbox,
}

/// Loads `fixture` into `db` and serves `snapshot` from the sandbox (limits off).
pub async fn world(db: &TestDb, fixture: &DbFixture, snapshot: Snapshot, shuffle_ties: bool) -> World {
    world_configured(db, fixture, snapshot, |c| c.shuffle_ties = shuffle_ties).await
}

/// Like [`world`], with the sandbox's configuration edited (faults, latency).
pub async fn world_configured(
    db: &TestDb,
    fixture: &DbFixture,
    snapshot: Snapshot,
    edit: impl FnOnce(&mut Config),
) -> World {
    let store = Store::open(db.url()).await.unwrap();
    store.load_fixture(fixture).await.unwrap();
    let mut config = Config::new("k", "s");
    config.limits = LimitMode::Off;
    config.initial = InitialState::Snapshot(snapshot);
    edit(&mut config);
    let sandbox = Sandbox::start(config).await;
    let url = sandbox.url.clone();
    let mut client_config = ClientConfig::new(&url, "k", "s");
    client_config.pace = false;
    client_config.retry.base_delay = Duration::from_millis(5);
    client_config.retry.max_attempts = 3;
    World { store, client: Client::new(client_config).unwrap(), url, sandbox }
}

/// The reference scenario's database rows.
pub fn gym4_fixture() -> DbFixture {
    DbFixture::from_json(&read_fixture("gym4.json")).unwrap()
}

/// The reference scenario's Stream side.
pub fn gym4_snapshot() -> Snapshot {
    load_snapshot(&fixture_path("gym4.json")).unwrap()
}

/// The reference scenario on both sides.
pub async fn gym4(db: &TestDb) -> World {
    world(db, &gym4_fixture(), gym4_snapshot(), false).await
}

/// Every channel query fails from now on, as in an outage of that endpoint.
pub async fn query_channels_outage(w: &World) {
    w.sandbox.outage("QueryChannels", 200).await;
}

/// Moves room 639 of gym 4 to `room_4_639` as the migration will: target users (user `teamless`
/// upserted without the gym's team), the channel with team and `gym_id`, the room pointing at it.
/// Returns the new cid.
pub async fn move_room_639(w: &World, teamless: Option<i64>) -> Cid {
    let gym = GymId::new(4).unwrap();
    let people: Vec<User> = [8, 10, 11, 17]
        .iter()
        .map(|&u| {
            let mut user = User::new(StreamUserId::for_member(gym, UserId::new(u).unwrap()));
            if Some(u) != teamless {
                user.teams = vec![Team::for_gym(gym)];
            }
            user
        })
        .collect();
    w.client.upsert_users(&people).await.unwrap();
    let target = Cid::new(ChannelType::messaging(), ChannelId::group(gym, RoomId::new(639).unwrap()));
    let data = ChannelData {
        created_by_id: Some(people[1].id.clone()),
        team: Some(Team::for_gym(gym)),
        members: people.iter().map(|u| (&u.id).into()).collect(),
        custom: serde_json::Map::from_iter([("gym_id".into(), json!("4")), ("name".into(), json!("General"))]),
        ..Default::default()
    };
    w.client.get_or_create_channel(&target, Some(&data), 0, None).await.unwrap();
    let mut s = w.store.session().await.unwrap();
    s.set_room_stream_channel_id(RoomId::new(639).unwrap(), target.id().as_str(), Utc::now()).await.unwrap();
    target
}
