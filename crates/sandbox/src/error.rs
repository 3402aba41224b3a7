//! Stream's error answers: `{code, message, StatusCode, duration, more_info, details}` with the
//! message `<Operation> failed with error: "<reason>"`.
//!
//! Handlers return [`ApiError`] without knowing their operation's name; the request pipeline
//! (`pipeline.rs`) knows it and writes the final body, so every error carries the right prefix.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Documentation link Stream puts in every error.
pub const MORE_INFO: &str = "https://getstream.io/chat/docs/api_errors_response";

/// A refusal in Stream's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stream's error code.
    pub code: i64,
    /// The reason, quoted inside the message.
    pub reason: String,
    /// Per-field reasons for input errors.
    pub exception_fields: Option<Map<String, Value>>,
}

impl ApiError {
    fn new(status: StatusCode, code: i64, reason: impl Into<String>) -> Self {
        Self { status, code, reason: reason.into(), exception_fields: None }
    }

    /// 400/4: the request is wrong.
    pub fn input(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 4, reason)
    }

    /// 400/4 naming the offending field.
    pub fn input_field(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let mut fields = Map::new();
        fields.insert(field.to_owned(), Value::String(reason.clone()));
        Self { exception_fields: Some(fields), ..Self::input(reason) }
    }

    /// 401/2: api key missing or unknown.
    pub fn api_key(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 2, reason)
    }

    /// 401 with an authentication code (5, 40, 41, 42, 43).
    pub fn auth(code: i64, reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, reason)
    }

    /// 403/17: not allowed (teams, reserved fields, server-only operations).
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 17, reason)
    }

    /// 404/16: does not exist.
    pub fn not_found(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 16, reason)
    }

    /// 400/20: message text longer than the app allows.
    pub fn message_too_long(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 20, reason)
    }

    /// 413/22: payload too big.
    pub fn too_big(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, 22, reason)
    }

    /// 429/9: rate limited.
    pub fn rate_limited() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, 9, "Too many requests, check response headers for more information.")
    }

    /// 503/-1: temporarily unavailable (an injected fault).
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, -1, "service temporarily unavailable")
    }

    /// 500/-1: the sandbox's own failure (faults use it too).
    pub fn internal(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, -1, reason)
    }

    /// The JSON body for an operation.
    pub fn body(&self, operation: &str, duration: &str) -> Value {
        let mut body = json!({
            "code": self.code,
            "message": format!("{operation} failed with error: \"{}\"", self.reason),
            "StatusCode": self.status.as_u16(),
            "duration": duration,
            "more_info": MORE_INFO,
            "details": [],
        });
        if let (Some(fields), Some(obj)) = (&self.exception_fields, body.as_object_mut()) {
            obj.insert("exception_fields".to_owned(), Value::Object(fields.clone()));
        }
        body
    }
}

impl IntoResponse for ApiError {
    /// The pipeline turns the extension into Stream's body; the empty body is never sent as is.
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}
