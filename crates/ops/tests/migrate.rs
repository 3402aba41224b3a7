//! The migration on real databases (Postgres and SQLite) against the sandbox over HTTP: the
//! reference scenario migrated by each strategy and cleaned up to the fixture's `expect` blocks,
//! gym 5 untouched, a second apply that does nothing, rollback, the run lock, the circuit
//! breaker with resume, and faults that leave the same final state as a clean run.

use std::collections::BTreeMap;

use chrono::Utc;
use gymchat_ops::audit;
use gymchat_ops::cleanup;
use gymchat_ops::migrate::{self, ApplyOptions, History, MigrateError, Options, RollbackOptions, Strategy};
use gymchat_testkit::{TestDb, on_both_backends};
use serde_json::{Value, json};

mod support;

use support::journey::{apply, channels, expect, gym4_id, plan, pointers, state, users, yes};
use support::{World, gym4, gym4_fixture, gym4_snapshot, world_configured};

async fn cleanup_and_audit(w: &World) -> audit::AuditReport {
    let report = audit::audit(&w.store, &w.client, &[gym4_id()], &|_| {}).await.unwrap();
    let p = cleanup::plan::plan(&report, cleanup::Options::default());
    let done = cleanup::apply(&w.store, &w.client, &p, cleanup::Options::default()).await.unwrap();
    assert!(done.all_done(), "{done:?}");
    audit::audit(&w.store, &w.client, &[gym4_id()], &|_| {}).await.unwrap()
}

/// The fixture's after-block holds for the final audit, and every channel a room of gym 4
/// points at holds only members in the gym's target form.
async fn assert_after_block(w: &World, report: &audit::AuditReport) {
    let want = &expect()["audit_gym_4_after_migration_and_cleanup"];
    let g = &report.gyms[0];
    assert_eq!(report.exit_code() as i64, want["exit_code"].as_i64().unwrap(), "{:#?}", g.findings);
    assert_eq!(g.summary.synced_pct, want["synced_pct"].as_f64().unwrap());
    assert_eq!(g.summary.stream_only as i64, want["stream_only"].as_i64().unwrap());
    assert_eq!(g.summary.db_only as i64, want["db_only"].as_i64().unwrap());
    assert!(g.summary.legacy_member_ids.is_empty());
    let chans = channels(&state(w).await);
    let pattern = regex_lite::Regex::new(want["every_member_id_matches"].as_str().unwrap()).unwrap();
    let mut checked = 0;
    let mut s = w.store.session().await.unwrap();
    for room in s.rooms_with_members(gym4_id()).await.unwrap().rows {
        let Some(id) = room.room.stream_channel_id else { continue };
        // Rooms whose channel is gone are retired by cleanup; every other room's channel counts.
        let Some(c) = chans.get(&format!("{}:{id}", room.room.stream_channel_type)) else { continue };
        checked += 1;
        assert_eq!(c["team"], json!("gym_4"), "room {}: {id}", room.room.id);
        for m in c["members"].as_array().unwrap() {
            assert!(pattern.is_match(m.as_str().unwrap()), "room {}: {id} holds {m}", room.room.id);
        }
    }
    assert_eq!(checked, 6, "the six rooms with a live channel");
}

on_both_backends! {
    async fn rebuild_with_history_matches_the_reference_scenario(db) {
        let w = gym4(&db).await;
        let before = state(&w).await;
        let report = apply(&w, Strategy::Rebuild, History::Copy).await;
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        assert_eq!(report.channels_done, 6);
        assert_eq!(report.skipped.len(), 9, "the closed rooms are left alone");

        let st = state(&w).await;
        let chans = channels(&st);
        let ex = expect();
        // Message counts per new channel, each copy carrying its original id.
        for (id, count) in ex["messages_after_migration_with_history_copy"].as_object().unwrap() {
            let c = &chans[&format!("messaging:{id}")];
            let messages = c["messages"].as_array().unwrap();
            assert_eq!(messages.len() as u64, count.as_u64().unwrap(), "{id}");
            assert!(messages.iter().all(|m| m[3].is_string()), "{id}: every copy names its original");
            assert_eq!(c["team"], json!("gym_4"), "{id}");
        }
        // Senders mapped, in order: the first copy of the Ana–Bruno chat is Ana's "Hola!".
        let first = &chans["messaging:direct_gym_4_user_10_gym_4_user_8"]["messages"][0];
        assert_eq!(first[1], json!("gym_4_user_10"));
        assert_eq!(first[2], json!("Hola!"));
        // The event is over: its new channel is frozen; old channels are frozen with a note.
        assert_eq!(chans["messaging:event_4_639"]["frozen"], json!(true));
        assert_eq!(chans["messaging:room_4_639"]["frozen"], json!(false));
        let old = &chans["messaging:direct_user_10_user_8"];
        assert_eq!(old["frozen"], json!(true));
        let note = old["messages"].as_array().unwrap().last().unwrap();
        assert!(note[2].as_str().unwrap().contains("direct_gym_4_user_10_gym_4_user_8"), "{note}");
        // Target users with the gym's team; legacy users kept.
        let us = users(&st);
        for id in ex["stream_users_after_migration"].as_array().unwrap() {
            assert_eq!(us[id.as_str().unwrap()]["teams"], json!(["gym_4"]), "{id}");
        }
        assert!(us.contains_key("user_10"), "legacy users are never deleted");
        // Pointers moved; gym 5 untouched on both sides.
        let p = pointers(&w).await;
        assert_eq!(p[&638].as_deref(), Some("direct_gym_4_user_10_gym_4_user_8"));
        assert_eq!(p[&639].as_deref(), Some("room_4_639"));
        assert_eq!(p[&665].as_deref(), Some("event_4_639"));
        assert_eq!(p[&641].as_deref(), Some("event_604_d3d94468"), "closed rooms keep their pointer");
        assert_eq!(p[&670].as_deref(), Some("room_General_21"));
        assert_eq!(channels(&before)["messaging:room_General_21"], chans["messaging:room_General_21"]);

        // A second apply finds nothing to do and changes nothing.
        let again = plan(&w, Strategy::Rebuild, History::Copy).await;
        assert_eq!(again.channel_count(), 0, "{:#?}", again.gyms[0].channels);
        assert!(again.gyms[0].users.is_empty(), "{:#?}", again.gyms[0].users);
        let second = migrate::apply(&w.store, &w.client, &again, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!((second.exit_code(), second.channels_done, second.users_done), (0, 0, 0));
        assert_eq!(channels(&state(&w).await), chans);

        // Verify passes; after cleanup the audit matches the fixture's after-block.
        let verified = migrate::verify(&w.store, &w.client, &[gym4_id()]).await.unwrap();
        assert_eq!(verified.exit_code(), 0, "{verified:#?}");
        let after = cleanup_and_audit(&w).await;
        assert_after_block(&w, &after).await;
        assert_eq!(after.gyms[0].summary.archived, 2, "the two legacy channels of team gym_4 are archived");
    }
}

on_both_backends! {
    async fn in_place_keeps_channel_ids_and_history(db) {
        let w = gym4(&db).await;
        let before = channels(&state(&w).await);
        let report = apply(&w, Strategy::InPlace, History::None).await;
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        assert_eq!(report.channels_done, 6);
        let after = channels(&state(&w).await);
        let c = &after["messaging:direct_user_10_user_8"];
        assert_eq!(c["members"], json!(["gym_4_user_10", "gym_4_user_8"]));
        assert_eq!(c["team"], json!("gym_4"));
        assert_eq!(c["messages"], before["messaging:direct_user_10_user_8"]["messages"], "history untouched");
        assert_eq!(after["messaging:event_639_d3d94468"]["frozen"], json!(true), "the event is over");
        assert_eq!(pointers(&w).await[&638].as_deref(), Some("direct_user_10_user_8"));
        let again = plan(&w, Strategy::InPlace, History::None).await;
        assert_eq!(again.channel_count(), 0);
        let audit = cleanup_and_audit(&w).await;
        assert_after_block(&w, &audit).await;

        // Rollback gives the channels their old members and data back.
        let back = migrate::rollback(&w.store, &w.client, &report.run_id, yes()).await.unwrap();
        assert!(back.failed.is_empty(), "{back:?}");
        let rolled = channels(&state(&w).await);
        assert_eq!(rolled["messaging:direct_user_10_user_8"]["members"], before["messaging:direct_user_10_user_8"]["members"]);
        assert_eq!(rolled["messaging:direct_user_10_user_8"]["team"], Value::Null);
    }
}

on_both_backends! {
    async fn rollback_restores_every_pointer(db) {
        let w = gym4(&db).await;
        let before = pointers(&w).await;
        let report = apply(&w, Strategy::Rebuild, History::None).await;
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        assert_ne!(pointers(&w).await, before);

        let dry = migrate::rollback(&w.store, &w.client, &report.run_id, RollbackOptions::default()).await.unwrap();
        assert!(dry.dry_run && dry.restored.len() == 6);
        assert_ne!(pointers(&w).await, before, "a dry run changes nothing");

        let back = migrate::rollback(&w.store, &w.client, &report.run_id, yes()).await.unwrap();
        assert!(back.failed.is_empty(), "{back:?}");
        assert_eq!(back.rooms_restored.len(), 6);
        assert_eq!(pointers(&w).await, before);
        let chans = channels(&state(&w).await);
        assert_eq!(chans["messaging:direct_user_10_user_8"]["frozen"], json!(false), "old channels unfrozen");
        // Older apps still on the old channel read that the conversation is back there.
        let raw = state(&w).await;
        let old = raw["channels"].as_array().unwrap().iter().find(|c| c["id"] == "direct_user_10_user_8").unwrap();
        let notes: Vec<&Value> = old["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["id"].as_str().is_some_and(|id| id.starts_with("gymchat-moved-")))
            .collect();
        assert_eq!(notes.len(), 2, "the move's note and the note of its undoing: {notes:?}");
        assert!(notes[1]["text"].as_str().unwrap().contains("back in this channel"), "{notes:?}");
        assert_eq!(notes[1]["type"], "system", "{notes:?}");
        assert_eq!(notes[1]["user_id"], "gym_4_bot", "{notes:?}");
        assert_eq!(chans["messaging:direct_gym_4_user_10_gym_4_user_8"]["frozen"], json!(true), "new ones frozen, kept");
        let moves = w.store.session().await.unwrap().channel_moves(gym4_id()).await.unwrap();
        assert!(moves.is_empty(), "{moves:?}");
        let err = migrate::rollback(&w.store, &w.client, &report.run_id, yes()).await.unwrap_err();
        assert!(err.to_string().contains("rolled back already"), "{err}");
    }
}

on_both_backends! {
    async fn one_run_per_database(db) {
        let w = gym4(&db).await;
        let p = plan(&w, Strategy::Rebuild, History::None).await;
        // A live holder elsewhere: refused, named, nothing written.
        let mut s = w.store.session().await.unwrap();
        let other = s.acquire_lock(migrate::LOCK_NAME, "ops-box:4242", chrono::Duration::seconds(60)).await.unwrap();
        let err = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap_err();
        assert!(matches!(&err, MigrateError::Busy { holder, .. } if holder == "ops-box:4242"), "{err}");
        assert!(s.migration_runs().await.unwrap().is_empty());
        s.release_lock(&other).await.unwrap();

        // A holder of this host whose process is gone is taken over at once.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = migrate::holder_name();
        let (host, rest) = me.split_once(':').unwrap();
        let namespace = rest.split_once('@').map(|(_, ns)| format!("@{ns}")).unwrap_or_default();
        let holder = format!("{host}:{dead}{namespace}");
        s.acquire_lock(migrate::LOCK_NAME, &holder, chrono::Duration::seconds(60)).await.unwrap();
        let report = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 0);

        // A worker still at work (its heartbeat fresh): no rollback, and the run keeps its state.
        s.join_run(&report.run_id, "ops-box:77").await.unwrap();
        let err = migrate::rollback(&w.store, &w.client, &report.run_id, yes()).await.unwrap_err();
        assert!(matches!(&err, MigrateError::Busy { holder, .. } if holder.starts_with("ops-box:77")), "{err}");
        assert_eq!(s.migration_run(&report.run_id).await.unwrap().unwrap().state, gymchat_store::RunState::Done);
        // Once it said it ended, the rollback goes through.
        s.worker_beat(&report.run_id, "ops-box:77", (0, 0), Some(("finished", None))).await.unwrap();
        assert!(migrate::rollback(&w.store, &w.client, &report.run_id, yes()).await.unwrap().failed.is_empty());
    }
}

on_both_backends! {
    async fn the_breaker_stops_the_run_and_the_same_command_resumes_it(db) {
        let w = gym4(&db).await;
        let p = plan(&w, Strategy::Rebuild, History::Copy).await;
        // Every channel creation fails for a while.
        let answers: Vec<Value> = (0..300).map(|_| json!({ "status": 503, "code": -1 })).collect();
        w.sandbox.script("GetOrCreateChannel", Value::Array(answers)).await;
        let stopped = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(stopped.exit_code(), 2, "{stopped:#?}");
        assert_eq!(stopped.state, gymchat_store::RunState::Stopped);
        assert!(stopped.message.as_deref().unwrap().contains("circuit breaker"), "{:?}", stopped.message);
        assert!(!stopped.failed.is_empty());
        assert!(stopped.failed.iter().all(|f| f.error.is_some()));
        assert_eq!(pointers(&w).await[&638].as_deref(), Some("direct_user_10_user_8"), "no room switched");

        w.sandbox.script("GetOrCreateChannel", json!([])).await;
        let resumed = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert!(resumed.resumed);
        assert_eq!(resumed.run_id, stopped.run_id);
        assert_eq!(resumed.exit_code(), 0, "{resumed:#?}");
        let st = state(&w).await;
        let chans = channels(&st);
        for (id, count) in expect()["messages_after_migration_with_history_copy"].as_object().unwrap() {
            assert_eq!(chans[&format!("messaging:{id}")]["messages"].as_array().unwrap().len() as u64, count.as_u64().unwrap());
        }
    }
}

/// One uninterrupted run's final state (channels, users, pointers) on SQLite.
async fn clean_run_state() -> (BTreeMap<String, Value>, BTreeMap<String, Value>, BTreeMap<i64, Option<String>>) {
    let db = TestDb::sqlite().await;
    let w = gym4(&db).await;
    let report = apply(&w, Strategy::Rebuild, History::Copy).await;
    assert_eq!(report.exit_code(), 0);
    let st = state(&w).await;
    (channels(&st), users(&st), pointers(&w).await)
}

on_both_backends! {
    async fn faults_leave_the_same_final_state_as_a_clean_run(db) {
        let (want_channels, want_users, want_pointers) = clean_run_state().await;
        let w = world_configured(&db, &gym4_fixture(), gym4_snapshot(), |c| {
            c.fail_rate = 0.2;
            // The old channels are frozen by batch tasks: a fifth of them fail, applying nothing.
            c.task_fail_rate = 0.2;
            c.seed = 7;
            c.stall = std::time::Duration::from_millis(200);
        })
        .await;
        // Plans and runs until done, as an operator would rerun the same command.
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds <= 30, "no end after 30 rounds");
            let Ok(p) = migrate::plan::plan(&w.store, &w.client, &[gym4_id()], Options { strategy: Strategy::Rebuild, history: History::Copy, rehost_attachments: false }, Utc::now()).await else { continue };
            if !p.gyms[0].complete() {
                continue;
            }
            let options = ApplyOptions { max_failure_rate: 1.0, ..ApplyOptions::default() };
            if let Ok(r) = migrate::apply(&w.store, &w.client, &p, options, &|_| {}).await
                && r.exit_code() == 0
                && p.channel_count() == 0
            {
                break;
            }
        }
        let st = state(&w).await;
        assert_eq!(channels(&st), want_channels);
        assert_eq!(users(&st), want_users);
        assert_eq!(pointers(&w).await, want_pointers);
    }
}

on_both_backends! {
    async fn import_file_holds_the_history_with_original_times_in_stream_order(db) {
        let w = gym4(&db).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gym4.jsonl");
        let p = plan(&w, Strategy::Rebuild, History::ImportFile).await;
        let options = ApplyOptions { import_file: Some(path.clone()), ..ApplyOptions::default() };
        let report = migrate::apply(&w.store, &w.client, &p, options, &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        let counts = &report.import_file.as_ref().unwrap().lines;
        assert_eq!((counts["user"], counts["channel"], counts["message"]), (5, 6, 40), "{counts:?}");

        let lines: Vec<Value> =
            std::fs::read_to_string(&path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        // Users, channels, members, messages: that order.
        let order: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        let rank = |t: &str| ["user", "channel", "member", "message"].iter().position(|k| *k == t).unwrap();
        assert!(order.windows(2).all(|w| rank(w[0]) <= rank(w[1])), "{order:?}");
        let first = lines.iter().find(|l| l["type"] == "message").unwrap();
        assert_eq!(first["data"]["channel_id"], json!("direct_gym_4_user_10_gym_4_user_8"));
        assert_eq!(first["data"]["user"], json!("gym_4_user_10"));
        assert_eq!(first["data"]["text"], json!("Hola!"));
        assert_eq!(first["data"]["created_at"], json!("2025-11-01T12:00:00Z"), "the original time");
        let channel = lines.iter().find(|l| l["type"] == "channel").unwrap();
        assert_eq!(channel["data"]["team"], json!("gym_4"));
        assert!(channel["data"]["created_at"].is_string() && channel["data"]["frozen"].is_boolean(), "{channel}");
        // Members carry their role and how far they had read; Diego hid his chat with Ana.
        let member = |channel: &str, user: &str| {
            lines.iter().find(|l| l["type"] == "member" && l["data"]["channel_id"] == channel && l["data"]["user_id"] == user).cloned().unwrap()
        };
        let ana = member("direct_gym_4_user_10_gym_4_user_8", "gym_4_user_10");
        assert_eq!(ana["data"]["channel_role"], "channel_member");
        assert!(ana["data"]["last_read"].is_string(), "{ana}");
        assert_eq!(member("direct_gym_4_user_10_gym_4_user_17", "gym_4_user_17")["data"]["hide_channel"], true);
        assert!(lines.iter().all(|l| l.get("item").is_none() && l["data"].is_object()), "the key is data");

        // The live channels were moved without history, as with `none`.
        let chans = channels(&state(&w).await);
        assert_eq!(chans["messaging:direct_gym_4_user_10_gym_4_user_8"]["messages"], json!([]));
        assert_eq!(pointers(&w).await[&638].as_deref(), Some("direct_gym_4_user_10_gym_4_user_8"));
    }
}
