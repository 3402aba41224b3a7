//! What Stream's answers say when a call did not go through: the error a status and body mean,
//! the rate-limit headers, and how long a 429 holds its operation (the headers are untrusted:
//! the arithmetic saturates and the hold is capped).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::{Map, Value};

use crate::error::{ErrorKind, RateLimit, StreamError};

/// The rate-limit headers of an answer, when all three are there and readable.
pub(crate) fn rate_limit(headers: &HeaderMap) -> Option<RateLimit> {
    let num = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    Some(RateLimit {
        limit: num("x-ratelimit-limit")?,
        remaining: num("x-ratelimit-remaining")?,
        reset: num("x-ratelimit-reset")?,
    })
}

/// The longest a 429 holds an operation, whatever its headers say: Stream's windows last a
/// minute, so a `Retry-After` or reset further off than this is not to be believed.
pub const MAX_HOLD: Duration = Duration::from_secs(300);

/// Until when (Unix ms) a 429 holds its operation: its `Retry-After`, else its window's reset,
/// else the backoff; never more than [`MAX_HOLD`] from `now`. The headers are Stream's answer,
/// untrusted: the arithmetic saturates instead of wrapping.
pub(crate) fn hold_after_429(
    now: u64,
    retry_after: Option<Duration>,
    rate: Option<RateLimit>,
    backoff: Duration,
) -> u64 {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let until = match (retry_after, rate) {
        (Some(after), _) => now.saturating_add(ms(after)),
        (None, Some(rate)) if rate.reset.saturating_mul(1000) > now => rate.reset.saturating_mul(1000),
        _ => now.saturating_add(ms(backoff)),
    };
    until.min(now.saturating_add(ms(MAX_HOLD)))
}

/// A call that got no answer: timed out, or the connection failed.
pub(crate) fn transport_error(operation: &'static str, e: &reqwest::Error) -> StreamError {
    let kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Connection(e.to_string()) };
    StreamError::new(operation, kind)
}

/// What an error answer says: Stream's own error body when it has one, else its status.
pub(crate) fn error_kind(status: StatusCode, headers: &HeaderMap, bytes: &[u8]) -> ErrorKind {
    let body: Option<Map<String, Value>> = serde_json::from_slice(bytes).ok();
    match body {
        Some(body) if body.get("code").is_some_and(Value::is_i64) => ErrorKind::Api {
            status: status.as_u16(),
            code: body.get("code").and_then(Value::as_i64).unwrap_or_default(),
            message: body.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
            exception_fields: Box::new(
                body.get("exception_fields").and_then(Value::as_object).cloned().unwrap_or_default(),
            ),
        },
        _ if status == StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited { retry_after: retry_after(headers) },
        _ => ErrorKind::Status { status: status.as_u16() },
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Stream).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_without_a_body_is_rate_limited_with_its_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        let kind = error_kind(StatusCode::TOO_MANY_REQUESTS, &headers, b"Too Many Requests");
        assert_eq!(kind, ErrorKind::RateLimited { retry_after: Some(Duration::from_secs(7)) });
        let err = StreamError::new("SendMessage", kind);
        assert!(err.is_transient() && err.code() == Some(9) && err.status() == Some(429));
    }

    #[test]
    fn streams_error_body_is_kept_whole() {
        let body = br#"{"code": 4, "message": "UpdateUsers failed with error: \"bad\"", "StatusCode": 400,
            "exception_fields": {"users": "bad"}, "duration": "1ms", "more_info": "", "details": []}"#;
        match error_kind(StatusCode::BAD_REQUEST, &HeaderMap::new(), body) {
            ErrorKind::Api { status, code, message, exception_fields } => {
                assert_eq!((status, code), (400, 4));
                assert!(message.contains("bad"));
                assert_eq!(exception_fields["users"], "bad");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            error_kind(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>"),
            ErrorKind::Status { status: 502 }
        );
    }

    #[test]
    fn a_429_holds_for_its_retry_after_or_reset_and_never_past_the_cap() {
        let now = 1_700_000_000_000;
        let backoff = Duration::from_millis(50);
        let rate = |reset| Some(RateLimit { limit: 10, remaining: 0, reset });
        assert_eq!(hold_after_429(now, Some(Duration::from_secs(7)), None, backoff), now + 7_000);
        assert_eq!(hold_after_429(now, None, rate(now / 1000 + 3), backoff), now + 3_000);
        assert_eq!(hold_after_429(now, None, rate(now / 1000 - 3), backoff), now + 50, "a reset in the past");
        // Absurd headers saturate and are capped instead of wrapping or holding forever.
        let cap = now + MAX_HOLD.as_millis() as u64;
        assert_eq!(hold_after_429(now, Some(Duration::from_secs(u64::MAX)), None, backoff), cap);
        assert_eq!(hold_after_429(now, None, rate(u64::MAX), backoff), cap);
        assert_eq!(hold_after_429(u64::MAX - 1, Some(Duration::from_secs(1)), None, backoff), u64::MAX);
    }
}
