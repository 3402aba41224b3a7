//! gymchat's client for Stream Chat's server-side REST API, written from Stream's documented
//! behaviour (`shared/spec/STREAM_API.md`).
//!
//! - [`client`]: configuration and transport (rustls connection pool, api key, server token,
//!   `x-ratelimit-*` headers read on every answer, a `tracing` span per call without secrets,
//!   tokens or message bodies).
//! - [`api`]: one typed method per endpoint: app, users, channels, members, messages, tasks.
//! - [`model`]: request and response bodies; custom fields round-trip through flattened maps;
//!   ids are `gymchat_ids` types.
//! - [`token`]: server and user tokens.
//! - [`error`]: [`StreamError`] with Stream's code, status, message and exception fields, 429s
//!   with or without a body, and whether an outcome is unknown (timeout, reset).
//!
//! Status (issue 4): each method is one call. Pacing by rate-limit headers, retries with
//! backoff and read-back, and the batching/paging helpers are not built yet.

pub mod api;
pub mod client;
pub mod error;
pub mod model;
pub mod token;

pub use api::AppSettings;
pub use client::{Answer, Client, ClientConfig};
pub use error::{ErrorKind, RateLimit, StreamError};
pub use token::{server_token, user_token};
