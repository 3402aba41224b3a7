//! The one index gymchat needs on a platform table, made only where the platform has none:
//! production's own schema (`schema/production-schema.sql`, the platform's schema as its
//! migrations and models leave it, with `ix_chat_members_user_id_room_id`) comes through
//! gymchat's migrations with nothing added to its tables; and a database that an earlier gymchat
//! migrated (migration 0007's old text, which made `gymchat_chat_members_user` unconditionally)
//! opens, with gymchat's index dropped once the platform's is there.

use std::collections::BTreeSet;

use gymchat_store::{MIGRATIONS_TABLE, Store};
use gymchat_testkit::{TestDb, on_both_backends};
use sqlx::{AnyConnection, Connection, Executor, Row};

const PRODUCTION_SCHEMA: &str = include_str!("schema/production-schema.sql");

async fn connect(db: &TestDb) -> AnyConnection {
    sqlx::any::install_default_drivers();
    let mode = if db.is_postgres() { "" } else { "?mode=rwc" };
    AnyConnection::connect(&format!("{}{mode}", db.url())).await.unwrap()
}

/// Every column, index and constraint of the platform's tables (not gymchat's own), as lines.
async fn platform_schema(db: &TestDb) -> BTreeSet<String> {
    let mut conn = connect(db).await;
    let rows = conn
        .fetch_all(
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || udt_name || ' nullable=' || is_nullable \
               || ' default=' || COALESCE(column_default, '') AS line \
             FROM information_schema.columns WHERE table_schema = 'public' \
             UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
             UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
        )
        .await
        .unwrap();
    conn.close().await.unwrap();
    let lines = rows.iter().map(|r| r.get::<String, _>("line"));
    lines
        .filter(|l| !l.contains(".gymchat_") && !l.contains("ON public.gymchat_") && !l.contains(" gymchat_"))
        .collect()
}

/// The names of the indexes of `chat_members` that lead with `(user_id, room_id)`.
async fn member_indexes(db: &TestDb) -> BTreeSet<String> {
    let mut conn = connect(db).await;
    let sql = if db.is_postgres() {
        "SELECT indexname::text AS name FROM pg_indexes WHERE tablename = 'chat_members' AND indexdef LIKE '%(user_id, room_id)'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'chat_members' AND sql LIKE '%(user_id, room_id)'"
    };
    let rows = conn.fetch_all(sql).await.unwrap();
    conn.close().await.unwrap();
    rows.iter().map(|r| r.get::<String, _>("name")).collect()
}

#[tokio::test]
async fn productions_own_schema_is_adopted_with_nothing_added_to_its_tables() {
    let db = TestDb::postgres().await;
    let mut conn = connect(&db).await;
    conn.execute(sqlx::AssertSqlSafe(PRODUCTION_SCHEMA)).await.unwrap();
    conn.close().await.unwrap();
    let before = platform_schema(&db).await;
    assert!(before.iter().any(|l| l.contains("ix_chat_members_user_id_room_id")), "{before:#?}");

    Store::open(db.url()).await.unwrap().close().await;
    Store::open(db.url()).await.unwrap().close().await;

    assert_eq!(platform_schema(&db).await, before, "db migrate changes nothing in the platform's tables");
    assert_eq!(member_indexes(&db).await, BTreeSet::from(["ix_chat_members_user_id_room_id".to_owned()]));
}

on_both_backends! {
    async fn a_database_an_earlier_gymchat_migrated_opens_and_keeps_one_member_index(db) {
        // gymchat's own tables on an empty database: no platform index, so gymchat makes its own.
        Store::open(db.url()).await.unwrap().close().await;
        assert_eq!(member_indexes(&db).await, BTreeSet::from(["gymchat_chat_members_user".to_owned()]));

        // As an earlier gymchat left it: migration 0007 applied with its old text. Then the
        // platform adds its own index.
        let mut conn = connect(&db).await;
        let old = if db.is_postgres() { "'\\x00'::bytea" } else { "X'00'" };
        conn.execute(sqlx::AssertSqlSafe(format!("UPDATE {MIGRATIONS_TABLE} SET checksum = {old} WHERE version = 7"))).await.unwrap();
        conn.execute("CREATE INDEX ix_chat_members_user_id_room_id ON chat_members (user_id, room_id)").await.unwrap();
        conn.close().await.unwrap();

        Store::open(db.url()).await.unwrap().close().await;
        assert_eq!(member_indexes(&db).await, BTreeSet::from(["ix_chat_members_user_id_room_id".to_owned()]), "gymchat's duplicate is gone");
        let mut conn = connect(&db).await;
        let stamped = conn.fetch_one(sqlx::AssertSqlSafe(format!("SELECT checksum FROM {MIGRATIONS_TABLE} WHERE version = 7"))).await.unwrap();
        assert_ne!(stamped.get::<Vec<u8>, _>(0), vec![0], "0007 carries the checksum of its current text");
        conn.close().await.unwrap();
        // Opening again changes nothing.
        Store::open(db.url()).await.unwrap().close().await;
        assert_eq!(member_indexes(&db).await, BTreeSet::from(["ix_chat_members_user_id_room_id".to_owned()]));
    }
}
