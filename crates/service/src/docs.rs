//! What the handlers' OpenAPI annotations name besides their own types: the gym header every
//! chat route reads, and the refusals chat and worker routes answer.

use utoipa::{IntoParams, IntoResponses};

use crate::error::ErrorBody;

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
    /// Missing or malformed `X-Gym-ID`, or what the room does not allow (a 1:1 chat cannot be
    /// left, a group with members cannot be deleted, …), in the platform's words.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// A token that is invalid, expired, or of the wrong issuer, audience or key.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// No bearer token, a scope missing (with `WWW-Authenticate`), an unknown subject, no active
    /// membership of the gym, a role too low, or not a member of the room.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Unknown gym, or a room, event or user that is not this gym's.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The state does not allow it (Stream refused, a channel a room still uses, …).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// A path, query or body value that cannot be read: `detail` is FastAPI's list.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// The database or Stream is unavailable; try again.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What a worker route answers when it refuses.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "documents the answers; `ApiError` produces them")]
pub(crate) enum WorkerRefusals {
    /// Missing or wrong `X-API-Key` (naming the caller's address).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// An unknown event (W4).
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The body is not the expected JSON: FastAPI's list.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// No worker key is configured.
    #[response(status = 500)]
    Misconfigured(ErrorBody),
    /// The database or Stream is unavailable; try again.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}
