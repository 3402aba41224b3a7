//! What every task of a run shares ([`Runner`]): the store and the client, the lease (renewed in
//! the background every third of its life; a lost lease stops the run), the maintenance windows
//! the run holds, the circuit breaker, and the journal writes that move an item from step to
//! step, each fenced by the lease.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use gymchat_ids::GymId;
use gymchat_store::{ItemState, Lease, Store, StoreError};
use gymchat_stream::Client;
use serde_json::Value;

use super::error::StepError;
use super::freezer::Freezer;

/// Item outcomes the circuit breaker looks at.
pub const BREAKER_WINDOW: usize = 50;
/// Outcomes it needs before it may trip.
const BREAKER_MIN: usize = 10;

/// The circuit breaker: the share of failed items over the recent window, and over the whole
/// run (the runbook's rule: more than the threshold of a run's items failed is a run to stop,
/// even when the last ones go well).
pub(crate) struct Breaker {
    window: VecDeque<bool>,
    max_rate: f64,
    total: usize,
    failed: usize,
}

impl Breaker {
    pub(crate) fn new(max_rate: f64) -> Self {
        Self { window: VecDeque::new(), max_rate, total: 0, failed: 0 }
    }

    /// Records an outcome; true when the breaker trips.
    pub(crate) fn record(&mut self, ok: bool) -> bool {
        self.window.push_back(ok);
        if self.window.len() > BREAKER_WINDOW {
            self.window.pop_front();
        }
        self.total += 1;
        self.failed += usize::from(!ok);
        let over = |failed: usize, of: usize| of >= BREAKER_MIN && failed as f64 / of as f64 > self.max_rate;
        let recent = self.window.iter().filter(|ok| !**ok).count();
        over(recent, self.window.len()) || over(self.failed, self.total)
    }
}

/// What every task of a run shares.
pub(crate) struct Runner {
    pub store: Store,
    pub client: Client,
    pub run_id: String,
    lease: Mutex<Lease>,
    lease_ttl: Duration,
    stop: AtomicBool,
    tripped: AtomicBool,
    why: Mutex<Option<String>>,
    breaker: Mutex<Breaker>,
    /// The gyms whose maintenance window this run holds (renewed with the lease).
    maintenance: Mutex<BTreeSet<GymId>>,
    /// Freezes the old channels in batches.
    pub freezer: Freezer,
}

/// How long a migration's maintenance window lasts unless renewed: a window left behind by a
/// run that died ends within this.
pub const MAINTENANCE_TTL: Duration = Duration::minutes(10);

impl Runner {
    pub(crate) fn new(
        store: Store,
        client: Client,
        run_id: String,
        lease: Lease,
        lease_ttl: Duration,
        breaker: Breaker,
    ) -> Self {
        Self {
            freezer: Freezer::start(client.clone()),
            store,
            client,
            run_id,
            lease: Mutex::new(lease),
            lease_ttl,
            stop: AtomicBool::new(false),
            tripped: AtomicBool::new(false),
            why: Mutex::new(None),
            breaker: Mutex::new(breaker),
            maintenance: Mutex::new(BTreeSet::new()),
        }
    }

    /// The step may begin: the run has not stopped.
    pub(crate) fn check(&self) -> Result<(), StepError> {
        if self.stopped() {
            return Err(StepError::Stopped(self.why().unwrap_or_default()));
        }
        Ok(())
    }

    /// Whether the circuit breaker stopped the run.
    pub(crate) fn tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    /// Opens the gym's maintenance window for this run (renewed with the lease until ended).
    pub(crate) async fn hold_maintenance(&self, gym: GymId) -> Result<(), StoreError> {
        let reason = format!("migration run {} moves the gym's channels", self.run_id);
        self.store.session().await?.set_maintenance(gym, MAINTENANCE_TTL, &reason, &self.run_id).await?;
        lock(&self.maintenance).insert(gym);
        Ok(())
    }

    /// Ends every maintenance window this run opened (only its own: a window an operator set by
    /// hand stays).
    pub(crate) async fn end_maintenance(&self) {
        let gyms: Vec<GymId> = lock(&self.maintenance).iter().copied().collect();
        for gym in gyms {
            self.end_maintenance_of(gym).await;
        }
    }

    /// Ends the gym's maintenance window, if this run opened it.
    pub(crate) async fn end_maintenance_of(&self, gym: GymId) {
        if !lock(&self.maintenance).remove(&gym) {
            return;
        }
        let cleared = match self.store.session().await {
            Ok(mut s) => s.clear_maintenance(gym, Some(&self.run_id)).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = cleared {
            tracing::warn!(%gym, error = %e, "could not end the maintenance window; it ends by itself");
        }
    }

    /// A store error of a fenced write; a lost lease stops the run.
    fn fenced(&self, e: StoreError) -> StepError {
        if let StoreError::LockLost { .. } = e {
            self.stop("the migration lock was taken by another run; this one stopped".into());
        }
        StepError::Store(e)
    }

    /// Stops the run (the first reason given is kept).
    pub(crate) fn stop(&self, why: String) {
        if !self.stop.swap(true, Ordering::SeqCst) {
            *lock(&self.why) = Some(why);
        }
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Why the run stopped, if it did.
    pub(crate) fn why(&self) -> Option<String> {
        lock(&self.why).clone()
    }

    pub(crate) fn lease(&self) -> Lease {
        lock(&self.lease).clone()
    }

    /// Counts an item's outcome; the breaker may stop the run.
    pub(crate) fn outcome(&self, ok: bool) {
        let (tripped, rate) = {
            let mut breaker = lock(&self.breaker);
            (breaker.record(ok), breaker.max_rate)
        };
        if tripped {
            self.tripped.store(true, Ordering::SeqCst);
            self.stop(format!(
                "circuit breaker: more than {:.0}% of the items (of the last ones, or of the whole run) failed; the run \
                 is kept and resumes with the same command once the cause is fixed",
                rate * 100.0
            ));
        }
    }

    /// The previous step succeeded (with `detail`, when given) and the step `state` starts. A
    /// fenced write: refused once another run holds the lock (which stops this one), so a holder
    /// that lost its lease makes no further call to Stream.
    pub(crate) async fn advance(&self, id: i64, state: ItemState, detail: Option<&Value>) -> Result<(), StepError> {
        self.check()?;
        let detail = detail.map(Value::to_string);
        let mut tx = self.store.begin().await?;
        tx.guard_lease(&self.lease()).await.map_err(|e| self.fenced(e))?;
        tx.advance_item(id, state, detail.as_deref(), Utc::now()).await?;
        Ok(tx.commit().await?)
    }

    /// The item's step ended in `state` (a fenced write).
    pub(crate) async fn done(&self, id: i64, state: ItemState, detail: Option<&Value>) -> Result<(), StepError> {
        let detail = detail.map(Value::to_string);
        let mut tx = self.store.begin().await?;
        tx.guard_lease(&self.lease()).await.map_err(|e| self.fenced(e))?;
        tx.finish_item_step(id, state, detail.as_deref(), Utc::now()).await?;
        Ok(tx.commit().await?)
    }

    /// Records why the item's step failed (a fenced write); the item stays in that step.
    pub(crate) async fn fail(&self, id: i64, error: &StepError) {
        let written = async {
            let mut tx = self.store.begin().await?;
            tx.guard_lease(&self.lease()).await?;
            tx.fail_item(id, &error.to_string(), Utc::now()).await?;
            tx.commit().await
        };
        if let Err(e) = written.await {
            tracing::warn!(item = id, error = %e, "could not journal an item's failure");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Aborts its task when dropped.
pub(crate) struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the lease (and the maintenance windows the run holds) every third of the lease's life
/// until aborted; a lost lease stops the run.
pub(crate) fn keep_lease(runner: Arc<Runner>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let every = (runner.lease_ttl / 3).to_std().unwrap_or_default().max(std::time::Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let lease = runner.lease();
            let renewed = match runner.store.session().await {
                Ok(mut s) => s.renew_lock(&lease, runner.lease_ttl).await,
                Err(e) => Err(e),
            };
            match renewed {
                Ok(l) => *lock(&runner.lease) = l,
                Err(StoreError::LockLost { .. }) => {
                    runner.stop("the migration lock was taken by another run; this one stopped".into());
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "could not renew the migration lease; will try again"),
            }
            let gyms: Vec<GymId> = lock(&runner.maintenance).iter().copied().collect();
            for gym in gyms {
                let renewed = match runner.store.session().await {
                    Ok(mut s) => s.renew_maintenance(gym, MAINTENANCE_TTL, &runner.run_id).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = renewed {
                    tracing::warn!(%gym, error = %e, "could not renew the maintenance window; will try again");
                }
            }
        }
    }))
}
