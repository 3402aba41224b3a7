//! The gym's General channel through the service, on both backends against the sandbox.

use gymchat_ids::{RoomId, UserId};
use gymchat_testkit::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

mod support;

use support::*;

async fn members_of_639(app: &App) -> Vec<UserId> {
    app.store.session().await.unwrap().room_members(RoomId::new(639).unwrap()).await.unwrap()
}

fn user(u: i64) -> UserId {
    UserId::new(u).unwrap()
}

on_both_backends!(
    async fn a_gym_with_a_general_room_before_gymchat_keeps_that_one(db) {
        let app = spawn_app(&db).await;
        let (status, body) = app.get("/api/v1/chat/general-channel/info", CARLA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((&body["id"], &body["name"], &body["stream_channel_id"]), (&json!(639), &json!("General"), &json!("room_General_10")));
        assert_eq!(body["member_count"], members_of_639(&app).await.len());
    }
);

on_both_backends!(
    async fn info_creates_the_general_channel_when_missing_as_the_platform_does(db) {
        let app = spawn_app(&db).await;
        let (status, body) = app.get("/api/v1/chat/general-channel/info", BRUNO, 1).await;
        assert_eq!((status, &body["stream_channel_id"]), (StatusCode::OK, &json!("general_1")), "{body}");
        assert_eq!(body["member_count"], 1);
        assert!(body["created_at"].as_str().is_some_and(|t| !t.ends_with('Z')), "naive: {body}");
        assert!(app.stream_channel("general_1").await.is_some());
    }
);

on_both_backends!(
    async fn the_first_join_creates_general_with_every_active_member(db) {
        let app = spawn_app(&db).await;
        let (status, body) = app.post("/api/v1/chat/general-channel/join", BRUNO, 1, None).await;
        assert_eq!((status, &body), (StatusCode::OK, &json!({ "message": "Te has unido exitosamente al canal general" })));
        let channel = app.stream_channel("general_1").await.expect("created");
        assert_eq!((&channel["team"], &channel["members"]), (&json!("gym_1"), &json!(["gym_1_user_8"])));
        assert_eq!(app.get("/api/v1/chat/general-channel/info", BRUNO, 1).await.1["member_count"], 1);
    }
);

on_both_backends!(
    async fn a_member_leaves_general_on_both_sides(db) {
        let app = spawn_app(&db).await;
        app.post("/api/v1/chat/general-channel/join", BRUNO, 1, None).await;
        let (status, body) = app.call(Method::DELETE, "/api/v1/chat/general-channel/leave", BRUNO, 1, None).await;
        assert_eq!((status, &body), (StatusCode::OK, &json!({ "message": "Has salido del canal general" })));
        assert_eq!(app.get("/api/v1/chat/general-channel/info", BRUNO, 1).await.1["member_count"], 0);
        assert_eq!(app.stream_channel("general_1").await.unwrap()["members"], json!([]));
    }
);

on_both_backends!(
    async fn a_member_may_not_add_others_to_general(db) {
        let app = spawn_app(&db).await;
        app.post("/api/v1/chat/general-channel/join", BRUNO, 1, None).await;
        assert_eq!(app.post("/api/v1/chat/general-channel/add-member/8", BRUNO, 1, None).await.0, StatusCode::FORBIDDEN);
    }
);

on_both_backends!(
    async fn a_join_takes_out_members_whose_gym_membership_lapsed(db) {
        let app = spawn_app(&db).await;
        execute(&db, "UPDATE user_gyms SET is_active = false WHERE user_id = 17 AND gym_id = 4").await;
        assert_eq!(app.post("/api/v1/chat/general-channel/join", CARLA, 4, None).await.0, StatusCode::OK);
        let members = members_of_639(&app).await;
        assert!(!members.contains(&user(17)) && members.contains(&user(11)), "{members:?}");
    }
);

on_both_backends!(
    async fn an_admin_adds_and_removes_the_gyms_members_only(db) {
        let app = spawn_app(&db).await;
        let (status, body) = app.post("/api/v1/chat/general-channel/add-member/21", ANA, 4, None).await;
        assert_eq!((status, &body["detail"]), (StatusCode::NOT_FOUND, &json!("El usuario no pertenece a este gimnasio")));
        let (status, body) = app.call(Method::DELETE, "/api/v1/chat/general-channel/remove-member/17", ANA, 4, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!members_of_639(&app).await.contains(&user(17)));
        assert_eq!(app.post("/api/v1/chat/general-channel/add-member/17", ANA, 4, None).await.0, StatusCode::OK);
        assert!(members_of_639(&app).await.contains(&user(17)));
    }
);
