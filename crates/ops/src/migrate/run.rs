//! What every task of a run shares ([`Runner`]): the store and the client, the lease (renewed in
//! the background every third of its life; a lost lease stops the run), the circuit breaker, and
//! the journal writes that move an item from step to step.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use gymchat_store::{ItemState, Lease, Store, StoreError};
use gymchat_stream::Client;
use serde_json::Value;

use super::error::StepError;
use super::lock::LEASE_TTL_SECONDS;

/// Item outcomes the circuit breaker looks at.
pub const BREAKER_WINDOW: usize = 50;
/// Outcomes it needs before it may trip.
const BREAKER_MIN: usize = 10;

/// The circuit breaker: a sliding window of item outcomes.
pub(crate) struct Breaker {
    window: VecDeque<bool>,
    max_rate: f64,
}

impl Breaker {
    pub(crate) fn new(max_rate: f64) -> Self {
        Self { window: VecDeque::new(), max_rate }
    }

    /// Records an outcome; true when the breaker trips.
    fn record(&mut self, ok: bool) -> bool {
        self.window.push_back(ok);
        if self.window.len() > BREAKER_WINDOW {
            self.window.pop_front();
        }
        let failed = self.window.iter().filter(|ok| !**ok).count();
        self.window.len() >= BREAKER_MIN && failed as f64 / self.window.len() as f64 > self.max_rate
    }
}

/// What every task of a run shares.
pub(crate) struct Runner {
    pub store: Store,
    pub client: Client,
    pub run_id: String,
    lease: Mutex<Lease>,
    stop: AtomicBool,
    why: Mutex<Option<String>>,
    breaker: Mutex<Breaker>,
}

impl Runner {
    pub(crate) fn new(store: Store, client: Client, run_id: String, lease: Lease, breaker: Breaker) -> Self {
        Self {
            store,
            client,
            run_id,
            lease: Mutex::new(lease),
            stop: AtomicBool::new(false),
            why: Mutex::new(None),
            breaker: Mutex::new(breaker),
        }
    }

    /// Stops the run (the first reason given is kept).
    pub(crate) fn stop(&self, why: String) {
        if !self.stop.swap(true, Ordering::SeqCst) {
            *self.why.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
        }
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Why the run stopped, if it did.
    pub(crate) fn why(&self) -> Option<String> {
        self.why.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn lease(&self) -> Lease {
        self.lease.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Counts an item's outcome; the breaker may stop the run.
    pub(crate) fn outcome(&self, ok: bool) {
        let (tripped, rate) = {
            let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
            (breaker.record(ok), breaker.max_rate)
        };
        if tripped {
            self.stop(format!(
                "circuit breaker: more than {:.0}% of the last items failed; the run is kept and resumes with the same \
                 command once the cause is fixed",
                rate * 100.0
            ));
        }
    }

    /// The previous step succeeded (with `detail`, when given) and the step `state` starts.
    pub(crate) async fn advance(&self, id: i64, state: ItemState, detail: Option<&Value>) -> Result<(), StepError> {
        let mut s = self.store.session().await?;
        let detail = detail.map(Value::to_string);
        Ok(s.advance_item(id, state, detail.as_deref(), Utc::now()).await?)
    }

    /// The item's step ended in `state`.
    pub(crate) async fn done(&self, id: i64, state: ItemState, detail: Option<&Value>) -> Result<(), StepError> {
        let mut s = self.store.session().await?;
        let detail = detail.map(Value::to_string);
        Ok(s.finish_item_step(id, state, detail.as_deref(), Utc::now()).await?)
    }

    /// Records why the item's step failed; the item stays in that step.
    pub(crate) async fn fail(&self, id: i64, error: &StepError) {
        match self.store.session().await {
            Ok(mut s) => {
                if let Err(e) = s.fail_item(id, &error.to_string(), Utc::now()).await {
                    tracing::warn!(item = id, error = %e, "could not journal an item's failure");
                }
            }
            Err(e) => tracing::warn!(item = id, error = %e, "could not journal an item's failure"),
        }
    }
}

/// Aborts its task when dropped.
pub(crate) struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the lease every third of its life until aborted; a lost lease stops the run.
pub(crate) fn keep_lease(runner: Arc<Runner>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let every = std::time::Duration::from_secs((LEASE_TTL_SECONDS / 3).max(1) as u64);
        loop {
            tokio::time::sleep(every).await;
            let lease = runner.lease();
            let renewed = match runner.store.session().await {
                Ok(mut s) => s.renew_lock(&lease, chrono::Duration::seconds(LEASE_TTL_SECONDS)).await,
                Err(e) => Err(e),
            };
            match renewed {
                Ok(l) => *runner.lease.lock().unwrap_or_else(|e| e.into_inner()) = l,
                Err(StoreError::LockLost { .. }) => {
                    runner.stop("the migration lock was taken by another run; this one stopped".into());
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "could not renew the migration lease; will try again"),
            }
        }
    }))
}
