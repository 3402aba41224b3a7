//! gymchat's client for Stream Chat's server-side REST API, written from Stream's documented
//! behaviour (`shared/spec/STREAM_API.md`).
//!
//! - [`client`]: configuration and transport (rustls connection pool, api key, server token,
//!   `x-ratelimit-*` headers read on every answer, a `tracing` span per call without secrets,
//!   tokens or message bodies).
//! - [`api`]: one typed method per endpoint: app, users, channels, members, messages, tasks.
//! - [`model`]: request and response bodies; custom fields round-trip through flattened maps;
//!   ids are `gymchat_ids` types.
//! - [`pacing`]: per-operation call slots within a share (default 50%) of each rate limit,
//!   learnt from `x-ratelimit-*` headers; 429s hold the operation until its window resets.
//! - [`helpers`]: batches of 100 users or cids (with task polling), listing every channel of a
//!   filter past the offset cap, a channel's whole history.
//! - [`token`]: server and user tokens.
//! - [`error`]: [`StreamError`] with Stream's code, status, message and exception fields, 429s
//!   with or without a body, and whether an outcome is unknown (timeout, reset).
//!
//! Retries: transient failures (429, 5xx, timeouts, resets) are repeated with full-jitter
//! exponential backoff. Every operation offered is safe to repeat: reads, upserts,
//! get-or-create, member changes, partial updates, deletes (a 404 then means "already gone") and
//! sends, which always carry a caller-chosen deterministic id (a repeat answered "already exists"
//! is [`Sent::AlreadyExisted`]). So an unknown outcome is settled by the repeat itself.

pub mod api;
pub mod client;
pub mod error;
pub mod helpers;
pub mod model;
pub mod pacing;
pub mod token;

pub use api::{AppSettings, Sent};
pub use client::{Answer, Client, ClientConfig, RetryPolicy};
pub use error::{ErrorKind, RateLimit, StreamError};
pub use token::{server_token, user_token};
