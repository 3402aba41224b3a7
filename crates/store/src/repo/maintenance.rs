//! Maintenance windows per gym (`gymchat_maintenance`): set by hand or by a migration for a
//! gym's channel phase, renewed while it runs, cleared at its end, and over by themselves once
//! their time passes (by the database's clock), so one left behind by a dead process ends.

use chrono::{DateTime, Duration, Utc};
use gymchat_ids::GymId;
use serde::Serialize;

use crate::backend::{Session, on_db};
use crate::error::Result;

/// A gym's maintenance window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Maintenance {
    /// The gym.
    pub gym_id: i64,
    /// When it ends unless renewed.
    pub until: DateTime<Utc>,
    /// Why, in words.
    pub reason: String,
    /// Who set it (`gymchat maintenance`, or a migration run's id).
    pub set_by: String,
    /// When it was set.
    pub set_at: DateTime<Utc>,
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Session {
    /// Opens (or extends) the gym's window for `ttl` from now by the database's clock.
    pub async fn set_maintenance(&mut self, gym: GymId, ttl: Duration, reason: &str, set_by: &str) -> Result<()> {
        let now = self.db_now_ms();
        // Only the clock expression is spliced in; values travel as parameters.
        let sql = format!(
            "INSERT INTO gymchat_maintenance (gym_id, until_ms, reason, set_by, set_at_ms) \
             VALUES ($1, {now} + $2, $3, $4, {now}) \
             ON CONFLICT (gym_id) DO UPDATE SET until_ms = excluded.until_ms, reason = excluded.reason, \
             set_by = excluded.set_by"
        );
        on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(gym.get())
            .bind(ttl.num_milliseconds())
            .bind(reason)
            .bind(set_by)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Extends the window `set_by` holds on the gym by `ttl` from now; nothing when it was ended
    /// meanwhile (a renewal never opens a window again). True when it was extended.
    pub async fn renew_maintenance(&mut self, gym: GymId, ttl: Duration, set_by: &str) -> Result<bool> {
        let now = self.db_now_ms();
        let sql = format!("UPDATE gymchat_maintenance SET until_ms = {now} + $1 WHERE gym_id = $2 AND set_by = $3");
        let n = on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(ttl.num_milliseconds())
            .bind(gym.get())
            .bind(set_by)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Ends the gym's window; `set_by` given, only the window that holder set (a migration never
    /// ends a window an operator opened by hand). True when one was ended.
    pub async fn clear_maintenance(&mut self, gym: GymId, set_by: Option<&str>) -> Result<bool> {
        let sql = "DELETE FROM gymchat_maintenance WHERE gym_id = $1 AND ($2 IS NULL OR set_by = $2)";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(gym.get())
            .bind(set_by)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// The gym's window, while it lasts.
    pub async fn maintenance(&mut self, gym: GymId) -> Result<Option<Maintenance>> {
        let now = self.db_now_ms();
        let sql = format!(
            "SELECT gym_id, until_ms, reason, set_by, set_at_ms FROM gymchat_maintenance \
             WHERE gym_id = $1 AND until_ms > {now}"
        );
        let row: Option<(i64, i64, String, String, i64)> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(gym.get())
                .fetch_optional(&mut *c)
                .await)?;
        Ok(row.map(|(gym_id, until, reason, set_by, set_at)| Maintenance {
            gym_id,
            until: time(until),
            reason,
            set_by,
            set_at: time(set_at),
        }))
    }
}
