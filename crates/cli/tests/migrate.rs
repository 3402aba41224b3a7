//! `gymchat migrate` and `gymchat demo` as an operator runs them: the binary as a child process
//! against the sandbox over HTTP. The apply is killed with SIGKILL at more than 20 points and
//! resumed each time, and so is a rollback; the final state (Stream users, channels, members,
//! messages with their ids and texts; the rooms' pointers) must equal an uninterrupted run's.

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gymchat_ids::GymId;
use gymchat_sandbox::{Config, InitialState, LimitMode, load_snapshot};
use gymchat_store::Store;
use gymchat_testkit::sandbox::comparable_message_id;
use gymchat_testkit::{TestDb, fixture_path, on_both_backends};
use serde_json::{Value, json};

mod support;

use support::sandbox;

/// `gymchat ARGS` against this database and sandbox, at the full rate budget.
fn command(db: &str, stream_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gymchat"));
    cmd.args(args)
        .env("DATABASE_URL", db)
        .env("STREAM_URL", stream_url)
        .env("STREAM_KEY", "k")
        .env("STREAM_SECRET", "s")
        .env("GYMCHAT_RATE_BUDGET", "1.0");
    cmd
}

async fn gymchat(db: &str, stream_url: &str, args: &[&str]) -> Output {
    let mut cmd = command(db, stream_url, args);
    tokio::task::spawn_blocking(move || cmd.output().expect("run gymchat")).await.unwrap()
}

const APPLY: &[&str] = &["migrate", "apply", "--gym-id", "4", "--history", "copy", "--yes", "--concurrency", "1"];

/// Stream's side as the test compares it: users (teams, name) and live channels (members,
/// team, frozen, messages as id, sender, text). A "moved" note's id names its run, so two runs'
/// notes compare by kind (`gymchat-moved-…`), not by id.
async fn stream_state(url: &str) -> Value {
    let state: Value = reqwest::get(format!("{url}/_sandbox/state")).await.unwrap().json().await.unwrap();
    let users: BTreeMap<String, Value> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap().to_owned(), json!([u["teams"], u["name"]])))
        .collect();
    let channels: BTreeMap<String, Value> = state["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["deleted_at"].is_null())
        .map(|c| {
            let mut members: Vec<&str> = c["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
            members.sort_unstable();
            let messages: Vec<Value> = c["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| json!([comparable_message_id(&m["id"]), m["user_id"], m["text"]]))
                .collect();
            (
                format!("{}:{}", c["type"].as_str().unwrap(), c["id"].as_str().unwrap()),
                json!([members, c["team"], c["frozen"], messages]),
            )
        })
        .collect();
    json!({ "users": users, "channels": channels })
}

async fn pointers(db: &str) -> BTreeMap<i64, Option<String>> {
    let store = Store::open(db).await.unwrap();
    let mut s = store.session().await.unwrap();
    let mut out = BTreeMap::new();
    for gym in [4, 5] {
        for r in s.rooms_with_members(GymId::new(gym).unwrap()).await.unwrap().rows {
            out.insert(r.room.id.get(), r.room.stream_channel_id);
        }
    }
    drop(s);
    store.close().await;
    out
}

/// Item counts by state of the newest run, as `gymchat migrate status` reports them.
async fn journal_states(db: &str, url: &str) -> Value {
    let runs = gymchat(db, url, &["migrate", "status"]).await;
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap_or_default();
    let Some(run) = runs["runs"][0]["run_id"].as_str() else { return Value::Null };
    let status = gymchat(db, url, &["migrate", "status", run]).await;
    serde_json::from_slice::<Value>(&status.stdout).unwrap_or_default()
}

on_both_backends! {
    async fn a_run_killed_at_20_points_ends_as_an_uninterrupted_one(db) {
        let latency = Duration::from_millis(30);
        let fixture = fixture_path("gym4.json");

        // The uninterrupted run, on a database of its own.
        let clean_db = TestDb::sqlite().await;
        let clean_sandbox = sandbox(latency).await;
        let clean_url = clean_sandbox.url.clone();
        gymchat(clean_db.url(), &clean_url, &["db", "load-fixture", fixture.to_str().unwrap()]).await;
        let started = Instant::now();
        let clean = gymchat(clean_db.url(), &clean_url, APPLY).await;
        let clean_time = started.elapsed();
        assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stderr));
        let want_stream = stream_state(&clean_url).await;
        let want_pointers = pointers(clean_db.url()).await;

        // The same run, killed again and again.
        let running_sandbox = sandbox(latency).await;
        let url = running_sandbox.url.clone();
        let loaded = gymchat(db.url(), &url, &["db", "load-fixture", fixture.to_str().unwrap()]).await;
        assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
        let planned = Instant::now();
        gymchat(db.url(), &url, &["migrate", "plan", "--gym-id", "4", "--history", "copy"]).await;
        let plan_time = planned.elapsed();
        let mut kills = 0;
        let mut unfinished_after_kill = 0;
        let mut states_seen = Vec::new();
        for i in 0..22u64 {
            let delay = plan_time + Duration::from_millis(40 + (i * 53) % 300);
            let mut child = command(db.url(), &url, APPLY).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            tokio::time::sleep(delay).await;
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                kills += 1;
            }
            tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
            let status = journal_states(db.url(), &url).await;
            if status["run"]["state"] != json!("done") {
                unfinished_after_kill += 1;
            }
            states_seen.push(status["items_by_state"].clone());
        }
        eprintln!("clean run {clean_time:?}, plan {plan_time:?}; journal after each kill: {states_seen:#?}");
        assert!(kills >= 20, "only {kills} kills landed");
        assert!(unfinished_after_kill >= 10, "the run finished too early to test much: {states_seen:#?}");

        let last = gymchat(db.url(), &url, APPLY).await;
        assert_eq!(last.status.code(), Some(0), "{}", String::from_utf8_lossy(&last.stderr));
        assert_eq!(stream_state(&url).await, want_stream);
        assert_eq!(pointers(db.url()).await, want_pointers);
        let verify = gymchat(db.url(), &url, &["migrate", "verify", "--gym-id", "4"]).await;
        assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stderr));
    }
}

/// The newest run's id, as `gymchat migrate status` lists it.
async fn newest_run(db: &str, url: &str) -> String {
    let runs = gymchat(db, url, &["migrate", "status"]).await;
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    runs["runs"][0]["run_id"].as_str().unwrap().to_owned()
}

on_both_backends! {
    async fn a_rollback_killed_at_several_points_ends_as_an_uninterrupted_one(db) {
        let latency = Duration::from_millis(30);
        let fixture = fixture_path("gym4.json");
        let fixture = fixture.to_str().unwrap();

        // The uninterrupted rollback, on a database of its own.
        let clean_db = TestDb::sqlite().await;
        let clean_sandbox = sandbox(latency).await;
        let clean_url = clean_sandbox.url.clone();
        gymchat(clean_db.url(), &clean_url, &["db", "load-fixture", fixture]).await;
        assert_eq!(gymchat(clean_db.url(), &clean_url, APPLY).await.status.code(), Some(0));
        let run = newest_run(clean_db.url(), &clean_url).await;
        let started = Instant::now();
        let clean = gymchat(clean_db.url(), &clean_url, &["migrate", "rollback", &run, "--yes"]).await;
        let clean_time = started.elapsed();
        assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stderr));
        let want_stream = stream_state(&clean_url).await;
        let want_pointers = pointers(clean_db.url()).await;

        // The same rollback, killed again and again, then run to its end.
        let running_sandbox = sandbox(latency).await;
        let url = running_sandbox.url.clone();
        gymchat(db.url(), &url, &["db", "load-fixture", fixture]).await;
        assert_eq!(gymchat(db.url(), &url, APPLY).await.status.code(), Some(0));
        let run = newest_run(db.url(), &url).await;
        let rollback = ["migrate", "rollback", run.as_str(), "--yes"];
        let mut kills = 0;
        let mut states = Vec::new();
        for i in 1..=8u32 {
            // Short lives (a ninth of the clean rollback on average, each resuming the last):
            // eight of them together do less than one uninterrupted rollback, so most kills land
            // however fast this machine is today.
            let delay = clean_time * (1 + i % 3) / 18;
            let mut child = command(db.url(), &url, &rollback).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            tokio::time::sleep(delay).await;
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                kills += 1;
            }
            tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
            let status = gymchat(db.url(), &url, &["migrate", "status", &run]).await;
            let status: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
            if status["run"]["state"] == json!("rolling_back") && !states.contains(&json!("rolling_back")) {
                // A run part way through its rollback is never resumed by apply.
                let apply = gymchat(db.url(), &url, APPLY).await;
                let stderr = String::from_utf8_lossy(&apply.stderr);
                assert_eq!(apply.status.code(), Some(2), "{stderr}");
                assert!(stderr.contains("rolled back"), "{stderr}");
            }
            states.push(status["run"]["state"].clone());
        }
        eprintln!("clean rollback {clean_time:?}; run state after each kill: {states:?}");
        assert!(kills >= 4, "only {kills} kills landed: {states:?}");
        assert!(states.contains(&json!("rolling_back")), "no kill landed mid-rollback: {states:?}");
        let last = gymchat(db.url(), &url, &rollback).await;
        let done = gymchat(db.url(), &url, &["migrate", "status", &run]).await;
        let done: Value = serde_json::from_slice(&done.stdout).unwrap();
        assert_eq!(done["run"]["state"], json!("rolled_back"), "{}", String::from_utf8_lossy(&last.stderr));
        assert_eq!(stream_state(&url).await, want_stream);
        assert_eq!(pointers(db.url()).await, want_pointers);
    }
}

#[test]
fn demo_runs_the_whole_job_on_the_embedded_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gymchat"))
        .arg("demo")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["audit_before"]["synced"], 6);
    assert_eq!(report["audit_before"]["db_only"], 9);
    assert_eq!(report["channels_moved"], 6);
    assert_eq!(
        report["carried"],
        json!({ "messages": 40, "reactions": 0, "pins": 0 }),
        "the reference scenario's 40 messages"
    );
    assert!(stderr.contains("carried: 40 messages"), "{stderr}");
    assert_eq!(report["audit_after"]["synced_pct"], 100.0);
    assert_eq!(report["audit_after"]["legacy_member_ids"], json!([]));
    assert_eq!(report["exit_code_after"], 0);
    assert!(stderr.contains("demo: gym 4 is fully synced"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the demo leaves nothing in the working directory");
}

on_both_backends! {
    async fn a_generated_tenant_migrates_and_cleans_up_to_fully_synced(db) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tenant.json");
        let generate = ["sandbox", "generate", "--out", file.to_str().unwrap(), "--gyms", "2", "--users", "12", "--rooms", "30", "--messages", "3"];
        let made = gymchat(db.url(), "http://unused", &generate).await;
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let first = std::fs::read(&file).unwrap();
        gymchat(db.url(), "http://unused", &generate).await;
        assert_eq!(std::fs::read(&file).unwrap(), first, "the same options and seed give the same file");

        let mut config = Config::new("k", "s");
        config.limits = LimitMode::Off;
        config.initial = InitialState::Snapshot(load_snapshot(&file).unwrap());
        let sandbox = gymchat_testkit::sandbox::Sandbox::start(config).await;
        let url = sandbox.url.clone();
        let loaded = gymchat(db.url(), &url, &["db", "load-fixture", file.to_str().unwrap()]).await;
        assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
        let before = gymchat(db.url(), &url, &["audit", "--all", "--json"]).await;
        assert_eq!(before.status.code(), Some(1), "legacy ids everywhere before");

        let applied = gymchat(db.url(), &url, &["migrate", "apply", "--all", "--history", "copy", "--yes"]).await;
        assert_eq!(applied.status.code(), Some(0), "{}", String::from_utf8_lossy(&applied.stderr));
        let report: Value = serde_json::from_slice(&applied.stdout).unwrap();
        assert_eq!(report["channels_done"], 60);
        let cleaned = gymchat(db.url(), &url, &["cleanup", "--all", "--yes"]).await;
        assert_eq!(cleaned.status.code(), Some(0), "{}", String::from_utf8_lossy(&cleaned.stderr));
        let after = gymchat(db.url(), &url, &["audit", "--all", "--json"]).await;
        assert_eq!(after.status.code(), Some(0), "{}", String::from_utf8_lossy(&after.stderr));
        let audit: Value = serde_json::from_slice(&after.stdout).unwrap();
        for g in audit["gyms"].as_array().unwrap() {
            assert_eq!((g["summary"]["synced"].as_u64(), g["summary"]["synced_pct"].as_f64()), (Some(30), Some(100.0)));
        }
    }
}

on_both_backends! {
    async fn a_saved_plan_is_refused_when_edited_or_when_the_world_changed(db) {
        let dir = tempfile::tempdir().unwrap();
        let running_sandbox = sandbox(Duration::ZERO).await;
        let url = running_sandbox.url.clone();
        let fixture = fixture_path("gym4.json");
        gymchat(db.url(), &url, &["db", "load-fixture", fixture.to_str().unwrap()]).await;
        let plan_path = dir.path().join("plan.json");
        let plan_file = plan_path.to_str().unwrap();
        let made = gymchat(db.url(), &url, &["migrate", "plan", "--gym-id", "4", "--history", "copy", "--out", plan_file]).await;
        assert_eq!(made.status.code(), Some(0), "{}", String::from_utf8_lossy(&made.stderr));
        let original = std::fs::read_to_string(&plan_path).unwrap();

        // An edited plan: its content no longer matches its hash.
        let edited = original.replacen("room_4_639", "room_4_999", 1);
        std::fs::write(&plan_path, &edited).unwrap();
        let refused = gymchat(db.url(), &url, &["migrate", "apply", "--plan", plan_file, "--yes"]).await;
        assert_eq!(refused.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&refused.stderr).contains("does not match its hash"), "{}", String::from_utf8_lossy(&refused.stderr));

        // The world changed: a message was written to a channel the plan read.
        std::fs::write(&plan_path, &original).unwrap();
        let token = gymchat_stream::server_token(&"s".into()).unwrap();
        let token = secrecy::ExposeSecret::expose_secret(&token).to_owned();
        let sent = reqwest::Client::new()
            .post(format!("{url}/channels/messaging/direct_user_10_user_8/message?api_key=k"))
            .header("Authorization", token)
            .header("stream-auth-type", "jwt")
            .json(&json!({ "message": { "id": "late-1", "text": "one more", "user_id": "user_10" } }))
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success(), "{}", sent.text().await.unwrap());
        let stale = gymchat(db.url(), &url, &["migrate", "apply", "--plan", plan_file, "--yes"]).await;
        assert_eq!(stale.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&stale.stderr);
        assert!(stderr.contains("the world changed since"), "{stderr}");
        assert_eq!(pointers(db.url()).await[&638].as_deref(), Some("direct_user_10_user_8"), "nothing applied");

        // A fresh plan of the same world applies.
        gymchat(db.url(), &url, &["migrate", "plan", "--gym-id", "4", "--history", "copy", "--out", plan_file]).await;
        let applied = gymchat(db.url(), &url, &["migrate", "apply", "--plan", plan_file, "--yes"]).await;
        assert_eq!(applied.status.code(), Some(0), "{}", String::from_utf8_lossy(&applied.stderr));
        let state = stream_state(&url).await;
        assert_eq!(state["channels"]["messaging:direct_gym_4_user_10_gym_4_user_8"][3].as_array().unwrap().len(), 13, "12 + the late one");
    }
}
