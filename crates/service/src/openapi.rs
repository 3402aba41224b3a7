//! The OpenAPI document at `/api/v1/openapi.json`, generated from the handlers' own annotations
//! and doc comments, so it cannot drift from the routes' code.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

use crate::{general, health, metrics, rooms, webhooks, worker};

/// Every error answer: `{"detail": "…"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person; never internal text in a 5xx.
    pub detail: String,
}

/// The gym of a chat request.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code, reason = "documents the header; the `GymCaller` extractor reads it")]
pub(crate) struct GymHeader {
    /// The gym of the request; the caller must be an active member (SUPER_ADMIN passes).
    #[param(rename = "X-Gym-ID")]
    x_gym_id: i64,
}

/// What a chat route answers when it refuses.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "documents the answers; `ApiError` produces them")]
pub(crate) enum Refusals {
    /// Missing or malformed `X-Gym-ID`, or a malformed id in the path.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No bearer token, or one that is invalid, expired or of the wrong issuer or audience.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Unknown subject, no active membership of the gym, or a role too low.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Unknown gym, or a room, event or user that is not this gym's.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The state does not allow it (Stream refused, a 1:1 chat cannot be left, …).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The database or Stream is unavailable; try again.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What a worker route answers when it refuses.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "documents the answers; `ApiError` produces them")]
pub(crate) enum WorkerRefusals {
    /// Missing or wrong `X-API-Key`.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// No worker key is configured.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// The event is not in that gym, or the creator is not an active member.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The body is not the expected JSON.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// The database or Stream is unavailable; try again.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components
            .add_security_scheme("worker_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "gymchat chat service", description = "The chat API of the platform's apps, workers and Stream's webhooks (SYSTEM.md §4)."),
    paths(
        rooms::token, rooms::my_rooms, rooms::create_group, rooms::direct, rooms::event, rooms::delete_group,
        rooms::add_member, rooms::remove_member, rooms::hide, rooms::show, rooms::leave, rooms::clear_conversation,
        rooms::delete_orphan, general::info, general::join_self, general::leave_self, general::add_member,
        general::remove_member, worker::event_chat, worker::event_completion, webhooks::receive, health::healthz,
        health::readyz, metrics::render,
    ),
    components(schemas(ErrorBody, rooms::ChatRoom, rooms::TokenAnswer, rooms::NewGroup, worker::EventChat, worker::EventCompletion)),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
