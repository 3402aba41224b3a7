//! Push notifications of new messages (APP_CONTRACT §5), end to end on both backends: Stream's
//! signed `message.new` webhook to the service over HTTP, the outbox in the database, and a fake
//! OneSignal (a local HTTP server) that records every request and fails on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use gymchat_service::{ExternalId, PushConfig};
use gymchat_testkit::{TestDb, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;

mod support;

use support::*;

/// A fake OneSignal: every request it got (its `Authorization` header and body, and the status it
/// answered), failing the first `fail_first` with 500 (all of them with `usize::MAX`).
#[derive(Clone)]
struct OneSignal {
    url: String,
    requests: Arc<Mutex<Vec<(String, Value, u16)>>>,
}

impl OneSignal {
    async fn start(fail_first: usize) -> Self {
        let requests: Arc<Mutex<Vec<(String, Value, u16)>>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let log = Arc::clone(&requests);
        let app = Router::new().route(
            "/api/v1/notifications",
            post(move |headers: HeaderMap, body: String| {
                let (log, seen) = (Arc::clone(&log), Arc::clone(&seen));
                async move {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let status = if n < fail_first { AxumStatus::INTERNAL_SERVER_ERROR } else { AxumStatus::OK };
                    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
                    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    log.lock().await.push((auth, body, status.as_u16()));
                    (status, axum::Json(json!({ "id": format!("notification-{n}"), "recipients": 1 })))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        OneSignal { url, requests }
    }

    async fn requests(&self) -> Vec<(String, Value, u16)> {
        self.requests.lock().await.clone()
    }

    async fn delivered(&self) -> Vec<Value> {
        self.requests().await.into_iter().filter(|(_, _, status)| *status == 200).map(|(_, body, _)| body).collect()
    }
}

fn push_config(onesignal: &OneSignal, external_id: ExternalId) -> PushConfig {
    let mut config = PushConfig::new("onesignal-app".into(), "onesignal-key".into());
    config.url = onesignal.url.clone();
    config.external_id = external_id;
    config.retry_base = Duration::from_millis(100);
    config.attempts = 3;
    config.timeout = Duration::from_secs(2);
    config
}

async fn app_pushing_to(db: &TestDb, onesignal: &OneSignal, external_id: ExternalId) -> App {
    spawn_app_pushing(db, |_| {}, 3, test_limits(), Some(push_config(onesignal, external_id))).await
}

/// A member of the webhook's `members` list.
fn member(id: &str, unread: i64, online: bool) -> Value {
    json!({ "user_id": id, "user": { "id": id, "channel_unread_count": unread, "online": online } })
}

/// Stream's `message.new` for a channel, by `sender`, with `members`.
fn message_new(channel: &str, sender: &str, text: &str, members: Vec<Value>) -> Value {
    json!({
        "type": "message.new",
        "cid": format!("messaging:{channel}"),
        "channel_type": "messaging",
        "channel_id": channel,
        "channel": { "type": "messaging", "id": channel },
        "message": { "id": format!("m-{}", text.len()), "text": text, "type": "regular", "user": { "id": sender } },
        "user": { "id": sender },
        "members": members,
    })
}

/// Posts a webhook delivery and returns the status and the body.
async fn deliver(app: &App, id: &str, event: &Value) -> (StatusCode, Value) {
    let body = serde_json::to_vec(event).unwrap();
    let response = app
        .http
        .post(format!("{}/api/v1/webhooks/stream/new-message", app.url))
        .header("X-Signature", signature(&body))
        .header("X-Webhook-Id", id)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn outbox(app: &App) -> gymchat_store::InboxCounts {
    app.store.session().await.unwrap().push_outbox_counts().await.unwrap()
}

on_both_backends!(
    async fn a_new_message_notifies_the_offline_member_once_even_when_onesignal_fails_and_stream_repeats(db) {
        let onesignal = OneSignal::start(1).await;
        let app = app_pushing_to(&db, &onesignal, ExternalId::Auth0).await;
        // Bruno writes to Ana in their direct room 638; Bruno is listed too, with unread messages
        // (he must still not be notified), Diego is online.
        let event = message_new(
            "direct_user_10_user_8",
            "gym_4_user_8",
            "Nos vemos mañana a las 7?",
            vec![member("gym_4_user_8", 2, false), member("gym_4_user_10", 1, false), member("gym_4_user_17", 4, true)],
        );
        let (status, body) = deliver(&app, "wh-push-1", &event).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "status": "success", "message": "Message processed successfully" }));
        // Stream delivers it again (same id) while OneSignal fails the first attempt.
        assert_eq!(deliver(&app, "wh-push-1", &event).await.0, StatusCode::OK);
        assert!(eventually(|| async { outbox(&app).await.done == 1 }).await, "{:?}", outbox(&app).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let requests = onesignal.requests().await;
        assert_eq!(requests.iter().map(|r| r.2).collect::<Vec<_>>(), vec![500, 200], "one failure, one retry: {requests:?}");
        let delivered = onesignal.delivered().await;
        assert_eq!(delivered.len(), 1);
        let push = &delivered[0];
        assert_eq!(requests[1].0, "Basic onesignal-key");
        assert_eq!(push["app_id"], "onesignal-app");
        assert_eq!(push["include_external_user_ids"], json!(["auth0|64f0a10000000000000000a1"]), "Ana only, by her Auth0 id");
        assert_eq!(push["channel_for_external_user_ids"], "push");
        let room = app.store.session().await.unwrap().room(gymchat_ids::RoomId::new(638).unwrap()).await.unwrap().unwrap();
        let title = format!("Iron Temple: 💬 Bruno Diaz en {}", room.name.as_deref().unwrap_or("chat"));
        assert_eq!(push["headings"], json!({ "en": title, "es": title }));
        assert_eq!(push["contents"], json!({ "en": "Nos vemos mañana a las 7?", "es": "Nos vemos mañana a las 7?" }));
        assert_eq!(
            push["data"],
            json!({ "type": "chat_message", "content_type": "chat", "chat_room_id": "638", "channel_id": "direct_user_10_user_8",
                    "sender_id": "8", "message_preview": "Nos vemos mañana a las 7?", "gym_id": 4, "gym_name": "Iron Temple" })
        );
        let counts = outbox(&app).await;
        assert_eq!((counts.pending, counts.working, counts.done, counts.failed), (0, 0, 1, 0));
    }
);

on_both_backends!(
    async fn an_event_message_notifies_only_when_its_sender_is_staff_and_mentions_reach_the_rooms_members(db) {
        let onesignal = OneSignal::start(0).await;
        let app = app_pushing_to(&db, &onesignal, ExternalId::Internal).await;
        let everyone = || vec![member("gym_4_user_10", 1, false), member("gym_4_user_8", 1, false), member("gym_4_user_11", 1, false)];
        // Carla (MEMBER) speaks of a class in the General room: an event message, no push.
        let (_, body) = deliver(&app, "wh-ev-1", &message_new("room_General_10", "gym_4_user_11", "La clase de mañana se cancela", everyone())).await;
        assert_eq!(body["message"], "Message processed successfully");
        // Bruno (TRAINER) says the same: an event notification to the others.
        deliver(&app, "wh-ev-2", &message_new("room_General_10", "gym_4_user_8", "La clase de mañana se cancela", everyone())).await;
        // Ana mentions Carla (`@carla` begins her email) and `@_` (which an SQL LIKE would
        // have read as a wildcard): one mention push, to Carla.
        deliver(&app, "wh-ev-3", &message_new("room_General_10", "gym_4_user_10", "Hola @carla y @_ruiz", vec![])).await;
        assert!(eventually(|| async { outbox(&app).await.done == 2 }).await, "{:?}", outbox(&app).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let delivered = onesignal.delivered().await;
        assert_eq!(delivered.len(), 2, "{delivered:#?}");
        let event = delivered.iter().find(|p| p["data"]["type"] == "event_notification").expect("the trainer's event push");
        assert_eq!(event["include_external_user_ids"], json!(["10", "11"]), "by internal id; never the sender");
        assert_eq!(event["headings"]["es"], "Iron Temple: 📅 Bruno Diaz - Evento en General");
        assert_eq!(event["data"]["content_type"], "event");
        let mention = delivered.iter().find(|p| p["data"]["type"] == "chat_mention").expect("the mention");
        assert_eq!(mention["include_external_user_ids"], json!(["11"]));
        assert_eq!(mention["headings"]["en"], "Iron Temple: 🔔 ana.torres te mencionó");
        assert_eq!(mention["contents"]["en"], "En General: Hola @carla y @_ruiz...");
        assert_eq!(
            mention["data"],
            json!({ "type": "chat_mention", "chat_room_id": "639", "stream_channel_id": "room_General_10", "sender_id": "10",
                    "mentioned_user_id": "11", "gym_id": 4, "gym_name": "Iron Temple" })
        );
    }
);

on_both_backends!(
    async fn nothing_is_pushed_for_what_the_platform_does_not_notify(db) {
        let onesignal = OneSignal::start(0).await;
        let app = app_pushing_to(&db, &onesignal, ExternalId::Auth0).await;
        let ana = || vec![member("gym_4_user_10", 1, false)];
        let cases = [
            (json!({ "type": "channel.updated" }), json!({ "status": "ok", "message": "Event type channel.updated ignored" })),
            (json!({ "type": "message.new" }), json!({ "status": "error", "message": "Invalid webhook payload" })),
            (message_new("direct_user_10_user_8", "system", "hola", ana()), json!({ "status": "success", "message": "System message processed" })),
            (message_new("direct_user_10_user_8", "gym_4_user_999", "hola", ana()), json!({ "status": "success", "message": "Message processed, user not found in DB" })),
            (message_new("direct_user_10_user_8", "auth0|nobody", "hola", ana()), json!({ "status": "success", "message": "Message processed, legacy user not found" })),
            (message_new("direct_user_10_user_8", "gym_4_bot", "hola", ana()), json!({ "status": "success", "message": "Message processed, unknown ID format" })),
            (message_new("no_such_channel", "gym_4_user_8", "hola", ana()), json!({ "status": "success", "message": "Message processed, chat room not found in DB" })),
            // An attachment-only message: processed, nobody notified.
            (message_new("direct_user_10_user_8", "gym_4_user_8", "", ana()), json!({ "status": "success", "message": "Message processed successfully" })),
        ];
        for (n, (event, answer)) in cases.into_iter().enumerate() {
            let (status, body) = deliver(&app, &format!("wh-none-{n}"), &event).await;
            assert_eq!((status, body), (StatusCode::OK, answer), "case {n}");
        }
        // A migration's copy notifies nobody either.
        let mut copy = message_new("direct_user_10_user_8", "gym_4_user_8", "copied", ana());
        copy["message"]["gymchat_copy"] = json!(true);
        deliver(&app, "wh-copy", &copy).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(outbox(&app).await, gymchat_store::InboxCounts::default());
        assert!(onesignal.requests().await.is_empty());
        // A bad signature is refused with the platform's text.
        let response = app
            .http
            .post(format!("{}/api/v1/webhooks/stream/new-message", app.url))
            .header("X-Signature", "00")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({ "detail": "Invalid signature" }));
    }
);

on_both_backends!(
    async fn a_push_onesignal_keeps_refusing_fails_for_good_and_metrics_count_it(db) {
        let onesignal = OneSignal::start(usize::MAX).await;
        let app = app_pushing_to(&db, &onesignal, ExternalId::Auth0).await;
        let event = message_new("direct_user_10_user_8", "gym_4_user_8", "¿Hay clase?", vec![member("gym_4_user_10", 1, false)]);
        assert_eq!(deliver(&app, "wh-fail", &event).await.0, StatusCode::OK);
        assert!(eventually(|| async { outbox(&app).await.failed == 1 }).await, "{:?}", outbox(&app).await);
        assert_eq!(onesignal.requests().await.len(), 3, "the configured attempts, then no more");
        let metrics = app.http.get(format!("{}/metrics", app.url)).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("gymchat_push_outbox{state=\"failed\"} 1"), "{metrics}");
        assert!(metrics.contains("gymchat_push_outbox_lag_seconds 0"), "nothing waits: {metrics}");
        let ready: Value = app.http.get(format!("{}/readyz", app.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(ready["push"], "on");
    }
);

on_both_backends!(
    async fn without_a_onesignal_key_no_push_is_queued_and_readiness_says_so(db) {
        let app = spawn_app(&db).await;
        let event = message_new("direct_user_10_user_8", "gym_4_user_8", "hola", vec![member("gym_4_user_10", 1, false)]);
        assert_eq!(deliver(&app, "wh-off", &event).await.0, StatusCode::OK);
        assert_eq!(outbox(&app).await, gymchat_store::InboxCounts::default());
        let ready: Value = app.http.get(format!("{}/readyz", app.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(ready["push"], "off");
    }
);
