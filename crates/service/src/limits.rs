//! What keeps a slow or failing Stream from taking the service down: every chat and worker
//! request has a deadline, and the routes that call Stream have a bounded number of places, so
//! the database pool is never used up by requests waiting on Stream and the routes that only read
//! the database keep answering. Both answer 503 with `Retry-After` when they turn a request away.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// What the platform answers when a request takes too long (APP_CONTRACT.md, C4).
const TOO_SLOW: &str = "Chat service is currently experiencing high latency, please try again later";

/// Ends the request with 503 when it passes the deadline. What it had reserved in the database
/// is settled later (`provision::room::sweep`).
pub(crate) async fn deadline(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let deadline = s.limits().request_deadline;
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            crate::metrics::deadline_passed();
            ApiError { retry_after: Some(1), ..ApiError::unavailable(TOO_SLOW) }.into_response()
        }
    }
}

/// Lets a Stream-bound request in when a place is free within the configured wait; otherwise
/// 503 with `Retry-After`.
pub(crate) async fn stream_gate(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let wait = s.limits().gate_wait;
    let place = tokio::time::timeout(wait, std::sync::Arc::clone(s.stream_gate()).acquire_owned()).await;
    match place {
        Ok(Ok(_place)) => next.run(request).await,
        _ => {
            crate::metrics::turned_away();
            ApiError { retry_after: Some(1), ..ApiError::unavailable("the chat provider is slow; try again shortly") }
                .into_response()
        }
    }
}
