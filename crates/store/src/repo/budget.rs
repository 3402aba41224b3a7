//! One rate budget for every process that calls Stream for a migration: per operation and rate
//! window, a row says how many calls all of them together may make (`cap`) and how many they
//! have claimed. A process claims a small slice at a time, so N processes never exceed the cap
//! together, whatever each one's own pacing believes.

use crate::backend::{Session, on_db};
use crate::error::Result;

/// What a claim on the shared rate budget got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateGrant {
    /// Calls granted to this claim (0 when the window's budget is spent).
    pub granted: i64,
    /// Calls claimed in the window by everyone, this claim included.
    pub claimed: i64,
}

/// Windows kept after they end, for `migrate status` and benchmarks to read.
const KEPT_MS: i64 = 3_600_000;

impl Session {
    /// Claims up to `want` calls of `operation` in window `window_index` (of `window_ms` each,
    /// counted from the Unix epoch), out of `cap` for everyone (the smallest cap any claimant
    /// gave holds).
    pub async fn claim_rate(
        &mut self,
        operation: &str,
        window_ms: i64,
        window_index: i64,
        want: i64,
        cap: i64,
    ) -> Result<RateGrant> {
        let first = want.min(cap).max(0);
        // Every right-hand side of the update reads the row as it was before it.
        let cap_now = "CASE WHEN excluded.cap < b.cap THEN excluded.cap ELSE b.cap END";
        let left = format!("CASE WHEN {cap_now} > b.claimed THEN {cap_now} - b.claimed ELSE 0 END");
        let grant = format!("CASE WHEN $5 < {left} THEN $5 ELSE {left} END");
        let sql = format!(
            "INSERT INTO gymchat_rate_budget AS b (operation, window_ms, window_index, cap, claimed, last_grant) \
             VALUES ($1, $2, $3, $4, $6, $6) ON CONFLICT (operation, window_ms, window_index) DO UPDATE SET \
             cap = {cap_now}, last_grant = {grant}, claimed = b.claimed + {grant} RETURNING last_grant, claimed"
        );
        let (granted, claimed): (i64, i64) = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(operation)
            .bind(window_ms)
            .bind(window_index)
            .bind(cap)
            .bind(want.max(0))
            .bind(first)
            .fetch_one(&mut *c)
            .await)?;
        Ok(RateGrant { granted, claimed })
    }

    /// Forgets windows that ended more than an hour before `now_ms`.
    pub async fn prune_rate_budget(&mut self, now_ms: i64) -> Result<u64> {
        let sql = "DELETE FROM gymchat_rate_budget WHERE (window_index + 1) * window_ms < $1";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(now_ms - KEPT_MS)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n)
    }
}
