//! Group rooms through the service, on both backends against the sandbox: who may create one,
//! with whom, its members, leaving, and deleting it.

use gymchat_ids::{GymId, RoomId, UserId};
use gymchat_testkit::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

mod support;

use support::*;

fn user(u: i64) -> UserId {
    UserId::new(u).unwrap()
}

/// Bruno (TRAINER) makes a group of himself, Carla and Diego; its room id.
async fn crew(app: &App) -> i64 {
    let (status, room) =
        app.post("/api/v1/chat/rooms", BRUNO, 4, Some(json!({ "name": "Morning crew", "member_ids": [11, 17] }))).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    room["id"].as_i64().unwrap()
}

async fn members(app: &App, room: i64) -> Vec<UserId> {
    app.store.session().await.unwrap().room_members(RoomId::new(room).unwrap()).await.unwrap()
}

async fn rooms_of_gym_4(app: &App) -> usize {
    app.store.session().await.unwrap().rooms_with_members(GymId::new(4).unwrap()).await.unwrap().rows.len()
}

on_both_backends!(
    async fn a_member_may_not_create_a_group(db) {
        let app = spawn_app(&db).await;
        let body = json!({ "name": "Morning crew", "member_ids": [11, 17] });
        assert_eq!(app.post("/api/v1/chat/rooms", CARLA, 4, Some(body)).await.0, StatusCode::FORBIDDEN);
    }
);

on_both_backends!(
    async fn a_group_with_someone_of_another_gym_or_a_bad_body_is_refused_and_nothing_is_made(db) {
        let app = spawn_app(&db).await;
        let before = (rooms_of_gym_4(&app).await, app.stream_state().await["channels"].as_array().unwrap().len());
        let mixed = json!({ "name": "Mixed", "member_ids": [11, 21] });
        assert_eq!(app.post("/api/v1/chat/rooms", BRUNO, 4, Some(mixed)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.post("/api/v1/chat/rooms", BRUNO, 4, Some(json!({ "title": 1 }))).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let after = (rooms_of_gym_4(&app).await, app.stream_state().await["channels"].as_array().unwrap().len());
        assert_eq!(after, before, "no room and no channel");
    }
);

on_both_backends!(
    async fn a_group_is_made_on_both_sides_with_its_creator_and_members(db) {
        let app = spawn_app(&db).await;
        let before = rooms_of_gym_4(&app).await;
        let id = crew(&app).await;
        assert_eq!(rooms_of_gym_4(&app).await, before + 1);
        assert_eq!(members(&app, id).await, vec![user(8), user(11), user(17)]);
        let channel = app.stream_channel(&format!("room_4_{id}")).await.expect("channel created");
        assert_eq!((&channel["team"], &channel["created_by_id"]), (&json!("gym_4"), &json!("gym_4_user_8")));
        assert_eq!(channel["members"].as_array().unwrap().len(), 3);
    }
);

on_both_backends!(
    async fn only_admins_change_a_groups_members_on_both_sides(db) {
        let app = spawn_app(&db).await;
        let id = crew(&app).await;
        let path = format!("/api/v1/chat/rooms/{id}/members/17");
        assert_eq!(app.call(Method::DELETE, &path, BRUNO, 4, None).await.0, StatusCode::FORBIDDEN, "a trainer may not");
        let (status, body) = app.call(Method::DELETE, &path, ANA, 4, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(members(&app, id).await, vec![user(8), user(11)]);
        let channel = app.stream_channel(&format!("room_4_{id}")).await.unwrap();
        assert!(!channel["members"].as_array().unwrap().contains(&json!("gym_4_user_17")));
        assert_eq!(app.post(&path, ANA, 4, None).await.0, StatusCode::OK);
        assert_eq!(members(&app, id).await, vec![user(8), user(11), user(17)]);
    }
);

on_both_backends!(
    async fn a_groups_new_member_must_be_an_active_member_of_its_gym(db) {
        let app = spawn_app(&db).await;
        let id = crew(&app).await;
        let status = app.post(&format!("/api/v1/chat/rooms/{id}/members/21"), ANA, 4, None).await.0;
        assert_eq!(status, StatusCode::NOT_FOUND, "Elena is gym 5's");
    }
);

on_both_backends!(
    async fn a_group_is_deleted_only_once_empty_and_never_by_a_member(db) {
        let app = spawn_app(&db).await;
        let id = crew(&app).await;
        let path = format!("/api/v1/chat/rooms/{id}");
        let (status, body) = app.call(Method::DELETE, &path, ANA, 4, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "members remain");
        assert_eq!(body["detail"], "Debes remover a todos los miembros (3 restantes) antes de eliminar el grupo.");
        assert_eq!(app.call(Method::DELETE, &path, CARLA, 4, None).await.0, StatusCode::FORBIDDEN);
        for (who, left) in [(BRUNO, 2), (CARLA, 1), (DIEGO, 0)] {
            let (status, body) = app.post(&format!("{path}/leave"), who, 4, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body, json!({ "success": true, "message": "Has salido del grupo 'Morning crew'", "room_id": id,
                                     "remaining_members": left, "group_deleted": left == 0, "auto_hidden": true }));
        }
        let (status, body) = app.call(Method::DELETE, &format!("{path}?hard_delete=true"), ANA, 4, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "success": true, "message": "Grupo 'Morning crew' eliminado exitosamente", "room_id": id,
                                 "deleted_from_stream": true }));
        let room = app.store.session().await.unwrap().room(RoomId::new(id).unwrap()).await.unwrap().unwrap();
        assert_eq!(room.status, Some(gymchat_store::RoomStatus::Closed), "the row is kept, closed");
    }
);

on_both_backends!(
    async fn a_trainer_deletes_the_empty_group_they_created(db) {
        let app = spawn_app(&db).await;
        let (_, own) = app.post("/api/v1/chat/rooms", BRUNO, 4, Some(json!({ "name": "Solo", "member_ids": [] }))).await;
        let id = own["id"].as_i64().unwrap();
        assert_eq!(app.post(&format!("/api/v1/chat/rooms/{id}/leave"), BRUNO, 4, None).await.0, StatusCode::OK);
        let (status, body) = app.call(Method::DELETE, &format!("/api/v1/chat/rooms/{id}"), BRUNO, 4, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
);

on_both_backends!(
    async fn a_direct_room_can_be_neither_left_nor_deleted(db) {
        let app = spawn_app(&db).await;
        let (status, body) = app.post("/api/v1/chat/rooms/638/leave", ANA, 4, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"].as_str().unwrap().starts_with("No puedes salir de un chat directo"), "{body}");
        let (status, body) = app.call(Method::DELETE, "/api/v1/chat/rooms/638", ANA, 4, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"].as_str().unwrap().starts_with("No puedes eliminar un chat directo"), "{body}");
    }
);
