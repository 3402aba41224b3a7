//! Tenant isolation: for every route, a caller of another gym, a caller with no membership, an
//! inactive member, and ids of another gym in the path or the body. Nothing of the other gym is
//! returned or changed, in the database or in Stream. And two replicas on one database behave
//! as one.

use std::collections::BTreeSet;

use gymchat_ids::GymId;
use gymchat_testkit::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod support;

use support::*;

/// Every route that names something, with a room, a user, an event and a channel filled in.
fn routes(room: i64, user: i64, event: i64, channel: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/chat/token".into(), None),
        (Method::GET, "/api/v1/chat/my-rooms".into(), None),
        (Method::POST, "/api/v1/chat/rooms".into(), Some(json!({ "name": "x", "member_ids": [user] }))),
        (Method::GET, format!("/api/v1/chat/rooms/direct/{user}"), None),
        (Method::GET, format!("/api/v1/chat/rooms/event/{event}"), None),
        (Method::DELETE, format!("/api/v1/chat/rooms/{room}"), None),
        (Method::POST, format!("/api/v1/chat/rooms/{room}/members/{user}"), None),
        (Method::DELETE, format!("/api/v1/chat/rooms/{room}/members/{user}"), None),
        (Method::POST, format!("/api/v1/chat/rooms/{room}/hide"), None),
        (Method::POST, format!("/api/v1/chat/rooms/{room}/show"), None),
        (Method::POST, format!("/api/v1/chat/rooms/{room}/leave"), None),
        (Method::DELETE, format!("/api/v1/chat/rooms/{room}/conversation"), None),
        (Method::DELETE, format!("/api/v1/chat/channels/orphan/{channel}"), None),
        (Method::POST, format!("/api/v1/chat/general-channel/add-member/{user}"), None),
        (Method::DELETE, format!("/api/v1/chat/general-channel/remove-member/{user}"), None),
    ]
}

/// What both gyms hold: rooms with members, hidden rows, and Stream's channels.
async fn world(app: &App) -> (String, Value) {
    let mut db = app.store.session().await.unwrap();
    let mut text = String::new();
    for g in [4, 5] {
        let gym = GymId::new(g).unwrap();
        for r in db.rooms_with_members(gym).await.unwrap().rows {
            text.push_str(&format!("{r:?}\n"));
        }
    }
    for u in [10, 8, 11, 17, 21] {
        let hidden = db.hidden_rooms(gymchat_ids::UserId::new(u).unwrap()).await.unwrap().rows;
        text.push_str(&format!("{hidden:?}\n"));
    }
    let channels = app.stream_state().await["channels"].clone();
    (text, channels)
}

on_both_backends!(
    async fn no_route_lets_one_gym_read_or_change_anothers_data(db) {
        let app = spawn_app(&db).await;
        // Diego's membership of gym 4 runs out; Elena belongs to gym 5 only.
        execute(&db, "UPDATE user_gyms SET membership_expires_at = '2020-01-01 00:00:00' WHERE user_id = 17 AND gym_id = 4").await;
        let before = world(&app).await;

        // No membership, or an expired one: every route of gym 4 is 403.
        for (who, name) in [(ELENA, "Elena, no membership"), (DIEGO, "Diego, membership expired")] {
            for (method, path, body) in routes(638, 10, 639, "room_General_10") {
                let (status, answer) = app.call(method.clone(), &path, who, 4, body).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {method} {path}: {answer}");
                assert!(answer["detail"].is_string());
            }
        }
        // Elena in her own gym, naming gym 4's room 638, user 10 and event 639, and Ana in gym 4
        // naming gym 5's room 670 and user 21: refused with the platform's statuses (rooms not
        // found, people without a shared gym 403, the group's member 422, an event of another
        // gym 403, a channel a room uses 409), except removing someone who is not in the General
        // channel, which is 200 and changes nothing.
        let expected = |path: &str| match path {
            "/api/v1/chat/token" | "/api/v1/chat/my-rooms" => StatusCode::OK,
            "/api/v1/chat/rooms" => StatusCode::UNPROCESSABLE_ENTITY,
            p if p.contains("/rooms/direct/") || p.contains("/rooms/event/") => StatusCode::FORBIDDEN,
            p if p.contains("/channels/orphan/") => StatusCode::CONFLICT,
            p if p.contains("/remove-member/") => StatusCode::OK,
            _ => StatusCode::NOT_FOUND,
        };
        for (method, path, body) in routes(638, 10, 639, "room_General_10") {
            let (status, answer) = app.call(method.clone(), &path, ELENA, 5, body).await;
            assert_eq!(status, expected(&path), "Elena in gym 5: {method} {path}: {answer}");
            if path.ends_with("/token") {
                assert_eq!(answer["stream_user_id"], "gym_5_user_21");
            }
            if path.ends_with("/my-rooms") {
                assert_eq!(answer.as_array().unwrap().iter().map(|r| r["id"].clone()).collect::<Vec<_>>(), vec![json!(670)]);
            }
        }
        for (method, path, body) in routes(670, 21, 639, "room_General_21") {
            if path.ends_with("/token") || path.ends_with("/my-rooms") || path.contains("/event/") {
                continue;
            }
            let (status, answer) = app.call(method.clone(), &path, ANA, 4, body).await;
            assert_eq!(status, expected(&path), "Ana naming gym 5's ids: {method} {path}: {answer}");
        }
        // A gym-4 room and a gym-5 user together: still not found.
        assert_eq!(app.post("/api/v1/chat/rooms/639/members/21", ANA, 4, None).await.0, StatusCode::NOT_FOUND);

        let after = world(&app).await;
        assert_eq!(before.0, after.0, "the database changed");
        assert_eq!(before.1, after.1, "Stream's channels changed");
    }
);

on_both_backends!(
    async fn two_replicas_on_one_database_create_one_room_per_pair(db) {
        let app = spawn_app(&db).await;
        let (second, _stop) = start_service(db.url(), &app.sandbox_url).await;
        let replicas = [app.url.clone(), second];
        let requests = (0..10).map(|i| {
            let url = format!("{}/api/v1/chat/rooms/direct/{}", replicas[i % 2], if i % 3 == 0 { 11 } else { 17 });
            let caller = if i % 3 == 0 { DIEGO } else { CARLA };
            let http = app.http.clone();
            async move {
                let r = http.get(url).bearer_auth(jwt(caller)).header("X-Gym-ID", "4").send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        });
        let answers = futures::future::join_all(requests).await;
        let ids: BTreeSet<i64> = answers
            .iter()
            .map(|(status, body)| {
                assert_eq!(*status, StatusCode::OK, "{body}");
                body["id"].as_i64().unwrap()
            })
            .collect();
        assert_eq!(ids.len(), 1, "{answers:?}");
        let mut session = app.store.session().await.unwrap();
        let rooms = session
            .direct_rooms_of_pair(GymId::new(4).unwrap(), gymchat_ids::UserId::new(11).unwrap(), gymchat_ids::UserId::new(17).unwrap())
            .await
            .unwrap()
            .rows;
        assert_eq!(rooms.len(), 1);
    }
);
