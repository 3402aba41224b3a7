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
        exception_fields: Box<Map<String, Value>>,
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
    /// A background task ended in a final status other than `completed` (`failed`, `error`, or
    /// one Stream has not documented).
    TaskFailed(Box<TaskFailure>),
    /// A background task was still unfinished when the caller's deadline passed.
    TaskDeadline {
        /// The task.
        task_id: String,
        /// How long it was polled.
        waited: Duration,
    },
    /// Stream's paging cannot reach all of what was asked for.
    Incomplete(String),
    /// The call was refused before it was sent: what it asks for is not allowed or not safe.
    Refused(String),
    /// Stream's answer contradicts what the call meant to do (a message id already used in
    /// another channel; an update answered "already exists" whose changes are not there).
    Conflict(String),
}

/// How a background task ended when it did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The task.
    pub task_id: String,
    /// Its final status.
    pub status: String,
    /// What Stream said, if anything.
    pub reason: String,
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
    /// `Retry-After` of a 429, with or without Stream's body.
    pub retry_after: Option<Duration>,
}

impl StreamError {
    /// An error of `operation`, without rate-limit state.
    pub fn new(operation: &'static str, kind: ErrorKind) -> Self {
        Self { operation, kind, rate_limit: None, retry_after: None }
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

    /// Stream said the object does not exist: a 404 carrying Stream's code 16. A 404 without
    /// Stream's body (a proxy, a wrong base URL, an unknown path) is not that.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ErrorKind::Api { status: 404, code: 16, .. })
    }

    /// The failure is transient (rate limit, request timeout 408, 5xx, timeout, connection):
    /// trying again later may succeed. The client repeats such failures itself, up to its retry
    /// policy.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::RateLimited { .. } | ErrorKind::Timeout | ErrorKind::Connection(_))
            || self.status().is_some_and(|s| s == 408 || s == 429 || s >= 500)
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
            ErrorKind::TaskFailed(t) => {
                write!(f, "{}: task {} ended {}", self.operation, t.task_id, t.status)?;
                if t.reason.is_empty() { Ok(()) } else { write!(f, ": {}", t.reason) }
            }
            ErrorKind::TaskDeadline { task_id, waited } => {
                write!(f, "{}: task {task_id} was not finished after {:.1} s", self.operation, waited.as_secs_f64())
            }
            ErrorKind::Incomplete(why) => write!(f, "{}: incomplete: {why}", self.operation),
            ErrorKind::Refused(why) => write!(f, "{} refused before sending: {why}", self.operation),
            ErrorKind::Conflict(why) => write!(f, "{}: {why}", self.operation),
        }
    }
}
