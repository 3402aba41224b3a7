//! `gymchat audit` and `gymchat cleanup` as an operator runs them, against a database loaded with
//! the reference scenario and the sandbox serving its Stream side: exit codes, the report file,
//! the HTML page, stdout, a dry run, a cleanup and its undo.

use std::process::{Command, Output};
use std::time::Duration;

use gymchat_testkit::{TestDb, fixture_path, on_both_backends};
use serde_json::Value;

mod support;

use support::sandbox;

/// Runs `gymchat` off the test's thread, so the in-process sandbox keeps serving.
async fn gymchat(db: &TestDb, dir: &std::path::Path, stream_url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gymchat"));
    cmd.args(args)
        .current_dir(dir)
        .env("DATABASE_URL", db.url())
        .env("STREAM_URL", stream_url)
        .env("STREAM_KEY", "k")
        .env("STREAM_SECRET", "s");
    tokio::task::spawn_blocking(move || cmd.output().expect("run gymchat")).await.unwrap()
}

on_both_backends! {
    async fn audit_writes_its_report_exits_1_on_findings_and_2_on_an_unknown_gym(db) {
        let dir = tempfile::tempdir().unwrap();
        let running_sandbox = sandbox(Duration::ZERO).await;
        let url = running_sandbox.url.clone();
        let fixture = fixture_path("gym4.json");
        let loaded = gymchat(&db, dir.path(), &url, &["db", "load-fixture", fixture.to_str().unwrap()]).await;
        assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));

        let out = gymchat(&db, dir.path(), &url, &["audit", "--gym-id", "4", "--html", "report.html"]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("gym 4: 6 synced, 2 stream-only, 9 db-only"), "{stderr}");
        let pointer: Value = serde_json::from_slice(&out.stdout).unwrap();
        let file = pointer["report"].as_str().unwrap();
        assert!(file.starts_with("audit_4_") && file.ends_with(".json"), "{file}");
        let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join(file)).unwrap()).unwrap();
        assert_eq!((report["version"].as_u64(), report["gyms"][0]["summary"]["synced"].as_u64()), (Some(1), Some(6)));
        let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(page.contains("Stream-only channels") && page.contains("event_644_d3d94468"));

        let json = gymchat(&db, dir.path(), &url, &["audit", "--gym-id", "5", "--json"]).await;
        assert_eq!(json.status.code(), Some(1), "{}", String::from_utf8_lossy(&json.stderr));
        let report: Value = serde_json::from_slice(&json.stdout).unwrap();
        // Gym 5's one room is synced, but its channel still holds the legacy user_21.
        assert_eq!(report["gyms"][0]["summary"]["synced"], 1);
        assert_eq!(report["gyms"][0]["summary"]["legacy_member_ids"], serde_json::json!(["user_21"]));

        let unknown = gymchat(&db, dir.path(), &url, &["audit", "--gym-id", "99"]).await;
        assert_eq!(unknown.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&unknown.stderr).contains("gym 99 does not exist"));
    }
}

on_both_backends! {
    async fn cleanup_dry_runs_then_cleans_up_then_undoes(db) {
        let dir = tempfile::tempdir().unwrap();
        let running_sandbox = sandbox(Duration::ZERO).await;
        let url = running_sandbox.url.clone();
        let fixture = fixture_path("gym4.json");
        gymchat(&db, dir.path(), &url, &["db", "load-fixture", fixture.to_str().unwrap()]).await;
        let json = |out: &Output| serde_json::from_slice::<Value>(&out.stdout).unwrap();

        let dry = gymchat(&db, dir.path(), &url, &["cleanup", "--gym-id", "4"]).await;
        assert_eq!(dry.status.code(), Some(0), "{}", String::from_utf8_lossy(&dry.stderr));
        assert_eq!(json(&dry)["mode"], "dry_run");
        assert_eq!(json(&dry)["plan"]["actions"].as_array().unwrap().len(), 12);
        let still = gymchat(&db, dir.path(), &url, &["audit", "--gym-id", "4", "--json"]).await;
        assert_eq!(json(&still)["gyms"][0]["summary"]["stream_only"], 2, "a dry run changes nothing");

        let refused = gymchat(&db, dir.path(), &url, &["cleanup", "channel", "--cid", "messaging:room_General_10", "--yes"]).await;
        assert_eq!(refused.status.code(), Some(1));
        let reason = json(&refused)["run"]["refused"][0]["reason"].as_str().unwrap_or_default().to_owned();
        assert!(reason.contains("points at it"), "{reason}");

        let applied = gymchat(&db, dir.path(), &url, &["cleanup", "--gym-id", "4", "--yes"]).await;
        assert_eq!(applied.status.code(), Some(0), "{}", String::from_utf8_lossy(&applied.stderr));
        let run_id = json(&applied)["run"]["run_id"].as_str().unwrap().to_owned();
        let after = gymchat(&db, dir.path(), &url, &["audit", "--gym-id", "4", "--json"]).await;
        let summary = &json(&after)["gyms"][0]["summary"];
        assert_eq!((summary["stream_only"].as_u64(), summary["db_only"].as_u64(), summary["retired"].as_u64()), (Some(0), Some(0), Some(9)));

        let undo = gymchat(&db, dir.path(), &url, &["cleanup", "undo", &run_id]).await;
        assert_eq!(undo.status.code(), Some(0), "{}", String::from_utf8_lossy(&undo.stderr));
        assert_eq!(json(&undo)["restored"].as_array().unwrap().len(), 9);
        let again = gymchat(&db, dir.path(), &url, &["cleanup", "undo", &run_id]).await;
        assert_eq!(again.status.code(), Some(2), "a run is undone once");
    }
}
