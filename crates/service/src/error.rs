//! Errors as the apps expect them (APP_CONTRACT §1.2): `{"detail": "…"}` with the right status,
//! and for request validation 422 with `detail` a list of `{type, loc, msg, input, url}` as
//! FastAPI writes them. What a 5xx says is fixed text; the cause goes to the log, never to the
//! caller.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gymchat_store::StoreError;
use gymchat_stream::StreamError;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Every error answer: `{"detail": "…"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person; never internal text in a 5xx.
    pub detail: String,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What the caller is told.
    pub detail: String,
    /// Seconds the caller should wait before trying again (`Retry-After`), when known.
    pub retry_after: Option<u64>,
    /// The scope a 403 names in `WWW-Authenticate: Bearer scope="…"`.
    pub challenge: Option<&'static str>,
    /// A validation error's list, answered as `detail` instead of the text (422).
    pub validation: Option<Vec<Value>>,
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, detail: detail.into(), retry_after: None, challenge: None, validation: None }
    }

    /// 422 as FastAPI answers a request it cannot validate: one entry of kind `kind` (Pydantic's
    /// error type) at `loc` (`["path", "room_id"]`, `["query", "days"]`, `["body", "gym_id"]`).
    pub fn invalid(kind: &str, loc: &[&str], msg: &str, input: Value) -> Self {
        let entry = json!({
            "type": kind,
            "loc": loc,
            "msg": msg,
            "input": input,
            "url": format!("https://errors.pydantic.dev/2.5/v/{kind}"),
        });
        Self { validation: Some(vec![entry]), ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, msg) }
    }

    /// 403 naming the scope the token lacks, with the `WWW-Authenticate` challenge.
    pub fn missing_scope(scope: &'static str) -> Self {
        Self { challenge: Some(scope), ..Self::forbidden(format!("Missing \"{scope}\" scope")) }
    }

    /// 500 with the route's own text.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }

    /// 403: known caller, not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    /// 404: not found (also what another gym's room or event is, seen from this gym).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 409: the state does not allow it.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    /// 503: a dependency failed; the caller may try again.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, detail)
    }

    /// 503 with `Retry-After`: the gym's chat is in a maintenance window (a migration moving its
    /// channels) for `seconds` more.
    pub fn maintenance(seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::unavailable("this gym's chat is under maintenance; try again shortly")
        }
    }
}

impl From<gymchat_ids::IdError> for ApiError {
    fn from(e: gymchat_ids::IdError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "database error");
        ApiError::unavailable("the database is unavailable; try again")
    }
}

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> Self {
        tracing::error!(error = %e, "Stream error");
        match e.status() {
            Some(429) => {
                return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "the chat provider is busy; try again shortly");
            }
            Some(400..=499) => return ApiError::conflict("the chat provider refused this change"),
            _ => {}
        }
        ApiError::unavailable("the chat provider is unavailable; try again")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = match self.validation {
            Some(list) => (self.status, Json(json!({ "detail": list }))).into_response(),
            None => (self.status, Json(ErrorBody { detail: self.detail })).into_response(),
        };
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(scope) = self.challenge
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer scope=\"{scope}\""))
        {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
