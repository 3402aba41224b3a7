//! Writes that race, on real PostgreSQL and SQLite: many connections adding one member to one
//! room at once leave exactly one member row (production's `chat_members` has no unique key to
//! lean on), and the webhook inbox hands each due delivery to one claimer only.

use chrono::{Duration, Utc};
use gymchat_ids::{RoomId, UserId};
use gymchat_store::{DbFixture, Store};
use gymchat_testkit::{TestDb, on_both_backends, read_fixture};

async fn loaded(db: &TestDb) -> Store {
    let store = Store::open(db.url()).await.unwrap();
    store.load_fixture(&DbFixture::from_json(&read_fixture("gym4.json")).unwrap()).await.unwrap();
    store
}

/// Member rows of the user in the room, duplicates counted (as production could hold them).
async fn member_rows(db: &TestDb, room: i64, user: i64) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM chat_members WHERE room_id = $1 AND user_id = $2";
    if db.is_postgres() {
        let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
        sqlx::query_scalar(sql).bind(room).bind(user).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
        sqlx::query_scalar(sql).bind(room).bind(user).fetch_one(&mut c).await.unwrap()
    }
}

on_both_backends! {
    async fn concurrent_adds_of_one_member_leave_one_row(db) {
        let store = loaded(&db).await;
        // Diego (17) joins room 640 from many requests at once, ten times over.
        let (room, user) = (RoomId::new(640).unwrap(), UserId::new(17).unwrap());
        for round in 0..10 {
            store.session().await.unwrap().remove_room_member(room, user).await.unwrap();
            let adds: Vec<_> = (0..8)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move { store.session().await.unwrap().add_room_member(room, user, Utc::now()).await.unwrap() })
                })
                .collect();
            let mut added = 0;
            for add in adds {
                added += usize::from(add.await.unwrap());
            }
            assert_eq!(added, 1, "round {round}: exactly one add reports the new row");
            assert_eq!(member_rows(&db, 640, 17).await, 1, "round {round}");
        }
    }
}

on_both_backends! {
    async fn a_due_delivery_goes_to_one_claimer(db) {
        let store = loaded(&db).await;
        let mut s = store.session().await.unwrap();
        for i in 0..30 {
            assert!(s.take_in_webhook(&format!("wh-{i}"), "message.new", "{}", Utc::now()).await.unwrap());
        }
        assert!(!s.take_in_webhook("wh-0", "message.new", "{}", Utc::now()).await.unwrap(), "a repeat is not taken in");
        drop(s);
        let claims: Vec<_> = (0..6)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    loop {
                        let batch = store.session().await.unwrap().claim_webhooks(3, Duration::minutes(1)).await.unwrap();
                        if batch.is_empty() {
                            return got;
                        }
                        got.extend(batch.into_iter().map(|i| i.webhook_id));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for claim in claims {
            all.extend(claim.await.unwrap());
        }
        all.sort();
        let claimed = all.len();
        all.dedup();
        assert_eq!(all.len(), claimed, "no delivery was claimed twice");
        assert_eq!(claimed, 30);
        let counts = store.session().await.unwrap().webhook_inbox_counts().await.unwrap();
        assert_eq!((counts.pending, counts.working), (0, 30));
    }
}
