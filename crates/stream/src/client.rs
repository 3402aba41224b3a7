//! The transport: base URL, api key, server token, a pooled rustls HTTP client, and one method
//! that sends a call and turns the answer into a typed value or a [`StreamError`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::error::{ErrorKind, RateLimit, StreamError};
use crate::pacing::Pacer;
use crate::token::server_token;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// How failed calls are repeated: full-jitter exponential backoff, only for transient failures
/// of calls that are safe to repeat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt (doubled each time, up to `max_delay`).
    pub base_delay: Duration,
    /// Longest backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 6, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// A random delay in `[0, min(max, base × 2^(attempt-1))]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.base_delay.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(self.max_delay);
        cap.mul_f64(rand::random::<f64>())
    }
}

/// Which attempt a call is and how long pacing held it, for its log span.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    number: u32,
    paced: Duration,
}

/// How to reach Stream.
#[derive(Clone)]
pub struct ClientConfig {
    /// Base URL (`https://chat.stream-io-api.com`, or a sandbox's URL).
    pub base_url: String,
    /// API key.
    pub key: String,
    /// API secret; never logged or printed.
    pub secret: String,
    /// Time allowed for one call, from connect to the last byte.
    pub timeout: Duration,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Share of each endpoint's rate limit gymchat may use; the live app spends the rest.
    pub budget_share: f64,
    /// Calls in flight at once (adjustable later with [`Client::set_max_in_flight`]).
    pub max_in_flight: usize,
    /// Retries.
    pub retry: RetryPolicy,
    /// Pace calls within `budget_share` of the rate limits. Turn off only against a sandbox
    /// running without limits (benchmarks of the client itself).
    pub pace: bool,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("key", &self.key)
            .field("secret", &"***")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Defaults: 10 s per call, 5 s to connect, 50% of every rate limit, 16 calls in flight,
    /// 6 attempts.
    pub fn new(base_url: impl Into<String>, key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            key: key.into(),
            secret: secret.into(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            budget_share: 0.5,
            max_in_flight: 16,
            retry: RetryPolicy::default(),
            pace: true,
        }
    }
}

/// A call's typed answer plus the rate-limit state it reported.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// The decoded body.
    pub body: T,
    /// From `x-ratelimit-*`, when present.
    pub rate_limit: Option<RateLimit>,
}

/// Stream's server-side client. Cheap to clone: clones share the connection pool, the pacing
/// and the in-flight bound.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    server_token: String,
    pacer: Arc<Pacer>,
    in_flight: Arc<Semaphore>,
    in_flight_max: Arc<Mutex<usize>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("config", &self.config).finish_non_exhaustive()
    }
}

fn rate_limit(headers: &HeaderMap) -> Option<RateLimit> {
    let num = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    Some(RateLimit {
        limit: num("x-ratelimit-limit")?,
        remaining: num("x-ratelimit-remaining")?,
        reset: num("x-ratelimit-reset")?,
    })
}

impl Client {
    /// Builds the client; fails only when the server token cannot be signed.
    pub fn new(config: ClientConfig) -> Result<Client, StreamError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| StreamError::new("Connect", ErrorKind::Connection(e.to_string())))?;
        let server_token = server_token(&config.secret)?;
        let max = config.max_in_flight.max(1);
        Ok(Client {
            http,
            pacer: Arc::new(Pacer::new(config.budget_share)),
            in_flight: Arc::new(Semaphore::new(max)),
            in_flight_max: Arc::new(Mutex::new(max)),
            config,
            server_token,
        })
    }

    /// How many calls may be in flight at once.
    pub fn max_in_flight(&self) -> usize {
        *self.in_flight_max.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes how many calls may be in flight at once; lowering waits for calls to finish.
    pub async fn set_max_in_flight(&self, max: usize) {
        let max = max.max(1);
        let current = {
            let mut guard = self.in_flight_max.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *guard, max)
        };
        if max > current {
            self.in_flight.add_permits(max - current);
        } else if let Ok(permits) = self.in_flight.acquire_many((current - max) as u32).await {
            permits.forget();
        }
    }

    /// Sends a call, paced within the budget, repeating transient failures. Every operation this
    /// client offers is safe to repeat: reads, upserts, get-or-create, member changes, partial
    /// updates, deletes (404 then means done) and sends with their own id. A 429 holds every call
    /// of the operation until the window resets or `Retry-After` passes.
    pub(crate) async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Answer<T>, StreamError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = {
                let _permit = self
                    .in_flight
                    .acquire()
                    .await
                    .map_err(|e| StreamError::new(operation, ErrorKind::Connection(e.to_string())))?;
                let wait = if self.config.pace { self.pacer.reserve(operation) } else { Duration::ZERO };
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                self.call_once(operation, method.clone(), path, query, body, Attempt { number: attempt, paced: wait })
                    .await
            };
            let backoff = self.config.retry.backoff(attempt);
            match &result {
                Ok(answer) => self.pacer.observe(operation, answer.rate_limit),
                Err(e) => {
                    self.pacer.observe(operation, e.rate_limit);
                    if e.status() == Some(429) {
                        let until = match (&e.kind, e.rate_limit) {
                            (ErrorKind::RateLimited { retry_after: Some(after) }, _) => {
                                now_ms() + after.as_millis() as u64
                            }
                            (_, Some(rate)) => rate.reset * 1000,
                            _ => now_ms() + backoff.as_millis() as u64,
                        };
                        self.pacer.hold_until(operation, until);
                    }
                }
            }
            match result {
                Err(e) if e.is_transient() && attempt < self.config.retry.max_attempts => {
                    tracing::debug!(operation, attempt, error = %e, backoff_ms = backoff.as_millis() as u64, "retrying");
                    if e.status() != Some(429) {
                        tokio::time::sleep(backoff).await;
                    }
                }
                other => return other,
            }
        }
    }

    /// The configuration (secret redacted in `Debug`).
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Sends one call with the server token. `query` pairs go next to `api_key`.
    async fn call_once<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        attempt: Attempt,
    ) -> Result<Answer<T>, StreamError> {
        let span = tracing::debug_span!(
            "stream_call",
            operation,
            %method,
            attempt = attempt.number,
            paced_ms = attempt.paced.as_millis() as u64,
            status = tracing::field::Empty
        );
        async {
            let mut req = self
                .http
                .request(method, format!("{}{path}", self.config.base_url))
                .query(&[("api_key", self.config.key.as_str())])
                .query(query)
                .header(AUTHORIZATION, &self.server_token)
                .header("stream-auth-type", "jwt");
            if let Some(body) = body {
                req = req.json(body);
            }
            let res = req.send().await.map_err(|e| transport_error(operation, &e))?;
            let status = res.status();
            tracing::Span::current().record("status", status.as_u16());
            let headers = res.headers().clone();
            let limit = rate_limit(&headers);
            let bytes = res.bytes().await.map_err(|e| transport_error(operation, &e))?;
            if status.is_success() {
                let body = serde_json::from_slice(&bytes)
                    .map_err(|e| StreamError::new(operation, ErrorKind::Decode(e.to_string())))?;
                return Ok(Answer { body, rate_limit: limit });
            }
            let mut err = StreamError::new(operation, error_kind(status, &headers, &bytes));
            err.rate_limit = limit;
            Err(err)
        }
        .instrument(span)
        .await
    }
}

fn transport_error(operation: &'static str, e: &reqwest::Error) -> StreamError {
    let kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Connection(e.to_string()) };
    StreamError::new(operation, kind)
}

fn error_kind(status: StatusCode, headers: &HeaderMap, bytes: &[u8]) -> ErrorKind {
    let body: Option<Map<String, Value>> = serde_json::from_slice(bytes).ok();
    match body {
        Some(body) if body.get("code").is_some_and(Value::is_i64) => ErrorKind::Api {
            status: status.as_u16(),
            code: body.get("code").and_then(Value::as_i64).unwrap_or_default(),
            message: body.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
            exception_fields: body.get("exception_fields").and_then(Value::as_object).cloned().unwrap_or_default(),
        },
        _ if status == StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited {
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        _ => ErrorKind::Status { status: status.as_u16() },
    }
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
    fn backoff_grows_and_is_capped() {
        let policy =
            RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1) };
        for attempt in 1..=20 {
            let cap = Duration::from_millis(100).saturating_mul(1 << (attempt - 1).min(16)).min(Duration::from_secs(1));
            assert!(policy.backoff(attempt) <= cap);
        }
    }
}
