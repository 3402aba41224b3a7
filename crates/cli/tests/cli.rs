//! The `gymchat` binary as an operator runs it.

use std::process::{Command, Output};

use gymchat_ids::GymId;
use gymchat_store::Store;
use gymchat_testkit::{fixture_path, on_both_backends};

fn gymchat(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gymchat"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("STREAM_SECRET")
        .output()
        .expect("run gymchat")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn rooms_of_gym_4(url: &str) -> usize {
    let store = Store::open(url).await.unwrap();
    let n = store
        .session()
        .await
        .unwrap()
        .rooms_with_members(GymId::new(4).unwrap())
        .await
        .unwrap()
        .complete()
        .unwrap()
        .len();
    store.close().await;
    n
}

on_both_backends! {
    async fn load_fixture_loads_once_and_refuses_a_second_time_without_partial_writes(db) {
        let fixture = fixture_path("gym4.json");
        let fixture = fixture.to_str().unwrap();

        let first = gymchat(db.url(), &["db", "load-fixture", fixture]);
        assert!(first.status.success(), "{}", stderr(&first));
        let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
        assert_eq!(report["loaded"]["chat_rooms"], 16);
        assert_eq!(report["loaded"]["chat_members"], 24);
        assert_eq!(rooms_of_gym_4(db.url()).await, 15);

        let second = gymchat(db.url(), &["db", "load-fixture", fixture]);
        assert_eq!(second.status.code(), Some(2));
        assert!(stderr(&second).contains("gyms[0]"), "{}", stderr(&second));
        assert_eq!(rooms_of_gym_4(db.url()).await, 15);
    }
}

#[test]
fn the_rate_budget_is_every_commands_option_and_refused_outside_zero_to_one() {
    let url = "sqlite://unused.db";
    let config = |args: &[&str], env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gymchat"));
        cmd.args(args).env("DATABASE_URL", url).env_remove("GYMCHAT_RATE_BUDGET");
        if let Some(v) = env {
            cmd.env("GYMCHAT_RATE_BUDGET", v);
        }
        cmd.output().expect("run gymchat")
    };
    let json = |out: &Output| serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
    assert_eq!(json(&config(&["config"], None))["rate_budget"], 0.5);
    assert_eq!(json(&config(&["config"], Some("0.8")))["rate_budget"], 0.8);
    assert_eq!(json(&config(&["config", "--rate-budget", "1"], None))["rate_budget"], 1.0);
    assert_eq!(json(&config(&["config", "--rate-budget=0.25"], None))["rate_budget"], 0.25);
    for bad in ["0", "1.5", "-0.1", "half"] {
        let out = config(&["config", &format!("--rate-budget={bad}")], None);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(stderr(&out).contains("--rate-budget"), "{bad}: {}", stderr(&out));
    }
    assert_eq!(config(&["config"], Some("2")).status.code(), Some(2));
}

on_both_backends! {
    async fn db_migrate_is_idempotent(db) {
        for _ in 0..2 {
            let out = gymchat(db.url(), &["db", "migrate"]);
            assert!(out.status.success(), "{}", stderr(&out));
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["migrated"], true);
        }
    }
}

#[tokio::test]
async fn a_malformed_fixture_is_reported_and_touches_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"db": {"chat_rooms": [{"id": 1, "gym_id": "four"}]}}"#).unwrap();
    let db_file = dir.join("untouched.db");
    let url = format!("sqlite://{}", db_file.display());
    let out = gymchat(&url, &["db", "load-fixture", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("db.chat_rooms[0].gym_id"), "{}", stderr(&out));
    assert!(!db_file.exists(), "a broken file must not even create the database");

    let missing = gymchat(&url, &["db", "load-fixture", dir.join("nope.json").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read"), "{}", stderr(&missing));
}

#[test]
fn config_never_prints_the_secret_or_the_database_password() {
    let sha256_prefix = |s: &str| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(s.as_bytes());
        digest.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_gymchat"))
        .args(["config", "--stream-key", "k1"])
        .env("STREAM_SECRET", "very-secret-value")
        .env("DATABASE_URL", "postgres://app:hunter2@db.internal/prod")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("very-secret-value") && !text.contains("hunter2"), "{text}");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["database_url"], "postgres://app:***@db.internal/prod");
    assert_eq!(report["stream_key"], "k1");
    assert_eq!(report["stream_secret_set"], true, "whether it is set, never a hash of it");
    assert!(!text.contains(&sha256_prefix("very-secret-value")), "{text}");

    let help = Command::new(env!("CARGO_BIN_EXE_gymchat"))
        .args(["--help"])
        .env("STREAM_SECRET", "very-secret-value")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("very-secret-value"));
}

#[test]
fn an_unknown_database_scheme_exits_2() {
    let out = gymchat("mysql://localhost/db", &["db", "migrate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unsupported database URL scheme"), "{}", stderr(&out));
}
