//! Client benchmark (issue 4): `cargo bench -p gymchat-stream --bench client`.
//!
//! 1. Calls per second against the sandbox with its limits off and the client's pacing off,
//!    8, 16 and 32 calls in flight (get-or-create of an existing channel).
//! 2. With Stream's default limits, one-second windows (`time_scale` 60) and pacing on: the
//!    achieved rate of UpdateUsers and SendMessage as a fraction of the budget (50% of the limit),
//!    and the number of 429s drawn (must be 0).
//!
//! The sandbox runs in this process on the same two cores, so figures are conservative.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gymchat_ids::{ChannelId, ChannelType, Cid, StreamUserId};
use gymchat_sandbox::{Config, LimitMode};
use gymchat_stream::model::{ChannelData, NewMessage, User};
use gymchat_stream::{Client, ClientConfig};
use serde_json::Map;

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret";

async fn sandbox(config: Config) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(gymchat_sandbox::run(listener, config, std::future::pending()));
    url
}

fn client(url: &str, in_flight: usize, pace: bool) -> Client {
    let mut config = ClientConfig::new(url, KEY, SECRET);
    config.max_in_flight = in_flight;
    config.pace = pace;
    Client::new(config).expect("client")
}

/// Runs `workers` loops of `call` until `duration` has passed; returns completed calls per second.
async fn rate<F, Fut>(workers: usize, duration: Duration, call: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (call, done) = (Arc::clone(&call), Arc::clone(&done));
            tokio::spawn(async move {
                while start.elapsed() < duration {
                    let n = done.fetch_add(1, Ordering::Relaxed);
                    call(n).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn rate_limited(url: &str, op: &str) -> u64 {
    let stats: serde_json::Value =
        reqwest::get(format!("{url}/_sandbox/stats")).await.expect("stats").json().await.expect("json");
    stats["operations"][op]["rate_limited"].as_u64().unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let user = StreamUserId::parse("bench_user").expect("id");
    let cid = Cid::new(ChannelType::messaging(), ChannelId::parse("bench").expect("id"));
    let data = ChannelData { created_by_id: Some(user.clone()), members: vec![user.clone()], ..Default::default() };

    let mut off = Config::new(KEY, SECRET);
    off.limits = LimitMode::Off;
    let url = sandbox(off).await;
    let setup = client(&url, 1, false);
    setup.upsert_users(&[User::new(user.clone())]).await.expect("user");
    setup.get_or_create_channel(&cid, Some(&data), 0, None).await.expect("channel");
    println!("== limits off, pacing off: get-or-create of an existing channel, 5 s each");
    for in_flight in [8, 16, 32] {
        let c = client(&url, in_flight, false);
        let cid = cid.clone();
        let r = rate(in_flight, Duration::from_secs(5), move |_| {
            let (c, cid) = (c.clone(), cid.clone());
            async move {
                c.get_or_create_channel(&cid, None, 0, None).await.expect("call");
            }
        })
        .await;
        println!("{in_flight:>2} in flight: {r:>8.0} calls/s");
    }

    let mut on = Config::new(KEY, SECRET);
    on.time_scale = 60.0;
    let url = sandbox(on).await;
    let c = client(&url, 16, true);
    c.upsert_users(&[User::new(user.clone())]).await.expect("user");
    c.get_or_create_channel(&cid, Some(&data), 0, None).await.expect("channel");
    println!("== Stream's default limits, 1 s windows, pacing at 50%: 3 s warm-up, then 10 s measured");
    for (op, budget) in [("UpdateUsers", 150.0), ("SendMessage", 500.0)] {
        let run = |duration| {
            let (c, cid, user) = (c.clone(), cid.clone(), user.clone());
            rate(16, duration, move |n| {
                let (c, cid, user) = (c.clone(), cid.clone(), user.clone());
                async move {
                    if op == "UpdateUsers" {
                        c.upsert_users(&[User::new(user)]).await.expect("upsert");
                    } else {
                        let msg = NewMessage {
                            id: format!("b-{n}-{}", nanos_now()),
                            text: "x".into(),
                            user_id: user,
                            kind: None,
                            custom: Map::new(),
                        };
                        c.send_message(&cid, &msg, true).await.expect("send");
                    }
                }
            })
        };
        run(Duration::from_secs(3)).await;
        let achieved = run(Duration::from_secs(10)).await;
        println!(
            "{op}: {achieved:.1} calls/s of a {budget:.0}/s budget = {:.3}; 429s drawn: {}",
            achieved / budget,
            rate_limited(&url, op).await
        );
    }
}

/// Distinguishes the warm-up's message ids from the measured run's.
fn nanos_now() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}
