//! A gym's maintenance window as the apps meet it, on both backends against the sandbox: routes
//! that create a chat or change who is in one answer 503 with `Retry-After` while it lasts (the
//! window lives in the database, so every replica sees it); reads keep answering, and another
//! gym is not held up.

use chrono::Duration;
use gymchat_ids::GymId;
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
        assert_eq!(status, StatusCode::OK, "{room}");
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
