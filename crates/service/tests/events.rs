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
    async fn another_gyms_event_is_refused(db) {
        let app = spawn_app(&db).await;
        let (status, body) = app.get("/api/v1/chat/rooms/event/639", ELENA, 5).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["detail"], "No tienes acceso a este evento - pertenece a otro gimnasio");
        let (status, body) = app.get("/api/v1/chat/rooms/event/999999", ELENA, 5).await;
        assert_eq!((status, &body["detail"]), (StatusCode::NOT_FOUND, &json!("Event 999999 not found")));
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
        execute(&db, "INSERT INTO events (id, gym_id, title, start_time, end_time, status, creator_id, max_participants) \
                      VALUES (700, 4, 'Clase de Boxeo para principiantes', '2026-12-20 18:00:00+00', '2026-12-20 19:00:00+00', 'SCHEDULED', 10, 20)").await;
        let request = json!({ "event_id": 700, "creator_id": 10, "gym_id": 4, "event_title": "ignored", "first_message_chat": "Welcome!" });
        let (status, body) = app.worker("/api/v1/worker/event-chat", request.clone()).await;
        assert_eq!((status, &body["message"]), (StatusCode::OK, &json!("Chat room for event 700 successfully created")), "{body}");
        let room = body["details"]["room_id"].clone();
        let channel_id = body["details"]["stream_channel_id"].as_str().unwrap().to_owned();
        let (_, again) = app.worker("/api/v1/worker/event-chat", request).await;
        assert_eq!(again, json!({ "success": true, "message": "Chat room for event 700 already exists",
                                  "details": { "room_id": room, "stream_channel_id": channel_id } }));
        let channel = app.stream_channel(&channel_id).await.unwrap();
        assert_eq!(channel["name"], "Evento Clase de Boxeo para ", "the first 20 characters of the title");
        let welcomes = channel["messages"].as_array().unwrap().iter().filter(|m| m["text"] == "Welcome!").count();
        assert_eq!(welcomes, 1, "{channel}");
        // An existing room gets no first message, as on the platform.
        let (_, body) = app.worker("/api/v1/worker/event-chat", json!({ "event_id": 639, "creator_id": 10, "gym_id": 4, "first_message_chat": "Hello?" })).await;
        assert_eq!(body["details"]["room_id"], ROOM, "{body}");
        let channel = app.stream_channel(CHANNEL).await.unwrap();
        assert!(!channel["messages"].as_array().unwrap().iter().any(|m| m["text"] == "Hello?"));
    }
);

on_both_backends!(
    async fn the_workers_event_chat_of_an_event_in_another_gym_is_a_handled_failure(db) {
        let app = spawn_app(&db).await;
        let (status, body) = app.worker("/api/v1/worker/event-chat", json!({ "event_id": 639, "creator_id": 21, "gym_id": 5 })).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "success": false, "message": "Event 639 does not belong to gym 5", "details": null }));
    }
);

on_both_backends!(
    async fn completing_an_event_freezes_its_channel_with_a_note_and_keeps_its_room_readable(db) {
        let app = spawn_app(&db).await;
        let name_before = app.stream_channel(CHANNEL).await.unwrap()["name"].clone();
        let (status, body) = app.worker("/api/v1/worker/event-completion", json!({ "event_id": 639, "gym_id": 4 })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut db = app.store.session().await.unwrap();
        let event = db.event(EventId::new(639).unwrap()).await.unwrap().unwrap();
        assert_eq!(event.status, Some(EventStatus::Completed));
        assert_eq!(db.room(RoomId::new(ROOM).unwrap()).await.unwrap().unwrap().status, Some(RoomStatus::Active));
        let channel = app.stream_channel(CHANNEL).await.unwrap();
        assert_eq!((&channel["frozen"], &channel["name"]), (&json!(true), &name_before), "the full update kept the data");
        let note = channel["messages"].as_array().unwrap().iter().find(|m| m["type"] == "system").cloned();
        assert!(note.is_some_and(|m| m["text"].as_str().unwrap().starts_with("Este evento ha finalizado.")), "{channel}");
    }
);

on_both_backends!(
    async fn on_productions_schema_a_failed_completion_is_counted_and_the_event_left_scheduled(db) {
        // Production's `events` counts failed completions; gymchat's own definitions do not.
        let store = gymchat_store::Store::open(db.url()).await.unwrap();
        let fixture = gymchat_store::DbFixture::from_json(&gymchat_testkit::read_fixture("gym4.json")).unwrap();
        store.load_fixture(&fixture).await.unwrap();
        execute(&db, "ALTER TABLE events ADD COLUMN completion_attempts INTEGER NOT NULL DEFAULT 0").await;
        let sandbox = sandbox().await;
        let (url, _service) = start_service(db.url(), &sandbox.url).await;
        let http = reqwest::Client::new();
        let due = || async {
            let answer = http.get(format!("{url}/api/v1/worker/events/due-completion")).header("x-api-key", WORKER_KEY).send().await.unwrap();
            answer.json::<serde_json::Value>().await.unwrap().as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(due().await, vec![639]);
        // Ten failures so far: still listed.
        execute(&db, "UPDATE events SET completion_attempts = 10 WHERE id = 639").await;
        assert_eq!(due().await, vec![639]);
        // Stream fails while the chat is closed: not completed, and the eleventh failure counted,
        // after which the worker no longer lists it, as on the platform.
        sandbox.outage("QueryChannels", 3).await;
        let body = json!({ "event_id": 639, "gym_id": 4 });
        let answer = http.post(format!("{url}/api/v1/worker/event-completion")).header("x-api-key", WORKER_KEY).json(&body).send().await.unwrap();
        let answer: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(answer["success"], false, "{answer}");
        assert!(answer["message"].as_str().unwrap().starts_with("Error processing event: "), "{answer}");
        let event = store.session().await.unwrap().event(EventId::new(639).unwrap()).await.unwrap().unwrap();
        assert_eq!(event.status, Some(EventStatus::Scheduled), "a chat not closed leaves the event to do again");
        assert!(due().await.is_empty(), "eleven failures");
        // Stream is back: the completion goes through.
        let answer = http.post(format!("{url}/api/v1/worker/event-completion")).header("x-api-key", WORKER_KEY).json(&body).send().await.unwrap();
        assert_eq!(answer.json::<serde_json::Value>().await.unwrap()["success"], true);
    }
);
