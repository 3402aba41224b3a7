//! A gym's maintenance window as the apps meet it, on both backends against the sandbox: routes
//! that create a chat or change who is in one answer 503 with `Retry-After` while it lasts (the
//! window lives in the database, so every replica sees it); reads keep answering, and another
//! gym is not held up; a migration opens the window for its gym's channels, and a group made
//! through the service just before ends up on a tenant-scoped channel the gym verifies with.

use chrono::Duration;
use gymchat_ids::GymId;
use gymchat_ops::migrate::{self, ApplyOptions, History, Options, Strategy};
use gymchat_testkit::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

mod support;

use support::*;

on_both_backends!(
    async fn during_a_window_chats_are_not_created_or_joined_and_reads_go_on(db) {
        let app = spawn_app(&db).await;
        let gym = GymId::new(4).unwrap();
        let mut s = app.store.session().await.unwrap();
        s.set_maintenance(gym, Duration::minutes(10), "migrating gym 4", "test").await.unwrap();
        let channels_before = app.stream_state().await["channels"].as_array().unwrap().len();

        let response = app
            .http
            .post(format!("{}/api/v1/chat/rooms", app.url))
            .bearer_auth(jwt(BRUNO))
            .header("X-Gym-ID", "4")
            .json(&json!({ "name": "Morning crew", "member_ids": [11, 17] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("maintenance"), "{body}");

        // Joining the General room, adding a member: refused the same way.
        assert_eq!(app.post("/api/v1/chat/general-channel/join", CARLA, 4, None).await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(app.post("/api/v1/chat/rooms/639/members/17", ANA, 4, None).await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(app.stream_state().await["channels"].as_array().unwrap().len(), channels_before, "nothing made");

        // Reads and tokens go on; another gym is not in maintenance.
        assert_eq!(app.get("/api/v1/chat/my-rooms", CARLA, 4).await.0, StatusCode::OK);
        assert_eq!(app.get("/api/v1/chat/token", CARLA, 4).await.0, StatusCode::OK);
        assert_eq!(app.post("/api/v1/chat/general-channel/join", ELENA, 5, None).await.0, StatusCode::OK);

        // Once the window ends, the same request goes through.
        assert!(s.clear_maintenance(gym, None).await.unwrap());
        let (status, room) =
            app.post("/api/v1/chat/rooms", BRUNO, 4, Some(json!({ "name": "Morning crew", "member_ids": [11, 17] }))).await;
        assert_eq!(status, StatusCode::CREATED, "{room}");
    }
);

on_both_backends!(
    async fn a_window_left_behind_ends_by_itself(db) {
        let app = spawn_app(&db).await;
        let gym = GymId::new(4).unwrap();
        let mut s = app.store.session().await.unwrap();
        s.set_maintenance(gym, Duration::milliseconds(300), "a migration that died", "test").await.unwrap();
        assert!(s.maintenance(gym).await.unwrap().is_some());
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert!(s.maintenance(gym).await.unwrap().is_none());
        assert_eq!(app.post("/api/v1/chat/general-channel/join", CARLA, 4, None).await.0, StatusCode::OK);
    }
);

on_both_backends!(
    async fn a_migration_and_the_service_meet_without_losing_a_chat(db) {
        // Stream answers slowly enough that the migration is seen under way.
        let app = spawn_app_with(&db, |c| c.latency = std::time::Duration::from_millis(40), 3).await;
        let gym = GymId::new(4).unwrap();
        let options = Options { strategy: Strategy::Rebuild, history: History::Copy, rehost_attachments: false };
        let plan = migrate::plan::plan(&app.store, &app.stream, &[gym], options, chrono::Utc::now()).await.unwrap();

        // After the plan, before the gym's window: a group made through the service.
        let (status, late) =
            app.post("/api/v1/chat/rooms", BRUNO, 4, Some(json!({ "name": "Late crew", "member_ids": [11] }))).await;
        assert_eq!(status, StatusCode::CREATED, "{late}");

        let run = tokio::spawn({
            let (store, stream) = (app.store.clone(), app.stream.clone());
            async move { migrate::apply(&store, &stream, &plan, ApplyOptions::default(), &|_| {}).await.unwrap() }
        });
        // While the gym's channels move, a new group is refused with 503 and nothing is made.
        let store = app.store.clone();
        let in_window = eventually(|| {
            let store = store.clone();
            async move { store.session().await.unwrap().maintenance(gym).await.unwrap().is_some() }
        })
        .await;
        assert!(in_window, "the run opened the gym's window");
        let (status, body) =
            app.post("/api/v1/chat/rooms", BRUNO, 4, Some(json!({ "name": "During", "member_ids": [10] }))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

        let report = run.await.unwrap();
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        assert!(app.store.session().await.unwrap().maintenance(gym).await.unwrap().is_none(), "the window ended");
        // The group made just before is on a tenant-scoped channel with its members, and the gym
        // verifies: nothing the service made was lost or left behind.
        let verified = migrate::verify(&app.store, &app.stream, &[gym]).await.unwrap();
        assert_eq!(verified.exit_code(), 0, "{verified:#?}");
        let channel = app.sandbox.channel(late["stream_channel_id"].as_str().unwrap()).await.unwrap();
        assert_eq!(channel["team"], "gym_4", "{channel}");
        assert!(channel["members"].as_array().unwrap().contains(&json!("gym_4_user_11")), "{channel}");
        // And once the window is over, groups are made again.
        let (status, _) =
            app.post("/api/v1/chat/rooms", BRUNO, 4, Some(json!({ "name": "After", "member_ids": [10] }))).await;
        assert_eq!(status, StatusCode::CREATED);
    }
);
