//! The chat service (SYSTEM.md §4): the HTTP API the platform's apps call under
//! `/api/v1/chat/…`, its workers under `/api/v1/worker/…`, and Stream under
//! `/api/v1/webhooks/stream`. It only ever creates tenant-scoped Stream ids, and no request can
//! read or change another gym's data.
//!
//! - [`auth`]: the caller as axum extractors: a bearer JWT of the identity provider mapped to a
//!   local user, `X-Gym-ID` mapped to the gym and the caller's active membership; the workers'
//!   `X-API-Key`.
//! - `chat`: the apps' routes by area: the Stream token, direct, event and group rooms, members,
//!   what a member sees (my rooms, hide, show, leave, clear), orphan channels, the General channel.
//! - `access`: who may touch what (rooms through the request's gym, active members, room keys);
//!   `shapes`: the answers the apps decode.
//! - `provision`: the Stream side of a room: target users upserted with their team, the
//!   channel created, and the room row committed only once the channel exists.
//! - `worker`: the workers' event chat, event completion and the events due for it.
//! - `webhooks`: Stream's webhooks, signature checked over the raw body, deduplicated by id, and
//!   answered as the platform's routes answer.
//! - [`push`]: push notifications of new messages through OneSignal, from an outbox.
//! - `params`: path, query and body values read as FastAPI reads them (422 lists).
//! - `health`: `/healthz` and `/readyz`.
//! - `metrics`: `/metrics` (Prometheus) and the middleware that counts and times requests.
//! - [`openapi`]: the OpenAPI document at `/api/v1/openapi.json`, from the handlers' annotations
//!   (`docs`: the header and refusals they document).
//! - [`error`]: `{"detail": …}` answers.
//! - `state`: what every handler shares; `router`: every route.
//!
//! Design decisions: every room route loads the room through the request's gym, so a room of
//! another gym is simply not found (404); every user a request names must be an active member of
//! that gym. The service keeps nothing in memory that another replica would need: uniqueness of
//! a pair's or an event's room and webhook deduplication live in the database
//! (`gymchat_room_keys`, `gymchat_webhooks`), so replicas on one database behave as one.

mod access;
pub mod auth;
mod background;
mod chat;
mod detach;
mod docs;
pub mod error;
mod health;
pub mod identity;
mod limits;
mod maintenance;
mod metrics;
pub mod openapi;
mod params;
mod provision;
pub mod push;
mod router;
mod shapes;
mod state;
mod webhooks;
mod worker;

pub use error::{ApiError, ApiResult};
pub use identity::{IdentityConfig, JWKS_REFETCH_INTERVAL, Verifier};
pub use push::{ExternalId, PushConfig};
pub use router::{router, serve};
pub use state::{AppState, ServiceConfig, ServiceLimits};
