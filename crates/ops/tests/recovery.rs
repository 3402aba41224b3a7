//! The migration's recovery paths (issue 18) on both databases against the sandbox over HTTP:
//! migrating again after a rollback, a drifted room already on its target id, a rollback longer
//! than its lease, a gym that fails among others, resuming with other options, auto-rollback when
//! the breaker trips, and a room's members as they are at its switch rather than at the plan.

use std::time::{Duration, Instant};

use chrono::Utc;
use gymchat_ids::{Cid, GymId, RoomId, StreamUserId, UserId};
use gymchat_ops::migrate::{self, ApplyOptions, History, MigrateError, Options, RollbackOptions, Strategy};
use gymchat_store::RunState;
use gymchat_stream::model::ChannelUpdate;
use gymchat_testkit::on_both_backends;
use serde_json::{Map, Value, json};

mod support;

use support::journey::{apply, channels, gym4_id, plan, pointers, state, yes};
use support::{gym4, gym4_fixture, gym4_snapshot, world_configured};

/// The live channels the rooms of gym 4 point at, as [`channels`] shows them.
async fn rooms_channels(w: &support::World) -> Vec<(i64, Value)> {
    let chans = channels(&state(w).await);
    let mut out = Vec::new();
    for (room, id) in pointers(w).await {
        if let Some(id) = id {
            out.push((room, chans.get(&format!("messaging:{id}")).cloned().unwrap_or(Value::Null)));
        }
    }
    out
}

on_both_backends! {
    async fn migrating_again_after_a_rollback_ends_as_one_migration(db) {
        let w = gym4(&db).await;
        let first = apply(&w, Strategy::Rebuild, History::Copy).await;
        assert_eq!(first.exit_code(), 0, "{first:#?}");
        let once_pointers = pointers(&w).await;
        let once_channels = rooms_channels(&w).await;

        let back = migrate::rollback(&w.store, &w.client, &first.run_id, yes()).await.unwrap();
        assert!(back.failed.is_empty(), "{back:#?}");
        assert_ne!(pointers(&w).await, once_pointers);

        let again = apply(&w, Strategy::Rebuild, History::Copy).await;
        assert_eq!(again.exit_code(), 0, "{again:#?}");
        assert_ne!(again.run_id, first.run_id, "a rolled-back run is never resumed");
        assert!(again.failed.is_empty(), "{:#?}", again.failed);
        assert_eq!(pointers(&w).await, once_pointers);
        // The same channels as one migration left: unfrozen again where the first left them open,
        // the history once (copies keep their ids), the members the same.
        assert_eq!(rooms_channels(&w).await, once_channels);
        let verified = migrate::verify(&w.store, &w.client, &[gym4_id()]).await.unwrap();
        assert_eq!(verified.exit_code(), 0, "{verified:#?}");
    }
}

on_both_backends! {
    async fn a_drifted_direct_room_on_its_target_id_is_repaired_in_place(db) {
        let w = gym4(&db).await;
        let first = apply(&w, Strategy::Rebuild, History::None).await;
        assert_eq!(first.exit_code(), 0, "{first:#?}");
        let target = "direct_gym_4_user_10_gym_4_user_8";
        assert_eq!(pointers(&w).await[&638].as_deref(), Some(target));

        // Drift: a member gone and a wrong gym_id.
        let cid = Cid::parse(&format!("messaging:{target}")).unwrap();
        let gone = StreamUserId::for_member(gym4_id(), UserId::new(8).unwrap());
        let update = ChannelUpdate { remove_members: vec![gone.clone()], ..ChannelUpdate::default() };
        w.client.update_channel(&cid, &update).await.unwrap();
        w.client.update_channel_partial(&cid, Map::from_iter([("gym_id".into(), json!("5"))]), &[]).await.unwrap();

        let p = plan(&w, Strategy::Rebuild, History::None).await;
        let spec = p.gyms[0].channels.iter().find(|c| c.room_id == 638).expect("the drifted room is planned");
        assert!(spec.repair, "{spec:#?}");
        assert_eq!(spec.new_cid, spec.old_cid);
        assert!(!spec.frozen_after);
        assert!(spec.note.as_deref().unwrap().contains("repaired in place"), "{:?}", spec.note);

        let repaired = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(repaired.exit_code(), 0, "{repaired:#?}");
        assert_eq!(pointers(&w).await[&638].as_deref(), Some(target), "the room keeps its channel");
        let channel = w.sandbox.channel(target).await.unwrap();
        assert_eq!(channel["frozen"], json!(false), "a working channel is never frozen");
        let mut members: Vec<&str> = channel["members"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        members.sort_unstable();
        assert_eq!(members, ["gym_4_user_10", "gym_4_user_8"]);
        assert_eq!(channel["gym_id"], json!("4"), "{channel:#}");
        assert!(w.sandbox.channel("room_4_638").await.is_none(), "nothing was rebuilt");
        assert_eq!(plan(&w, Strategy::Rebuild, History::None).await.channel_count(), 0);
    }
}

on_both_backends! {
    async fn a_rollback_longer_than_its_lease_completes(db) {
        let w = world_configured(&db, &gym4_fixture(), gym4_snapshot(), |c| c.latency = Duration::from_millis(200)).await;
        let before = pointers(&w).await;
        let report = apply(&w, Strategy::Rebuild, History::None).await;
        assert_eq!(report.exit_code(), 0, "{report:#?}");

        let lease_ttl = Duration::from_secs(2);
        let started = Instant::now();
        let options = RollbackOptions { yes: true, lease_ttl: chrono::Duration::from_std(lease_ttl).unwrap() };
        let back = migrate::rollback(&w.store, &w.client, &report.run_id, options).await.unwrap();
        let took = started.elapsed();
        assert!(took > lease_ttl * 3 / 2, "the rollback took {took:?}, not long enough to outlive its lease");
        assert!(back.failed.is_empty(), "{back:#?}");
        assert_eq!(back.rooms_restored.len(), 6);
        assert_eq!(pointers(&w).await, before);
        let run = w.store.session().await.unwrap().migration_run(&report.run_id).await.unwrap().unwrap();
        assert_eq!(run.state, RunState::RolledBack);
    }
}

on_both_backends! {
    async fn a_gym_that_fails_is_reported_and_the_others_migrate(db) {
        let w = gym4(&db).await;
        let gym5 = GymId::new(5).unwrap();
        let gyms = [gym4_id(), gym5, GymId::new(999).unwrap()];
        let options = Options { strategy: Strategy::Rebuild, history: History::None, rehost_attachments: false };
        let p = migrate::plan::plan(&w.store, &w.client, &gyms, options, Utc::now()).await.unwrap();
        assert!(!p.gyms[2].complete(), "gym 999 does not exist: {:#?}", p.gyms[2]);
        let before = pointers(&w).await;
        // Gym 4's users are written first; Stream refuses them.
        w.sandbox.script("UpdateUsers", json!([{ "status": 400, "code": 4 }])).await;
        let report = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 1, "{report:#?}");
        let mut skipped: Vec<i64> = report.gyms_skipped.iter().map(|g| g.gym_id).collect();
        skipped.sort_unstable();
        assert_eq!(skipped, [4, 999], "{:#?}", report.gyms_skipped);
        assert!(report.gyms_skipped.iter().all(|g| !g.reasons.is_empty()));
        assert_eq!(report.channels_done, 1, "gym 5's one room migrated: {report:#?}");
        let after = pointers(&w).await;
        assert_eq!(after[&638], before[&638], "gym 4 untouched");
        let gym5_rooms = w.store.session().await.unwrap().rooms_with_members(gym5).await.unwrap().rows;
        assert_eq!(gym5_rooms.len(), 1);
        let moved = gym5_rooms[0].room.stream_channel_id.as_deref().unwrap();
        assert_ne!(moved, "room_General_21", "gym 5 migrated");
        assert!(w.sandbox.channel(moved).await.is_some_and(|c| c["team"] == "gym_5"));
    }
}

on_both_backends! {
    async fn resuming_with_other_options_is_refused_and_abandon_ends_the_run(db) {
        let w = gym4(&db).await;
        let copy = plan(&w, Strategy::Rebuild, History::Copy).await;
        w.sandbox.outage("GetOrCreateChannel", 300).await;
        let stopped = migrate::apply(&w.store, &w.client, &copy, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(stopped.state, RunState::Stopped, "{stopped:#?}");
        w.sandbox.script("GetOrCreateChannel", json!([])).await;

        let other = plan(&w, Strategy::Rebuild, History::None).await;
        let err = migrate::apply(&w.store, &w.client, &other, ApplyOptions::default(), &|_| {}).await.unwrap_err();
        assert!(matches!(err, MigrateError::RunMismatch { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains(&stopped.run_id), "{message}");
        assert!(message.contains("copy") && message.contains("none"), "both histories are named: {message}");

        let abandoned = migrate::abandon(&w.store, &stopped.run_id).await.unwrap();
        assert_eq!(abandoned.state, RunState::Abandoned);
        let fresh = migrate::apply(&w.store, &w.client, &other, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert!(!fresh.resumed);
        assert_ne!(fresh.run_id, stopped.run_id);
        assert_eq!(fresh.exit_code(), 0, "{fresh:#?}");
    }
}

on_both_backends! {
    async fn the_members_at_the_switch_not_at_the_plan_are_carried_over(db) {
        let w = gym4(&db).await;
        let p = plan(&w, Strategy::Rebuild, History::None).await;
        // Someone leaves the General room (639) between the plan and the switch, as the chat
        // service records it.
        let room = RoomId::new(639).unwrap();
        let mut s = w.store.session().await.unwrap();
        let before = s.room_members(room).await.unwrap();
        assert!(before.contains(&UserId::new(17).unwrap()));
        s.remove_room_member(room, UserId::new(17).unwrap()).await.unwrap();
        drop(s);

        let report = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        let channel = w.sandbox.channel("room_4_639").await.unwrap();
        let members: Vec<&str> = channel["members"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(!members.contains(&"gym_4_user_17"), "who left before the switch is not carried over: {members:?}");
        assert!(members.contains(&"gym_4_user_10"), "{members:?}");
        // No maintenance window is left behind.
        assert!(w.store.session().await.unwrap().maintenance(gym4_id()).await.unwrap().is_none());
    }
}

on_both_backends! {
    async fn auto_rollback_rolls_the_run_back_when_the_breaker_trips(db) {
        let w = gym4(&db).await;
        let before = pointers(&w).await;
        let p = plan(&w, Strategy::Rebuild, History::None).await;
        // Every channel creation fails: the users are written, then the breaker trips.
        w.sandbox.outage("GetOrCreateChannel", 300).await;
        let options = ApplyOptions { auto_rollback: true, ..ApplyOptions::default() };
        let report = migrate::apply(&w.store, &w.client, &p, options, &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 2, "{report:#?}");
        let rolled = report.rolled_back.as_ref().expect("the tripped breaker rolled the run back");
        assert!(rolled.failed.is_empty(), "{rolled:#?}");
        let run = w.store.session().await.unwrap().migration_run(&report.run_id).await.unwrap().unwrap();
        assert_eq!(run.state, RunState::RolledBack);
        assert_eq!(pointers(&w).await, before);
        w.sandbox.script("GetOrCreateChannel", json!([])).await;
        let again = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(again.exit_code(), 0, "{again:#?}");
        assert!(!again.resumed);
    }
}
