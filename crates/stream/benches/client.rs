//! Client benchmark: `cargo bench -p gymchat-stream --bench client`.
//!
//! Every figure is read from the sandbox's own counters, not from the client under test:
//!
//! 1. Throughput with the sandbox's limits off and the client's pacing off: calls the sandbox
//!    served per second at 8, 16 and 32 calls in flight (get-or-create of an existing channel).
//! 2. Pacing under Stream's default limits with one-second windows (`time_scale` 60), from the
//!    sandbox's per-window counts, over the whole windows after the pacer has learnt the window
//!    length:
//!    - share 1.0, gymchat alone: calls accepted per window ÷ the limit (target ≥ 0.95), 429s;
//!    - share 0.5 while the sandbox's live traffic spends 0.5 of every window: gymchat's calls
//!      accepted ÷ half the limit (target ≥ 0.9), gymchat's 429s and the live app's refusals
//!      (target 0 for both).
//!
//! The sandbox runs in this process on the same two cores, so throughput figures are conservative.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gymchat_ids::{ChannelId, ChannelType, Cid, StreamUserId};
use gymchat_sandbox::{Config, LimitMode};
use gymchat_stream::model::{ChannelData, NewMessage, SendOptions, User};
use gymchat_stream::{Client, ClientConfig};
use serde_json::Value;

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret";
/// Whole windows skipped at the start of a paced run: the pacer begins with Stream's one-minute
/// windows and learns the sandbox's one-second window from two readings.
const LEARNING_WINDOWS: usize = 3;

async fn sandbox(config: Config) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(gymchat_sandbox::run(listener, config, std::future::pending()));
    url
}

fn client(url: &str, in_flight: usize, pace: bool, share: f64) -> Client {
    let mut config = ClientConfig::new(url, KEY, SECRET);
    config.max_in_flight = in_flight;
    config.pace = pace;
    config.budget_share = share;
    Client::new(config).expect("client")
}

async fn stats(url: &str) -> Value {
    reqwest::get(format!("{url}/_sandbox/stats")).await.expect("stats").json().await.expect("json")
}

/// Runs `workers` loops of `call` for `duration`.
async fn drive<F, Fut>(workers: usize, duration: Duration, call: F)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (call, counter) = (Arc::clone(&call), Arc::clone(&counter));
            tokio::spawn(async move {
                while start.elapsed() < duration {
                    call(counter.fetch_add(1, Ordering::Relaxed)).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("worker");
    }
}

/// The whole windows of `op` after learning, as (accepted, rate_limited, live_refused, limit).
fn whole_windows(stats: &Value, op: &str) -> Vec<(u64, u64, u64, u64)> {
    let windows = stats["operations"][op]["windows"].as_array().cloned().unwrap_or_default();
    let n = windows.len();
    windows
        .iter()
        .take(n.saturating_sub(1))
        .skip(LEARNING_WINDOWS)
        .map(|w| {
            let get = |f: &str| w[f].as_u64().unwrap_or(0);
            (get("accepted"), get("rate_limited"), get("live_refused"), get("limit"))
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let user = StreamUserId::parse("bench_user").expect("id");
    let cid = Cid::new(ChannelType::messaging(), ChannelId::parse("bench").expect("id"));
    let data =
        ChannelData { created_by_id: Some(user.clone()), members: vec![user.clone().into()], ..Default::default() };

    let mut off = Config::new(KEY, SECRET);
    off.limits = LimitMode::Off;
    let url = sandbox(off).await;
    let setup = client(&url, 1, false, 1.0);
    setup.upsert_users(&[User::new(user.clone())]).await.expect("user");
    setup.get_or_create_channel(&cid, Some(&data), 0, None).await.expect("channel");
    println!("== limits off, pacing off: get-or-create of an existing channel, 5 s each (sandbox's count)");
    for in_flight in [8, 16, 32] {
        let before = stats(&url).await["operations"]["GetOrCreateChannel"]["calls"].as_u64().unwrap_or(0);
        let c = client(&url, in_flight, false, 1.0);
        let cid = cid.clone();
        let start = Instant::now();
        drive(in_flight, Duration::from_secs(5), move |_| {
            let (c, cid) = (c.clone(), cid.clone());
            async move {
                c.get_or_create_channel(&cid, None, 0, None).await.expect("call");
            }
        })
        .await;
        let served = stats(&url).await["operations"]["GetOrCreateChannel"]["calls"].as_u64().unwrap_or(0) - before;
        println!("{in_flight:>2} in flight: {:>8.0} calls/s", served as f64 / start.elapsed().as_secs_f64());
    }

    println!("== Stream's default limits, 1 s windows; 16 workers; per-window counts of the sandbox");
    for (op, share, live) in [("UpdateUsers", 1.0, 0.0), ("SendMessage", 1.0, 0.0), ("UpdateUsers", 0.5, 0.5)] {
        let mut on = Config::new(KEY, SECRET);
        on.time_scale = 60.0;
        on.live_traffic = live;
        let url = sandbox(on).await;
        let c = client(&url, 16, true, share);
        c.upsert_users(&[User::new(user.clone())]).await.expect("user");
        c.get_or_create_channel(&cid, Some(&data), 0, None).await.expect("channel");
        let (c2, cid2, user2) = (c.clone(), cid.clone(), user.clone());
        drive(16, Duration::from_secs(15), move |n| {
            let (c, cid, user) = (c2.clone(), cid2.clone(), user2.clone());
            async move {
                if op == "UpdateUsers" {
                    c.upsert_users(&[User::new(user)]).await.expect("upsert");
                } else {
                    let msg = NewMessage::new(format!("b-{n}"), user, "x");
                    c.send_message(&cid, &msg, SendOptions::default()).await.expect("send");
                }
            }
        })
        .await;
        let stats = stats(&url).await;
        let windows = whole_windows(&stats, op);
        let accepted: u64 = windows.iter().map(|w| w.0).sum();
        let limit = windows.first().map_or(0, |w| w.3);
        let ours_429: u64 = stats["operations"][op]["rate_limited"].as_u64().unwrap_or(0);
        let live_refused: u64 = windows.iter().map(|w| w.2).sum();
        let budget = share * limit as f64 * windows.len() as f64;
        let worst = windows.iter().map(|w| w.0).min().unwrap_or(0);
        let best = windows.iter().map(|w| w.0).max().unwrap_or(0);
        println!(
            "{op} share {share} live {live}: {} whole windows, accepted {worst}..{best} of {limit}; \
             utilisation of gymchat's share {:.3}; gymchat's 429s {ours_429}; live app refused {live_refused}",
            windows.len(),
            accepted as f64 / budget
        );
    }
}
