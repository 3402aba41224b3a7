//! The client's one error type: which operation failed, how, and whether trying again later may
//! succeed. Stream's own error bodies are kept whole (code, status, message, exception
//! fields); a 429 is recognised with or without a JSON body.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

/// Rate-limit state read from `x-ratelimit-*` headers (absent on some endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed in the window.
    pub limit: u64,
    /// Calls left in the window.
    pub remaining: u64,
    /// Unix seconds at which the window resets.
    pub reset: u64,
}

/// How a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// Stream answered with an error body.
    Api {
        /// HTTP status.
        status: u16,
        /// Stream's error code (4 input, 16 not found, 17 not allowed, 9 rate limited, …).
        code: i64,
        /// Stream's message.
        message: String,
        /// Per-field reasons, when Stream gave them.
        exception_fields: Map<String, Value>,
    },
    /// 429 without a JSON body (Stream's edge).
    RateLimited {
        /// `Retry-After`, when sent.
        retry_after: Option<Duration>,
    },
    /// Another non-success status without a Stream body (a proxy's 502, …).
    Status {
        /// HTTP status.
        status: u16,
    },
    /// No answer in time. The request may have been applied: settle by reading back.
    Timeout,
    /// The connection failed or was reset; the request may have been applied if it had been sent.
    Connection(String),
    /// A success body that does not have the expected shape.
    Decode(String),
    /// A token could not be signed.
    Token(String),
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct StreamError {
    /// Stream's operation name (`GetOrCreateChannel`, …).
    pub operation: &'static str,
    /// What went wrong.
    pub kind: ErrorKind,
    /// Rate-limit state of the failed call, when Stream sent it.
    pub rate_limit: Option<RateLimit>,
}

impl StreamError {
    pub(crate) fn new(operation: &'static str, kind: ErrorKind) -> Self {
        Self { operation, kind, rate_limit: None }
    }

    /// Stream's error code, when it answered with one.
    pub fn code(&self) -> Option<i64> {
        match &self.kind {
            ErrorKind::Api { code, .. } => Some(*code),
            ErrorKind::RateLimited { .. } => Some(9),
            _ => None,
        }
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::Api { status, .. } | ErrorKind::Status { status } => Some(*status),
            ErrorKind::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// 404/16: the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The failure is transient (rate limit, 5xx, timeout, connection): trying again later may
    /// succeed. The client repeats such failures itself, up to its retry policy.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::RateLimited { .. } | ErrorKind::Timeout | ErrorKind::Connection(_))
            || self.status().is_some_and(|s| s == 429 || s >= 500)
    }

    /// 400/4 "… already exists": the object (a message id) is taken.
    pub fn already_exists(&self) -> bool {
        matches!(&self.kind, ErrorKind::Api { status: 400, code: 4, message, .. } if message.contains("already exists"))
    }

    /// The request may have been applied although no success was seen.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self.kind, ErrorKind::Timeout | ErrorKind::Connection(_))
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Api { status, code, message, .. } => {
                write!(f, "{} failed: HTTP {status}, Stream code {code}: {message}", self.operation)
            }
            ErrorKind::RateLimited { .. } => write!(f, "{} failed: rate limited (429)", self.operation),
            ErrorKind::Status { status } => write!(f, "{} failed: HTTP {status}", self.operation),
            ErrorKind::Timeout => write!(f, "{} timed out; it may or may not have been applied", self.operation),
            ErrorKind::Connection(e) => write!(f, "{} failed on the connection: {e}", self.operation),
            ErrorKind::Decode(e) => write!(f, "{} answered something unexpected: {e}", self.operation),
            ErrorKind::Token(e) => write!(f, "cannot sign a token: {e}"),
        }
    }
}
