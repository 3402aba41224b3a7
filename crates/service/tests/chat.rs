//! The chat service end to end on both backends, against the sandbox over HTTP: each endpoint's
//! success and refusal paths, checked in the database and in the sandbox's state.

use std::collections::BTreeSet;

use gymchat_ids::{GymId, RoomId, UserId};
use gymchat_store::RoomStatus;
use gymchat_testkit::on_both_backends;
use jsonwebtoken::{DecodingKey, Validation, decode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod support;

use support::*;

fn gym(g: i64) -> GymId {
    GymId::new(g).unwrap()
}

fn user(u: i64) -> UserId {
    UserId::new(u).unwrap()
}

/// The direct rooms of gym 4 that both users are members of.
async fn direct_rooms(app: &App, a: i64, b: i64) -> Vec<i64> {
    let mut db = app.store.session().await.unwrap();
    db.direct_rooms_of_pair(gym(4), user(a), user(b)).await.unwrap().rows.iter().map(|r| r.id.get()).collect()
}

on_both_backends!(
    async fn the_token_is_a_stream_user_token_for_the_callers_gym_identity(db) {
        let app = spawn_app(&db).await;
        let (status, body) = app.get("/api/v1/chat/token", ANA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["stream_user_id"], "gym_4_user_10");
        assert_eq!(body["internal_user_id"], 10);
        assert_eq!(body["api_key"], KEY);
        let mut validation = Validation::default();
        validation.set_required_spec_claims(&["exp", "iat"]);
        let claims = decode::<Value>(body["token"].as_str().unwrap(), &DecodingKey::from_secret(SECRET.as_bytes()), &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["user_id"], "gym_4_user_10");
        // The identity exists in Stream with the gym's team and the person's name.
        let stream_user = app.stream_user("gym_4_user_10").await.expect("upserted");
        assert_eq!(stream_user["teams"], json!(["gym_4"]));
        assert_eq!(stream_user["name"], "Ana Torres");
        // A second token is a partial update: what the app set on the user stays.
        app.stream
            .update_users_partial(&[gymchat_stream::model::UserPatch {
                id: gymchat_ids::StreamUserId::parse("gym_4_user_10").unwrap(),
                set: json!({ "favourite": "deadlift" }).as_object().unwrap().clone(),
                unset: vec![],
            }])
            .await
            .unwrap();
        // Nothing changed: the next token calls Stream not at all.
        let calls = || async {
            let stats: Value = app.sandbox.stats().await;
            stats["operations"].as_object().unwrap().values().map(|o| o["calls"].as_u64().unwrap()).sum::<u64>()
        };
        let before = calls().await;
        assert_eq!(app.get("/api/v1/chat/token", ANA, 4).await.0, StatusCode::OK);
        assert_eq!(calls().await, before, "an unchanged identity is not upserted again");
        // Her name changes: the next token updates it, keeping what the app set on the user.
        execute(&db, "UPDATE \"user\" SET last_name = 'Torres Vega' WHERE id = 10").await;
        assert_eq!(app.get("/api/v1/chat/token", ANA, 4).await.0, StatusCode::OK);
        let stream_user = app.stream_user("gym_4_user_10").await.unwrap();
        assert_eq!(stream_user["name"], "Ana Torres Vega");
        assert_eq!(stream_user["favourite"], "deadlift", "a partial update keeps what it does not set");
        // The same person in another gym is another identity.
        let (status, body) = app.get("/api/v1/chat/token", BRUNO, 1).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["stream_user_id"], "gym_1_user_8");
    }
);

on_both_backends!(
    async fn callers_are_refused_with_the_right_status_and_a_detail(db) {
        let app = spawn_app(&db).await;
        let url = format!("{}/api/v1/chat/my-rooms", app.url);
        let send = |request: reqwest::RequestBuilder| async move {
            let r = request.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        };
        // No token (403, as the platform answers), a token signed with another key, an expired
        // one, `alg: none` (401).
        let (status, body) = send(app.http.get(&url).header("X-Gym-ID", "4")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["detail"], "Missing bearer token");
        let now = chrono::Utc::now().timestamp();
        let forged = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({ "sub": ANA, "exp": now + 60 }),
            &jsonwebtoken::EncodingKey::from_secret(b"not the secret"),
        )
        .unwrap();
        let expired = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({ "sub": ANA, "exp": now - 3600 }),
            &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .unwrap();
        let none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&json!({ "sub": ANA, "exp": now + 60 }).to_string()));
        for token in [forged, expired, none, "garbage".to_owned()] {
            let (status, body) = send(app.http.get(&url).bearer_auth(&token).header("X-Gym-ID", "4")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}: {body}");
            assert!(body["detail"].is_string());
        }
        // The gym header: missing or malformed 400, unknown gym 404, not a member 403.
        let (status, _) = send(app.http.get(&url).bearer_auth(jwt(ANA))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = send(app.http.get(&url).bearer_auth(jwt(ANA)).header("X-Gym-ID", "four")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/v1/chat/my-rooms", ANA, 999).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/v1/chat/my-rooms", ELENA, 4).await.0, StatusCode::FORBIDDEN);
        // A subject no user has.
        let (status, body) = app.get("/api/v1/chat/my-rooms", "auth0|nobody", 4).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body["detail"].as_str().unwrap().contains("no está registrada"), "{body}");
        // An unknown path answers in the same shape.
        let (status, body) = app.get("/api/v1/chat/nothing-here", ANA, 4).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body["detail"].is_string());
    }
);

/// URL-safe base64 without padding, for a hand-made `alg: none` token.
fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

on_both_backends!(
    async fn my_rooms_lists_the_callers_active_rooms_of_the_gym_without_hidden_ones(db) {
        let app = spawn_app(&db).await;
        let ids = |body: &Value| body.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect::<BTreeSet<_>>();
        // Diego is in 664 (hidden by him) and the General room 639.
        let (status, body) = app.get("/api/v1/chat/my-rooms", DIEGO, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(ids(&body), BTreeSet::from([639]));
        let (_, body) = app.get("/api/v1/chat/my-rooms?include_hidden=true", DIEGO, 4).await;
        assert_eq!(ids(&body), BTreeSet::from([639, 664]));
        let room = body.as_array().unwrap().iter().find(|r| r["id"] == 639).unwrap();
        assert_eq!(room["stream_channel_id"], "room_General_10");
        assert_eq!(room["is_direct"], false);
        // The platform's seven keys, no more.
        let keys: BTreeSet<&str> = room.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["name", "is_direct", "event_id", "id", "stream_channel_id", "stream_channel_type", "created_at"]));
        // Ana's closed event rooms are not listed.
        let (_, body) = app.get("/api/v1/chat/my-rooms", ANA, 4).await;
        assert!(!ids(&body).contains(&641), "{body}");
    }
);

on_both_backends!(
    async fn a_pairs_direct_room_is_found_through_the_database_or_created_once(db) {
        let app = spawn_app(&db).await;
        // Ana and Bruno have a legacy room: it is found, whichever of them asks.
        let (status, body) = app.get("/api/v1/chat/rooms/direct/8", ANA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], 638);
        assert_eq!(app.get("/api/v1/chat/rooms/direct/10", BRUNO, 4).await.1["id"], 638);
        // Bruno and Diego have none: one is created with a tenant-scoped channel.
        let (status, body) = app.get("/api/v1/chat/rooms/direct/17", BRUNO, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["stream_channel_id"], "direct_gym_4_user_17_gym_4_user_8");
        assert_eq!(body["is_direct"], true);
        let id = body["id"].as_i64().unwrap();
        assert_eq!(app.get("/api/v1/chat/rooms/direct/8", DIEGO, 4).await.1["id"], id);
        assert_eq!(direct_rooms(&app, 8, 17).await, vec![id]);
        let channel = app.stream_channel("direct_gym_4_user_17_gym_4_user_8").await.expect("channel created");
        assert_eq!(channel["team"], "gym_4");
        let members: BTreeSet<&str> = channel["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
        assert_eq!(members, BTreeSet::from(["gym_4_user_17", "gym_4_user_8"]));
        // Refusals: oneself 400, a malformed id 422, someone of another gym 403 (no shared gym).
        assert_eq!(app.get("/api/v1/chat/rooms/direct/8", BRUNO, 4).await.0, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/api/v1/chat/rooms/direct/abc", BRUNO, 4).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.get("/api/v1/chat/rooms/direct/21", BRUNO, 4).await.0, StatusCode::FORBIDDEN);
        assert!(app.stream_channel("direct_gym_4_user_21_gym_4_user_8").await.is_none());
    }
);

on_both_backends!(
    async fn concurrent_first_requests_for_a_pair_create_exactly_one_room(db) {
        let app = spawn_app(&db).await;
        let requests = (0..8).map(|i| {
            let (caller, other) = if i % 2 == 0 { (CARLA, 17) } else { (DIEGO, 11) };
            let app = &app;
            async move { app.get(&format!("/api/v1/chat/rooms/direct/{other}"), caller, 4).await }
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
        assert_eq!(direct_rooms(&app, 11, 17).await.len(), 1);
    }
);

/// The webhook inbox's deliveries waiting, being worked and done.
async fn inbox_counts(app: &App) -> (i64, i64, i64) {
    let c = app.store.session().await.unwrap().webhook_inbox_counts().await.unwrap();
    (c.pending, c.working, c.done)
}

on_both_backends!(
    async fn hide_and_show_keep_the_history_and_a_new_message_unhides(db) {
        let app = spawn_app(&db).await;
        let messages_before = app.stream_channel("direct_user_10_user_8").await.unwrap()["messages"].as_array().unwrap().len();
        let (status, body) = app.post("/api/v1/chat/rooms/638/hide", ANA, 4, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let listed = |body: Value| body.as_array().unwrap().iter().any(|r| r["id"] == 638);
        assert!(!listed(app.get("/api/v1/chat/my-rooms", ANA, 4).await.1));
        assert!(listed(app.get("/api/v1/chat/my-rooms", BRUNO, 4).await.1), "hidden for Ana only");
        let channel = app.stream_channel("direct_user_10_user_8").await.unwrap();
        assert_eq!(channel["messages"].as_array().unwrap().len(), messages_before, "hiding deletes nothing");
        assert_eq!(app.post("/api/v1/chat/rooms/638/show", ANA, 4, None).await.0, StatusCode::OK);
        assert!(listed(app.get("/api/v1/chat/my-rooms", ANA, 4).await.1));

        // A new message un-hides, once per webhook id; a migration's copy does not.
        app.post("/api/v1/chat/rooms/638/hide", ANA, 4, None).await;
        let event = |copy: bool| {
            let mut message = json!({ "id": "m-1", "text": "hi", "user": { "id": "gym_4_user_8" } });
            if copy {
                message["gymchat_copy"] = json!(true);
            }
            json!({ "type": "message.new", "cid": "messaging:direct_user_10_user_8", "channel_id": "direct_user_10_user_8",
                    "channel_type": "messaging", "message": message })
        };
        assert_eq!(app.webhook("/api/v1/webhooks/stream", "wh-copy", &event(true)).await, StatusCode::OK);
        assert_eq!(app.webhook("/api/v1/webhooks/stream", "wh-1", &event(false)).await, StatusCode::OK);
        assert!(eventually(|| async { listed(app.get("/api/v1/chat/my-rooms", ANA, 4).await.1) }).await);
        // The same delivery again (a retry) after Ana hid it again: acknowledged but not taken in
        // again (the inbox holds the two deliveries so far, nothing waiting), so it stays hidden.
        app.post("/api/v1/chat/rooms/638/hide", ANA, 4, None).await;
        assert!(eventually(|| async { inbox_counts(&app).await == (0, 0, 2) }).await);
        assert_eq!(app.webhook("/api/v1/webhooks/stream/new-message", "wh-1", &event(false)).await, StatusCode::OK);
        assert_eq!(inbox_counts(&app).await, (0, 0, 2));
        assert!(!listed(app.get("/api/v1/chat/my-rooms", ANA, 4).await.1));
        // The copy's delivery was recorded and did nothing: a later real message un-hides.
        assert_eq!(app.webhook("/api/v1/webhooks/stream/new-message", "wh-2", &event(false)).await, StatusCode::OK);
        assert!(eventually(|| async { listed(app.get("/api/v1/chat/my-rooms", ANA, 4).await.1) }).await);
    }
);

on_both_backends!(
    async fn webhooks_are_taken_only_with_streams_signature_and_gzip_is_unzipped_first(db) {
        let app = spawn_app(&db).await;
        let body = serde_json::to_vec(&json!({ "type": "channel.deleted", "channel_id": "room_General_10", "channel_type": "messaging" })).unwrap();
        let post = |signature: String, body: Vec<u8>, gzip: bool| {
            let mut request = app
                .http
                .post(format!("{}/api/v1/webhooks/stream/channel-deleted", app.url))
                .header("X-Signature", signature)
                .header("X-Webhook-Id", "wh-del")
                .header("Content-Type", "application/json");
            if gzip {
                request = request.header("Content-Encoding", "gzip");
            }
            async move { request.body(body).send().await.unwrap().status() }
        };
        let wrong = signature(b"something else");
        assert_eq!(post(wrong, body.clone(), false).await, StatusCode::UNAUTHORIZED);
        assert_eq!(inbox_counts(&app).await, (0, 0, 0), "a refused delivery is not taken in");
        let status_of_639 = || async {
            app.store.session().await.unwrap().room(RoomId::new(639).unwrap()).await.unwrap().unwrap().status
        };
        assert_eq!(status_of_639().await, Some(RoomStatus::Active), "a refused delivery changes nothing");
        let mut zipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut zipped, &body).unwrap();
        assert_eq!(post(signature(&body), zipped.finish().unwrap(), true).await, StatusCode::OK);
        assert!(eventually(|| async { status_of_639().await == Some(RoomStatus::Closed) }).await);
    }
);

on_both_backends!(
    async fn a_stream_failure_while_creating_a_room_leaves_neither_side_behind(db) {
        let app = spawn_app(&db).await;
        // Every attempt of the channel's creation fails (the client tries 3 times).
        app.stream_outage("GetOrCreateChannel", 3).await;
        let (status, body) = app.get("/api/v1/chat/rooms/direct/17", BRUNO, 4).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(!body["detail"].as_str().unwrap().contains("503"), "no internals in a 5xx: {body}");
        assert!(direct_rooms(&app, 8, 17).await.is_empty(), "no room without a channel");
        assert!(app.stream_channel("direct_gym_4_user_17_gym_4_user_8").await.is_none(), "no channel without a room");
        // Stream is back: the next request creates both, once.
        let (status, body) = app.get("/api/v1/chat/rooms/direct/17", BRUNO, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(direct_rooms(&app, 8, 17).await.len(), 1);
        assert!(app.stream_channel("direct_gym_4_user_17_gym_4_user_8").await.is_some());
    }
);

on_both_backends!(
    async fn a_conversation_is_cleared_for_the_caller_only_and_orphans_are_deleted_only_when_orphaned(db) {
        let app = spawn_app(&db).await;
        // A new direct room (tenant-scoped, so both identities are in the channel).
        let (_, room) = app.get("/api/v1/chat/rooms/direct/17", BRUNO, 4).await;
        let id = room["id"].as_i64().unwrap();
        let (status, body) = app.call(Method::DELETE, &format!("/api/v1/chat/rooms/{id}/conversation"), BRUNO, 4, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let listed = |body: Value| body.as_array().unwrap().iter().any(|r| r["id"] == id);
        assert!(!listed(app.get("/api/v1/chat/my-rooms", BRUNO, 4).await.1));
        assert!(listed(app.get("/api/v1/chat/my-rooms", DIEGO, 4).await.1), "the other member keeps it");
        // Only a direct chat (400), only its members (403), only with `resource:write` (403).
        let (status, body) = app.call(Method::DELETE, "/api/v1/chat/rooms/639/conversation", ANA, 4, None).await;
        assert_eq!((status, body["detail"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "Solo puedes eliminar conversaciones 1-to-1. Para grupos, usa la opción 'salir del grupo'."));
        let (status, body) = app.call(Method::DELETE, &format!("/api/v1/chat/rooms/{id}/conversation"), ANA, 4, None).await;
        assert_eq!((status, body["detail"].as_str().unwrap()), (StatusCode::FORBIDDEN, "No eres miembro de esta conversación"));
        let (status, body) = app.call(Method::DELETE, &format!("/api/v1/chat/rooms/{id}/conversation"), DIEGO, 4, None).await;
        assert_eq!((status, body["detail"].as_str().unwrap()), (StatusCode::FORBIDDEN, "Missing \"resource:write\" scope"));

        // Orphans, by the platform's rules: a channel a room points at (in either form) is 409; a
        // channel of gym 4 that no room points at is deleted by its creator, by bare id or by cid
        // alike; another gym's, a non-member's and a member's that is not the creator are 403.
        let path = |c: &str| format!("/api/v1/chat/channels/orphan/{c}");
        let room_channel = room["stream_channel_id"].as_str().unwrap().to_owned();
        for form in [room_channel.clone(), format!("messaging:{room_channel}")] {
            assert_eq!(app.call(Method::DELETE, &path(&form), BRUNO, 4, None).await.0, StatusCode::CONFLICT, "{form}");
        }
        let data = gymchat_stream::model::ChannelData {
            created_by_id: Some(gymchat_ids::StreamUserId::parse("gym_4_user_8").unwrap()),
            team: Some(gymchat_ids::Team::for_gym(gym(4))),
            members: ["gym_4_user_8", "gym_4_user_10"]
                .into_iter()
                .map(|u| gymchat_stream::model::NewMember::from(gymchat_ids::StreamUserId::parse(u).unwrap()))
                .collect(),
            ..Default::default()
        };
        // Ana's token makes her gym identity in Stream.
        assert_eq!(app.get("/api/v1/chat/token", ANA, 4).await.0, StatusCode::OK);
        for id in ["room_4_99999", "room_4_99998"] {
            let cid = gymchat_ids::Cid::parse(&format!("messaging:{id}")).unwrap();
            app.stream.get_or_create_channel(&cid, Some(&data), 0, None).await.unwrap();
        }
        let refused = |subject: &'static str, gym: i64| {
            let app = &app;
            async move {
                let (status, body) = app.call(Method::DELETE, &path("room_4_99999"), subject, gym, None).await;
                (status, body["detail"].as_str().unwrap_or_default().to_owned())
            }
        };
        let (status, detail) = refused(ELENA, 5).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(detail.starts_with("El canal pertenece a otro gimnasio"), "{detail}");
        let (status, detail) = refused(ANA, 4).await;
        assert_eq!((status, detail.as_str()), (StatusCode::FORBIDDEN, "Solo el creador (owner) puede eliminar canales huérfanos. Tu rol actual: channel_member"));
        let (status, detail) = refused(CARLA, 4).await;
        assert_eq!((status, detail.as_str()), (StatusCode::FORBIDDEN, "Missing \"resource:write\" scope"));
        let (status, body) = app.call(Method::DELETE, &path("bad%20id"), BRUNO, 4, None).await;
        assert_eq!((status, body["detail"].as_str().unwrap()), (StatusCode::NOT_FOUND, "Canal bad id no encontrado en Stream"));
        for c in ["room_4_99999", "messaging:room_4_99998"] {
            let (status, body) = app.call(Method::DELETE, &path(c), BRUNO, 4, None).await;
            assert_eq!(status, StatusCode::OK, "{c}: {body}");
            assert_eq!(body, json!({ "success": true, "message": "Canal huérfano eliminado correctamente" }));
        }
        let state = app.stream_state().await;
        for id in ["room_4_99999", "room_4_99998"] {
            let channel = state["channels"].as_array().unwrap().iter().find(|c| c["id"] == id);
            assert!(channel.is_none_or(|c| !c["deleted_at"].is_null()), "{id} still there: {channel:?}");
        }
        // A legacy channel a room still points at is never deleted here.
        assert_eq!(app.call(Method::DELETE, &path("direct_user_10_user_8"), ANA, 4, None).await.0, StatusCode::CONFLICT);
    }
);

#[tokio::test]
async fn the_openapi_document_describes_every_route_with_its_security() {
    let db = gymchat_testkit::TestDb::sqlite().await;
    let app = spawn_app(&db).await;
    let doc: Value =
        app.http.get(format!("{}/api/v1/openapi.json", app.url)).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let expected = [
        ("get", "/api/v1/chat/token"),
        ("get", "/api/v1/chat/my-rooms"),
        ("get", "/api/v1/chat/user-rooms"),
        ("post", "/api/v1/chat/rooms"),
        ("get", "/api/v1/chat/rooms/direct/{other_user_id}"),
        ("get", "/api/v1/chat/rooms/event/{event_id}"),
        ("delete", "/api/v1/chat/rooms/{room_id}"),
        ("post", "/api/v1/chat/rooms/{room_id}/members/{user_id}"),
        ("delete", "/api/v1/chat/rooms/{room_id}/members/{user_id}"),
        ("post", "/api/v1/chat/rooms/{room_id}/hide"),
        ("post", "/api/v1/chat/rooms/{room_id}/show"),
        ("post", "/api/v1/chat/rooms/{room_id}/leave"),
        ("delete", "/api/v1/chat/rooms/{room_id}/conversation"),
        ("delete", "/api/v1/chat/channels/orphan/{channel_id}"),
        ("get", "/api/v1/chat/general-channel/info"),
        ("post", "/api/v1/chat/general-channel/join"),
        ("delete", "/api/v1/chat/general-channel/leave"),
        ("post", "/api/v1/chat/general-channel/add-member/{user_id}"),
        ("delete", "/api/v1/chat/general-channel/remove-member/{user_id}"),
        ("get", "/api/v1/chat/analytics/gym-summary"),
        ("get", "/api/v1/chat/analytics/user-activity"),
        ("get", "/api/v1/chat/analytics/popular-times"),
        ("get", "/api/v1/chat/analytics/event-effectiveness/{event_id}"),
        ("get", "/api/v1/chat/analytics/health-metrics"),
        ("get", "/api/v1/chat/rooms/{room_id}/stats"),
        ("post", "/api/v1/chat/admin/cleanup-expired-channels"),
        ("post", "/api/v1/worker/event-chat"),
        ("post", "/api/v1/worker/event-completion"),
        ("get", "/api/v1/worker/events/due-completion"),
        ("post", "/api/v1/worker/events/{event_id}/complete"),
        ("post", "/api/v1/webhooks/stream"),
        ("post", "/api/v1/webhooks/stream/new-message"),
        ("post", "/api/v1/webhooks/stream/channel-deleted"),
        ("post", "/api/v1/webhooks/stream/user-banned"),
        ("post", "/api/v1/webhooks/stream/auth"),
        ("post", "/api/v1/webhooks/stream/events"),
        ("get", "/api/v1/webhooks/stream/health"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    ];
    let documented: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, expected.len(), "{}", doc["paths"]);
    for (method, path) in expected {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        if path.starts_with("/api/v1/chat/") {
            assert_eq!(op["security"], json!([{ "bearer": [] }]), "{method} {path}");
            let header = op["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == "X-Gym-ID" && p["in"] == "header"));
            // `user-rooms` is the one chat route without a gym.
            assert_eq!(header, path != "/api/v1/chat/user-rooms", "{method} {path}: X-Gym-ID documented: {header}");
            assert!(op["responses"]["403"].is_object(), "{method} {path}");
        }
    }
    assert_eq!(doc["paths"]["/api/v1/worker/event-chat"]["post"]["security"], json!([{ "worker_key": [] }]));
    assert_eq!(doc["components"]["securitySchemes"]["worker_key"]["name"], "X-API-Key");
    assert!(doc["components"]["schemas"]["ChatRoom"]["properties"]["stream_channel_id"].is_object());
    // A real answer has the documented shape.
    let (_, token) = app.get("/api/v1/chat/token", ANA, 4).await;
    let documented: BTreeSet<&str> = doc["components"]["schemas"]["TokenAnswer"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let answered: BTreeSet<&str> = token.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(documented, answered);
}

on_both_backends!(
    async fn an_event_is_completed_and_frozen_even_when_its_message_fails(db) {
        let app = spawn_app(&db).await;
        // Every attempt of the completion message fails (the service's client tries 3 times).
        app.stream_outage("SendMessage", 3).await;
        let (status, body) = app.worker("/api/v1/worker/event-completion", json!({ "event_id": 639, "gym_id": 4 })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "success": true, "message": "Event 639 marked as completed",
                                 "details": { "event_status": "COMPLETED", "chat_closed": false } }));
        let channel = app.stream_channel("event_639_d3d94468").await.unwrap();
        assert_eq!(channel["frozen"], true, "frozen although the message failed");
        assert_eq!(channel["name"], "Evento Entrenamiento de Fue", "a partial update keeps the channel's other data");
        assert!(!channel["messages"].as_array().unwrap().iter().any(|m| m["type"] == "system"), "{channel}");
        // The room stays listed: its members keep reading the history.
        let room = app.store.session().await.unwrap().room(RoomId::new(665).unwrap()).await.unwrap().unwrap();
        assert_eq!(room.status, Some(RoomStatus::Active));
        // Again: already completed, success.
        let (_, body) = app.worker("/api/v1/worker/event-completion", json!({ "event_id": 639, "gym_id": 4 })).await;
        assert_eq!(body["details"], json!({ "event_status": "COMPLETED", "was_already_completed": true }));
        // An event whose room lost its channel: completed, nothing else fails.
        let (status, body) = app.worker("/api/v1/worker/event-completion", json!({ "event_id": 604, "gym_id": 4 })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["success"], true, "{body}");
    }
);
