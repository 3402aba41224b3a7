//! The OpenAPI document at `/api/v1/openapi.json`, generated from the handlers' own annotations
//! and doc comments, so it cannot drift from the routes' code.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::chat::{analytics, cleanup, direct, event, general, groups, lists, members, orphan, token, visibility};
use crate::error::ErrorBody;
use crate::shapes::{ChatRoom, TokenAnswer};
use crate::{health, webhooks, worker};

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
        token::token, lists::my_rooms, lists::user_rooms, groups::create_group, direct::direct, event::event, groups::delete_group,
        members::add_member, members::remove_member, visibility::hide, visibility::show, visibility::leave, visibility::clear_conversation,
        orphan::delete_orphan, general::info, general::join_self, general::leave_self, general::add_member,
        general::remove_member, analytics::gym_summary, analytics::user_activity, analytics::popular_times,
        analytics::event_effectiveness, analytics::health_metrics, analytics::room_stats, cleanup::cleanup_expired,
        worker::event_chat, worker::event_completion, worker::due_completion,
        worker::complete_event, webhooks::receive, webhooks::platform::new_message, webhooks::platform::channel_deleted,
        webhooks::platform::user_banned, webhooks::platform::authorize, webhooks::platform::events,
        webhooks::platform::health, health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(ErrorBody, ChatRoom, TokenAnswer, groups::NewRoomBody, worker::EventChat, worker::EventCompletion)),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
