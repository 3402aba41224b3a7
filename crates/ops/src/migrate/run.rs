//! What every task of a run shares ([`Runner`]): the store and the client, the fence of its
//! journal writes (the run lock's lease for a rollback; each item's claim for a worker), renewed
//! in the background every third of its life with the worker's heartbeat, the maintenance windows
//! the run holds, the circuit breaker (`breaker`), and the journal writes that move an item from step to
//! step, each fenced; `renew` keeps the fence and the windows alive.

use std::collections::{BTreeSet, HashMap};

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use chrono::{Duration, Utc};
use gymchat_ids::GymId;
use gymchat_store::{ClaimKind, ItemState, Lease, MigrationItem, Session, Store, StoreError};
use gymchat_stream::Client;
use serde_json::Value;

use super::breaker::Breaker;
use super::error::StepError;
use super::freezer::Freezer;

/// What fences a run's journal writes.
pub(crate) enum Fence {
    /// The run lock's lease (a rollback): every write is refused once another process took it.
    Lock(Mutex<Lease>),
    /// Each item's claim (a worker of the run, `apply` included): a write to an item is refused
    /// once another worker took its claim over, or the run stopped being `running`.
    Claims {
        /// Who the worker is.
        worker: String,
        /// When its pass began, by the database's clock.
        pass_started_ms: AtomicI64,
        /// The items it holds, with their fencing tokens.
        held: Mutex<HashMap<i64, i64>>,
    },
}

/// What every task of a run shares.
pub(crate) struct Runner {
    pub store: Store,
    pub client: Client,
    pub run_id: String,
    fence: Fence,
    lease_ttl: Duration,
    /// Items this process finished, and those whose step failed in its hands.
    items_done: AtomicI64,
    items_failed: AtomicI64,
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
        fence: Fence,
        lease_ttl: Duration,
        breaker: Breaker,
    ) -> Self {
        Self {
            freezer: Freezer::start(client.clone()),
            store,
            client,
            run_id,
            fence,
            lease_ttl,
            items_done: AtomicI64::new(0),
            items_failed: AtomicI64::new(0),
            stop: AtomicBool::new(false),
            tripped: AtomicBool::new(false),
            why: Mutex::new(None),
            breaker: Mutex::new(breaker),
            maintenance: Mutex::new(BTreeSet::new()),
        }
    }

    /// A worker of run `run_id` named `worker`, whose pass began at `pass_started_ms` (the
    /// database's clock): its writes are fenced by its claims.
    pub(crate) fn for_worker(
        store: Store,
        client: Client,
        run_id: String,
        (worker, pass_started_ms): (String, i64),
        lease_ttl: Duration,
        max_failure_rate: f64,
    ) -> Self {
        let fence = Fence::Claims { worker, pass_started_ms: pass_started_ms.into(), held: Mutex::new(HashMap::new()) };
        Self::new(store, client, run_id, fence, lease_ttl, Breaker::new(max_failure_rate))
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

    /// Ends every maintenance window the run opened, whichever worker opened it (only the run's
    /// own: a window an operator set by hand stays). The last worker of a run does this.
    pub(crate) async fn end_all_maintenance(&self) {
        let mut gyms: BTreeSet<GymId> = std::mem::take(&mut *lock(&self.maintenance));
        if let Ok(mut s) = self.store.session().await
            && let Ok(Some(run)) = s.migration_run(&self.run_id).await
        {
            gyms.extend(run.gyms.into_iter().filter_map(|g| GymId::new(g).ok()));
        }
        for gym in gyms {
            self.clear_maintenance(gym).await;
        }
    }

    /// Ends the gym's maintenance window once no other worker holds any of its items; until
    /// then it stays open (renewed by them), and the run's last worker ends it.
    pub(crate) async fn end_maintenance_of(&self, gym: GymId) {
        if !lock(&self.maintenance).remove(&gym) {
            return;
        }
        let elsewhere = match self.store.session().await {
            Ok(mut s) => s.claimed_elsewhere(&self.run_id, &self.worker(), Some(gym.get())).await,
            Err(e) => Err(e),
        };
        if elsewhere.is_ok_and(|n| n == 0) {
            self.clear_maintenance(gym).await;
        }
    }

    async fn clear_maintenance(&self, gym: GymId) {
        let cleared = match self.store.session().await {
            Ok(mut s) => s.clear_maintenance(gym, Some(&self.run_id)).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = cleared {
            tracing::warn!(%gym, error = %e, "could not end the maintenance window; it ends by itself");
        }
    }

    /// Tells the client how many workers of the run are alive, so that together they keep under
    /// Stream's per-second burst cap (the shared budget keeps them within each window).
    pub(crate) async fn count_workers(&self) {
        let live = match self.store.session().await {
            Ok(mut s) => s.live_workers("", self.lease_ttl).await,
            Err(e) => Err(e),
        };
        if let Ok(live) = live {
            let n = live.iter().filter(|(run, _)| *run == self.run_id).count();
            self.client.set_processes(n.max(1));
        }
    }

    /// One renewal of the fence: the lock's lease, or the worker's claims and heartbeat.
    pub(crate) async fn renew_fence(&self) -> Result<(), StoreError> {
        let mut s = self.store.session().await?;
        match &self.fence {
            Fence::Lock(lease) => {
                let current = lock(lease).clone();
                let renewed = s.renew_lock(&current, self.lease_ttl).await?;
                *lock(lease) = renewed;
            }
            Fence::Claims { worker, .. } => {
                s.renew_claims(&self.run_id, worker, self.lease_ttl).await?;
                s.worker_beat(&self.run_id, worker, self.counts(), None).await?;
                self.count_workers().await;
            }
        }
        Ok(())
    }

    /// The gyms whose maintenance window this process holds.
    pub(crate) fn held_gyms(&self) -> Vec<GymId> {
        lock(&self.maintenance).iter().copied().collect()
    }

    /// How long a lease or claim lasts unless renewed.
    pub(crate) fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    /// The run lock's lease (a rollback), as last renewed.
    pub(crate) fn lease(&self) -> Option<Lease> {
        match &self.fence {
            Fence::Lock(lease) => Some(lock(lease).clone()),
            Fence::Claims { .. } => None,
        }
    }

    /// A store error of a fenced write; a lost lease or claim stops the run (for a worker: this
    /// worker; the others go on).
    fn fenced(&self, e: StoreError) -> StepError {
        if let StoreError::LockLost { name, .. } = &e {
            self.stop(match &self.fence {
                Fence::Lock(_) => "the migration lock was taken by another run; this one stopped".into(),
                Fence::Claims { .. } => format!(
                    "the claim on {name} was lost (another worker took it over, or the run was rolled back or \
                     abandoned); this worker stopped"
                ),
            });
        }
        StepError::Store(e)
    }

    /// The fencing check of a write to item `id`, in the write's own transaction.
    pub(crate) async fn guard(&self, tx: &mut Session, id: i64) -> Result<(), StepError> {
        let checked = match &self.fence {
            Fence::Lock(lease) => {
                let lease = lock(lease).clone();
                tx.guard_lease(&lease).await
            }
            Fence::Claims { worker, held, .. } => {
                let fence = lock(held).get(&id).copied();
                match fence {
                    Some(fence) => tx.guard_claim(id, worker, fence).await,
                    None => Err(StoreError::LockLost { name: format!("migration item {id}"), holder: worker.clone() }),
                }
            }
        };
        checked.map_err(|e| self.fenced(e))
    }

    /// Claims up to `max` open items of `kind` of one gym (a worker; a rollback claims nothing).
    pub(crate) async fn claim(&self, kind: ClaimKind, max: i64) -> Result<Vec<MigrationItem>, StoreError> {
        let Fence::Claims { worker, pass_started_ms, held } = &self.fence else { return Ok(Vec::new()) };
        let pass = pass_started_ms.load(Ordering::SeqCst);
        let mut s = self.store.session().await?;
        let items = s.claim_items(&self.run_id, worker, kind, pass, self.lease_ttl, max).await?;
        lock(held).extend(items.iter().map(|i| (i.id, i.claim_fence)));
        Ok(items)
    }

    /// A new pass begins now (by the database's clock): items let go before it may be claimed
    /// again.
    pub(crate) async fn start_pass(&self) -> Result<(), StoreError> {
        let now_ms = self.store.session().await?.db_clock_ms().await?;
        if let Fence::Claims { pass_started_ms, .. } = &self.fence {
            pass_started_ms.store(now_ms, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Lets the items `ids` go at once (one write), as [`Runner::release`] does each.
    pub(crate) async fn release_all(&self, ids: &[i64], worked: bool) {
        let Fence::Claims { worker, held, .. } = &self.fence else { return };
        {
            let mut held = lock(held);
            for id in ids {
                held.remove(id);
            }
        }
        let released = match self.store.session().await {
            Ok(mut s) => s.release_items(&self.run_id, worker, ids, worked).await,
            Err(e) => Err(e),
        };
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not let items go; their claims run out by itself");
        }
    }

    /// Lets item `id` go; `worked`: a step was tried (no worker's current pass takes it again).
    pub(crate) async fn release(&self, id: i64, worked: bool) {
        let Fence::Claims { worker, held, .. } = &self.fence else { return };
        let Some(fence) = lock(held).remove(&id) else { return };
        let released = match self.store.session().await {
            Ok(mut s) => s.release_claim(id, worker, fence, worked).await,
            Err(e) => Err(e),
        };
        if let Err(e) = released {
            tracing::warn!(item = id, error = %e, "could not let an item go; its claim runs out by itself");
        }
    }

    /// The worker's name (a worker), or the lock's holder (a rollback).
    pub(crate) fn worker(&self) -> String {
        match &self.fence {
            Fence::Lock(lease) => lock(lease).holder.clone(),
            Fence::Claims { worker, .. } => worker.clone(),
        }
    }

    /// Items this process finished, and those that failed in its hands.
    pub(crate) fn counts(&self) -> (i64, i64) {
        (self.items_done.load(Ordering::SeqCst), self.items_failed.load(Ordering::SeqCst))
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

    /// Counts an item's outcome; the breaker may stop the run.
    pub(crate) fn outcome(&self, ok: bool) {
        let counter = if ok { &self.items_done } else { &self.items_failed };
        counter.fetch_add(1, Ordering::SeqCst);
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
        self.guard(&mut tx, id).await?;
        tx.advance_item(id, state, detail.as_deref(), Utc::now()).await?;
        Ok(tx.commit().await?)
    }

    /// The item's step ended in `state` (a fenced write).
    pub(crate) async fn done(&self, id: i64, state: ItemState, detail: Option<&Value>) -> Result<(), StepError> {
        let detail = detail.map(Value::to_string);
        let mut tx = self.store.begin().await?;
        self.guard(&mut tx, id).await?;
        tx.finish_item_step(id, state, detail.as_deref(), Utc::now()).await?;
        // A done item is let go in the same write (its release afterwards then writes nothing).
        let released = match (&self.fence, state) {
            (Fence::Claims { worker, held, .. }, ItemState::Done) => {
                let fence = lock(held).get(&id).copied();
                if let Some(fence) = fence {
                    tx.release_claim(id, worker, fence, true).await?;
                }
                fence.is_some()
            }
            _ => false,
        };
        tx.commit().await?;
        if released && let Fence::Claims { held, .. } = &self.fence {
            lock(held).remove(&id);
        }
        Ok(())
    }

    /// Records why the item's step failed (a fenced write); the item stays in that step.
    pub(crate) async fn fail(&self, id: i64, error: &StepError) {
        let written = async {
            let mut tx = self.store.begin().await?;
            self.guard(&mut tx, id).await?;
            tx.fail_item(id, &error.to_string(), Utc::now()).await?;
            Ok::<_, StepError>(tx.commit().await?)
        };
        if let Err(e) = written.await {
            tracing::warn!(item = id, error = %e, "could not journal an item's failure");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
