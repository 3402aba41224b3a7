//! `--history import` (issue 19), on both databases against the sandbox's import API over HTTP:
//! the history goes through Stream's import service (upload URL, upload, import task, polls)
//! with each message's own time, and the rooms switch only once the import completed. Every
//! member, with their own token, then sees what they saw (texts, unread counts, channel
//! list); no push would have gone out. An import Stream refuses stops the run with Stream's
//! reasons and switches nothing; the same command then resumes it.

use std::collections::BTreeMap;

use gymchat_ids::{Cid, StreamUserId};
use gymchat_ops::migrate::{self, ApplyOptions, History, Strategy};
use gymchat_testkit::on_both_backends;
use serde_json::{Map, Value, json};

mod support;

use support::journey::{gym4_id, plan, pointers};
use support::{World, gym4_fixture, gym4_snapshot, world_configured};

/// What `user` sees in channel `cid` with their token: each message's text and time.
async fn seen(w: &World, user: &str, cid: &str) -> Vec<(String, String)> {
    let state = w.sandbox.seen_by(user, cid).await;
    let messages = state["messages"].as_array().unwrap().iter();
    messages.map(|m| (m["text"].as_str().unwrap().to_owned(), m["created_at"].as_str().unwrap().to_owned())).collect()
}

/// Apply options that write the run's import file into `dir`, not the working directory.
fn writing_into(dir: &tempfile::TempDir) -> ApplyOptions {
    ApplyOptions { import_file: Some(dir.path().join("import.jsonl")), ..ApplyOptions::default() }
}

/// `user`'s unread count in channel `cid`, from the channel's read state.
async fn unread(w: &World, user: &str, cid: &str) -> Option<u64> {
    let read = w.client.get_or_create_channel(&Cid::parse(cid).unwrap(), None, 0, None).await.unwrap().body.read;
    read.iter().find(|r| r.user.id.as_str() == user).map(|r| r.unread_messages)
}

on_both_backends! {
    async fn the_rich_scenario_moves_through_streams_import_with_its_times(db) {
        let fixture = gymchat_store::DbFixture::from_json(&gymchat_testkit::read_fixture("gym4-rich.json")).unwrap();
        let snapshot = gymchat_sandbox::load_snapshot(&gymchat_testkit::fixture_path("gym4-rich.json")).unwrap();
        let w = world_configured(&db, &fixture, snapshot, |_| {}).await;
        let p = plan(&w, Strategy::Rebuild, History::Import).await;
        let moved: Vec<&migrate::plan::ChannelSpec> = p.gyms[0]
            .channels
            .iter()
            .filter(|c| c.messages > 0 && !c.repair && c.old_cid.starts_with("messaging:direct_"))
            .collect();
        assert!(moved.len() >= 3, "{moved:#?}");
        let new_of: BTreeMap<&str, &str> = moved.iter().map(|c| (c.old_cid.as_str(), c.new_cid.as_str())).collect();

        // Each member's view of each moved room (texts with their times, unread count), and
        // their channel list in new cids, as the app reads them with their token.
        let views = |legacy: bool| {
            let (w, moved, new_of) = (&w, &moved, &new_of);
            async move {
                let mut views = Vec::new();
                for c in moved {
                    let cid = if legacy { &c.old_cid } else { &c.new_cid };
                    for (old, target) in &c.member_targets {
                        let who = if legacy { old.as_str() } else { target.as_str() };
                        let list: Vec<String> = w
                            .sandbox
                            .channel_list_of(who)
                            .await
                            .into_iter()
                            .filter_map(|l| if legacy { new_of.get(l.as_str()).map(|n| (*n).to_owned()) } else { new_of.values().any(|n| *n == l).then_some(l) })
                            .collect();
                        views.push((c.room_id, target.clone(), seen(w, who, cid).await, unread(w, who, cid).await, list));
                    }
                }
                views
            }
        };
        let before = views(true).await;
        assert!(before.iter().any(|(_, who, texts, _, _)| who == "gym_4_user_8" && texts.iter().any(|(t, _)| t == "just for Bruno")));
        assert!(before.iter().any(|(_, _, _, _, list)| list.len() >= 2), "{before:#?}");
        let pushes = w.sandbox.stats().await["would_push"].as_u64().unwrap();

        let seen_states = std::sync::Mutex::new(Vec::new());
        let dir = tempfile::tempdir().unwrap();
        let report = migrate::apply(&w.store, &w.client, &p, writing_into(&dir), &|p| {
            if let migrate::Progress::Import { state, .. } = p {
                seen_states.lock().unwrap().push(state);
            }
        })
        .await
        .unwrap();
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        let imported = report.import_file.as_ref().expect("the import file");
        assert!(imported.import_id.is_some() && imported.lines["message"] > 0 && imported.lines["reaction"] == 3, "{imported:#?}");
        assert_eq!(seen_states.into_inner().unwrap(), ["uploaded", "analyzing", "completed"]);

        assert_eq!(views(false).await, before, "every member sees the same messages at the same times, badges and list order");
        assert_eq!(w.sandbox.stats().await["would_push"].as_u64().unwrap(), pushes, "nothing would have pushed");
        let operations = &w.sandbox.stats().await["operations"];
        for op in ["CreateImportURL", "CreateImport", "GetImport"] {
            assert!(operations[op]["calls"].as_u64().unwrap() >= 1, "{op}: {operations:#}");
        }
        let verified = migrate::verify(&w.store, &w.client, &[gym4_id()]).await.unwrap();
        assert_eq!(verified.exit_code(), 0, "{verified:#?}");
    }
}

on_both_backends! {
    async fn an_import_stream_refuses_switches_nothing_and_the_same_command_resumes(db) {
        let w = world_configured(&db, &gym4_fixture(), gym4_snapshot(), |_| {}).await;
        // An attachment whose URL is not public: Stream's import refuses the file.
        let broken = "direct_user_10_user_8-m2";
        let mut set = Map::new();
        set.insert("attachments".into(), json!([{ "type": "image", "image_url": "not a url" }]));
        let ana = StreamUserId::parse("user_10").unwrap();
        w.client.update_message_partial(broken, &ana, set, &[]).await.unwrap();
        let p = plan(&w, Strategy::Rebuild, History::Import).await;
        let pointed_before = pointers(&w).await;

        let dir = tempfile::tempdir().unwrap();
        let e = migrate::apply(&w.store, &w.client, &p, writing_into(&dir), &|_| {}).await.unwrap_err();
        let why = e.to_string();
        assert!(why.contains("analyze_failed") && why.contains("image_url"), "{why}");
        assert_eq!(pointers(&w).await, pointed_before, "no room switched");
        let runs = w.store.session().await.unwrap().migration_runs().await.unwrap();
        assert_eq!(runs.len(), 1);
        assert!(runs[0].state.is_unfinished(), "{:?}", runs[0]);

        // The operator fixes the message; the same command resumes the run.
        w.client.update_message_partial(broken, &ana, Map::new(), &["attachments"]).await.unwrap();
        let report = migrate::apply(&w.store, &w.client, &p, writing_into(&dir), &|_| {}).await.unwrap();
        assert!(report.resumed, "{report:#?}");
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        let new = w.sandbox.channel("direct_gym_4_user_10_gym_4_user_8").await.expect("the new channel");
        let old = w.sandbox.channel("direct_user_10_user_8").await.unwrap();
        let times = |c: &Value| c["messages"].as_array().unwrap().iter().filter(|m| m["type"] != "system").map(|m| m["created_at"].clone()).collect::<Vec<_>>();
        assert_eq!(times(&new), times(&old), "imported with the originals' times");
        assert_ne!(pointers(&w).await, pointed_before, "the rooms switched once the import completed");
    }
}
