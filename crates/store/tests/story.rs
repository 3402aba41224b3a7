//! The store's story, run against real PostgreSQL and SQLite: migrate, load the gym 4 reference
//! scenario, read it back through every repository method, write, and refuse bad input without
//! changing anything.

use chrono::{Duration, TimeZone, Utc};
use gymchat_ids::{EventId, GymId, RoomId, UserId};
use gymchat_store::*;
use gymchat_testkit::{TestDb, on_both_backends, read_fixture};

fn gym(n: i64) -> GymId {
    GymId::new(n).unwrap()
}
fn user(n: i64) -> UserId {
    UserId::new(n).unwrap()
}
fn room(n: i64) -> RoomId {
    RoomId::new(n).unwrap()
}

async fn loaded(db: &TestDb) -> Store {
    let store = Store::open(db.url()).await.unwrap();
    let fixture = DbFixture::from_json(&read_fixture("gym4.json")).unwrap();
    store.load_fixture(&fixture).await.unwrap();
    store
}

async fn count(store: &Store, table: &str) -> i64 {
    // Counting through the public API keeps the test honest about what callers can see.
    let mut s = store.session().await.unwrap();
    match table {
        "rooms_of_gym_4" => s.rooms_with_members(gym(4)).await.unwrap().complete().unwrap().len() as i64,
        "gyms" => s.gyms().await.unwrap().complete().unwrap().len() as i64,
        other => panic!("no counter for {other}"),
    }
}

on_both_backends! {
    async fn migrations_are_idempotent(db) {
        let first = Store::open(db.url()).await.unwrap();
        first.close().await;
        let again = Store::open(db.url()).await.unwrap();
        assert_eq!(again.session().await.unwrap().gyms().await.unwrap(), Rows::default());
    }
}

on_both_backends! {
    async fn gym4_fixture_reads_back_through_the_repositories(db) {
        let store = loaded(&db).await;
        let mut s = store.session().await.unwrap();

        let iron = s.gym(gym(4)).await.unwrap().unwrap();
        assert_eq!((iron.name.as_str(), iron.subdomain.as_deref(), iron.active()), ("Iron Temple", Some("iron-temple"), true));
        assert_eq!(s.gyms().await.unwrap().complete().unwrap().len(), 3);
        assert!(s.gym(gym(99)).await.unwrap().is_none());

        let bruno = s.user_by_auth0("google-oauth2|112233445566778899001").await.unwrap().unwrap();
        assert_eq!(bruno.id, user(8));
        assert_eq!(bruno.display_name().as_deref(), Some("Bruno Diaz"));
        assert_eq!(bruno.role, Some(PlatformRole::Member));
        assert_eq!(s.user(user(10)).await.unwrap().unwrap().email, "ana.torres@example.test");
        assert!(s.user_by_auth0("auth0|nobody").await.unwrap().is_none());
        let some: Vec<UserId> =
            s.users(&[user(17), user(10), user(999)]).await.unwrap().complete().unwrap().iter().map(|u| u.id).collect();
        assert_eq!(some, vec![user(10), user(17)]);

        assert_eq!(s.membership(user(8), gym(4)).await.unwrap().unwrap().role, GymRole::Trainer);
        assert_eq!(s.membership(user(8), gym(1)).await.unwrap().unwrap().role, GymRole::Member);
        assert!(s.membership(user(21), gym(4)).await.unwrap().is_none());
        let gym4: Vec<UserId> =
            s.memberships_of_gym(gym(4)).await.unwrap().complete().unwrap().iter().map(|m| m.user_id).collect();
        assert_eq!(gym4, vec![user(8), user(10), user(11), user(17)]);
        let bruno_gyms: Vec<GymId> =
            s.memberships_of_user(user(8)).await.unwrap().complete().unwrap().iter().map(|m| m.gym_id).collect();
        assert_eq!(bruno_gyms, vec![gym(1), gym(4)]);

        let event = s.event(EventId::new(639).unwrap()).await.unwrap().unwrap();
        assert_eq!((event.gym_id, event.status, event.creator_id), (gym(4), Some(EventStatus::Scheduled), Some(user(10))));
        assert_eq!(event.start_time, Utc.with_ymd_and_hms(2025, 12, 20, 18, 0, 0).unwrap());
        let parts = s.participations(EventId::new(639).unwrap()).await.unwrap().complete().unwrap();
        let statuses: Vec<(UserId, Option<ParticipationStatus>)> = parts.iter().map(|p| (p.member_id, p.status)).collect();
        assert_eq!(statuses, [(user(11), Some(ParticipationStatus::Registered)), (user(17), Some(ParticipationStatus::WaitingList))]);

        let rooms = s.rooms_with_members(gym(4)).await.unwrap().complete().unwrap();
        assert_eq!(rooms.len(), 15, "gym 4 has 15 rooms; gym 5's room must not appear");
        let general = rooms.iter().find(|r| r.room.id == room(639)).unwrap();
        assert_eq!(general.room.stream_channel_id.as_deref(), Some("room_General_10"));
        assert_eq!(general.members, vec![user(8), user(10), user(11), user(17)]);
        let closed = rooms.iter().filter(|r| !r.room.is_active()).count();
        assert_eq!(closed, 9);
        let direct = rooms.iter().find(|r| r.room.id == room(638)).unwrap();
        assert!(direct.room.is_direct && direct.room.event_id.is_none());
        assert_eq!(direct.room.created_at, Some(Utc.with_ymd_and_hms(2025, 9, 1, 10, 0, 0).unwrap()));
        assert_eq!(s.room(room(670)).await.unwrap().unwrap().gym_id, gym(5));

        let hidden = s.hidden_rooms(user(17)).await.unwrap().complete().unwrap();
        assert_eq!(hidden.iter().map(|h| h.room_id).collect::<Vec<_>>(), vec![room(664)]);
    }
}

on_both_backends! {
    async fn reads_by_id_lists_take_more_ids_than_a_statement_can_bind(db) {
        let store = loaded(&db).await;
        let mut s = store.session().await.unwrap();
        // 70,000 ids: more than Postgres (65,535) or SQLite (32,766) bind in one statement.
        let mut ids: Vec<UserId> = (1_000..71_000).map(user).collect();
        ids.push(user(17));
        ids.push(user(8));
        let found = s.users(&ids).await.unwrap().complete().unwrap();
        assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), [user(8), user(17)]);
        let events: Vec<EventId> = (1..70_000).map(|n| EventId::new(n).unwrap()).collect();
        assert_eq!(s.events(&events).await.unwrap().complete().unwrap().len(), 10);
    }
}

on_both_backends! {
    async fn room_writes_are_visible_and_unique(db) {
        let store = loaded(&db).await;
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut s = store.session().await.unwrap();

        assert!(s.set_room_stream_channel_id(room(639), "room_4_639", now).await.unwrap());
        let r = s.room(room(639)).await.unwrap().unwrap();
        assert_eq!((r.stream_channel_id.as_deref(), r.updated_at), (Some("room_4_639"), Some(now)));
        assert!(!s.set_room_stream_channel_id(room(1), "room_4_1", now).await.unwrap());

        let taken = s.set_room_stream_channel_id(room(638), "room_4_639", now).await.unwrap_err();
        assert!(matches!(taken, StoreError::ChannelIdTaken { .. }), "{taken}");
        let unchanged = s.room(room(638)).await.unwrap().unwrap();
        assert_eq!(unchanged.stream_channel_id.as_deref(), Some("direct_user_10_user_8"));

        assert!(s.set_room_status(room(665), RoomStatus::Closed, now).await.unwrap());
        assert_eq!(s.room(room(665)).await.unwrap().unwrap().status, Some(RoomStatus::Closed));

        s.hide_room(user(10), room(638), now).await.unwrap();
        s.hide_room(user(10), room(638), now + Duration::hours(1)).await.unwrap();
        let hidden = s.hidden_rooms(user(10)).await.unwrap().complete().unwrap();
        assert_eq!(hidden.len(), 1, "hiding twice must not duplicate the row");
        assert_eq!(hidden[0].hidden_at, Some(now));
        assert!(s.show_room(user(10), room(638)).await.unwrap());
        assert!(!s.show_room(user(10), room(638)).await.unwrap());
        assert!(s.hidden_rooms(user(10)).await.unwrap().complete().unwrap().is_empty());
    }
}

on_both_backends! {
    async fn a_transaction_that_is_dropped_changes_nothing(db) {
        let store = loaded(&db).await;
        let now = Utc::now();
        {
            let mut tx = store.begin().await.unwrap();
            tx.set_room_stream_channel_id(room(639), "room_4_639", now).await.unwrap();
            assert_eq!(tx.room(room(639)).await.unwrap().unwrap().stream_channel_id.as_deref(), Some("room_4_639"));
        }
        let mut s = store.session().await.unwrap();
        assert_eq!(s.room(room(639)).await.unwrap().unwrap().stream_channel_id.as_deref(), Some("room_General_10"));
    }
}

on_both_backends! {
    async fn loading_the_fixture_twice_fails_cleanly(db) {
        let store = loaded(&db).await;
        let fixture = DbFixture::from_json(&read_fixture("gym4.json")).unwrap();
        let err = store.load_fixture(&fixture).await.unwrap_err();
        assert!(matches!(err, StoreError::FixtureRow { table: "gyms", index: 0, .. }), "{err}");
        assert_eq!(count(&store, "gyms").await, 3);
        assert_eq!(count(&store, "rooms_of_gym_4").await, 15);
    }
}

on_both_backends! {
    async fn a_row_the_database_refuses_rolls_back_the_whole_load(db) {
        let store = Store::open(db.url()).await.unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&read_fixture("gym4.json")).unwrap();
        // The fourth member row names a user who does not exist: a foreign-key violation.
        doc["db"]["chat_members"][3]["user_id"] = serde_json::json!(4242);
        let fixture = DbFixture::from_json(&doc.to_string()).unwrap();
        let err = store.load_fixture(&fixture).await.unwrap_err();
        assert!(matches!(err, StoreError::FixtureRow { table: "chat_members", index: 3, .. }), "{err}");
        assert!(err.to_string().contains("chat_members[3]"), "{err}");
        assert_eq!(count(&store, "gyms").await, 0, "earlier tables must be rolled back too");
    }
}

on_both_backends! {
    async fn locks_name_their_holder_and_expire_by_the_databases_clock(db) {
        let store = Store::open(db.url()).await.unwrap();
        let mut s = store.session().await.unwrap();
        let minute = Duration::seconds(60);

        let lease = s.acquire_lock("migrate", "host-a:41", minute).await.unwrap();
        match s.acquire_lock("migrate", "host-b:7", minute).await.unwrap_err() {
            StoreError::LockHeld { holder, expires_at, .. } => assert_eq!((holder.as_str(), expires_at), ("host-a:41", lease.expires_at)),
            other => panic!("expected LockHeld, got {other}"),
        }
        // The holder may take it again (a renewal) and keeps its fencing token.
        let again = s.acquire_lock("migrate", "host-a:41", minute).await.unwrap();
        assert_eq!(again.fence, lease.fence);
        let renewed = s.renew_lock(&again, minute).await.unwrap();
        assert!(renewed.expires_at >= lease.expires_at);

        // A lease of zero length has run out at once: another holder takes it with a larger token.
        let brief = s.renew_lock(&renewed, Duration::zero()).await.unwrap();
        let taken = s.acquire_lock("migrate", "host-b:7", minute).await.unwrap();
        assert_eq!((taken.holder.as_str(), taken.fence), ("host-b:7", brief.fence + 1));
        assert!(matches!(s.renew_lock(&brief, minute).await, Err(StoreError::LockLost { .. })));
        assert!(!s.release_lock(&brief).await.unwrap());
        assert!(s.release_lock(&taken).await.unwrap());
        // Released: free at once, and the token still grows for the next holder.
        let back = s.acquire_lock("migrate", "host-a:41", minute).await.unwrap();
        assert_eq!(back.fence, taken.fence + 1);
    }
}

on_both_backends! {
    async fn two_holders_racing_for_a_lock_get_one_lease(db) {
        let store = Store::open(db.url()).await.unwrap();
        let (mut a, mut b) = (store.session().await.unwrap(), store.session().await.unwrap());
        let minute = Duration::seconds(60);
        let (x, y) = tokio::join!(a.acquire_lock("migrate", "host-a", minute), b.acquire_lock("migrate", "host-b", minute));
        let won = [&x, &y].iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "exactly one holder wins: {x:?} {y:?}");
        let loser = if x.is_ok() { y } else { x };
        assert!(matches!(loser, Err(StoreError::LockHeld { .. })), "{loser:?}");
    }
}

on_both_backends! {
    async fn a_stale_holders_fenced_write_is_refused(db) {
        let store = loaded(&db).await;
        let mut s = store.session().await.unwrap();
        let now = Utc::now();

        // Holder A stalls past its lease; B takes the lock over.
        let stale = s.acquire_lock("migrate", "host-a", Duration::zero()).await.unwrap();
        let current = s.acquire_lock("migrate", "host-b", Duration::seconds(60)).await.unwrap();
        assert!(current.fence > stale.fence);

        // A's room switch, guarded by its lease in the same transaction, is refused: nothing changes.
        let mut tx = store.begin().await.unwrap();
        let refused = tx.guard_lease(&stale).await.unwrap_err();
        assert!(matches!(refused, StoreError::LockLost { .. }), "{refused}");
        drop(tx);
        assert_eq!(s.room(room(639)).await.unwrap().unwrap().stream_channel_id.as_deref(), Some("room_General_10"));

        // B's goes through.
        let mut tx = store.begin().await.unwrap();
        tx.guard_lease(&current).await.unwrap();
        assert!(tx.set_room_stream_channel_id(room(639), "room_4_639", now).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(s.room(room(639)).await.unwrap().unwrap().stream_channel_id.as_deref(), Some("room_4_639"));
    }
}

#[test]
fn malformed_fixture_is_reported_with_its_path() {
    let mut doc: serde_json::Value = serde_json::from_str(&read_fixture("gym4.json")).unwrap();
    doc["db"]["chat_rooms"][3]["gym_id"] = serde_json::json!("four");
    let err = DbFixture::from_json(&serde_json::to_string_pretty(&doc).unwrap()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("db.chat_rooms[3].gym_id"), "{text}");

    doc["db"]["chat_rooms"][3]["gym_id"] = serde_json::json!(0);
    let err = DbFixture::from_json(&doc.to_string()).unwrap_err();
    assert!(err.to_string().contains("gym id"), "{err}");

    let err = DbFixture::from_json("{\"db\": {\"gyms\": [}").unwrap_err();
    assert!(matches!(err, StoreError::FixtureFormat { .. }), "{err}");
    let err = DbFixture::from_json("{\"db\": {\"no_such_table\": []}}").unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");
}

/// The repository keeps its own copy of the reference scenario (a fresh clone has no shared folder);
/// where the shared original sits beside the checkout, the two must be identical.
#[test]
fn the_repositorys_reference_scenario_is_the_shared_one() {
    // The workspace's parent folder: where the shared material sits beside a checkout, if anywhere.
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..").join("..");
    let shared = beside.join("shared").join("fixtures").join("gym4.json");
    let ours = read_fixture("gym4.json");
    assert!(ours.contains("\"audit_gym_4_before\""), "the repository's fixtures/gym4.json is the reference scenario");
    if let Ok(original) = std::fs::read_to_string(&shared) {
        assert_eq!(ours, original, "fixtures/gym4.json differs from {}", shared.display());
    }
}

#[tokio::test]
async fn unknown_url_scheme_is_refused() {
    let err = Store::open("mysql://localhost/x").await.unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err}");
}
