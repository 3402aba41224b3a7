//! What every handler shares: the database, the Stream client, the configuration and the token
//! verifier.

use std::sync::Arc;

use gymchat_store::Store;
use gymchat_stream::Client;
use secrecy::SecretString;

use crate::identity::{IdentityConfig, Verifier};

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
    /// How long a Stream user token is valid.
    pub token_ttl: chrono::Duration,
}

/// What every handler shares: the database, the Stream client and the configuration.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Store,
    stream: Client,
    config: ServiceConfig,
    verifier: Verifier,
}

impl AppState {
    /// The state of a service on `store` and `stream`.
    pub fn new(store: Store, stream: Client, config: ServiceConfig) -> Self {
        // Installed before the first request, so the first requests are counted too.
        crate::metrics::handle();
        let verifier = Verifier::new(&config.identity);
        AppState(Arc::new(Inner { store, stream, config, verifier }))
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
}
