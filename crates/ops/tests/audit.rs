//! The audit against real databases (Postgres and SQLite) and the sandbox over HTTP: the reference
//! scenario reported exactly as the fixture expects, a Stream outage that makes the report
//! incomplete and takes every destructive recommendation away, a gym of 3,500 channels counted
//! exactly past the offset cap with shuffled ties, and odd rows that become findings.

use chrono::{TimeZone, Utc};
use gymchat_ids::{GymId, RoomId};
use gymchat_ops::audit::{self, AuditReport, FindingKind, GymReport};
use gymchat_sandbox::model::ChannelSnapshot;
use gymchat_sandbox::{Snapshot, load_snapshot};
use gymchat_store::{ChannelMove, DbFixture, RetiredRoom};
use gymchat_testkit::{fixture_path, on_both_backends, read_fixture};
use serde_json::{Value, json};

mod support;

use support::{World, gym4, move_room_639, query_channels_outage, world};

async fn audit_of(w: &World, gym: i64) -> AuditReport {
    audit::audit(&w.store, &w.client, &[GymId::new(gym).unwrap()], &|_| {}).await.unwrap()
}

fn cids(g: &GymReport, kind: FindingKind) -> Vec<String> {
    g.of_kind(kind).filter_map(|f| f.cid.clone()).collect()
}

on_both_backends! {
    async fn the_reference_scenario_audits_exactly_as_the_fixture_expects(db) {
        let w = gym4(&db).await;
        let report = audit_of(&w, 4).await;
        let expect: Value = serde_json::from_str::<Value>(&read_fixture("gym4.json")).unwrap()["expect"]["audit_gym_4_before"].clone();
        let g = &report.gyms[0];
        let m = &g.summary;
        assert_eq!(
            json!({
                "total_stream_channels": m.total_stream_channels,
                "total_db_chatrooms": m.total_db_chatrooms,
                "synced": m.synced,
                "stream_only": m.stream_only,
                "db_only": m.db_only,
                "legacy_member_ids": m.legacy_member_ids,
                "stream_only_channels": cids(g, FindingKind::StreamOnly)
                    .iter().map(|c| c.trim_start_matches("messaging:").to_owned()).collect::<Vec<_>>(),
            }),
            expect
        );
        assert!(report.complete && g.complete);
        assert_eq!(report.exit_code(), 1);
        // Every finding carries a recommendation; the destructive ones are exactly the orphaned
        // event channels and the closed rooms whose channel is gone.
        assert!(g.findings.iter().all(|f| !f.recommendation.is_empty()));
        let destructive: Vec<FindingKind> = g.findings.iter().filter(|f| f.destructive).map(|f| f.kind).collect();
        assert_eq!(destructive.len(), 11);
        assert!(destructive.iter().all(|k| matches!(k, FindingKind::StreamOnly | FindingKind::DbOnly)));
        let orphan = g.of_kind(FindingKind::StreamOnly).next().unwrap();
        assert_eq!(orphan.evidence["class"], "event");
        assert_eq!(orphan.evidence["events"][0]["exists"], false);
        assert_eq!(orphan.evidence["stream_users"]["user_10"], json!({ "exists": true, "teams": [] }));
        assert_eq!(orphan.command.as_deref(), Some("gymchat cleanup channel --cid messaging:event_644_d3d94468 --yes"));
        let closed = g.of_kind(FindingKind::DbOnly).next().unwrap();
        assert_eq!(closed.evidence["reading"], "closed event whose channel was deleted");
        // Gym 5 is its own: its one room and channel are synced.
        let five = &audit_of(&w, 5).await.gyms[0];
        assert_eq!((five.summary.synced, five.summary.stream_only, five.summary.db_only), (1, 0, 0));
    }
}

on_both_backends! {
    async fn a_stream_outage_makes_the_audit_incomplete_and_never_destructive(db) {
        let w = gym4(&db).await;
        query_channels_outage(&w).await;
        let report = audit_of(&w, 4).await;
        let g = &report.gyms[0];
        assert!(!report.complete && !g.complete && !g.sources.stream.complete);
        assert!(g.sources.db.complete, "the database was read whole");
        assert_eq!(report.exit_code(), 2);
        assert!(!g.sources.stream.problems.is_empty());
        assert!(g.findings.iter().all(|f| !f.destructive), "no destructive recommendation on partial reads");
        let deleting = |f: &&gymchat_ops::audit::Finding| f.command.as_deref().is_some_and(|c| c.contains("cleanup"));
        assert!(g.of_kind(FindingKind::DbOnly).filter(deleting).count() == 0, "no retire command either");
    }
}

/// A gym of `n` rooms, each with its channel of team `gym_7`; ties of 7 channels per creation time.
fn big_gym(n: usize) -> (DbFixture, Snapshot) {
    let mut db = json!({
        "gyms": [{ "id": 7, "name": "Big", "subdomain": "big", "is_active": true }],
        "user": [{ "id": 1, "email": "one@example.test", "is_active": true, "role": "MEMBER" }],
        "user_gyms": [{ "user_id": 1, "gym_id": 7, "role": "OWNER", "is_active": true }],
        "chat_rooms": [], "chat_members": [],
    });
    let mut channels = Vec::new();
    for i in 1..=n {
        let id = format!("room_7_{i}");
        db["chat_rooms"].as_array_mut().unwrap().push(json!({
            "id": i, "stream_channel_id": id, "name": "R", "gym_id": 7, "status": "ACTIVE",
        }));
        db["chat_members"].as_array_mut().unwrap().push(json!({ "room_id": i, "user_id": 1 }));
        let created = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds((i / 7) as i64);
        channels.push(ChannelSnapshot {
            kind: "messaging".into(),
            id,
            team: Some("gym_7".into()),
            created_by_id: Some("gym_7_user_1".into()),
            created_at: created,
            updated_at: None,
            deleted_at: None,
            frozen: false,
            members: vec!["gym_7_user_1".into()],
            member_state: Default::default(),
            hidden_for: Default::default(),
            messages: Vec::new(),
            custom: serde_json::Map::from_iter([("gym_id".into(), json!("7"))]),
        });
    }
    let fixture = DbFixture::from_json(&json!({ "db": db }).to_string()).unwrap();
    let users = vec![serde_json::from_value(json!({ "id": "gym_7_user_1", "teams": ["gym_7"] })).unwrap()];
    (fixture, Snapshot { multi_tenant_enabled: true, users, channels })
}

on_both_backends! {
    async fn a_gym_of_3500_channels_is_counted_exactly_past_the_offset_cap(db) {
        let (fixture, snapshot) = big_gym(3_500);
        let w = world(&db, &fixture, snapshot, true).await;
        let report = audit_of(&w, 7).await;
        let g = &report.gyms[0];
        assert_eq!(
            (g.summary.total_stream_channels, g.summary.total_db_chatrooms, g.summary.synced, g.summary.stream_only, g.summary.db_only),
            (3_500, 3_500, 3_500, 0, 0)
        );
        assert!(g.is_clean(), "{:?}", g.findings.first());
        assert_eq!(report.exit_code(), 0);
    }
}

on_both_backends! {
    async fn odd_rows_and_channels_become_findings_not_failures(db) {
        let mut doc: Value = serde_json::from_str(&read_fixture("gym4.json")).unwrap();
        doc["db"]["chat_rooms"][0]["status"] = Value::Null;
        doc["db"]["chat_members"].as_array_mut().unwrap().push(json!({ "room_id": null, "user_id": 10 }));
        let duplicate = doc["db"]["chat_members"][0].clone();
        doc["db"]["chat_members"].as_array_mut().unwrap().push(duplicate);
        doc["db"]["chat_rooms"].as_array_mut().unwrap().push(json!({
            "id": 700, "stream_channel_id": null, "name": "No channel", "gym_id": 4, "status": "ACTIVE",
        }));
        let fixture = DbFixture::from_json(&doc.to_string()).unwrap();
        let mut snapshot = load_snapshot(&fixture_path("gym4.json")).unwrap();
        let mut generated = snapshot.channels[4].clone();
        generated.id = "!members-Zx9".into();
        generated.messages.clear();
        snapshot.channels.push(generated);
        let w = world(&db, &fixture, snapshot, false).await;
        let g = audit_of(&w, 4).await.gyms.remove(0);
        assert!(g.complete, "{:?}", g.sources);
        assert_eq!(g.summary.total_db_chatrooms, 16);
        assert_eq!(g.summary.db_only, 10, "the room without a channel id is db-only");
        assert_eq!(g.of_kind(FindingKind::MemberRowsWithoutRoom).count(), 1);
        let generated = g.of_kind(FindingKind::StreamOnly).find(|f| f.cid.as_deref() == Some("messaging:!members-Zx9")).unwrap();
        assert_eq!(generated.evidence["class"], "stream_generated");
        assert!(!generated.destructive, "nothing proves a generated channel orphaned");
        // The room with NULL status is read as active and synced like the others.
        assert_eq!(g.summary.synced, 6);
    }
}

on_both_backends! {
    async fn moved_away_channels_are_archived_and_retired_rooms_are_not_db_only(db) {
        let w = gym4(&db).await;
        let gym = GymId::new(4).unwrap();
        // Room 639 moves to a target channel, as the migration will do it.
        let target = move_room_639(&w, None).await;
        let now = Utc::now();
        let mut s = w.store.session().await.unwrap();
        s.record_channel_move(&ChannelMove {
            room_id: RoomId::new(639).unwrap(),
            gym_id: gym,
            old_cid: "messaging:room_General_10".into(),
            new_cid: target.to_string(),
            run_id: "run-1".into(),
            moved_at: now,
        })
        .await
        .unwrap();
        // Room 641's channel is gone; cleanup retired it.
        s.record_retired_room(&RetiredRoom {
            room_id: RoomId::new(641).unwrap(),
            gym_id: gym,
            cid: Some("event_604_d3d94468".into()),
            run_id: "cleanup-1".into(),
            retired_at: now,
        })
        .await
        .unwrap();

        let g = audit_of(&w, 4).await.gyms.remove(0);
        assert_eq!(g.archived.len(), 1);
        assert_eq!((g.archived[0].cid.as_str(), g.archived[0].room_id), ("messaging:room_General_10", 639));
        assert_eq!(g.retired.iter().map(|r| r.room_id).collect::<Vec<_>>(), [641]);
        assert_eq!((g.summary.synced, g.summary.stream_only, g.summary.db_only), (6, 2, 8));
        let moved: Vec<&gymchat_ops::audit::Finding> =
            g.findings.iter().filter(|f| f.room_id == Some(639)).collect();
        assert!(moved.is_empty(), "the moved room's target channel is clean: {moved:?}");
    }
}

on_both_backends! {
    async fn a_target_channel_member_whose_stream_user_lacks_the_team_is_a_finding(db) {
        let w = gym4(&db).await;
        move_room_639(&w, Some(17)).await;

        let g = audit_of(&w, 4).await.gyms.remove(0);
        let found: Vec<&gymchat_ops::audit::Finding> = g.findings.iter().filter(|f| f.room_id == Some(639)).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, FindingKind::MembersNotInTeam);
        assert_eq!(found[0].evidence["members"], json!(["gym_4_user_17"]));
    }
}

#[test]
fn the_html_report_is_one_self_contained_page() {
    let report: AuditReport =
        AuditReport { version: audit::REPORT_VERSION, generated_at: Utc::now(), complete: false, gyms: Vec::new() };
    let page = audit::html::render(&report);
    assert!(page.starts_with("<!doctype html>") && page.contains("some reads incomplete"));
    for external in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!page.contains(external), "the page must not load anything: {external}");
    }
}
