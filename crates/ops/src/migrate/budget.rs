//! The rate budget every worker of a migration shares, kept in the database
//! (`gymchat_rate_budget`, a row per operation and rate window): each worker's client takes its
//! calls from it in small slices, so that all workers together stay within `--rate-budget` of
//! each of the app's limits, on one machine or on many.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use gymchat_store::Store;
use gymchat_stream::budget::{Grant, SharedBudget, Window};

/// The shared budget in `store`.
#[derive(Clone)]
pub struct DbBudget {
    store: Store,
}

impl std::fmt::Debug for DbBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbBudget")
    }
}

impl SharedBudget for DbBudget {
    fn claim<'a>(
        &'a self,
        operation: &'static str,
        window: Window,
        want: u64,
        cap: u64,
    ) -> Pin<Box<dyn Future<Output = Result<Grant, String>> + Send + 'a>> {
        Box::pin(async move {
            let mut s = self.store.session().await.map_err(|e| e.to_string())?;
            let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            let grant = s
                .claim_rate(operation, as_i64(window.length_ms), as_i64(window.index), as_i64(want), as_i64(cap))
                .await
                .map_err(|e| e.to_string())?;
            Ok(Grant { granted: grant.granted.max(0) as u64, claimed: grant.claimed.max(0) as u64 })
        })
    }
}

/// The budget shared through `store`, for [`gymchat_stream::Client::with_shared_budget`].
pub fn shared_budget(store: &Store) -> Arc<dyn SharedBudget> {
    Arc::new(DbBudget { store: store.clone() })
}
