//! Adopting an existing production database (SYSTEM.md §2): tables built the way production has
//! them (enum types `userrole`, `gymroletype`, `eventstatus`, `eventparticipationstatus`,
//! `chatroomstatus`; int4 ids; `timestamptz` event times and `user.created_at` beside naive chat
//! times; nullable columns holding NULL; NOT NULL columns without a default; no unique key on
//! participations or members; `chat_rooms.event_id` referencing `events`; the leftover
//! `chat_members.auth0_user_id`) come through gymchat's migrations unchanged, and every repository
//! reads their odd rows the way the model documents, setting aside only the row it cannot read.

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone, Utc};
use gymchat_ids::{EventId, GymId, RoomId, UserId};
use gymchat_store::*;
use gymchat_testkit::{TestDb, on_both_backends, read_fixture};
use sqlx::{AnyConnection, Connection, Executor, Row};

const PRODUCTION_ENUMS_POSTGRES: &str = r#"
CREATE TYPE userrole AS ENUM ('SUPER_ADMIN', 'ADMIN', 'TRAINER', 'MEMBER');
CREATE TYPE gymroletype AS ENUM ('OWNER', 'ADMIN', 'TRAINER', 'MEMBER');
CREATE TYPE eventstatus AS ENUM ('SCHEDULED', 'CANCELLED', 'COMPLETED');
CREATE TYPE eventparticipationstatus AS ENUM ('REGISTERED', 'PENDING_PAYMENT', 'CANCELLED', 'WAITING_LIST');
CREATE TYPE chatroomstatus AS ENUM ('ACTIVE', 'CLOSED');
"#;

/// Production's tables; `{userrole}` etc. are enum types on Postgres and VARCHAR on SQLite.
const PRODUCTION_TABLES: &str = r#"
CREATE TABLE gyms (id {serial} PRIMARY KEY, name VARCHAR NOT NULL, subdomain VARCHAR UNIQUE, logo_url VARCHAR,
    is_active BOOLEAN, timezone VARCHAR NOT NULL);
CREATE TABLE "user" (id {serial} PRIMARY KEY, email VARCHAR NOT NULL UNIQUE, first_name VARCHAR, last_name VARCHAR,
    picture VARCHAR, auth0_id VARCHAR UNIQUE, is_active BOOLEAN, role {userrole}, created_at TIMESTAMPTZ);
CREATE TABLE user_gyms (id {serial} PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES "user" (id),
    gym_id INTEGER NOT NULL REFERENCES gyms (id), role {gymroletype} NOT NULL, is_active BOOLEAN,
    membership_expires_at TIMESTAMP, membership_type VARCHAR NOT NULL, UNIQUE (user_id, gym_id));
CREATE TABLE events (id {serial} PRIMARY KEY, gym_id INTEGER NOT NULL REFERENCES gyms (id), title VARCHAR,
    start_time TIMESTAMPTZ NOT NULL, end_time TIMESTAMPTZ NOT NULL, status {eventstatus},
    creator_id INTEGER REFERENCES "user" (id), max_participants INTEGER NOT NULL);
CREATE TABLE event_participations (id {serial} PRIMARY KEY, event_id INTEGER NOT NULL REFERENCES events (id),
    member_id INTEGER NOT NULL REFERENCES "user" (id), gym_id INTEGER NOT NULL REFERENCES gyms (id),
    status {eventparticipationstatus});
CREATE TABLE chat_rooms (id {serial} PRIMARY KEY, stream_channel_id VARCHAR UNIQUE,
    stream_channel_type VARCHAR DEFAULT 'messaging', name VARCHAR, gym_id INTEGER NOT NULL REFERENCES gyms (id),
    event_id INTEGER REFERENCES events (id), is_direct BOOLEAN, status {chatroomstatus},
    created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE chat_members (id {serial} PRIMARY KEY, room_id INTEGER REFERENCES chat_rooms (id),
    user_id INTEGER NOT NULL REFERENCES "user" (id), auth0_user_id VARCHAR, joined_at TIMESTAMP);
CREATE TABLE chat_member_hidden (id {serial} PRIMARY KEY, user_id INTEGER REFERENCES "user" (id),
    room_id INTEGER REFERENCES chat_rooms (id), hidden_at TIMESTAMP, UNIQUE (user_id, room_id));
"#;

/// The odd rows production holds, one or more of each shape.
const PRODUCTION_ROWS: &str = r#"
INSERT INTO gyms (id, name, subdomain, is_active, timezone) VALUES
    (4, 'Iron Temple', 'iron-temple', NULL, 'Europe/Madrid'),
    (5, 'Other Gym', 'other', TRUE, 'UTC');
INSERT INTO "user" (id, email, first_name, last_name, auth0_id, is_active, role, created_at) VALUES
    (10, 'ana@example.test', 'Ana', 'Torres', 'auth0|a1', TRUE, 'SUPER_ADMIN', '2025-01-01 10:00:00+02'),
    (8, 'bruno@example.test', 'Bruno', NULL, 'google-oauth2|b2', NULL, NULL, NULL),
    (11, 'carla@example.test', 'Carla', 'Ruiz', NULL, FALSE, 'MEMBER', NULL);
INSERT INTO user_gyms (user_id, gym_id, role, is_active, membership_expires_at, membership_type) VALUES
    (10, 4, 'OWNER', TRUE, NULL, 'MONTHLY'),
    (8, 4, 'TRAINER', NULL, NULL, 'MONTHLY'),
    (11, 4, 'MEMBER', TRUE, '2025-06-30 00:00:00', 'MONTHLY'),
    (8, 5, 'MEMBER', TRUE, NULL, 'YEARLY');
INSERT INTO events (id, gym_id, title, start_time, end_time, status, creator_id, max_participants) VALUES
    (639, 4, 'Fuerza', '2025-12-20 19:00:00+01', '2025-12-20 20:30:00+01', NULL, 10, 20),
    (640, 4, NULL, '2025-11-01 18:00:00+00', '2025-11-01 19:00:00+00', 'COMPLETED', NULL, 10),
    (641, 4, 'Never ends', '2025-11-02 18:00:00+00', 'infinity', 'SCHEDULED', 10, 10);
INSERT INTO event_participations (event_id, member_id, gym_id, status) VALUES
    (639, 8, 4, 'REGISTERED'),
    (639, 11, 4, NULL),
    (639, 10, 4, 'PENDING_PAYMENT'),
    (639, 8, 4, 'CANCELLED');
INSERT INTO chat_rooms (id, stream_channel_id, stream_channel_type, name, gym_id, event_id, is_direct, status, created_at, updated_at) VALUES
    (638, 'direct_user_10_user_8', 'messaging', 'Chat', 4, NULL, TRUE, 'ACTIVE', '2025-09-01 10:00:00', '2025-09-01 10:00:00'),
    (665, 'event_639_d3d94468', NULL, 'Evento', 4, 639, NULL, NULL, NULL, NULL),
    (666, 'event_640_d3d94468', 'messaging', NULL, 4, 640, FALSE, 'CLOSED', '2025-10-01 10:00:00', NULL),
    (670, 'room_General_21', 'messaging', 'General', 5, NULL, FALSE, 'ACTIVE', '2025-09-01 10:00:00', '2025-09-01 10:00:00');
INSERT INTO chat_members (room_id, user_id, auth0_user_id, joined_at) VALUES
    (638, 10, 'auth0|a1', '2025-09-01 10:00:00'),
    (638, 8, NULL, '2025-09-01 10:00:00'),
    (638, 8, NULL, '2025-09-02 10:00:00'),
    (NULL, 10, 'auth0|a1', '2025-09-01 10:00:00'),
    (NULL, 11, NULL, NULL),
    (665, 10, NULL, NULL),
    (665, 11, NULL, '2025-09-03 10:00:00'),
    (670, 8, NULL, '2025-09-01 10:00:00');
INSERT INTO chat_member_hidden (user_id, room_id, hidden_at) VALUES (8, 638, NULL), (8, 665, '2025-12-10 09:00:00');
"#;

fn production_ddl(postgres: bool) -> String {
    let mut ddl = PRODUCTION_TABLES.to_owned();
    for ty in ["userrole", "gymroletype", "eventstatus", "eventparticipationstatus", "chatroomstatus"] {
        ddl = ddl.replace(&format!("{{{ty}}}"), if postgres { ty } else { "VARCHAR" });
    }
    ddl = ddl.replace("{serial}", if postgres { "SERIAL" } else { "INTEGER" });
    if postgres { format!("{PRODUCTION_ENUMS_POSTGRES}{ddl}") } else { ddl }
}

fn gym(n: i64) -> GymId {
    GymId::new(n).unwrap()
}
fn user(n: i64) -> UserId {
    UserId::new(n).unwrap()
}
fn room(n: i64) -> RoomId {
    RoomId::new(n).unwrap()
}
fn event(n: i64) -> EventId {
    EventId::new(n).unwrap()
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

on_both_backends! {
    async fn production_tables_are_adopted_unchanged(db) {
        build_production(&db, true).await;
        let before = schema_snapshot(&db).await;
        assert!(before.iter().any(|l| l.contains("chat_members") && l.contains("auth0_user_id")), "{before:#?}");

        let store = Store::open(db.url()).await.unwrap();
        store.close().await;
        Store::open(db.url()).await.unwrap().close().await;

        let after = schema_snapshot(&db).await;
        let platform_after: BTreeSet<String> = after.iter().filter(|l| !l.contains("gymchat_")).cloned().collect();
        assert_eq!(platform_after, before, "the platform's schema must not change");
        let added: Vec<&String> = after.difference(&before).collect();
        assert!(added.iter().any(|l| l.contains(MIGRATIONS_TABLE)), "{added:#?}");
        assert!(added.iter().any(|l| l.contains("gymchat_locks")), "{added:#?}");
        // The one addition to a platform table: the member index, named as gymchat's (every other
        // added line names a gymchat_ table, as `platform_after` shows).
        assert!(added.iter().any(|l| l.contains("gymchat_chat_members_user") && l.contains("chat_members")), "{added:#?}");
    }
}

on_both_backends! {
    async fn people_with_null_flags_and_roles_read_as_documented(db) {
        build_production(&db, true).await;
        let store = Store::open(db.url()).await.unwrap();
        let mut s = store.session().await.unwrap();

        let iron = s.gym(gym(4)).await.unwrap().unwrap();
        assert_eq!((iron.is_active, iron.active(), iron.subdomain.as_deref()), (None, false, Some("iron-temple")));
        let gyms = s.gyms().await.unwrap().complete().unwrap();
        assert_eq!(gyms.iter().map(|g| (g.id.get(), g.active())).collect::<Vec<_>>(), [(4, false), (5, true)]);

        let ana = s.user_by_auth0("auth0|a1").await.unwrap().unwrap();
        assert_eq!((ana.id, ana.role, ana.active(), ana.is_super_admin()), (user(10), Some(PlatformRole::SuperAdmin), true, true));
        let bruno = s.user(user(8)).await.unwrap().unwrap();
        assert_eq!((bruno.role, bruno.is_active, bruno.active(), bruno.is_super_admin()), (None, None, false, false));
        let carla = s.user(user(11)).await.unwrap().unwrap();
        assert_eq!((carla.is_active, carla.active()), (Some(false), false));
        let some = s.users(&[user(11), user(8), user(999), user(8)]).await.unwrap().complete().unwrap();
        assert_eq!(some.iter().map(|u| u.id).collect::<Vec<_>>(), [user(8), user(11)]);

        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let bruno4 = s.membership(user(8), gym(4)).await.unwrap().unwrap();
        assert_eq!((bruno4.role, bruno4.is_active, bruno4.active_at(now)), (GymRole::Trainer, None, false));
        let carla4 = s.membership(user(11), gym(4)).await.unwrap().unwrap();
        assert_eq!(carla4.membership_expires_at, Some(Utc.with_ymd_and_hms(2025, 6, 30, 0, 0, 0).unwrap()));
        assert!(!carla4.active_at(now), "an expired membership is not active");
        assert!(s.membership(user(10), gym(4)).await.unwrap().unwrap().active_at(now));
        let gym4 = s.memberships_of_gym(gym(4)).await.unwrap().complete().unwrap();
        assert_eq!(gym4.iter().map(|m| m.user_id).collect::<Vec<_>>(), [user(8), user(10), user(11)]);
        let bruno_gyms = s.memberships_of_user(user(8)).await.unwrap().complete().unwrap();
        assert_eq!(bruno_gyms.iter().map(|m| m.gym_id).collect::<Vec<_>>(), [gym(4), gym(5)]);
    }
}

on_both_backends! {
    async fn events_read_timestamptz_null_status_and_set_aside_what_cannot_be_read(db) {
        build_production(&db, true).await;
        let store = Store::open(db.url()).await.unwrap();
        let mut s = store.session().await.unwrap();

        let fuerza = s.event(event(639)).await.unwrap().unwrap();
        assert_eq!(fuerza.start_time, Utc.with_ymd_and_hms(2025, 12, 20, 18, 0, 0).unwrap(), "timestamptz is read in UTC");
        assert_eq!((fuerza.status, fuerza.title.as_deref()), (None, Some("Fuerza")));
        assert!(!fuerza.is_over(Utc.with_ymd_and_hms(2025, 12, 20, 19, 0, 0).unwrap()));
        assert!(fuerza.is_over(Utc.with_ymd_and_hms(2025, 12, 20, 19, 30, 0).unwrap()), "a NULL status goes by end_time");
        let untitled = s.event(event(640)).await.unwrap().unwrap();
        assert_eq!((untitled.title, untitled.creator_id, untitled.status), (None, None, Some(EventStatus::Completed)));

        // An end time gymchat cannot represent: that one row is set aside, the others are read.
        let all = s.events_of_gym(gym(4)).await.unwrap();
        assert_eq!(all.rows.iter().map(|e| e.id).collect::<Vec<_>>(), [event(639), event(640)]);
        assert_eq!(all.skipped.len(), 1, "{:?}", all.skipped);
        assert_eq!((all.skipped[0].table, all.skipped[0].key.as_str()), ("events", "id = 641"));
        let by_id = s.events(&[event(641), event(639), event(77)]).await.unwrap();
        assert_eq!((by_id.rows.len(), by_id.skipped.len()), (1, 1));
        assert!(matches!(by_id.complete(), Err(StoreError::IncompleteRead { table: "events", count: 1, .. })));
        let one = s.event(event(641)).await.unwrap_err();
        assert!(matches!(&one, StoreError::BadRow { table: "events", .. }), "{one}");
        assert!(one.to_string().contains("id = 641"), "{one}");

        // Duplicate participations collapse to the latest row; NULL status holds no place.
        let parts = s.participations(event(639)).await.unwrap().complete().unwrap();
        let read: Vec<(UserId, Option<ParticipationStatus>, bool)> =
            parts.iter().map(|p| (p.member_id, p.status, p.holds_place())).collect();
        assert_eq!(read, [
            (user(8), Some(ParticipationStatus::Cancelled), false),
            (user(10), Some(ParticipationStatus::PendingPayment), false),
            (user(11), None, false),
        ]);
    }
}

on_both_backends! {
    async fn rooms_with_nulls_duplicates_and_roomless_members_read_as_documented(db) {
        build_production(&db, true).await;
        let store = Store::open(db.url()).await.unwrap();
        let mut s = store.session().await.unwrap();

        let rooms = s.rooms_with_members(gym(4)).await.unwrap().complete().unwrap();
        let members: Vec<(i64, Vec<i64>)> =
            rooms.iter().map(|r| (r.room.id.get(), r.members.iter().map(|m| m.get()).collect())).collect();
        assert_eq!(members, [(638, vec![8, 10]), (665, vec![10, 11]), (666, vec![])],
            "duplicates count once, member rows without a room belong to none, gym 5's room is not read");

        let direct = &rooms[0].room;
        assert_eq!(direct.created_at, Some(Utc.with_ymd_and_hms(2025, 9, 1, 10, 0, 0).unwrap()), "naive times are UTC");
        let event_room = &rooms[1].room;
        assert_eq!((event_room.status, event_room.is_active()), (None, true), "a NULL status is active");
        assert_eq!((event_room.created_at, event_room.updated_at), (None, None));
        assert_eq!((event_room.stream_channel_type.as_str(), event_room.is_direct), ("messaging", false));
        let closed = &rooms[2].room;
        assert_eq!((closed.status, closed.is_active(), closed.updated_at), (Some(RoomStatus::Closed), false, None));
        assert_eq!(s.room(room(670)).await.unwrap().unwrap().gym_id, gym(5));

        let hidden = s.hidden_rooms(user(8)).await.unwrap().complete().unwrap();
        assert_eq!(hidden.iter().map(|h| (h.room_id, h.hidden_at)).collect::<Vec<_>>(), [
            (room(638), None),
            (room(665), Some(Utc.with_ymd_and_hms(2025, 12, 10, 9, 0, 0).unwrap())),
        ]);
    }
}

on_both_backends! {
    async fn writes_go_through_enum_columns_and_races_are_idempotent(db) {
        build_production(&db, true).await;
        let store = Store::open(db.url()).await.unwrap();
        let mut s = store.session().await.unwrap();
        let now = Utc.with_ymd_and_hms(2026, 2, 1, 12, 0, 0).unwrap();

        assert!(s.set_room_status(room(665), RoomStatus::Closed, now).await.unwrap());
        assert!(s.set_room_stream_channel_id(room(665), "event_4_639", now).await.unwrap());
        let reread = s.room(room(665)).await.unwrap().unwrap();
        assert_eq!((reread.status, reread.stream_channel_id.as_deref(), reread.updated_at),
            (Some(RoomStatus::Closed), Some("event_4_639"), Some(now)));

        // Two requests hiding the same room at once: one row, the first time kept.
        let (mut a, mut b) = (store.session().await.unwrap(), store.session().await.unwrap());
        let (x, y) = tokio::join!(a.hide_room(user(10), room(638), now), b.hide_room(user(10), room(638), now + Duration::hours(1)));
        x.unwrap();
        y.unwrap();
        s.hide_room(user(10), room(638), now + Duration::hours(2)).await.unwrap();
        let hidden = s.hidden_rooms(user(10)).await.unwrap().complete().unwrap();
        assert_eq!(hidden.len(), 1);
        assert!(s.show_room(user(10), room(638)).await.unwrap());
    }
}

on_both_backends! {
    async fn the_fixture_loads_into_production_shaped_tables(db) {
        build_production(&db, false).await;
        let store = Store::open(db.url()).await.unwrap();
        let fixture = DbFixture::from_json(&read_fixture("gym4.json")).unwrap();
        store.load_fixture(&fixture).await.unwrap();
        let mut s = store.session().await.unwrap();
        let rooms = s.rooms_with_members(gym(4)).await.unwrap().complete().unwrap();
        assert_eq!(rooms.len(), 15);
        assert_eq!(rooms.iter().filter(|r| r.room.status == Some(RoomStatus::Closed)).count(), 9);
        assert_eq!(s.user(user(8)).await.unwrap().unwrap().role, Some(PlatformRole::Member));

        // The NOT NULL columns without a default that the fixture does not carry got the stated values.
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(db.url()).await.unwrap();
        let fills = conn
            .fetch_one(
                "SELECT (SELECT MIN(timezone) FROM gyms) AS tz, (SELECT MIN(membership_type) FROM user_gyms) AS mt, \
                 (SELECT CAST(MAX(max_participants) AS BIGINT) FROM events) AS mp",
            )
            .await
            .unwrap();
        assert_eq!(
            (fills.get::<String, _>("tz"), fills.get::<String, _>("mt"), fills.get::<i64, _>("mp")),
            ("UTC".to_owned(), "STANDARD".to_owned(), 0)
        );
        conn.close().await.unwrap();
    }
}

on_both_backends! {
    async fn a_fixture_can_hold_the_nulls_production_holds(db) {
        let store = Store::open(db.url()).await.unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&read_fixture("gym4.json")).unwrap();
        let first_room = &mut doc["db"]["chat_rooms"][0];
        first_room["status"] = serde_json::Value::Null;
        first_room["updated_at"] = serde_json::Value::Null;
        first_room["created_at"] = serde_json::Value::Null;
        doc["db"]["user"][1]["role"] = serde_json::Value::Null;
        doc["db"]["user"][1]["is_active"] = serde_json::Value::Null;
        doc["db"]["event_participations"][0]["status"] = serde_json::Value::Null;
        let duplicate = doc["db"]["chat_members"][0].clone();
        doc["db"]["chat_members"].as_array_mut().unwrap().push(duplicate);
        doc["db"]["chat_members"].as_array_mut().unwrap().push(serde_json::json!({"room_id": null, "user_id": 10}));
        let fixture = DbFixture::from_json(&doc.to_string()).unwrap();
        store.load_fixture(&fixture).await.unwrap();

        let mut s = store.session().await.unwrap();
        let first = s.room(room(638)).await.unwrap().unwrap();
        assert_eq!((first.status, first.created_at, first.updated_at, first.is_active()), (None, None, None, true));
        let bruno = s.user(user(8)).await.unwrap().unwrap();
        assert_eq!((bruno.role, bruno.is_active), (None, None));
        let rooms = s.rooms_with_members(gym(4)).await.unwrap().complete().unwrap();
        assert_eq!(rooms.iter().find(|r| r.room.id == room(638)).unwrap().members, [user(8), user(10)]);
    }
}
