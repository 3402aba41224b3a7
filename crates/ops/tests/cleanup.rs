//! Cleanup on real databases (Postgres and SQLite) and the sandbox over HTTP: the reference
//! scenario cleaned up to nothing stream-only or db-only, a dry run that changes nothing, an undo
//! that restores the database rows byte for byte, and every refusal.

use gymchat_ids::{Cid, GymId};
use gymchat_ops::audit;
use gymchat_ops::cleanup::{self, Options, Plan};
use gymchat_sandbox::Snapshot;
use gymchat_sandbox::model::MessageRec;
use gymchat_store::DbFixture;
use gymchat_testkit::{TestDb, on_both_backends, read_fixture};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Connection, Executor, Row};

mod support;

use support::{World, gym4, gym4_fixture, gym4_snapshot, query_channels_outage, world};

async fn world_with(db: &TestDb, snapshot: Snapshot, fixture: &str) -> World {
    world(db, &DbFixture::from_json(fixture).unwrap(), snapshot, false).await
}

async fn plan_for(w: &World, options: Options) -> Plan {
    let report = audit::audit(&w.store, &w.client, &[GymId::new(4).unwrap()], &|_| {}).await.unwrap();
    cleanup::plan::plan(&report, options)
}

async fn summary(w: &World) -> Value {
    let report = audit::audit(&w.store, &w.client, &[GymId::new(4).unwrap()], &|_| {}).await.unwrap();
    serde_json::to_value(&report.gyms[0].summary).unwrap()
}

/// Every row of `table`, the given columns as the database prints them, ordered by the first.
async fn table_as_stored(db: &TestDb, table: &str, cols: &[&str]) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(db.url()).await.unwrap();
    let select: Vec<String> = cols.iter().map(|c| format!("COALESCE(CAST({c} AS TEXT), 'NULL')")).collect();
    let sql = format!("SELECT {} AS line FROM {table} ORDER BY {}", select.join(" || '|' || "), cols.join(", "));
    let rows = conn.fetch_all(sqlx::AssertSqlSafe(sql)).await.unwrap();
    conn.close().await.unwrap();
    rows.iter().map(|r| r.get::<String, _>("line")).collect()
}

/// Every row of `chat_rooms`, each column as the database prints it.
async fn rooms_as_stored(db: &TestDb) -> Vec<String> {
    let cols = [
        "id",
        "stream_channel_id",
        "stream_channel_type",
        "name",
        "gym_id",
        "event_id",
        "is_direct",
        "status",
        "created_at",
        "updated_at",
    ];
    table_as_stored(db, "chat_rooms", &cols).await
}

/// The member and hidden rows, each column as the database prints it.
async fn room_rows_as_stored(db: &TestDb) -> (Vec<String>, Vec<String>) {
    (
        table_as_stored(db, "chat_members", &["id", "room_id", "user_id", "joined_at"]).await,
        table_as_stored(db, "chat_member_hidden", &["user_id", "room_id", "hidden_at"]).await,
    )
}

on_both_backends! {
    async fn remove_rooms_deletes_their_rows_and_undo_writes_them_back_byte_for_byte(db) {
        // A hidden row for one of the rooms that will go, so every table is exercised.
        let mut doc: Value = serde_json::from_str(&read_fixture("gym4.json")).unwrap();
        doc["db"]["chat_member_hidden"].as_array_mut().unwrap().push(json!({ "user_id": 10, "room_id": 641, "hidden_at": "2025-10-02T08:30:00Z" }));
        let w = world_with(&db, gym4_snapshot(), &doc.to_string()).await;
        let before = (rooms_as_stored(&db).await, room_rows_as_stored(&db).await);
        let options = Options { remove_rooms: true, ..Options::default() };
        let plan = plan_for(&w, options).await;
        let kinds: Vec<&str> = plan.actions.iter().map(|a| a.kind().as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "remove_room").count(), 9, "{kinds:?}");
        assert!(!kinds.contains(&"retire_room"));

        let applied = cleanup::apply(&w.store, &w.client, &plan, options).await.unwrap();
        assert!(applied.all_done(), "{:?}", applied.outcomes);
        let after = summary(&w).await;
        assert_eq!((after["db_only"].as_u64(), after["total_db_chatrooms"].as_u64(), after["retired"].as_u64()), (Some(0), Some(6), Some(0)));
        let (members, hidden) = room_rows_as_stored(&db).await;
        assert_eq!(members.len(), before.1.0.len() - 9, "each removed room had one member row");
        assert_eq!(hidden.len(), 1, "the removed room's hidden row went with it");

        let undone = cleanup::undo(&w.store, &applied.run_id).await.unwrap();
        assert_eq!(undone.restored.len(), 9, "{undone:?}");
        assert_eq!((rooms_as_stored(&db).await, room_rows_as_stored(&db).await), before, "every row as it was, byte for byte");
        assert_eq!(summary(&w).await["db_only"], 9);
    }
}

on_both_backends! {
    async fn the_reference_scenario_is_cleaned_up_and_undone_byte_for_byte(db) {
        // Two of the rooms whose channel is gone are not marked closed: one ACTIVE, one NULL.
        let mut doc: Value = serde_json::from_str(&read_fixture("gym4.json")).unwrap();
        for room in doc["db"]["chat_rooms"].as_array_mut().unwrap() {
            match room["id"].as_i64() {
                Some(641) => room["status"] = json!("ACTIVE"),
                Some(640) => room["status"] = Value::Null,
                _ => {}
            }
        }
        let w = world_with(&db, gym4_snapshot(), &doc.to_string()).await;
        let before_rows = rooms_as_stored(&db).await;
        let options = Options::default();

        // A dry run: the plan, and nothing changed.
        let plan = plan_for(&w, options).await;
        let kinds: Vec<&str> = plan.actions.iter().map(|a| a.kind().as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "delete_channel").count(), 2);
        assert_eq!(kinds.iter().filter(|k| **k == "retire_room").count(), 9);
        assert!(plan.refused.is_empty(), "{:?}", plan.refused);
        assert_eq!(rooms_as_stored(&db).await, before_rows, "planning changes nothing");

        let applied = cleanup::apply(&w.store, &w.client, &plan, options).await.unwrap();
        assert!(applied.all_done(), "{:?}", applied.outcomes);
        let after = summary(&w).await;
        assert_eq!((after["stream_only"].as_u64(), after["db_only"].as_u64(), after["retired"].as_u64()), (Some(0), Some(0), Some(9)));
        let orphan = Cid::parse("messaging:event_644_d3d94468").unwrap();
        assert!(!w.client.channel_exists(&orphan).await.unwrap(), "the orphaned channel is deleted");
        assert_ne!(rooms_as_stored(&db).await, before_rows);

        let undone = cleanup::undo(&w.store, &applied.run_id).await.unwrap();
        assert_eq!(undone.restored.len(), 9);
        assert_eq!(undone.not_undoable.len(), 3, "2 channel deletes and 1 freeze are Stream's side: {:?}", undone.not_undoable);
        assert_eq!(rooms_as_stored(&db).await, before_rows, "every room row as it was, byte for byte");
        assert_eq!(summary(&w).await["retired"], 0);
        assert!(matches!(cleanup::undo(&w.store, &applied.run_id).await, Err(cleanup::CleanupError::NoSuchRun(_))));
    }
}

on_both_backends! {
    async fn a_channel_with_messages_is_kept_unless_asked(db) {
        let mut snapshot = gym4_snapshot();
        let orphan = snapshot.channels.iter_mut().find(|c| c.id == "event_644_d3d94468").unwrap();
        orphan.messages.push(MessageRec {
            id: "keep-me".into(),
            user_id: "user_10".into(),
            text: "still here".into(),
            kind: "regular".into(),
            created_at: chrono::Utc::now(),
            command: None,
            reactions: Vec::new(),
            custom: serde_json::Map::new(),
        });
        let w = world(&db, &gym4_fixture(), snapshot, false).await;
        let plan = plan_for(&w, Options::default()).await;
        assert!(plan.refused.iter().any(|r| r.target == "messaging:event_644_d3d94468" && r.reason.contains("1 messages")), "{:?}", plan.refused);
        assert!(!plan.actions.iter().any(|a| a.target() == "messaging:event_644_d3d94468"));
        let asked = plan_for(&w, Options { include_with_messages: true, ..Options::default() }).await;
        assert!(asked.actions.iter().any(|a| a.target() == "messaging:event_644_d3d94468"));
    }
}

on_both_backends! {
    async fn a_single_channel_is_deleted_only_when_proven_orphaned(db) {
        let w = gym4(&db).await;
        let options = Options::default();
        let cid = |c: &str| Cid::parse(c).unwrap();
        // A room points at it.
        let general = cleanup::plan_for_channel(&w.store, &w.client, &cid("messaging:room_General_10"), options).await.unwrap();
        assert!(general.actions.is_empty() && general.refused[0].reason.contains("points at it"), "{:?}", general.refused);
        // No gym_{G} team: gymchat cannot tell whose it is.
        let direct = cleanup::plan_for_channel(&w.store, &w.client, &cid("messaging:direct_user_10_user_8"), options).await.unwrap();
        assert!(direct.actions.is_empty() && direct.refused[0].reason.contains("team"), "{:?}", direct.refused);
        // Proven orphaned: its event is gone.
        let orphan = cleanup::plan_for_channel(&w.store, &w.client, &cid("messaging:event_656_d3d94468"), options).await.unwrap();
        assert_eq!(orphan.actions.len(), 1);
        let applied = cleanup::apply(&w.store, &w.client, &orphan, options).await.unwrap();
        assert!(applied.all_done());
        assert!(!w.client.channel_exists(&cid("messaging:event_656_d3d94468")).await.unwrap());
        assert!(w.client.channel_exists(&cid("messaging:event_644_d3d94468")).await.unwrap(), "only that channel");
    }
}

on_both_backends! {
    async fn an_incomplete_audit_gives_no_action_at_all(db) {
        let w = gym4(&db).await;
        query_channels_outage(&w).await;
        let plan = plan_for(&w, Options::default()).await;
        assert!(!plan.complete && plan.actions.is_empty(), "{plan:?}");
        assert!(plan.refused[0].reason.contains("complete audits only"));
    }
}

on_both_backends! {
    async fn a_report_that_is_out_of_date_is_not_acted_on(db) {
        let w = gym4(&db).await;
        let options = Options::default();
        let old = audit::audit(&w.store, &w.client, &[GymId::new(4).unwrap()], &|_| {}).await.unwrap();
        // Someone deletes one orphan by hand after the report was written.
        let orphan = cleanup::plan_for_channel(&w.store, &w.client, &Cid::parse("messaging:event_644_d3d94468").unwrap(), options).await.unwrap();
        cleanup::apply(&w.store, &w.client, &orphan, options).await.unwrap();
        let mut plan = plan_for(&w, options).await;
        cleanup::restrict_to(&mut plan, &cleanup::plan::plan(&old, options));
        assert!(plan.refused.iter().any(|r| r.target == "messaging:event_644_d3d94468" && r.reason.contains("out of date")), "{:?}", plan.refused);
        assert!(plan.actions.iter().any(|a| a.target() == "messaging:event_656_d3d94468"));
    }
}
