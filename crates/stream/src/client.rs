//! The transport: base URL, api key, server token, a pooled rustls HTTP client, and one method
//! that sends a call and turns the answer into a typed value or a [`StreamError`].

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::AUTHORIZATION;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::budget::{SharedBudget, Shares, Taken};
use crate::error::{ErrorKind, RateLimit, StreamError};
use crate::failure::{error_kind, hold_after_429, rate_limit, retry_after, transport_error};
use crate::in_flight::InFlight;
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
    pub(crate) http: reqwest::Client,
    pub(crate) config: ClientConfig,
    /// The server token, or a user token for a client acting as a user ([`Client::as_user`]).
    pub(crate) token: SecretString,
    pacer: Arc<Pacer>,
    in_flight: Arc<InFlight>,
    /// A rate budget shared with other processes, when there is one.
    shares: Option<Arc<Shares>>,
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
        let token = server_token(&config.secret)?;
        let max = config.max_in_flight.max(1);
        Ok(Client {
            http,
            pacer: Arc::new(Pacer::new(config.budget_share).with_window(config.rate_window)),
            in_flight: Arc::new(InFlight::new(max)),
            shares: None,
            config,
            token,
        })
    }

    /// The same client, its paced calls also taken from `budget`, shared with other processes
    /// (`budget_share` of each limit for all of them together): several workers of one run
    /// stay within the budget together. Clones made from it afterwards share it.
    pub fn with_shared_budget(self, budget: Arc<dyn SharedBudget>) -> Client {
        Client { shares: Some(Arc::new(Shares::new(budget))), ..self }
    }

    /// The same client acting as `user`, with a user token valid for five minutes: what it reads
    /// is what that user sees (their hidden history and others' private messages left out). It
    /// shares this client's pacing and in-flight bound.
    pub fn as_user(&self, user: &gymchat_ids::StreamUserId) -> Result<Client, StreamError> {
        let now = chrono::Utc::now();
        let token = crate::token::user_token(&self.config.secret, user, now, Some(now + chrono::Duration::minutes(5)))?;
        Ok(Client { token: SecretString::from(token), ..self.clone() })
    }

    /// `n` processes (this one included) share the rate budget: calls are spaced so that
    /// together they keep under Stream's per-second burst cap.
    pub fn set_processes(&self, n: usize) {
        self.pacer.share_bursts_with(n as u64);
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
            // The shared budget is asked before a concurrency slot is taken: a claim that waits for
            // the database never holds a slot another operation could use.
            let mut start_by_ms = u64::MAX;
            if let Some(shares) = &self.shares {
                let share = self.pacer.limit(operation) as f64 * self.config.budget_share;
                match shares.take(operation, self.pacer.window(operation), share.floor().max(1.0) as u64).await {
                    Taken::Go { claimed, by_ms } => {
                        self.pacer.note_shared(operation, claimed);
                        start_by_ms = by_ms;
                    }
                    Taken::Wait { until_ms } => {
                        // The processes together spent the window: this one waits for the next.
                        self.pacer.abandon(operation, slot.seq);
                        self.pacer.hold_until(operation, until_ms);
                        continue;
                    }
                }
            }
            let permit = self.in_flight.enter().await.map_err(closed)?;
            let gap = self.pacer.depart(operation);
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            paced += gap;
            // A call that could not start before its slot's window closed (or the shared budget's
            // window it was taken from) counts in the next one.
            if self.pacer.still_open(operation, &slot) && now_ms() < start_by_ms {
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

    /// Sends one call with the client's token. `query` pairs go next to `api_key`.
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
                .header(AUTHORIZATION, self.token.expose_secret())
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

/// What every call names its client as (`X-Stream-Client`), in the form of Stream's own SDKs.
pub const CLIENT_NAME: &str = concat!("gymchat-", env!("CARGO_PKG_VERSION"));

/// Calls sent to Stream, by operation and HTTP status (`transport` when no answer came), for
/// whichever metrics recorder the program installed (none: nothing is recorded).
pub const CALLS_METRIC: &str = "gymchat_stream_calls_total";
/// Calls Stream answered with 429, by operation.
pub const RATE_LIMITED_METRIC: &str = "gymchat_stream_rate_limited_total";

#[cfg(test)]
mod tests {
    use super::*;

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
}
