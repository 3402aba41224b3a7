//! Adopting an existing production database: tables built the way production has them (Postgres
//! enum types, int4 ids, naive timestamps, nullable `chat_members.room_id` with NULL rows,
//! duplicate member rows, the leftover `chat_members.auth0_user_id`) must come through gymchat's
//! migrations unchanged, with only `gymchat_` tables added, and read back correctly.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use gymchat_ids::{EventId, GymId, RoomId, UserId};
use gymchat_store::*;
use gymchat_testkit::{TestDb, on_both_backends, read_shared_fixture};
use sqlx::{AnyConnection, Connection, Executor, Row};

const PRODUCTION_ENUMS_POSTGRES: &str = r#"
CREATE TYPE userrole AS ENUM ('SUPER_ADMIN', 'ADMIN', 'TRAINER', 'MEMBER');
CREATE TYPE gymrole AS ENUM ('OWNER', 'ADMIN', 'TRAINER', 'MEMBER');
CREATE TYPE eventstatus AS ENUM ('SCHEDULED', 'CANCELLED', 'COMPLETED');
CREATE TYPE participationstatus AS ENUM ('REGISTERED', 'PENDING_PAYMENT', 'CANCELLED', 'WAITING_LIST');
CREATE TYPE chatroomstatus AS ENUM ('ACTIVE', 'CLOSED');
"#;

/// The production tables; `{role}` etc. are enum types on Postgres and VARCHAR on SQLite.
const PRODUCTION_TABLES: &str = r#"
CREATE TABLE gyms (id {serial} PRIMARY KEY, name VARCHAR NOT NULL, subdomain VARCHAR UNIQUE, logo_url VARCHAR, is_active BOOLEAN);
CREATE TABLE "user" (id {serial} PRIMARY KEY, email VARCHAR NOT NULL UNIQUE, first_name VARCHAR, last_name VARCHAR,
    picture VARCHAR, auth0_id VARCHAR UNIQUE, is_active BOOLEAN, role {userrole} NOT NULL, created_at TIMESTAMP);
CREATE TABLE user_gyms (id {serial} PRIMARY KEY, user_id INTEGER REFERENCES "user" (id), gym_id INTEGER REFERENCES gyms (id),
    role {gymrole}, is_active BOOLEAN, membership_expires_at TIMESTAMP, UNIQUE (user_id, gym_id));
CREATE TABLE events (id {serial} PRIMARY KEY, gym_id INTEGER, title VARCHAR, start_time TIMESTAMP, end_time TIMESTAMP,
    status {eventstatus}, creator_id INTEGER);
CREATE TABLE event_participations (id {serial} PRIMARY KEY, event_id INTEGER, member_id INTEGER, gym_id INTEGER,
    status {participationstatus});
CREATE TABLE chat_rooms (id {serial} PRIMARY KEY, stream_channel_id VARCHAR UNIQUE, stream_channel_type VARCHAR DEFAULT 'messaging',
    name VARCHAR, gym_id INTEGER NOT NULL, event_id INTEGER, is_direct BOOLEAN, status {chatroomstatus},
    created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE chat_members (id {serial} PRIMARY KEY, room_id INTEGER, user_id INTEGER, auth0_user_id VARCHAR, joined_at TIMESTAMP);
CREATE TABLE chat_member_hidden (id {serial} PRIMARY KEY, user_id INTEGER, room_id INTEGER, hidden_at TIMESTAMP,
    UNIQUE (user_id, room_id));
"#;

const PRODUCTION_ROWS: &str = r#"
INSERT INTO gyms (id, name, subdomain, is_active) VALUES (4, 'Iron Temple', 'iron-temple', TRUE);
INSERT INTO "user" (id, email, first_name, last_name, auth0_id, is_active, role) VALUES
    (10, 'ana@example.test', 'Ana', 'Torres', 'auth0|a1', TRUE, 'SUPER_ADMIN'),
    (8, 'bruno@example.test', 'Bruno', NULL, 'google-oauth2|b2', TRUE, 'MEMBER');
INSERT INTO user_gyms (user_id, gym_id, role, is_active) VALUES (10, 4, 'OWNER', TRUE), (8, 4, 'TRAINER', TRUE);
INSERT INTO events (id, gym_id, title, start_time, end_time, status, creator_id) VALUES
    (639, 4, 'Fuerza', '2025-12-20 18:00:00', '2025-12-20 19:30:00', 'SCHEDULED', 10);
INSERT INTO event_participations (event_id, member_id, gym_id, status) VALUES (639, 8, 4, 'PENDING_PAYMENT');
INSERT INTO chat_rooms (id, stream_channel_id, name, gym_id, event_id, is_direct, status, created_at, updated_at) VALUES
    (638, 'direct_user_10_user_8', 'Chat', 4, NULL, TRUE, 'ACTIVE', '2025-09-01 10:00:00', '2025-09-01 10:00:00'),
    (665, 'event_639_d3d94468', 'Evento', 4, 639, FALSE, 'ACTIVE', '2025-09-01 10:00:00', '2025-09-01 10:00:00');
INSERT INTO chat_members (room_id, user_id, auth0_user_id, joined_at) VALUES
    (638, 10, 'auth0|a1', '2025-09-01 10:00:00'),
    (638, 8, NULL, '2025-09-01 10:00:00'),
    (638, 8, NULL, '2025-09-02 10:00:00'),
    (NULL, 10, 'auth0|a1', '2025-09-01 10:00:00'),
    (665, 10, NULL, '2025-09-01 10:00:00');
INSERT INTO chat_member_hidden (user_id, room_id, hidden_at) VALUES (8, 638, '2025-12-10 09:00:00');
"#;

fn production_ddl(postgres: bool) -> String {
    let mut ddl = PRODUCTION_TABLES.to_owned();
    for ty in ["userrole", "gymrole", "eventstatus", "participationstatus", "chatroomstatus"] {
        ddl = ddl.replace(&format!("{{{ty}}}"), if postgres { ty } else { "VARCHAR" });
    }
    ddl = ddl.replace("{serial}", if postgres { "SERIAL" } else { "INTEGER" });
    if postgres { format!("{PRODUCTION_ENUMS_POSTGRES}{ddl}") } else { ddl }
}

/// Everything that describes the schema: tables, columns with types and nullability, indexes and
/// constraints, one line each.
async fn schema_snapshot(db: &TestDb) -> BTreeSet<String> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(db.url()).await.unwrap();
    let sql = if db.is_postgres() {
        "SELECT 'column ' || table_name || '.' || column_name || ' ' || udt_name || ' nullable=' || is_nullable \
           || ' default=' || COALESCE(column_default, '') AS line \
         FROM information_schema.columns WHERE table_schema = 'public' \
         UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
         UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
         UNION ALL SELECT 'type ' || typname FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype = 'e'"
    } else {
        "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS line FROM sqlite_master"
    };
    let rows = conn.fetch_all(sql).await.unwrap();
    conn.close().await.unwrap();
    rows.iter().map(|r| r.get::<String, _>("line")).collect()
}

async fn build_production(db: &TestDb, with_rows: bool) {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&format!("{}{}", db.url(), if db.is_postgres() { "" } else { "?mode=rwc" }))
        .await
        .unwrap();
    conn.execute(sqlx::AssertSqlSafe(production_ddl(db.is_postgres()))).await.unwrap();
    if with_rows {
        conn.execute(PRODUCTION_ROWS).await.unwrap();
    }
    conn.close().await.unwrap();
}

fn is_gymchat_line(line: &str) -> bool {
    line.contains("gymchat_")
}

on_both_backends! {
    async fn production_tables_are_adopted_unchanged(db) {
        build_production(&db, true).await;
        let before = schema_snapshot(&db).await;
        assert!(before.iter().any(|l| l.contains("chat_members") && l.contains("auth0_user_id")), "{before:#?}");
        assert!(before.iter().any(|l| l.contains("chat_member_hidden") && l.contains("UNIQUE")), "{before:#?}");

        let store = Store::open(db.url()).await.unwrap();
        store.close().await;
        let store = Store::open(db.url()).await.unwrap();

        let after = schema_snapshot(&db).await;
        let platform_after: BTreeSet<String> = after.iter().filter(|l| !is_gymchat_line(l)).cloned().collect();
        assert_eq!(platform_after, before, "the platform's schema must not change");
        let added: Vec<&String> = after.difference(&before).collect();
        assert!(added.iter().any(|l| l.contains(MIGRATIONS_TABLE)), "{added:#?}");
        assert!(added.iter().any(|l| l.contains("gymchat_locks")), "{added:#?}");

        let mut s = store.session().await.unwrap();
        let ana = s.user_by_auth0("auth0|a1").await.unwrap().unwrap();
        assert_eq!((ana.id, ana.role), (UserId::new(10).unwrap(), PlatformRole::SuperAdmin));
        let gym4 = GymId::new(4).unwrap();
        assert_eq!(s.membership(UserId::new(8).unwrap(), gym4).await.unwrap().unwrap().role, GymRole::Trainer);
        let event = s.event(EventId::new(639).unwrap()).await.unwrap().unwrap();
        assert_eq!(event.start_time, Utc.with_ymd_and_hms(2025, 12, 20, 18, 0, 0).unwrap(), "naive times are UTC");
        let parts = s.participations(EventId::new(639).unwrap()).await.unwrap();
        assert_eq!(parts[0].status, ParticipationStatus::PendingPayment);

        let rooms = s.rooms_with_members(gym4).await.unwrap();
        let members: Vec<(i64, Vec<i64>)> =
            rooms.iter().map(|r| (r.room.id.get(), r.members.iter().map(|m| m.get()).collect())).collect();
        assert_eq!(members, vec![(638, vec![8, 10]), (665, vec![10])], "duplicates collapse, NULL rooms are ignored");
        assert_eq!(rooms[0].room.created_at, Utc.with_ymd_and_hms(2025, 9, 1, 10, 0, 0).unwrap());

        // Writes go through too, enum columns included.
        let now = Utc.with_ymd_and_hms(2026, 2, 1, 12, 0, 0).unwrap();
        let room = RoomId::new(665).unwrap();
        assert!(s.set_room_status(room, RoomStatus::Closed, now).await.unwrap());
        assert!(s.set_room_stream_channel_id(room, "event_4_639", now).await.unwrap());
        s.hide_room(UserId::new(10).unwrap(), room, now).await.unwrap();
        let reread = s.room(room).await.unwrap().unwrap();
        assert_eq!((reread.status, reread.stream_channel_id.as_deref(), reread.updated_at), (RoomStatus::Closed, Some("event_4_639"), now));
        assert_eq!(s.hidden_rooms(UserId::new(10).unwrap()).await.unwrap()[0].hidden_at, now);
    }
}

on_both_backends! {
    async fn the_fixture_loads_into_production_shaped_tables(db) {
        build_production(&db, false).await;
        let store = Store::open(db.url()).await.unwrap();
        let fixture = DbFixture::from_json(&read_shared_fixture("gym4.json")).unwrap();
        store.load_fixture(&fixture).await.unwrap();
        let mut s = store.session().await.unwrap();
        let rooms = s.rooms_with_members(GymId::new(4).unwrap()).await.unwrap();
        assert_eq!(rooms.len(), 15);
        assert_eq!(rooms.iter().filter(|r| r.room.status == RoomStatus::Closed).count(), 9);
        assert_eq!(s.user(UserId::new(8).unwrap()).await.unwrap().unwrap().role, PlatformRole::Member);
    }
}
