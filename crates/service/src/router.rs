//! Every route of the service, and serving them: chat and worker routes under a deadline, those
//! that call Stream behind the Stream gate (`limits`), and the background work (`background`)
//! for as long as the server runs.

use std::future::Future;

use axum::routing::{delete, get, post};
use axum::{Router, middleware};
use tower_http::decompression::RequestDecompressionLayer;

use crate::state::AppState;
use crate::{background, chat, health, limits, metrics, openapi, webhooks, worker};

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    // Routes that read the database only (the token calls Stream at most once a day per person).
    let reads = Router::new()
        .route("/token", get(chat::token::token))
        .route("/my-rooms", get(chat::lists::my_rooms))
        .route("/user-rooms", get(chat::lists::user_rooms))
        .route("/analytics/gym-summary", get(chat::analytics::gym_summary))
        .route("/analytics/user-activity", get(chat::analytics::user_activity))
        .route("/analytics/popular-times", get(chat::analytics::popular_times))
        .route("/analytics/event-effectiveness/{event_id}", get(chat::analytics::event_effectiveness))
        .route("/analytics/health-metrics", get(chat::analytics::health_metrics))
        .route("/rooms/{room_id}/stats", get(chat::analytics::room_stats));
    let stream_bound = Router::new()
        .route("/rooms", post(chat::groups::create_group))
        .route("/rooms/direct/{other_user_id}", get(chat::direct::direct))
        .route("/rooms/event/{event_id}", get(chat::event::event))
        .route("/rooms/{room_id}", delete(chat::groups::delete_group))
        .route(
            "/rooms/{room_id}/members/{user_id}",
            post(chat::members::add_member).delete(chat::members::remove_member),
        )
        .route("/rooms/{room_id}/hide", post(chat::visibility::hide))
        .route("/rooms/{room_id}/show", post(chat::visibility::show))
        .route("/rooms/{room_id}/leave", post(chat::visibility::leave))
        .route("/rooms/{room_id}/conversation", delete(chat::visibility::clear_conversation))
        .route("/channels/orphan/{channel_id}", delete(chat::orphan::delete_orphan))
        .route("/general-channel/info", get(chat::general::info))
        .route("/general-channel/join", post(chat::general::join_self))
        .route("/general-channel/leave", delete(chat::general::leave_self))
        .route("/general-channel/add-member/{user_id}", post(chat::general::add_member))
        .route("/general-channel/remove-member/{user_id}", delete(chat::general::remove_member))
        .route("/admin/cleanup-expired-channels", post(chat::cleanup::cleanup_expired))
        .route_layer(middleware::from_fn_with_state(state.clone(), limits::stream_gate));
    let chat = reads.merge(stream_bound).route_layer(middleware::from_fn_with_state(state.clone(), limits::deadline));
    let worker = Router::new()
        .route("/event-chat", post(worker::event_chat))
        .route("/event-completion", post(worker::event_completion))
        .route("/events/due-completion", get(worker::due_completion))
        .route("/events/{event_id}/complete", post(worker::complete_event))
        .route_layer(middleware::from_fn_with_state(state.clone(), limits::stream_gate))
        .route_layer(middleware::from_fn_with_state(state.clone(), limits::deadline));
    // Stream posts every event to `/new-message` (the app's webhook URL); the other paths answer
    // as the platform's do. The debug paths that echo secrets (`/test`, `/debug`) are not served.
    let webhooks = Router::new()
        .route("/", post(webhooks::receive))
        .route("/new-message", post(webhooks::new_message))
        .route("/channel-deleted", post(webhooks::channel_deleted))
        .route("/user-banned", post(webhooks::user_banned))
        .route("/auth", post(webhooks::authorize))
        .route("/events", post(webhooks::events))
        .route("/health", get(webhooks::health))
        .layer(RequestDecompressionLayer::new());
    Router::new()
        .nest("/api/v1/chat", chat)
        .nest("/api/v1/worker", worker)
        .nest("/api/v1/webhooks/stream", webhooks)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/openapi.json", get(openapi::document))
        .fallback(health::not_found)
        .layer(middleware::from_fn(metrics::record))
        .with_state(state)
}

/// Serves the router on `listener` until `shutdown` completes, then finishes the requests in
/// flight (graceful shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = tokio::spawn(background::run(state.clone()));
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    background.abort();
    served
}
