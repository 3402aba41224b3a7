//! `gymchat doctor` as an operator runs it: a database gymchat has not migrated yet is found
//! lacking (and left as it was), a migrated one with the reference scenario and the sandbox is
//! ready, a wrong secret is something to fix, and a Stream that does not answer could not be
//! checked.

use std::process::{Command, Output};
use std::time::Duration;

use gymchat_testkit::{TestDb, fixture_path, on_both_backends};
use serde_json::Value;

mod support;

use support::sandbox;

async fn gymchat(db: &TestDb, stream_url: &str, secret: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gymchat"));
    cmd.args(args)
        .current_dir(dir.path())
        .env("DATABASE_URL", db.url())
        .env("STREAM_URL", stream_url)
        .env("STREAM_KEY", "k")
        .env("STREAM_SECRET", secret);
    tokio::task::spawn_blocking(move || cmd.output().expect("run gymchat")).await.unwrap()
}

/// Sets the Stream app's webhook URL, as an operator does in Stream's dashboard.
async fn set_webhook(stream_url: &str, url: &str) {
    let key = jsonwebtoken::EncodingKey::from_secret(b"s");
    let token =
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &serde_json::json!({ "server": true }), &key).unwrap();
    let answer = reqwest::Client::new()
        .patch(format!("{stream_url}/app?api_key=k"))
        .header("Authorization", token)
        .header("stream-auth-type", "jwt")
        .json(&serde_json::json!({ "webhook_url": url }))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{answer:?}");
}

/// Each check's status by name.
fn statuses(out: &Output) -> Vec<(String, String)> {
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let checks = report["checks"].as_array().unwrap().iter();
    checks.map(|c| (c["name"].as_str().unwrap().to_owned(), c["status"].as_str().unwrap().to_owned())).collect()
}

fn status_of<'a>(statuses: &'a [(String, String)], name: &str) -> &'a str {
    &statuses.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} in {statuses:?}")).1
}

on_both_backends! {
    async fn doctor_says_what_is_not_ready_and_changes_nothing(db) {
        let running = sandbox(Duration::ZERO).await;
        let url = running.url.clone();
        let service_hook = "https://chat.example.test/api/v1/webhooks/stream/new-message";
        set_webhook(&url, service_hook).await;
        if !db.is_postgres() {
            // No file yet: nothing to check, and doctor makes none.
            let out = gymchat(&db, &url, "s", &["doctor", "--json"]).await;
            assert_eq!(out.status.code(), Some(2), "{out:?}");
            assert_eq!(status_of(&statuses(&out), "database.reachable"), "could_not_check");
            let path = db.url().strip_prefix("sqlite://").unwrap();
            assert!(!std::path::Path::new(path).exists(), "doctor created no database");
            // An empty file: a database without gymchat's migrations or the platform's tables.
            std::fs::File::create(path).unwrap();
        }
        let out = gymchat(&db, &url, "s", &["doctor", "--json"]).await;
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let found = statuses(&out);
        for (name, expected) in [
            ("stream.credentials", "ok"),
            ("stream.multi_tenant", "ok"),
            ("stream.channel_type", "ok"),
            ("stream.webhook", "ok"),
            ("stream.rate_limits", "ok"),
            ("database.reachable", "ok"),
            ("database.migrations", "fix"),
            ("database.platform_tables", "fix"),
            ("database.member_index", "fix"),
        ] {
            assert_eq!(status_of(&found, name), expected, "{name}: {found:?}");
        }
        // Doctor changed nothing: the same findings again.
        let again = gymchat(&db, &url, "s", &["doctor", "--json"]).await;
        assert_eq!(statuses(&again), found);

        let fixture = fixture_path("gym4.json");
        let loaded = gymchat(&db, &url, "s", &["db", "load-fixture", fixture.to_str().unwrap()]).await;
        assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
        // A webhook elsewhere is still something to fix; the service's new-message route is not.
        set_webhook(&url, "https://chat.example.test/hooks").await;
        let elsewhere = gymchat(&db, &url, "s", &["doctor", "--json"]).await;
        assert_eq!(status_of(&statuses(&elsewhere), "stream.webhook"), "fix");
        set_webhook(&url, service_hook).await;
        let ready = gymchat(&db, &url, "s", &["doctor"]).await;
        let stderr = String::from_utf8_lossy(&ready.stderr);
        assert_eq!(ready.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("ok  database.member_index: gymchat_chat_members_user"), "{stderr}");
        let report: Value = serde_json::from_slice(&ready.stdout).unwrap();
        assert_eq!(report["ready"], true);

        let wrong = gymchat(&db, &url, "not-the-secret", &["doctor", "--json"]).await;
        assert_eq!(wrong.status.code(), Some(1));
        assert_eq!(status_of(&statuses(&wrong), "stream.credentials"), "fix");

        drop(running);
        let gone = gymchat(&db, &url, "s", &["doctor", "--json"]).await;
        assert_eq!(gone.status.code(), Some(2), "{}", String::from_utf8_lossy(&gone.stderr));
        assert_eq!(status_of(&statuses(&gone), "stream.credentials"), "could_not_check");
        assert_eq!(status_of(&statuses(&gone), "database.migrations"), "ok");
    }
}

#[tokio::test]
async fn doctor_names_multi_tenancy_off_and_the_apps_lower_limits() {
    let db = TestDb::sqlite().await;
    // An app without multi-tenancy, on a plan that sends 100 messages a minute.
    let mut config = gymchat_testkit::sandbox::gym4_config("k", "s");
    config.initial = gymchat_sandbox::InitialState::Empty;
    config.limits = gymchat_sandbox::LimitMode::with_overrides([("SendMessage".to_owned(), 100)].into_iter().collect());
    let running = gymchat_testkit::sandbox::Sandbox::start(config).await;
    let migrated = gymchat(&db, &running.url, "s", &["db", "migrate"]).await;
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));

    let out = gymchat(&db, &running.url, "s", &["doctor"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("FIX stream.multi_tenant: multi-tenancy is off"), "{stderr}");
    assert!(stderr.contains("SendMessage 100/min (documented 1000)"), "{stderr}");
    assert!(stderr.contains("FIX stream.webhook: no webhook URL"), "{stderr}");
    let found = statuses(&out);
    assert_eq!(status_of(&found, "database.migrations"), "ok");
    assert_eq!(status_of(&found, "stream.rate_limits"), "ok");
}
