//! What happens to every Stream request around its handler, in Stream's order: count the call,
//! authenticate, apply the rate limit, inject latency and faults, run the handler, then write the
//! body (Stream's error shape or the reply plus `duration`) and the `x-ratelimit-*` headers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tokio::sync::Notify;

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::faults::Fault;
use crate::ratelimit::Verdict;
use crate::routes::Reply;
use crate::state::{ScriptedAnswer, Shared, lock};

/// Lets a handler's pipeline reset the TCP connection it arrived on (see `server.rs`).
#[derive(Clone)]
pub struct ConnControl {
    /// Notified to reset the connection.
    pub reset: Arc<Notify>,
}

/// Stream's operation name for a route: the key of rate limits, statistics and error messages.
pub fn operation(method: &Method, path: &str) -> &'static str {
    match (method.as_str(), path) {
        ("GET", "/app") => "GetApp",
        ("PATCH", "/app") => "UpdateApp",
        ("POST", "/users") => "UpdateUsers",
        ("PATCH", "/users") => "UpdateUsersPartial",
        ("GET", "/users") => "QueryUsers",
        ("DELETE", "/users/{id}") => "DeleteUser",
        ("POST", "/users/delete") => "DeleteUsers",
        ("POST", "/channels") => "QueryChannels",
        ("POST", "/channels/delete") => "DeleteChannels",
        ("PUT", "/channels/batch") => "UpdateChannelsBatch",
        ("POST", "/channels/{type}/{id}/query") => "GetOrCreateChannel",
        ("POST", "/channels/{type}/{id}") => "UpdateChannel",
        ("PATCH", "/channels/{type}/{id}") => "UpdateChannelPartial",
        ("DELETE", "/channels/{type}/{id}") => "DeleteChannel",
        ("POST", "/channels/{type}/{id}/message") => "SendMessage",
        ("POST", "/channels/{type}/{id}/hide") => "HideChannel",
        ("POST", "/channels/{type}/{id}/show") => "ShowChannel",
        ("POST", "/channels/{type}/{id}/read") => "MarkRead",
        ("POST", "/channels/{type}/{id}/truncate") => "TruncateChannel",
        ("POST", "/channels/{type}/{id}/file") => "UploadFile",
        ("POST", "/channels/{type}/{id}/image") => "UploadImage",
        ("GET", "/tasks/{id}") => "GetTask",
        ("GET", "/rate_limits") => "GetRateLimits",
        ("POST", "/import_urls") => "CreateImportURL",
        ("POST", "/imports") => "CreateImport",
        ("GET", "/imports/{id}") => "GetImport",
        ("GET", "/messages/{id}") => "GetMessage",
        ("PUT", "/messages/{id}") => "UpdateMessagePartial",
        ("POST", "/users/{id}/deactivate") => "DeactivateUser",
        ("POST", "/users/{id}/reactivate") => "ReactivateUser",
        ("GET", "/unread") => "UnreadCounts",
        ("POST", "/channels/{type}/query") => "GetOrCreateChannel",
        ("DELETE", "/messages/{id}") => "DeleteMessage",
        ("GET", "/messages/{id}/replies") => "GetReplies",
        ("POST", "/messages/{id}/reaction") => "SendReaction",
        ("GET", "/messages/{id}/reactions") => "GetReactions",
        ("DELETE", "/messages/{id}/reaction/{type}") => "DeleteReaction",
        _ => "Unknown",
    }
}

/// The middleware.
pub async fn pipeline(State(s): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    // Calls without `stream-auth-type: jwt` or with a `Bearer ` prefix are served (Stream's answer
    // to them is undocumented) but counted, so tests can prove a client never sends one.
    let start = Instant::now();
    let path = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let op = operation(req.method(), &path);
    let _in_flight = s.count_call(op);

    let query = Query::<HashMap<String, String>>::try_from_uri(req.uri()).map(|q| q.0).unwrap_or_default();
    let token = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let auth_type = req.headers().get("stream-auth-type").and_then(|v| v.to_str().ok());
    let client = req.headers().get("x-stream-client").and_then(|v| v.to_str().ok());
    s.count_auth_form(auth_type == Some("jwt"), token.is_some_and(|t| t.starts_with("Bearer ")), client);
    let now = Utc::now();
    let caller = match authenticate(
        &s.settings.key,
        &s.settings.secret,
        query.get("api_key").map(String::as_str),
        token,
        now.timestamp(),
    ) {
        Ok(caller) => caller,
        Err(e) => return finish(op, start, e.into_response(), None),
    };

    if let Some(answer) = s.next_scripted(op) {
        return scripted(op, start, answer);
    }

    let verdict = lock(&s.limiter).check(op, u64::try_from(now.timestamp_millis()).unwrap_or_default());
    if verdict.is_some_and(|v| !v.allowed) {
        s.count_rate_limited(op);
        return finish(op, start, ApiError::rate_limited().into_response(), verdict);
    }

    let (delay, fault) = if s.faults_enabled { lock(&s.faults).draw() } else { Default::default() };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let control = req.extensions().get::<ConnControl>().cloned();
    req.extensions_mut().insert(caller);
    let Some(fault) = fault else {
        return finish(op, start, next.run(req).await, verdict);
    };
    s.count_fault(op, fault);
    tracing::debug!(operation = op, ?fault, "injecting fault");
    match fault {
        Fault::Internal => finish(op, start, ApiError::internal("injected fault").into_response(), verdict),
        Fault::Unavailable => finish(op, start, ApiError::unavailable().into_response(), verdict),
        // Stream's edge answers some 429s with no JSON body and no rate-limit headers.
        Fault::RateLimitedNoBody => (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response(),
        Fault::Stall => {
            tokio::time::sleep(s.settings.stall).await;
            finish(op, start, ApiError::unavailable().into_response(), verdict)
        }
        Fault::Reset => reset_connection(control).await,
        Fault::AppliedResponseLost => {
            let _applied = next.run(req).await;
            reset_connection(control).await
        }
    }
}

/// A scripted answer: Stream's error body when it has a code, else the raw body (or none).
fn scripted(op: &'static str, start: Instant, answer: ScriptedAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match answer.code {
        Some(code) => {
            let err = ApiError { status, code, reason: "scripted answer".to_owned(), exception_fields: None };
            finish(op, start, err.into_response(), None)
        }
        None => (status, answer.raw_body.unwrap_or_default()).into_response(),
    };
    if let Some(after) = answer.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(after));
    }
    response
}

/// Resets the connection and never answers. Without a connection (a router driven in-process)
/// there is nothing to reset, so the client gets a 503 instead.
async fn reset_connection(control: Option<ConnControl>) -> Response {
    match control {
        Some(c) => {
            c.reset.notify_one();
            std::future::pending().await
        }
        None => ApiError::unavailable().into_response(),
    }
}

/// Writes the final body and the rate-limit headers.
fn finish(op: &'static str, start: Instant, response: Response, verdict: Option<Verdict>) -> Response {
    let duration = format!("{:.2}ms", start.elapsed().as_secs_f64() * 1000.0);
    let (mut parts, body) = response.into_parts();
    let json = if let Some(err) = parts.extensions.remove::<ApiError>() {
        err.body(op, &duration)
    } else if let Some(Reply(_, mut value)) = parts.extensions.remove::<Reply>() {
        value["duration"] = serde_json::Value::String(duration);
        value
    } else {
        return Response::from_parts(parts, body);
    };
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(v) = verdict {
        parts.headers.insert("x-ratelimit-limit", HeaderValue::from(v.limit));
        parts.headers.insert("x-ratelimit-remaining", HeaderValue::from(v.remaining));
        parts.headers.insert("x-ratelimit-reset", HeaderValue::from(v.reset));
    }
    Response::from_parts(parts, Body::from(serde_json::to_vec(&json).unwrap_or_default()))
}
