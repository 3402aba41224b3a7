//! Requests as Stream's own server SDK sends them, as the sandbox's counters observe: the client
//! names itself (`X-Stream-Client`), sends members as objects, never asks to watch, and escapes
//! ids in paths.

use gymchat_ids::{ChannelId, ChannelType, Cid, GymId, StreamUserId, Team, UserId};
use gymchat_sandbox::{Config, LimitMode};
use gymchat_stream::model::{ChannelData, ChannelQuery, ChannelUpdate, User};
use gymchat_stream::{Client, ClientConfig};
use serde_json::json;

mod support;

use support::{KEY, SECRET, sandbox};

fn member(user: i64) -> StreamUserId {
    StreamUserId::for_member(GymId::new(4).unwrap(), UserId::new(user).unwrap())
}

#[tokio::test]
async fn every_request_names_the_client_sends_members_as_objects_and_never_watches() {
    let mut config = Config::new(KEY, SECRET);
    config.limits = LimitMode::Off;
    let s = sandbox(config).await;
    let mut client_config = ClientConfig::new(&s.url, KEY, SECRET);
    client_config.pace = false;
    let client = Client::new(client_config).unwrap();
    let users: Vec<User> = [1, 2, 3].iter().map(|u| User::new(member(*u))).collect();
    client.upsert_users(&users).await.unwrap();
    let cid = Cid::new(ChannelType::messaging(), ChannelId::parse("room_4_1").unwrap());
    let data = ChannelData {
        created_by_id: Some(member(1)),
        team: Some(Team::parse("gym_4").unwrap()),
        members: vec![member(1).into(), member(2).into()],
        ..ChannelData::default()
    };
    client.get_or_create_channel(&cid, Some(&data), 0, None).await.unwrap();
    let update =
        ChannelUpdate { add_members: vec![member(3).into()], remove_members: vec![member(2)], ..Default::default() };
    client.update_channel(&cid, &update).await.unwrap();
    let query = ChannelQuery {
        filter_conditions: json!({ "team": "gym_4" }),
        sort: Vec::new(),
        limit: 10,
        offset: 0,
        state: true,
        message_limit: 0,
        member_limit: 10,
    };
    assert_eq!(client.query_channels(&query).await.unwrap().body.len(), 1);
    client.users_by_ids(&[member(1)]).await.unwrap();

    let stats = s.stats().await;
    let clients = stats["clients"].as_object().unwrap();
    assert_eq!(clients.keys().collect::<Vec<_>>(), [gymchat_stream::client::CLIENT_NAME], "{stats}");
    assert!(gymchat_stream::client::CLIENT_NAME.starts_with("gymchat-"));
    assert_eq!(stats["members_as_ids"], 0, "{stats}");
    assert_eq!(stats["watching"], 0, "{stats}");
}

#[tokio::test]
async fn ids_in_paths_are_percent_escaped() {
    let mut config = Config::new(KEY, SECRET);
    config.limits = LimitMode::Off;
    let s = sandbox(config).await;
    let client = Client::new(ClientConfig::new(&s.url, KEY, SECRET)).unwrap();
    // Unescaped, the slash would make another path (a proxy's 404, an error); escaped, it is one
    // id that Stream does not know (its own 404 with code 16: nothing there).
    assert_eq!(client.get_message("a b/c?d").await.unwrap(), None);
}
