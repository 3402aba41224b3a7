//! Stream's answers are untrusted input: a page that does not move a paging loop on ends it with
//! an error instead of being asked for again; a channel or user of a page that cannot be decoded
//! is named and the rest of the page is used. The sandbox gives the odd answers (scripted).

use std::time::Duration;

use gymchat_ids::{Cid, StreamUserId};
use gymchat_sandbox::{Config, LimitMode};
use gymchat_stream::{Client, ClientConfig, ErrorKind};
use serde_json::{Value, json};

mod support;

use support::{KEY, Running, SECRET, sandbox};

async fn world() -> (Running, Client) {
    let mut config = Config::new(KEY, SECRET);
    config.limits = LimitMode::Off;
    let s = sandbox(config).await;
    let mut client_config = ClientConfig::new(&s.url, KEY, SECRET);
    client_config.pace = false;
    client_config.retry.base_delay = Duration::from_millis(1);
    let client = Client::new(client_config).unwrap();
    (s, client)
}

fn channel(id: &str, created_at: &str) -> Value {
    json!({
        "channel": { "id": id, "type": "messaging", "cid": format!("messaging:{id}"), "created_at": created_at,
                     "updated_at": created_at, "member_count": 0 },
        "members": [], "messages": []
    })
}

/// `n` answers of 200 with this body.
fn answers(n: usize, body: &Value) -> Value {
    Value::Array((0..n).map(|_| json!({ "status": 200, "raw_body": body.to_string() })).collect())
}

#[tokio::test]
async fn a_channel_page_that_ignores_the_keyset_bound_ends_the_listing_with_an_error() {
    let (s, client) = world().await;
    // Every query answers the same full page of distinct times, whatever its bound says.
    let page: Vec<Value> = (0..30).map(|i| channel(&format!("c{i}"), &format!("2025-01-01T00:00:{i:02}Z"))).collect();
    s.script("QueryChannels", answers(200, &json!({ "channels": page }))).await;
    let err = client.list_all_channels(json!({ "team": "gym_4" })).await.unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Incomplete(_)), "{err}");
    let asked = s.stats().await["operations"]["QueryChannels"]["calls"].as_u64().unwrap();
    // Each of the listing's slices asks at most twice (its first page, then the one that does not
    // move it on): not the 200 answers scripted.
    assert!(asked <= 2 + 2 * 16, "stopped instead of asking again and again: {asked} queries");
}

#[tokio::test]
async fn a_history_page_that_ignores_id_lt_ends_the_read_with_an_error() {
    let (s, client) = world().await;
    let messages: Vec<Value> = (0..300)
        .map(
            |i| json!({ "id": format!("m{i}"), "text": "hi", "type": "regular", "created_at": "2025-01-01T00:00:00Z" }),
        )
        .collect();
    let mut state = channel("direct_a_b", "2025-01-01T00:00:00Z");
    state["messages"] = json!(messages);
    s.script("GetOrCreateChannel", answers(20, &state)).await;
    let cid = Cid::parse("messaging:direct_a_b").unwrap();
    let err = client.channel_history(&cid).await.unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Incomplete(_)), "{err}");
}

#[tokio::test]
async fn a_member_page_with_nobody_new_ends_the_read_with_an_error() {
    let (s, client) = world().await;
    let members: Vec<Value> = (0..300).map(|i| json!({ "user_id": format!("u{i}") })).collect();
    let mut state = channel("room_4_1", "2025-01-01T00:00:00Z");
    state["members"] = json!(members);
    s.script("GetOrCreateChannel", answers(20, &state)).await;
    let err = client.channel_members(&Cid::parse("messaging:room_4_1").unwrap()).await.unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Incomplete(_)), "{err}");
}

#[tokio::test]
async fn a_channel_that_cannot_be_decoded_is_named_and_the_rest_of_the_page_is_used() {
    let (s, client) = world().await;
    let mut broken = channel("c_broken", "2025-01-01T00:00:01Z");
    broken["channel"]["created_at"] = json!("not a time");
    let page = json!({ "channels": [channel("c_ok", "2025-01-01T00:00:00Z"), broken] });
    s.script("QueryChannels", answers(1, &page)).await;
    let listing = client.list_all_channels(json!({ "team": "gym_4" })).await.unwrap();
    let ids: Vec<String> = listing.channels.iter().map(|c| c.channel.cid.to_string()).collect();
    assert_eq!(ids, ["messaging:c_ok"]);
    assert_eq!(listing.undecodable.len(), 1, "{:?}", listing.undecodable);
    assert_eq!(listing.undecodable[0].id, "messaging:c_broken");
    assert!(!listing.is_complete(), "a listing with a channel it could not read is not complete");
}

#[tokio::test]
async fn a_user_that_cannot_be_decoded_is_named_and_the_others_are_used() {
    let (s, client) = world().await;
    let page =
        json!({ "users": [{ "id": "gym_4_user_1", "teams": ["gym_4"] }, { "id": "gym_4_user_2", "teams": "gym_4" }] });
    s.script("QueryUsers", answers(1, &page)).await;
    let ids = [StreamUserId::parse("gym_4_user_1").unwrap(), StreamUserId::parse("gym_4_user_2").unwrap()];
    let found = client.users_by_ids(&ids).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].id.as_str(), "gym_4_user_1");
    assert_eq!(found.undecodable.len(), 1);
    assert_eq!(found.undecodable[0].id, "gym_4_user_2");
}
