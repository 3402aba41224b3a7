//! An event's room through the service and the workers, on both backends against the sandbox:
//! who may open it, members following participation, the workers' event chat and completion.

use gymchat_ids::{EventId, RoomId, UserId};
use gymchat_store::{EventStatus, RoomStatus};
use gymchat_testkit::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

mod support;

use support::*;

fn user(u: i64) -> UserId {
    UserId::new(u).unwrap()
}

const ROOM: i64 = 665;
const CHANNEL: &str = "event_639_d3d94468";

async fn members(app: &App) -> Vec<UserId> {
    app.store.session().await.unwrap().room_members(RoomId::new(ROOM).unwrap()).await.unwrap()
}

async fn channel_members(app: &App) -> Vec<serde_json::Value> {
    app.stream_channel(CHANNEL).await.unwrap()["members"].as_array().unwrap().clone()
}

on_both_backends!(
    async fn a_registered_participant_gets_the_events_one_room_and_the_waiting_list_does_not(db) {
        let app = spawn_app(&db).await;
        let (status, body) = app.get("/api/v1/chat/rooms/event/639", CARLA, 4).await;
        assert_eq!((status, &body["id"]), (StatusCode::OK, &json!(ROOM)), "{body}");
        assert_eq!(app.get("/api/v1/chat/rooms/event/639", DIEGO, 4).await.0, StatusCode::FORBIDDEN);
    }
);

on_both_backends!(
    async fn a_trainer_opening_the_events_room_joins_it_on_both_sides(db) {
        let app = spawn_app(&db).await;
        assert_eq!(app.get("/api/v1/chat/rooms/event/639", BRUNO, 4).await.1["id"], ROOM);
        assert!(members(&app).await.contains(&user(8)));
        assert!(channel_members(&app).await.contains(&json!("gym_4_user_8")));
    }
);

on_both_backends!(
    async fn members_follow_participation_at_each_access(db) {
        let app = spawn_app(&db).await;
        // Diego, added by hand while on the waiting list, leaves at the next access.
        assert_eq!(app.post("/api/v1/chat/rooms/665/members/17", ANA, 4, None).await.0, StatusCode::OK);
        assert!(members(&app).await.contains(&user(17)));
        assert_eq!(app.get("/api/v1/chat/rooms/event/639", CARLA, 4).await.0, StatusCode::OK);
        assert!(!members(&app).await.contains(&user(17)), "the waiting list holds no place");
        assert!(!channel_members(&app).await.contains(&json!("gym_4_user_17")));
        // Once REGISTERED he joins.
        execute(&db, "UPDATE event_participations SET status = 'REGISTERED' WHERE event_id = 639 AND member_id = 17").await;
        assert_eq!(app.get("/api/v1/chat/rooms/event/639", CARLA, 4).await.0, StatusCode::OK);
        assert_eq!(members(&app).await, vec![user(10), user(11), user(17)]);
        assert!(channel_members(&app).await.contains(&json!("gym_4_user_17")));
    }
);

on_both_backends!(
    async fn the_gyms_staff_stay_in_the_events_room(db) {
        let app = spawn_app(&db).await;
        assert_eq!(app.get("/api/v1/chat/rooms/event/639", BRUNO, 4).await.0, StatusCode::OK);
        assert_eq!(app.get("/api/v1/chat/rooms/event/639", CARLA, 4).await.0, StatusCode::OK);
        assert!(members(&app).await.contains(&user(8)), "a trainer holds no participation and stays");
    }
);

on_both_backends!(
    async fn another_gyms_event_is_not_found(db) {
        let app = spawn_app(&db).await;
        assert_eq!(app.get("/api/v1/chat/rooms/event/639", ELENA, 5).await.0, StatusCode::NOT_FOUND);
    }
);

on_both_backends!(
    async fn the_worker_routes_need_their_key(db) {
        let app = spawn_app(&db).await;
        let request = json!({ "event_id": 639, "creator_id": 10, "gym_id": 4 });
        let no_key = app.http.post(format!("{}/api/v1/worker/event-chat", app.url)).json(&request).send().await.unwrap();
        assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    }
);

on_both_backends!(
    async fn the_workers_event_chat_gives_the_same_room_and_posts_its_first_message_once(db) {
        let app = spawn_app(&db).await;
        let request = json!({ "event_id": 639, "creator_id": 10, "gym_id": 4, "first_message_chat": "Welcome!" });
        for _ in 0..2 {
            let (status, body) = app.worker("/api/v1/worker/event-chat", request.clone()).await;
            assert_eq!((status, &body["room"]["id"]), (StatusCode::OK, &json!(ROOM)), "{body}");
        }
        let channel = app.stream_channel(CHANNEL).await.unwrap();
        let welcomes = channel["messages"].as_array().unwrap().iter().filter(|m| m["text"] == "Welcome!").count();
        assert_eq!(welcomes, 1, "{channel}");
    }
);

on_both_backends!(
    async fn the_workers_event_chat_of_an_event_in_another_gym_is_not_found(db) {
        let app = spawn_app(&db).await;
        let (status, _) = app.worker("/api/v1/worker/event-chat", json!({ "event_id": 639, "creator_id": 21, "gym_id": 5 })).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

on_both_backends!(
    async fn completing_an_event_closes_its_room_and_freezes_its_channel_with_a_note(db) {
        let app = spawn_app(&db).await;
        let name_before = app.stream_channel(CHANNEL).await.unwrap()["name"].clone();
        let (status, body) = app.worker("/api/v1/worker/event-completion", json!({ "event_id": 639, "gym_id": 4 })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut db = app.store.session().await.unwrap();
        let event = db.event(EventId::new(639).unwrap()).await.unwrap().unwrap();
        assert_eq!(event.status, Some(EventStatus::Completed));
        assert_eq!(db.room(RoomId::new(ROOM).unwrap()).await.unwrap().unwrap().status, Some(RoomStatus::Closed));
        let channel = app.stream_channel(CHANNEL).await.unwrap();
        assert_eq!((&channel["frozen"], &channel["name"]), (&json!(true), &name_before), "the full update kept the data");
        assert!(channel["messages"].as_array().unwrap().iter().any(|m| m["type"] == "system"), "{channel}");
    }
);
