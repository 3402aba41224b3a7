//! Several workers on one run, as operators start them on several machines: `gymchat migrate
//! apply` and two `gymchat migrate work` processes on one PostgreSQL database, against one
//! sandbox that enforces Stream's limits at a time scale. One worker is killed with SIGKILL while
//! it holds claims. The others take its items over once their leases run out; every item ends
//! done, none is done twice on Stream's side, and the sandbox's own counts of each rate window
//! show the three processes together within the rate budget (a few calls may meet Stream's
//! per-second burst cap at a window's start; those are refused, not spent).

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gymchat_ops::migrate::NOTE_PREFIX;
use gymchat_sandbox::{Config, InitialState, LimitMode, load_snapshot};
use gymchat_store::{ItemKind, ItemState, Store};
use gymchat_testkit::TestDb;
use gymchat_testkit::sandbox::Sandbox;
use serde_json::Value;

/// Sandbox windows last 60 s ÷ this: 3 s.
const TIME_SCALE: f64 = 20.0;
const BUDGET: f64 = 0.5;

fn command(db: &str, url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gymchat"));
    cmd.args(args)
        .env("DATABASE_URL", db)
        .env("STREAM_URL", url)
        .env("STREAM_KEY", "k")
        .env("STREAM_SECRET", "s")
        .env("GYMCHAT_RATE_BUDGET", BUDGET.to_string())
        .env("GYMCHAT_RATE_WINDOW", (60.0 / TIME_SCALE).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

async fn gymchat(db: &str, url: &str, args: &[&str]) -> Output {
    let mut cmd = command(db, url, args);
    tokio::task::spawn_blocking(move || cmd.output().expect("run gymchat")).await.unwrap()
}

async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap()
}

/// `gymchat migrate status [RUN]` as JSON.
async fn status(db: &str, url: &str, run: Option<&str>) -> Value {
    let mut args = vec!["migrate", "status"];
    args.extend(run);
    serde_json::from_slice(&gymchat(db, url, &args).await.stdout).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_finish_every_item_once_within_the_budget() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant.json");
    let generate = [
        "sandbox",
        "generate",
        "--out",
        file.to_str().unwrap(),
        "--gyms",
        "6",
        "--users",
        "10",
        "--rooms",
        "20",
        "--messages",
        "4",
    ];
    let made = gymchat(db.url(), "http://unused", &generate).await;
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let mut config = Config::new("k", "s");
    config.limits = LimitMode::stream_defaults();
    config.time_scale = TIME_SCALE;
    config.latency = Duration::from_millis(15);
    config.initial = InitialState::Snapshot(load_snapshot(&file).unwrap());
    let sandbox = Sandbox::start(config).await;
    let url = sandbox.url.clone();
    let loaded = gymchat(db.url(), &url, &["db", "load-fixture", file.to_str().unwrap()]).await;
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));

    let lease = ["--concurrency", "2", "--lease-seconds", "3"];
    let mut apply_args = vec!["migrate", "apply", "--all", "--history", "copy", "--yes"];
    apply_args.extend(lease);
    let apply = command(db.url(), &url, &apply_args).spawn().unwrap();
    let waited = Instant::now();
    let run_id = loop {
        if let Some(id) = status(db.url(), &url, None).await["runs"][0]["run_id"].as_str() {
            break id.to_owned();
        }
        assert!(waited.elapsed() < Duration::from_secs(60), "apply opened no run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut work_args = vec!["migrate", "work", run_id.as_str()];
    work_args.extend(lease);
    let mut doomed = command(db.url(), &url, &work_args).spawn().unwrap();
    let survivor = command(db.url(), &url, &work_args).spawn().unwrap();

    // The doomed worker dies once it finished a few items and holds claims on more.
    let doomed_pid = doomed.id().to_string();
    let is_doomed = |name: &str| name.split('@').next().and_then(|n| n.rsplit(':').next()) == Some(doomed_pid.as_str());
    let waited = Instant::now();
    loop {
        let now = status(db.url(), &url, Some(&run_id)).await;
        let doomed_done = now["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| w["worker"].as_str().is_some_and(is_doomed))
            .and_then(|w| w["items_done"].as_i64())
            .unwrap_or(0);
        if doomed_done >= 3 {
            assert_ne!(now["run"]["state"], "done", "the run ended before the kill");
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(120), "the second worker never got to work: {now:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    doomed.kill().unwrap();
    doomed.wait().unwrap();

    let (applied, worked) = (finish(apply).await, finish(survivor).await);
    assert_eq!(applied.status.code(), Some(0), "{}", String::from_utf8_lossy(&applied.stderr));
    assert_eq!(worked.status.code(), Some(0), "{}", String::from_utf8_lossy(&worked.stderr));
    let report: Value = serde_json::from_slice(&worked.stdout).unwrap();
    assert_eq!(report["run_id"], run_id.as_str());
    assert!(report["items_done"].as_i64().unwrap() > 0, "{report}");
    assert_eq!(report["items_failed"], 0);

    // Every item done, the run done, the dead worker seen as lost.
    let end = status(db.url(), &url, Some(&run_id)).await;
    assert_eq!(end["run"]["state"], "done", "{end:#}");
    let workers = end["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 3, "{end:#}");
    let states: BTreeMap<&str, usize> = workers.iter().fold(BTreeMap::new(), |mut m, w| {
        *m.entry(w["state"].as_str().unwrap()).or_default() += 1;
        m
    });
    assert_eq!(states, BTreeMap::from([("finished", 2), ("working", 1)]), "the killed worker never said it ended");
    let lost = workers.iter().find(|w| w["state"] == "working").unwrap();
    assert!(lost["heartbeat_age_ms"].as_i64().unwrap() >= 3_000, "{lost}");

    let store = Store::open(db.url()).await.unwrap();
    let items = store.session().await.unwrap().migration_items(&run_id).await.unwrap();
    store.close().await;
    let channels: Vec<_> = items.iter().filter(|i| i.kind == ItemKind::Channel).collect();
    assert_eq!(channels.len(), 120);
    // Ten members and the gym's bot per gym.
    assert_eq!(items.iter().filter(|i| i.kind == ItemKind::User).count(), 66);
    assert!(
        items.iter().all(|i| i.state == ItemState::Done),
        "{:?}",
        items.iter().map(|i| i.state).collect::<Vec<_>>()
    );
    let taken_over = items.iter().filter(|i| i.claim_fence >= 2).count();
    assert!(taken_over > 0, "no item of the killed worker was taken over");
    eprintln!("{taken_over} items were claimed more than once");

    // Once on Stream's side: one note per old channel, each message copied once.
    let state = sandbox.state().await;
    let by_cid: BTreeMap<String, &Value> = state["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (format!("{}:{}", c["type"].as_str().unwrap(), c["id"].as_str().unwrap()), c))
        .collect();
    let ids = |cid: &str| -> Vec<String> {
        by_cid[cid]["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
    };
    for item in channels {
        let (old, new) = (ids(&item.old_id), ids(&item.new_id));
        let notes = old.iter().filter(|id| id.starts_with(NOTE_PREFIX)).count();
        assert_eq!(notes, 1, "{}: {old:?}", item.old_id);
        assert_eq!(new.iter().collect::<BTreeSet<_>>().len(), new.len(), "{}: {new:?}", item.new_id);
        assert_eq!(new.len(), old.len() - 1, "{} → {}: {old:?} {new:?}", item.old_id, item.new_id);
    }

    // The sandbox's window counts: the three processes together within the budget.
    let stats = sandbox.stats().await;
    let (mut windows, mut refused) = (0, 0);
    for (op, s) in stats["operations"].as_object().unwrap() {
        let counts: Vec<u64> =
            s["windows"].as_array().into_iter().flatten().map(|w| w["accepted"].as_u64().unwrap()).collect();
        eprintln!("{op}: limit {}, accepted per window {counts:?}", s["windows"][0]["limit"]);
        for w in s["windows"].as_array().into_iter().flatten() {
            let cap = (w["limit"].as_f64().unwrap() * BUDGET).floor() as u64;
            let accepted = w["accepted"].as_u64().unwrap();
            assert!(accepted <= cap, "{op}: {accepted} calls in the window starting at {}, over {cap}", w["start_ms"]);
            // Refusals by the per-second burst cap are not spending: each worker's first call of a
            // window leaves at once, so on an operation whose cap is 2 calls (UpdateChannelsBatch
            // here) three workers can meet in one burst; they are counted, never accepted.
            refused += w["rate_limited"].as_u64().unwrap();
            windows += u64::from(accepted > 0);
        }
    }
    assert!(windows > 3, "the run spanned too few windows to test the budget: {stats:#}");
    eprintln!("{refused} calls refused by the burst cap");
}
