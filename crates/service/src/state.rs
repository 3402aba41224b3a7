//! What every handler shares: the database, the Stream client, the configuration and the token
//! verifier.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gymchat_store::Store;
use gymchat_stream::Client;
use secrecy::SecretString;

use crate::identity::{IdentityConfig, Verifier};
use crate::push::PushConfig;

/// How the service runs. Its secrets are [`SecretString`]s: its `Debug` shows none of them.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Stream API key, handed to the apps with their token.
    pub stream_key: String,
    /// Stream API secret: signs user tokens and checks webhook signatures.
    pub stream_secret: SecretString,
    /// Who issues the callers' JWTs.
    pub identity: IdentityConfig,
    /// The workers' key (`X-API-Key`); without one the worker endpoints refuse every call.
    pub worker_api_key: Option<SecretString>,
    /// How long a Stream user token is valid (an hour, as the platform's).
    pub token_ttl: chrono::Duration,
    /// Push notifications through OneSignal; `None`: no push is queued.
    pub push: Option<PushConfig>,
    /// Deadlines, bounds and retry times.
    pub limits: ServiceLimits,
}

/// What keeps a slow Stream from taking the service down, and how deliveries are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceLimits {
    /// Each chat and worker request ends within this (503 with `Retry-After` otherwise).
    pub request_deadline: Duration,
    /// Requests of routes that call Stream in flight at once; more wait up to `gate_wait`, then
    /// get 503 with `Retry-After`. `None`: half the database pool, so routes that only read the
    /// database always find a connection.
    pub stream_bound_in_flight: Option<usize>,
    /// How long a Stream-bound request waits for a place before it is turned away.
    pub gate_wait: Duration,
    /// First retry delay of a webhook delivery whose work failed (doubled each time, at most 10
    /// minutes).
    pub webhook_retry_base: Duration,
    /// Attempts of a webhook delivery before it is failed for good.
    pub webhook_attempts: i64,
    /// A room reservation older than this belongs to a request that is over: the sweeper
    /// settles it.
    pub pending_room_age: Duration,
    /// How long `/readyz` reuses its last look at Stream.
    pub ready_cache: Duration,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        Self {
            request_deadline: Duration::from_secs(10),
            stream_bound_in_flight: None,
            gate_wait: Duration::from_millis(500),
            webhook_retry_base: Duration::from_secs(2),
            webhook_attempts: 10,
            pending_room_age: Duration::from_secs(120),
            ready_cache: Duration::from_secs(5),
        }
    }
}

/// What every handler shares: the database, the Stream client and the configuration.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Store,
    stream: Client,
    config: ServiceConfig,
    verifier: Verifier,
    stream_gate: Arc<tokio::sync::Semaphore>,
    stream_ready: Mutex<Option<(Instant, bool)>>,
    inbox: tokio::sync::Notify,
    outbox: tokio::sync::Notify,
    push_http: reqwest::Client,
}

impl AppState {
    /// The state of a service on `store` and `stream`.
    pub fn new(store: Store, stream: Client, config: ServiceConfig) -> Self {
        // Installed before the first request, so the first requests are counted too.
        crate::metrics::handle();
        let verifier = Verifier::new(&config.identity);
        let places = config.limits.stream_bound_in_flight.unwrap_or_else(|| store.max_connections() / 2).max(1);
        let stream_gate = Arc::new(tokio::sync::Semaphore::new(places));
        AppState(Arc::new(Inner {
            store,
            stream,
            config,
            verifier,
            stream_gate,
            stream_ready: Mutex::new(None),
            inbox: tokio::sync::Notify::new(),
            outbox: tokio::sync::Notify::new(),
            push_http: reqwest::Client::builder().build().unwrap_or_default(),
        }))
    }

    pub(crate) fn store(&self) -> &Store {
        &self.0.store
    }

    pub(crate) fn stream(&self) -> &Client {
        &self.0.stream
    }

    pub(crate) fn config(&self) -> &ServiceConfig {
        &self.0.config
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        &self.0.verifier
    }

    pub(crate) fn limits(&self) -> &ServiceLimits {
        &self.0.config.limits
    }

    /// The places of Stream-bound requests in flight.
    pub(crate) fn stream_gate(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.0.stream_gate
    }

    /// Whether Stream answered the last time `/readyz` looked, while that look is fresh.
    pub(crate) fn cached_stream_ready(&self) -> Option<bool> {
        let cached = *self.0.stream_ready.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cached.filter(|(at, _)| at.elapsed() < self.limits().ready_cache).map(|(_, ok)| ok)
    }

    /// Remembers what `/readyz` saw of Stream.
    pub(crate) fn remember_stream_ready(&self, ok: bool) {
        *self.0.stream_ready.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((Instant::now(), ok));
    }

    /// Wakes the webhook worker (a delivery was taken in).
    pub(crate) fn inbox(&self) -> &tokio::sync::Notify {
        &self.0.inbox
    }

    /// Wakes the push sender (a push was queued).
    pub(crate) fn outbox(&self) -> &tokio::sync::Notify {
        &self.0.outbox
    }

    /// The HTTP client pushes are sent with (each request has its own timeout).
    pub(crate) fn push_http(&self) -> &reqwest::Client {
        &self.0.push_http
    }
}
