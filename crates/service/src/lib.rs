//! The chat service (SYSTEM.md §4): the HTTP API the platform's apps call under
//! `/api/v1/chat/…`, its workers under `/api/v1/worker/…`, and Stream under
//! `/api/v1/webhooks/stream`. It only ever creates tenant-scoped Stream ids, and no request can
//! read or change another gym's data.
//!
//! - [`auth`]: the caller as axum extractors: a bearer JWT of the identity provider mapped to a
//!   local user, `X-Gym-ID` mapped to the gym and the caller's active membership; the workers'
//!   `X-API-Key`.
//! - `rooms`: the room endpoints (my rooms, direct, event, group, members, hide, show, leave,
//!   delete, clear a conversation, delete an orphan channel) and the Stream token.
//! - `general`: the gym's General channel.
//! - `provision`: the Stream side of a room: target users upserted with their team, the
//!   channel created, and the room row committed only once the channel exists.
//! - `worker`: the workers' event-chat and event-completion.
//! - `webhooks`: Stream's webhooks, signature checked over the raw body, deduplicated by id.
//! - `health`: `/healthz` and `/readyz`.
//! - `metrics`: `/metrics` (Prometheus) and the middleware that counts and times requests.
//! - [`openapi`]: the OpenAPI document at `/api/v1/openapi.json`, from the handlers' annotations.
//! - [`error`]: `{"detail": …}` answers.
//!
//! Design decisions: every room route loads the room through the request's gym, so a room of
//! another gym is simply not found (404); every user a request names must be an active member of
//! that gym. The service keeps nothing in memory that another replica would need: uniqueness of
//! a pair's or an event's room and webhook deduplication live in the database
//! (`gymchat_room_keys`, `gymchat_webhooks`), so replicas on one database behave as one.

pub mod auth;
pub mod error;
mod general;
mod health;
mod metrics;
pub mod openapi;
mod provision;
mod rooms;
mod webhooks;
mod worker;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};
use gymchat_store::Store;
use gymchat_stream::Client;
use tower_http::decompression::RequestDecompressionLayer;

pub use auth::{IdentityConfig, Verifier};
pub use error::{ApiError, ApiResult};

/// How the service runs.
#[derive(Clone)]
pub struct ServiceConfig {
    /// Stream API key, handed to the apps with their token.
    pub stream_key: String,
    /// Stream API secret: signs user tokens and checks webhook signatures.
    pub stream_secret: String,
    /// Who issues the callers' JWTs.
    pub identity: IdentityConfig,
    /// The workers' key (`X-API-Key`); without one the worker endpoints refuse every call.
    pub worker_api_key: Option<String>,
    /// How long a Stream user token is valid.
    pub token_ttl: chrono::Duration,
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("stream_key", &self.stream_key)
            .field("identity", &self.identity)
            .field("worker_api_key", &self.worker_api_key.as_ref().map(|_| "***"))
            .field("token_ttl", &self.token_ttl)
            .finish_non_exhaustive()
    }
}

/// What every handler shares: the database, the Stream client and the configuration.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Store,
    stream: Client,
    config: ServiceConfig,
    verifier: Verifier,
}

impl AppState {
    /// The state of a service on `store` and `stream`.
    pub fn new(store: Store, stream: Client, config: ServiceConfig) -> Self {
        // Installed before the first request, so the first requests are counted too.
        metrics::handle();
        let verifier = Verifier::new(&config.identity);
        AppState(Arc::new(Inner { store, stream, config, verifier }))
    }

    pub(crate) fn store(&self) -> &Store {
        &self.0.store
    }

    pub(crate) fn stream(&self) -> &Client {
        &self.0.stream
    }

    pub(crate) fn config(&self) -> &ServiceConfig {
        &self.0.config
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        &self.0.verifier
    }
}

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    let chat = Router::new()
        .route("/token", get(rooms::token))
        .route("/my-rooms", get(rooms::my_rooms))
        .route("/rooms", post(rooms::create_group))
        .route("/rooms/direct/{other_user_id}", get(rooms::direct))
        .route("/rooms/event/{event_id}", get(rooms::event))
        .route("/rooms/{room_id}", delete(rooms::delete_group))
        .route("/rooms/{room_id}/members/{user_id}", post(rooms::add_member).delete(rooms::remove_member))
        .route("/rooms/{room_id}/hide", post(rooms::hide))
        .route("/rooms/{room_id}/show", post(rooms::show))
        .route("/rooms/{room_id}/leave", post(rooms::leave))
        .route("/rooms/{room_id}/conversation", delete(rooms::clear_conversation))
        .route("/channels/orphan/{channel_id}", delete(rooms::delete_orphan))
        .route("/general-channel/info", get(general::info))
        .route("/general-channel/join", post(general::join_self))
        .route("/general-channel/leave", delete(general::leave_self))
        .route("/general-channel/add-member/{user_id}", post(general::add_member))
        .route("/general-channel/remove-member/{user_id}", delete(general::remove_member));
    let worker = Router::new()
        .route("/event-chat", post(worker::event_chat))
        .route("/event-completion", post(worker::event_completion));
    // The paths the platform registered with Stream today lead to the same handler.
    let webhooks = Router::new()
        .route("/", post(webhooks::receive))
        .route("/new-message", post(webhooks::receive))
        .route("/channel-deleted", post(webhooks::receive))
        .route("/user-banned", post(webhooks::receive))
        .route("/events", post(webhooks::receive))
        .layer(RequestDecompressionLayer::new());
    Router::new()
        .nest("/api/v1/chat", chat)
        .nest("/api/v1/worker", worker)
        .nest("/api/v1/webhooks/stream", webhooks)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/openapi.json", get(openapi::document))
        .fallback(health::not_found)
        .layer(axum::middleware::from_fn(metrics::record))
        .with_state(state)
}

/// Serves the router on `listener` until `shutdown` completes, then finishes the requests in
/// flight (graceful shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
