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
