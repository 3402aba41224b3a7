//! Several workers on one migration run, on real PostgreSQL and SQLite: items are claimed by one
//! worker at a time, a gym's channels only once its users exist, a claim that ran out passes to
//! the next worker with a larger fencing token (the first one's writes are then refused), an item
//! let go in a pass is not taken again in it, and concurrent claims on the shared rate budget
//! never exceed its cap together.

use chrono::{Duration, Utc};
use gymchat_ids::GymId;
use gymchat_store::{ClaimKind, ItemKind, ItemState, MigrationRun, NewItem, RunState, Store, StoreError};
use gymchat_testkit::on_both_backends;

/// A running run with, per gym (4 and 5), two users and three channels.
async fn run_with_items(store: &Store) -> String {
    let now = Utc::now();
    let run = MigrationRun {
        run_id: "run-claims".into(),
        gyms: vec![4, 5],
        strategy: "rebuild".into(),
        history: "copy".into(),
        plan_hash: "h".into(),
        state: RunState::Running,
        holder: "test".into(),
        started_at: now,
        updated_at: now,
        finished_at: None,
        message: None,
    };
    let mut s = store.session().await.unwrap();
    s.create_migration_run(&run).await.unwrap();
    for gym in [4, 5] {
        for (kind, n) in [(ItemKind::User, 2), (ItemKind::Channel, 3)] {
            for i in 0..n {
                let old = format!("{gym}-{}-{i}", kind.as_str());
                let item = NewItem {
                    gym_id: GymId::new(gym).unwrap(),
                    kind,
                    room_id: None,
                    old_id: &old,
                    new_id: &old,
                    state: ItemState::Planned,
                    spec: "{}",
                };
                s.add_migration_item(&run.run_id, &item, now).await.unwrap();
            }
        }
    }
    run.run_id
}

on_both_backends! {
    async fn workers_claim_items_one_at_a_time_and_take_over_what_a_dead_one_held(db) {
        let store = Store::open(db.url()).await.unwrap();
        let run = run_with_items(&store).await;
        let mut s = store.session().await.unwrap();
        let (a, b) = ("host-a:1", "host-b:2");
        let minute = Duration::seconds(60);
        let pass_a = s.join_run(&run, a).await.unwrap();
        let pass_b = s.join_run(&run, b).await.unwrap();

        // No channel before its gym's users exist; users a gym at a time.
        assert!(s.claim_items(&run, a, ClaimKind::Channels, pass_a, minute, 100).await.unwrap().is_empty());
        let users_a = s.claim_items(&run, a, ClaimKind::Users, pass_a, minute, 100).await.unwrap();
        assert_eq!(users_a.iter().map(|i| i.gym_id).collect::<Vec<_>>(), vec![4, 4]);
        let users_b = s.claim_items(&run, b, ClaimKind::Users, pass_b, minute, 100).await.unwrap();
        assert_eq!(users_b.iter().map(|i| i.gym_id).collect::<Vec<_>>(), vec![5, 5], "gym 4's users are a's");
        assert_eq!(s.claimed_elsewhere(&run, a, None).await.unwrap(), 2);
        assert_eq!(s.claimed_elsewhere(&run, a, Some(4)).await.unwrap(), 0);
        for u in &users_a {
            s.finish_item_step(u.id, ItemState::Done, None, Utc::now()).await.unwrap();
            s.release_claim(u.id, a, u.claim_fence, true).await.unwrap();
        }

        // Gym 4's users exist: its channels can be claimed, by one worker.
        let channels = s.claim_items(&run, a, ClaimKind::Channels, pass_a, Duration::zero(), 100).await.unwrap();
        assert_eq!(channels.len(), 3);
        assert!(channels.iter().all(|c| c.gym_id == 4 && c.claim_fence == 1));
        // a's claims ran out at once (it "died"): b takes them over with larger tokens.
        let taken = s.claim_items(&run, b, ClaimKind::Channels, pass_b, minute, 100).await.unwrap();
        assert_eq!(taken.iter().map(|c| (c.id, c.claim_fence)).collect::<Vec<_>>(), channels.iter().map(|c| (c.id, 2)).collect::<Vec<_>>());
        // a's write is refused; b's goes through.
        let mut tx = store.begin().await.unwrap();
        let refused = tx.guard_claim(channels[0].id, a, channels[0].claim_fence).await.unwrap_err();
        assert!(matches!(refused, StoreError::LockLost { .. }), "{refused}");
        drop(tx);
        let mut tx = store.begin().await.unwrap();
        tx.guard_claim(taken[0].id, b, taken[0].claim_fence).await.unwrap();
        tx.commit().await.unwrap();

        // b's step failed and it let the item go: no pass begun before that takes it again; a
        // later pass does.
        s.fail_item(taken[0].id, "stream down", Utc::now()).await.unwrap();
        s.release_claim(taken[0].id, b, taken[0].claim_fence, true).await.unwrap();
        assert!(s.claim_items(&run, a, ClaimKind::Channels, pass_a, minute, 100).await.unwrap().is_empty());
        let later = s.db_clock_ms().await.unwrap() + 1;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let again = s.claim_items(&run, a, ClaimKind::Channels, later, minute, 100).await.unwrap();
        assert_eq!(again.iter().map(|c| c.id).collect::<Vec<_>>(), vec![taken[0].id]);

        // A run that is no longer running fences everyone out and gives no claim.
        s.set_migration_run_state(&run, RunState::RollingBack, "op", None, false, Utc::now()).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(tx.guard_claim(again[0].id, a, again[0].claim_fence).await.is_err());
        drop(tx);
        assert!(s.claim_items(&run, b, ClaimKind::Users, later, minute, 100).await.unwrap().is_empty());

        // The workers as status shows them.
        s.worker_beat(&run, b, (5, 1), Some(("finished", None))).await.unwrap();
        let workers = s.migration_workers(&run).await.unwrap();
        assert_eq!(workers.iter().map(|w| (w.worker.as_str(), w.state.as_str())).collect::<Vec<_>>(), vec![(a, "working"), (b, "finished")]);
        assert_eq!((workers[1].items_done, workers[1].items_failed), (5, 1));
        assert_eq!(s.live_workers(b, minute).await.unwrap(), vec![(run.clone(), a.to_owned())]);
    }
}

on_both_backends! {
    async fn concurrent_claims_on_the_rate_budget_never_exceed_its_cap(db) {
        let store = Store::open(db.url()).await.unwrap();
        let claims: Vec<_> = (0..12)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut granted = 0;
                    loop {
                        let mut s = store.session().await.unwrap();
                        let g = s.claim_rate("UpdateChannelsBatch", 3_000, 7, 4, 30).await.unwrap();
                        assert!(g.claimed <= 30, "{g:?}");
                        if g.granted == 0 {
                            return granted;
                        }
                        granted += g.granted;
                    }
                })
            })
            .collect();
        let mut total = 0;
        for c in claims {
            total += c.await.unwrap();
        }
        assert_eq!(total, 30, "every call of the window was granted once");
        let mut s = store.session().await.unwrap();
        // A claimant with a smaller cap lowers it; another window starts afresh.
        assert_eq!(s.claim_rate("UpdateChannelsBatch", 3_000, 8, 4, 2).await.unwrap().granted, 2);
        assert_eq!(s.claim_rate("UpdateChannelsBatch", 3_000, 8, 4, 30).await.unwrap().granted, 0);
        assert_eq!(s.prune_rate_budget(3_000 * 9 + 3_600_001).await.unwrap(), 2);
    }
}
