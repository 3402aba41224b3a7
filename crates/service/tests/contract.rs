//! The platform's contract (APP_CONTRACT.md) route by route, against the service over HTTP with
//! both databases and the sandbox: each route's success shape (keys and JSON types), its refusals
//! with their status and `detail`, and the iOS app's decoding (§7): every answer the app reads is
//! decoded into a struct with exactly the fields the app requires, as Swift's `Codable` would
//! (unknown keys ignored, every listed key required with its type).

use gymchat_testkit::on_both_backends;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

mod support;

use support::*;

// What the app decodes (APP_CONTRACT §6, §7).

#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct StreamTokenResponse {
    token: String,
    api_key: String,
    internal_user_id: i64,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct ChatRoom {
    id: i64,
    stream_channel_id: String,
    stream_channel_type: String,
    name: Option<String>,
    is_direct: bool,
    event_id: Option<i64>,
    created_at: String,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct ChatHideResponse {
    success: bool,
    message: String,
    room_id: i64,
    is_hidden: bool,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct ChatLeaveResponse {
    success: bool,
    message: String,
    room_id: i64,
    remaining_members: i64,
    group_deleted: bool,
    auto_hidden: bool,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct ChatDeleteGroupResponse {
    success: bool,
    message: String,
    room_id: i64,
    deleted_from_stream: bool,
}

/// The app built from `IOS_CHAT_DELETION_GUIDE.md` (before the platform renamed the key).
#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct DeleteConversationResponseOld {
    success: bool,
    message: String,
    room_id: i64,
    messages_deleted: i64,
}

/// The app built against the platform since 2025-12-15.
#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct DeleteConversationResponse {
    success: bool,
    message: String,
    room_id: i64,
    history_cleared: bool,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct ErrorResponse {
    detail: String,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct WorkerResponse {
    success: bool,
    message: String,
    details: Option<Value>,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "decoding is the check")]
struct EventCompletionStatus {
    id: i64,
    gym_id: i64,
    end_time: String,
    status: String,
}

/// Decodes as the app does, or fails the test naming the route.
fn decode<T: DeserializeOwned>(what: &str, body: &Value) -> T {
    serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("the app cannot decode {what}: {e}: {body}"))
}

/// A naive datetime as Python writes it: no zone, six fractional digits or none.
fn is_naive(text: &str) -> bool {
    let ok = |f: &str| chrono::NaiveDateTime::parse_from_str(text, f).is_ok();
    !text.ends_with('Z') && !text.contains('+') && (ok("%Y-%m-%dT%H:%M:%S") || ok("%Y-%m-%dT%H:%M:%S%.6f"))
}

/// The JSON types of an object's keys, as a comparable value.
fn shape(body: &Value) -> Value {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    Value::Object(body.as_object().unwrap().iter().map(|(k, v)| (k.clone(), json!(kind(v)))).collect())
}

async fn call(app: &App, method: Method, path: &str, subject: &str, gym: i64) -> (StatusCode, Value) {
    app.call(method, path, subject, gym, None).await
}

on_both_backends!(
    async fn every_answer_the_ios_app_reads_decodes_as_it_expects(db) {
        let app = spawn_app(&db).await;
        // C1
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/token", CARLA, 4).await;
        assert_eq!(status, StatusCode::OK);
        let token: StreamTokenResponse = decode("C1", &body);
        assert_eq!(token.internal_user_id, 11);
        // C3 (a new pair), C19, C20: `ChatRoom`, naive `created_at`, exactly seven keys.
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/rooms/direct/17", CARLA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let direct: ChatRoom = decode("C3", &body);
        assert!(is_naive(&direct.created_at), "{}", direct.created_at);
        assert_eq!(
            shape(&body),
            json!({ "name": "string", "is_direct": "bool", "event_id": "null", "id": "int",
                    "stream_channel_id": "string", "stream_channel_type": "string", "created_at": "string" })
        );
        for path in ["/api/v1/chat/my-rooms", "/api/v1/chat/my-rooms?include_hidden=yes", "/api/v1/chat/user-rooms"] {
            let (status, body) = call(&app, Method::GET, path, CARLA, 4).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            let rooms: Vec<ChatRoom> = decode(path, &body);
            assert!(rooms.iter().any(|r| r.id == direct.id), "{path}: {body}");
            assert!(body.as_array().unwrap().iter().all(|r| r.as_object().unwrap().len() == 7), "{path}: {body}");
        }
        // C2 (Bruno, TRAINER), C4: `ChatRoom`.
        let (status, body) = app.post("/api/v1/chat/rooms", BRUNO, 4, Some(json!({ "name": "Crew", "member_ids": [11] }))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let group: ChatRoom = decode("C2", &body);
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/rooms/event/639", CARLA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let event: ChatRoom = decode("C4", &body);
        assert_eq!(event.event_id, Some(639));
        // C22, C23: `ChatHideResponse`, both messages each.
        let hide = format!("/api/v1/chat/rooms/{}/hide", direct.id);
        let show = format!("/api/v1/chat/rooms/{}/show", direct.id);
        for (path, message, hidden) in [
            (&hide, "Chat ocultado exitosamente", true),
            (&hide, "El chat ya estaba oculto", true),
            (&show, "Chat mostrado exitosamente", false),
            (&show, "El chat ya estaba visible", false),
        ] {
            let (status, body) = call(&app, Method::POST, path, CARLA, 4).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            let answer: ChatHideResponse = decode(path, &body);
            assert_eq!((answer.message.as_str(), answer.is_hidden, answer.room_id), (message, hidden, direct.id));
        }
        // C24 `ChatLeaveResponse`, with `auto_hide=false` echoed.
        let (status, body) = call(&app, Method::POST, &format!("/api/v1/chat/rooms/{}/leave?auto_hide=false", group.id), CARLA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let left: ChatLeaveResponse = decode("C24", &body);
        assert_eq!((left.remaining_members, left.group_deleted, left.auto_hidden), (1, false, false));
        // C25 `ChatDeleteGroupResponse` (Ana, OWNER, once the group is empty).
        call(&app, Method::POST, &format!("/api/v1/chat/rooms/{}/leave", group.id), BRUNO, 4).await;
        let (status, body) = call(&app, Method::DELETE, &format!("/api/v1/chat/rooms/{}", group.id), ANA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let deleted: ChatDeleteGroupResponse = decode("C25", &body);
        assert!(!deleted.deleted_from_stream, "no hard_delete asked");
        // C26 both versions of the app (Bruno has `resource:write`).
        let (_, pair) = call(&app, Method::GET, "/api/v1/chat/rooms/direct/17", BRUNO, 4).await;
        let (status, body) = call(&app, Method::DELETE, &format!("/api/v1/chat/rooms/{}/conversation", pair["id"]), BRUNO, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let _: DeleteConversationResponseOld = decode("C26 (old app)", &body);
        let _: DeleteConversationResponse = decode("C26", &body);
        // C27: its success body is compared whole in `chat.rs`; a refusal the app matches here.
        let (status, body) = call(&app, Method::DELETE, &format!("/api/v1/chat/channels/orphan/{}", pair["stream_channel_id"].as_str().unwrap()), BRUNO, 4).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let _: ErrorResponse = decode("C27 409", &body);
    }
);

on_both_backends!(
    async fn the_refusals_are_the_platforms_statuses_and_texts(db) {
        let app = spawn_app(&db).await;
        let cases: Vec<(Method, &str, &str, i64, u16, &str)> = vec![
            // C1, C19: another gym's member, an unknown gym.
            (Method::GET, "/api/v1/chat/token", ELENA, 4, 403, "No tienes acceso al gimnasio 'Iron Temple' (ID: 4). Solo los miembros de este gimnasio pueden acceder a sus recursos."),
            (Method::GET, "/api/v1/chat/my-rooms", ANA, 999, 404, "El gimnasio con ID 999 no existe o no está activo. Verifique que el ID del gimnasio sea correcto."),
            (Method::GET, "/api/v1/chat/my-rooms", ANA, 0, 404, "El gimnasio con ID 0 no existe o no está activo. Verifique que el ID del gimnasio sea correcto."),
            // C2: a MEMBER is not a trainer.
            (Method::POST, "/api/v1/chat/rooms", CARLA, 4, 403, "Permisos insuficientes para esta operación en 'Iron Temple'. Rol actual: MEMBER. Roles requeridos: ADMIN, OWNER, TRAINER."),
            // C3
            (Method::GET, "/api/v1/chat/rooms/direct/11", CARLA, 4, 400, "Cannot create a direct chat with yourself"),
            (Method::GET, "/api/v1/chat/rooms/direct/21", CARLA, 4, 403, "No compartes ningún gimnasio con este usuario"),
            // C4
            (Method::GET, "/api/v1/chat/rooms/event/424242", CARLA, 4, 404, "Event 424242 not found"),
            (Method::GET, "/api/v1/chat/rooms/event/639", DIEGO, 4, 403, "Debes estar inscrito en este evento para acceder a su chat"),
            // C5, C6: admin level, then the room, then the user.
            (Method::POST, "/api/v1/chat/rooms/639/members/17", BRUNO, 4, 403, "Permisos insuficientes para esta operación en 'Iron Temple'. Rol actual: TRAINER. Roles requeridos: ADMIN, OWNER."),
            (Method::POST, "/api/v1/chat/rooms/424242/members/17", ANA, 4, 404, "No existe sala de chat con ID 424242"),
            (Method::POST, "/api/v1/chat/rooms/639/members/21", ANA, 4, 404, "Usuario con ID interno 21 no encontrado"),
            (Method::DELETE, "/api/v1/chat/rooms/670/members/21", ANA, 4, 404, "No existe sala de chat con ID 670"),
            // C13–C17
            (Method::POST, "/api/v1/chat/general-channel/add-member/17", CARLA, 4, 403, "Permisos insuficientes para esta operación en 'Iron Temple'. Rol actual: MEMBER. Roles requeridos: ADMIN, OWNER."),
            (Method::POST, "/api/v1/chat/general-channel/add-member/21", ANA, 4, 404, "El usuario no pertenece a este gimnasio"),
            // C22
            (Method::POST, "/api/v1/chat/rooms/424242/hide", ANA, 4, 404, "Sala de chat 424242 no encontrada"),
            (Method::POST, "/api/v1/chat/rooms/670/hide", ANA, 4, 404, "No tienes acceso a esta sala de chat"),
            (Method::POST, "/api/v1/chat/rooms/639/hide", ANA, 4, 400, "Solo puedes ocultar chats directos 1-to-1. Para grupos, debes salir primero usando 'leave group'."),
            (Method::POST, "/api/v1/chat/rooms/638/hide", CARLA, 4, 403, "No eres miembro de esta sala de chat"),
            // C23
            (Method::POST, "/api/v1/chat/rooms/670/show", ANA, 4, 404, "No tienes acceso a esta sala de chat"),
            // C24
            (Method::POST, "/api/v1/chat/rooms/638/leave", ANA, 4, 400, "No puedes salir de un chat directo 1-to-1. Usa la opción 'ocultar' en su lugar."),
            (Method::POST, "/api/v1/chat/rooms/665/leave", CARLA, 4, 400, "No puedes salir manualmente de un chat de evento. El chat se cerrará automáticamente cuando finalice el evento."),
            (Method::POST, "/api/v1/chat/rooms/424242/leave", CARLA, 4, 404, "Sala de chat 424242 no encontrada"),
            // C25: MEMBER tokens lack `resource:write`; an event room is 404 (the app then tries C27).
            (Method::DELETE, "/api/v1/chat/rooms/639", CARLA, 4, 403, "Missing \"resource:write\" scope"),
            (Method::DELETE, "/api/v1/chat/rooms/665", ANA, 4, 404, "Los chats de eventos se eliminan automáticamente. Usa el endpoint de limpieza de canales si eres administrador."),
            (Method::DELETE, "/api/v1/chat/rooms/639", BRUNO, 4, 403, "Los entrenadores solo pueden eliminar grupos que ellos crearon. Contacta a un administrador para eliminar este grupo."),
            // C26
            (Method::DELETE, "/api/v1/chat/rooms/638/conversation", CARLA, 4, 403, "Missing \"resource:write\" scope"),
            (Method::DELETE, "/api/v1/chat/rooms/670/conversation", ANA, 4, 404, "No tienes acceso a esta sala de chat"),
            // C27
            (Method::DELETE, "/api/v1/chat/channels/orphan/room_General_10", ANA, 4, 409, "El canal existe en la base de datos. Usa el endpoint DELETE /rooms/{room_id} para eliminarlo."),
            (Method::DELETE, "/api/v1/chat/channels/orphan/messaging:room_General_10", ANA, 4, 409, "El canal existe en la base de datos. Usa el endpoint DELETE /rooms/{room_id} para eliminarlo."),
            (Method::DELETE, "/api/v1/chat/channels/orphan/no_such_channel", ANA, 4, 404, "Canal no_such_channel no encontrado en Stream"),
            // The debug routes that echo secrets are not served.
            (Method::GET, "/api/v1/chat/debug/headers", ANA, 4, 404, "no such endpoint"),
            (Method::POST, "/api/v1/webhooks/stream/test", ANA, 4, 404, "no such endpoint"),
            (Method::POST, "/api/v1/webhooks/stream/debug", ANA, 4, 404, "no such endpoint"),
        ];
        for (method, path, subject, gym, status, detail) in cases {
            let (got, body) = app.call(method.clone(), path, subject, gym, None).await;
            assert_eq!(got.as_u16(), status, "{method} {path}: {body}");
            let error: ErrorResponse = decode(path, &body);
            assert_eq!(error.detail, detail, "{method} {path}");
        }
        // A 400 on C25 carries the count the app reads with `(\d+) restantes`.
        let (status, body) = call(&app, Method::DELETE, "/api/v1/chat/rooms/639", ANA, 4).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["detail"], "Debes remover a todos los miembros (4 restantes) antes de eliminar el grupo.");
    }
);

on_both_backends!(
    async fn validation_errors_are_fastapis_lists(db) {
        let app = spawn_app(&db).await;
        let cases: Vec<(Method, &str, Option<Value>, &str, Value)> = vec![
            (Method::POST, "/api/v1/chat/rooms/abc/hide", None, "int_parsing", json!(["path", "room_id"])),
            (Method::GET, "/api/v1/chat/my-rooms?include_hidden=maybe", None, "bool_parsing", json!(["query", "include_hidden"])),
            (Method::POST, "/api/v1/chat/rooms/639/leave?auto_hide=2", None, "bool_parsing", json!(["query", "auto_hide"])),
            (Method::POST, "/api/v1/chat/rooms", Some(json!({ "name": "x" })), "missing", json!(["body", "member_ids"])),
        ];
        for (method, path, body, kind, loc) in cases {
            let (status, answer) = app.call(method.clone(), path, ANA, 4, body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path}: {answer}");
            let entry = &answer["detail"][0];
            assert_eq!((&entry["type"], &entry["loc"]), (&json!(kind), &loc), "{method} {path}: {answer}");
            assert!(entry["msg"].is_string() && entry.get("input").is_some() && entry["url"].is_string(), "{answer}");
        }
    }
);

on_both_backends!(
    async fn the_workers_get_http_200_with_their_outcome(db) {
        let app = spawn_app(&db).await;
        let cases = [
            ("/api/v1/worker/event-chat", json!({ "event_id": 424242, "creator_id": 10, "gym_id": 4 }), json!({ "success": false, "message": "Event 424242 not found", "details": null })),
            ("/api/v1/worker/event-chat", json!({ "event_id": 639, "creator_id": 10, "gym_id": 5 }), json!({ "success": false, "message": "Event 639 does not belong to gym 5", "details": null })),
            ("/api/v1/worker/event-completion", json!({ "event_id": 604, "gym_id": 4 }), json!({ "success": true, "message": "Event 604 was already marked as completed", "details": { "event_status": "COMPLETED", "was_already_completed": true } })),
            ("/api/v1/worker/event-completion", json!({ "event_id": 424242, "gym_id": 4 }), json!({ "success": false, "message": "Event 424242 not found", "details": null })),
        ];
        for (path, request, expected) in cases {
            let (status, body) = app.worker(path, request).await;
            assert_eq!((status, &body), (StatusCode::OK, &expected), "{path}");
            let _: WorkerResponse = decode(path, &body);
        }
        // `gym_id` must be positive: 422.
        let (status, body) = app.worker("/api/v1/worker/event-completion", json!({ "event_id": 1, "gym_id": 0 })).await;
        assert_eq!((status, &body["detail"][0]["loc"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "gym_id"])));
        // W3: due events (639 ended in the scenario's past), key `id`, aware `end_time`.
        let due = app.http.get(format!("{}/api/v1/worker/events/due-completion", app.url)).header("x-api-key", WORKER_KEY).send().await.unwrap();
        assert_eq!(due.status(), StatusCode::OK);
        let due: Vec<EventCompletionStatus> = decode("W3", &due.json::<Value>().await.unwrap());
        let event = due.iter().find(|e| e.id == 639).expect("event 639 is due");
        assert_eq!((event.gym_id, event.end_time.as_str(), event.status.as_str()), (4, "2025-12-20T19:30:00Z", "SCHEDULED"));
        // W4 completes it (the platform's always failed); an unknown event is 404.
        let complete = |id: i64| app.http.post(format!("{}/api/v1/worker/events/{id}/complete", app.url)).header("x-api-key", WORKER_KEY).send();
        let answer = complete(639).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let done: EventCompletionStatus = decode("W4", &answer.json::<Value>().await.unwrap());
        assert_eq!(done.status, "COMPLETED");
        let answer = complete(424242).await.unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        assert_eq!(answer.json::<Value>().await.unwrap()["detail"], "Event with ID 424242 not found");
        // A wrong key names the caller's address, as the platform's does.
        let wrong = app.http.post(format!("{}/api/v1/worker/event-chat", app.url)).header("x-api-key", "nope").json(&json!({})).send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.json::<Value>().await.unwrap()["detail"], "Clave API del worker inválida desde IP: 127.0.0.1");
    }
);

on_both_backends!(
    async fn the_unsigned_stream_routes_answer_as_the_platforms(db) {
        let app = spawn_app(&db).await;
        let post = |path: &'static str, body: Value| {
            let app = &app;
            async move {
                let r = app.http.post(format!("{}/api/v1/webhooks/stream/{path}", app.url)).json(&body).send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        };
        // S4: a member of gym 4 in a gym-4 room's channel; someone of gym 5 there; malformed ids.
        let auth = |user: &str, channel: &str| json!({ "type": "channel.query", "user": { "id": user }, "channel": { "id": channel } });
        assert_eq!(post("auth", auth("gym_4_user_11", "room_General_10")).await.1, json!({ "allow": true }));
        assert_eq!(post("auth", auth("gym_5_user_21", "room_General_10")).await.1, json!({ "allow": false, "reason": "Acceso no autorizado al canal" }));
        assert_eq!(post("auth", auth("auth0|x", "room_General_10")).await.1, json!({ "allow": false, "reason": "ID de usuario inválido" }));
        assert_eq!(post("auth", json!({ "type": "user.updated" })).await.1, json!({ "allow": true }));
        // S5, S7.
        assert_eq!(post("events", json!({ "type": "user.banned" })).await.1, json!({ "status": "received" }));
        let health: Value = app.http.get(format!("{}/api/v1/webhooks/stream/health", app.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["status"], "healthy");
        // S2, S3 need Stream's signature and their fields.
        let body = serde_json::to_vec(&json!({ "type": "user.banned", "user": { "id": "gym_4_user_17" } })).unwrap();
        let r = app.http.post(format!("{}/api/v1/webhooks/stream/user-banned", app.url)).header("X-Signature", signature(&body)).body(body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.json::<Value>().await.unwrap()["detail"], "Error processing webhook: (400, 'Missing required fields')");
        let r = app.http.post(format!("{}/api/v1/webhooks/stream/channel-deleted", app.url)).body("{}").send().await.unwrap();
        assert_eq!((r.status(), r.json::<Value>().await.unwrap()), (StatusCode::UNAUTHORIZED, json!({ "detail": "Missing signature" })));
    }
);

on_both_backends!(
    async fn the_dashboards_figures_have_the_platforms_keys_and_stay_in_the_gym(db) {
        let app = spawn_app(&db).await;
        // C7 (ADMIN, OWNER): the platform's keys and types.
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/analytics/gym-summary", ANA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            shape(&body),
            json!({ "gym_id": "int", "total_rooms": "int", "total_members": "int", "active_rooms": "int", "direct_chats": "int",
                    "event_chats": "int", "most_active_rooms": "array", "generated_at": "string" })
        );
        assert_eq!(body["most_active_rooms"][0]["room_id"], 639, "the General room has the most members: {body}");
        assert_eq!(call(&app, Method::GET, "/api/v1/chat/analytics/gym-summary", CARLA, 4).await.0, StatusCode::FORBIDDEN);
        // C8: one's own, another member's of this gym, someone of another gym, nobody.
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/analytics/user-activity", CARLA, 4).await;
        assert_eq!((status, &body["user_id"], &body["user_email"]), (StatusCode::OK, &json!(11), &json!("carla.ruiz@example.test")));
        assert_eq!(body["gym_distribution"], json!({ "4": body["total_chats"] }), "this gym's only");
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/analytics/user-activity?user_id=21", CARLA, 4).await;
        assert_eq!((status, &body["detail"]), (StatusCode::FORBIDDEN, &json!("No puedes consultar la actividad de un usuario que no pertenece a tu gimnasio")));
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/analytics/user-activity?user_id=424242", CARLA, 4).await;
        assert_eq!((status, &body["detail"]), (StatusCode::NOT_FOUND, &json!("Usuario no encontrado")));
        // C9: 24 hours, three peaks; `days` within 1..=90.
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/analytics/popular-times?days=90", ANA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["hourly_distribution"].as_object().unwrap().len(), 24);
        assert_eq!(body["peak_hours"].as_array().unwrap().len(), 3);
        assert!(body["peak_hours"][0]["hour"].is_string());
        assert_eq!(call(&app, Method::GET, "/api/v1/chat/analytics/popular-times?days=91", ANA, 4).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        // C10 (the intended answer), C11.
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/analytics/event-effectiveness/639", CARLA, 4).await;
        assert_eq!((status, &body["has_chat"], &body["chat_room_id"]), (StatusCode::OK, &json!(true), &json!(665)), "{body}");
        assert_eq!(body["event_name"], "Entrenamiento de Fuerza");
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/analytics/event-effectiveness/424242", CARLA, 4).await;
        assert_eq!((status, &body["detail"]), (StatusCode::NOT_FOUND, &json!("Evento no encontrado")));
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/analytics/health-metrics", ANA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["health_score"].is_number() && body["recommendations"].is_array(), "{body}");
        // C12 (the intended answer): members only, this gym only.
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/rooms/639/stats", CARLA, 4).await;
        assert_eq!((status, &body["member_count"], &body["stream_channel_id"]), (StatusCode::OK, &json!(4), &json!("room_General_10")));
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/rooms/638/stats", CARLA, 4).await;
        assert_eq!((status, &body["detail"]), (StatusCode::FORBIDDEN, &json!("No tienes acceso a esta sala de chat")));
        let (status, body) = call(&app, Method::GET, "/api/v1/chat/rooms/670/stats", ANA, 4).await;
        assert_eq!((status, &body["detail"]), (StatusCode::FORBIDDEN, &json!("No tienes acceso a esta sala de chat - pertenece a otro gimnasio")));
    }
);

on_both_backends!(
    async fn expired_event_channels_are_cleaned_up_after_a_dry_run_says_which(db) {
        let app = spawn_app(&db).await;
        let path = "/api/v1/chat/admin/cleanup-expired-channels";
        let (status, body) = call(&app, Method::POST, &format!("{path}?dry_run=true"), ANA, 4).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((&body["dry_run"], &body["events_processed"], &body["channels_cleaned"]), (&json!(true), &json!(1), &json!(1)), "{body}");
        let detail = &body["details"][0];
        assert_eq!((&detail["event_id"], &detail["end_time"]), (&json!(639), &json!("2025-12-20T19:30:00+00:00")));
        assert_eq!(detail["channels"], json!([{ "channel_id": "event_639_d3d94468", "channel_type": "messaging",
                                                 "room_name": detail["channels"][0]["room_name"], "status": "would_delete" }]));
        assert!(app.stream_channel("event_639_d3d94468").await.unwrap()["deleted_at"].is_null(), "a dry run deletes nothing");
        let (status, body) = call(&app, Method::POST, path, ANA, 4).await;
        assert_eq!((status, &body["channels_cleaned"], &body["errors"]), (StatusCode::OK, &json!(1), &Value::Null), "{body}");
        assert_eq!(body["details"][0]["channels"][0]["status"], "deleted");
        assert!(!app.stream_channel("event_639_d3d94468").await.unwrap()["deleted_at"].is_null());
        // Done: the next run finds nothing; a trainer may not run it.
        assert_eq!(call(&app, Method::POST, path, ANA, 4).await.1["events_processed"], 0);
        assert_eq!(call(&app, Method::POST, path, BRUNO, 4).await.0, StatusCode::FORBIDDEN);
    }
);

on_both_backends!(
    async fn the_admins_member_routes_answer_the_platforms_bodies(db) {
        let app = spawn_app(&db).await;
        let cases: Vec<(Method, &str, Value)> = vec![
            (Method::DELETE, "/api/v1/chat/rooms/639/members/17", json!({ "status": "User removed successfully" })),
            (Method::DELETE, "/api/v1/chat/rooms/639/members/17", json!({ "status": "User removed successfully" })),
            (Method::POST, "/api/v1/chat/rooms/639/members/17", json!({ "status": "User added successfully" })),
            (Method::DELETE, "/api/v1/chat/general-channel/remove-member/17", json!({ "message": "Usuario 17 removido del canal general" })),
            (Method::POST, "/api/v1/chat/general-channel/add-member/17", json!({ "message": "Usuario 17 agregado al canal general" })),
        ];
        for (method, path, expected) in cases {
            let (status, body) = call(&app, method.clone(), path, ANA, 4).await;
            assert_eq!((status, body), (StatusCode::OK, expected), "{method} {path}");
        }
    }
);
