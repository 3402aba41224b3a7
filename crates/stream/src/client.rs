//! The transport: base URL, api key, server token, a pooled rustls HTTP client, and one method
//! that sends a call and turns the answer into a typed value or a [`StreamError`].

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::error::{ErrorKind, RateLimit, StreamError};
use crate::token::server_token;

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
    /// Defaults: 10 s per call, 5 s to connect.
    pub fn new(base_url: impl Into<String>, key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            key: key.into(),
            secret: secret.into(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
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

/// Stream's server-side client. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    server_token: String,
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
        Ok(Client { http, config, server_token })
    }

    /// The configuration (secret redacted in `Debug`).
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Sends one call with the server token. `query` pairs go next to `api_key`.
    pub(crate) async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Answer<T>, StreamError> {
        let span = tracing::debug_span!("stream_call", operation, %method, status = tracing::field::Empty);
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
