//! The transport: base URL, api key, server token, a pooled rustls HTTP client, and one method
//! that sends a call and turns the answer into a typed value or a [`StreamError`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::error::{ErrorKind, RateLimit, StreamError};
use crate::model::Undecodable;
use crate::pacing::{Pacer, documented_limit};
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
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL (`https://chat.stream-io-api.com`, or a sandbox's URL).
    pub base_url: String,
    /// API key.
    pub key: String,
    /// API secret; never logged or printed (its `Debug` is redacted).
    pub secret: SecretString,
    /// Time allowed for one call, from connect to the last byte.
    pub timeout: Duration,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Share of each endpoint's rate limit, and of what is left of it, gymchat may use; the live
    /// app spends the rest. In (0, 1]; the CLI's `--rate-budget`.
    pub budget_share: f64,
    /// Calls in flight at once (adjustable later with [`Client::set_max_in_flight`]).
    pub max_in_flight: usize,
    /// Retries.
    pub retry: RetryPolicy,
    /// The length of Stream's rate windows: a minute (Stream's rule). A sandbox run with
    /// `--time-scale F` has windows F times shorter; telling the pacer spares it a first window
    /// spent at a minute's pace while it learns that from the headers.
    pub rate_window: Duration,
    /// Pace calls within `budget_share` of the rate limits. Turn off only against a sandbox
    /// running without limits (benchmarks of the client itself).
    pub pace: bool,
    /// With `pace` off: after each call, sleep a fixed interval, the operation's documented
    /// limit spread over `rate_window` at `budget_share` (`rate_window ÷ (limit × share)`),
    /// never reading the headers: how a script keeps under Stream's limits with fixed sleeps.
    /// A baseline for benchmarks only (`bench/migrate.sh seed`), with `max_in_flight` 1.
    pub fixed_sleeps: bool,
}

impl ClientConfig {
    /// Defaults: 10 s per call, 5 s to connect, 50% of every rate limit, 16 calls in flight,
    /// 6 attempts, one-minute rate windows.
    pub fn new(base_url: impl Into<String>, key: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            key: key.into(),
            secret: secret.into(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            budget_share: 0.5,
            max_in_flight: 16,
            retry: RetryPolicy::default(),
            rate_window: Duration::from_secs(60),
            pace: true,
            fixed_sleeps: false,
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
    /// Objects of a page (channels, users) that could not be decoded; the body holds the rest.
    pub undecodable: Vec<Undecodable>,
}

impl<T> Answer<T> {
    /// The same answer with another body.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Answer<U> {
        Answer { body: f(self.body), rate_limit: self.rate_limit, undecodable: self.undecodable }
    }
}

/// Stream's server-side client. Cheap to clone: clones share the connection pool, the pacing
/// and the in-flight bound.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    server_token: SecretString,
    pacer: Arc<Pacer>,
    in_flight: Arc<InFlight>,
}

/// The bound on calls in flight, changeable while calls run. Lowering takes the free permits
/// away at once and the rest as calls finish (a permit handed back while some are owed is
/// forgotten), so the new bound holds from the next call on, not after the queue drains.
#[derive(Debug)]
struct InFlight {
    permits: Semaphore,
    /// (the bound, permits still to be taken away as calls finish).
    state: Mutex<(usize, usize)>,
}

/// A call's place in flight; handing it back repays a lowered bound first.
struct Place<'a> {
    permit: Option<tokio::sync::SemaphorePermit<'a>>,
    owner: &'a InFlight,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut state = self.owner.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(permit) = self.permit.take()
            && state.1 > 0
        {
            state.1 -= 1;
            permit.forget();
        }
    }
}

impl InFlight {
    fn new(max: usize) -> Self {
        Self { permits: Semaphore::new(max), state: Mutex::new((max, 0)) }
    }

    async fn enter(&self) -> Result<Place<'_>, tokio::sync::AcquireError> {
        Ok(Place { permit: Some(self.permits.acquire().await?), owner: self })
    }

    fn max(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    fn set_max(&self, max: usize) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (current, owed) = *state;
        if max >= current {
            let mut grow = max - current;
            // Cancel debt before adding permits.
            let cancel = grow.min(owed);
            state.1 -= cancel;
            grow -= cancel;
            self.permits.add_permits(grow);
        } else {
            let shrink = current - max;
            let taken = self.permits.forget_permits(shrink);
            state.1 += shrink - taken;
        }
        state.0 = max;
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
    /// Builds the client; refuses a `budget_share` outside (0, 1] and fails when the server
    /// token cannot be signed.
    pub fn new(config: ClientConfig) -> Result<Client, StreamError> {
        if !(config.budget_share > 0.0 && config.budget_share <= 1.0) {
            let why = format!("the rate budget must be in (0, 1], not {}", config.budget_share);
            return Err(StreamError::new("Connect", ErrorKind::Refused(why)));
        }
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
            pacer: Arc::new(Pacer::new(config.budget_share).with_window(config.rate_window)),
            in_flight: Arc::new(InFlight::new(max)),
            config,
            server_token,
        })
    }

    /// How many calls may be in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.max()
    }

    /// Changes how many calls may be in flight at once, effective for the next call to start:
    /// calls already running finish, and no new one starts until fewer than `max` run.
    pub fn set_max_in_flight(&self, max: usize) {
        self.in_flight.set_max(max.max(1));
    }

    /// Sends a call, paced within the budget, repeating transient failures (a call offered by
    /// this client is only ever repeated when repeating it is safe; see the crate's docs).
    ///
    /// The pacing wait comes before a concurrency slot is taken, so calls waiting for one
    /// operation's window never block another operation. A 429 always backs off, pacing or not:
    /// until `Retry-After`, else the window's reset, else an exponential backoff.
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
            let (result, paced) = self.paced_attempt(operation, method.clone(), path, query, body, attempt).await?;
            let backoff = self.config.retry.backoff(attempt);
            let mut wait = backoff;
            if let Err(e) = &result
                && e.status() == Some(429)
            {
                let until = hold_after_429(now_ms(), e.retry_after, e.rate_limit, backoff);
                let now = now_ms();
                self.pacer.hold_until(operation, until);
                // Paced calls wait for the hold in their next reservation; unpaced ones here.
                wait = if paced { Duration::ZERO } else { Duration::from_millis(until.saturating_sub(now)) };
            }
            match result {
                Err(e) if e.is_transient() && attempt < self.config.retry.max_attempts => {
                    tracing::debug!(operation, attempt, error = %e, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// One attempt: wait for a pacing slot (when pacing), take a concurrency slot, send, and tell
    /// the pacer what the answer said. Returns whether the attempt was paced.
    async fn paced_attempt<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        attempt: u32,
    ) -> Result<(Result<Answer<T>, StreamError>, bool), StreamError> {
        let closed = |e: tokio::sync::AcquireError| StreamError::new(operation, ErrorKind::Connection(e.to_string()));
        if !self.config.pace {
            let _place = self.in_flight.enter().await.map_err(closed)?;
            let attempt = Attempt { number: attempt, paced: Duration::ZERO };
            let result = self.call_once(operation, method, path, query, body, attempt).await;
            if self.config.fixed_sleeps {
                // The place is held while sleeping: the next call waits out the interval too.
                let per_window = documented_limit(operation) as f64 * self.config.budget_share;
                tokio::time::sleep(self.config.rate_window.div_f64(per_window.max(1.0))).await;
            }
            return Ok((result, false));
        }
        let mut paced = Duration::ZERO;
        let (slot, _permit) = loop {
            let slot = self.pacer.reserve(operation);
            if !slot.wait.is_zero() {
                let waiting = std::time::Instant::now();
                let due = self.pacer.wait_for(operation, &slot).await;
                paced += waiting.elapsed();
                if !due {
                    // The windows changed length while this call waited: its slot is void.
                    self.pacer.abandon(operation, slot.seq);
                    continue;
                }
            }
            let permit = self.in_flight.enter().await.map_err(closed)?;
            let gap = self.pacer.depart(operation);
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            paced += gap;
            // A call that could not start before its slot's window closed counts in the next one.
            if self.pacer.still_open(operation, &slot) {
                break (slot, permit);
            }
            self.pacer.abandon(operation, slot.seq);
        };
        let result = self.call_once(operation, method, path, query, body, Attempt { number: attempt, paced }).await;
        let rate = match &result {
            Ok(answer) => answer.rate_limit,
            Err(e) => e.rate_limit,
        };
        self.pacer.answered(operation, slot.seq, rate);
        Ok((result, true))
    }

    /// The configuration (its secret redacted in `Debug`).
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
                .header(AUTHORIZATION, self.server_token.expose_secret())
                .header("stream-auth-type", "jwt")
                .header("X-Stream-Client", CLIENT_NAME);
            if let Some(body) = body {
                req = req.json(body);
            }
            let res = req.send().await.map_err(|e| {
                metrics::counter!(CALLS_METRIC, "operation" => operation, "status" => "transport").increment(1);
                transport_error(operation, &e)
            })?;
            let status = res.status();
            metrics::counter!(CALLS_METRIC, "operation" => operation, "status" => status.as_u16().to_string())
                .increment(1);
            if status == StatusCode::TOO_MANY_REQUESTS {
                metrics::counter!(RATE_LIMITED_METRIC, "operation" => operation).increment(1);
            }
            tracing::Span::current().record("status", status.as_u16());
            let headers = res.headers().clone();
            let limit = rate_limit(&headers);
            let bytes = res.bytes().await.map_err(|e| transport_error(operation, &e))?;
            if status.is_success() {
                // An empty body reads as `null`: types that do not need a body accept it.
                let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"null" } else { &bytes };
                let body = serde_json::from_slice(text)
                    .map_err(|e| StreamError::new(operation, ErrorKind::Decode(e.to_string())))?;
                return Ok(Answer { body, rate_limit: limit, undecodable: Vec::new() });
            }
            let mut err = StreamError::new(operation, error_kind(status, &headers, &bytes));
            err.rate_limit = limit;
            if status == StatusCode::TOO_MANY_REQUESTS {
                err.retry_after = retry_after(&headers);
            }
            Err(err)
        }
        .instrument(span)
        .await
    }
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

/// What every call names its client as (`X-Stream-Client`), in the form of Stream's own SDKs.
pub const CLIENT_NAME: &str = concat!("gymchat-", env!("CARGO_PKG_VERSION"));

/// Calls sent to Stream, by operation and HTTP status (`transport` when no answer came), for
/// whichever metrics recorder the program installed (none: nothing is recorded).
pub const CALLS_METRIC: &str = "gymchat_stream_calls_total";
/// Calls Stream answered with 429, by operation.
pub const RATE_LIMITED_METRIC: &str = "gymchat_stream_rate_limited_total";

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
            exception_fields: Box::new(
                body.get("exception_fields").and_then(Value::as_object).cloned().unwrap_or_default(),
            ),
        },
        _ if status == StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited { retry_after: retry_after(headers) },
        _ => ErrorKind::Status { status: status.as_u16() },
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Stream).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
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

    /// The largest of many backoffs of one attempt: close to the attempt's cap, never above it.
    fn largest_backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
        (0..2_000).map(|_| policy.backoff(attempt)).max().unwrap()
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let policy =
            RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1) };
        // Full jitter: uniform in [0, cap]; 2,000 draws come within 2% of the cap (a miss has a
        // chance of 0.98^2000, about 3e-18).
        for (attempt, cap_ms) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1_000), (40, 1_000)] {
            let largest = largest_backoff(&policy, attempt).as_millis() as u64;
            assert!(largest <= cap_ms && largest >= cap_ms * 98 / 100, "attempt {attempt}: {largest} ms of {cap_ms}");
        }
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
