//! Stream's webhook deliveries, durable from the moment they are acknowledged
//! (`gymchat_webhook_inbox`): taken in once per delivery id (a repeat is a no-op), claimed by any
//! replica for a while (`FOR UPDATE SKIP LOCKED` on Postgres, so two replicas never take the same
//! one; SQLite has one writer), marked done, or put back with a later time to retry, or failed
//! for good after the last attempt. A claim whose worker died runs out and the delivery is due
//! again.

use chrono::{DateTime, Duration, Utc};

use crate::backend::{Backend, Session, on_db};
use crate::error::Result;

/// A delivery waiting to be worked, or being worked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    /// Stream's `X-Webhook-Id` (or a digest of the body when it sent none).
    pub webhook_id: String,
    /// The event's `type`.
    pub kind: String,
    /// The raw body.
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// When it was taken in.
    pub received_at: DateTime<Utc>,
}

/// How many deliveries are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxCounts {
    /// Waiting for their (next) attempt.
    pub pending: i64,
    /// Claimed by a worker now.
    pub working: i64,
    /// Done.
    pub done: i64,
    /// Given up after the last attempt.
    pub failed: i64,
}

impl Session {
    /// Takes a delivery in, due at once. False when this delivery id was taken in before.
    pub async fn take_in_webhook(
        &mut self,
        webhook_id: &str,
        kind: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "INSERT INTO gymchat_webhook_inbox (webhook_id, kind, body, state, attempts, next_at_ms, received_at_ms) \
                   VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT (webhook_id) DO NOTHING";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(webhook_id).bind(kind).bind(body).bind(at.timestamp_millis())
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Claims up to `limit` due deliveries for `hold` (by the database's clock), oldest first,
    /// counting an attempt for each. A delivery claimed by a worker that died is due again once
    /// its hold ends.
    pub async fn claim_webhooks(&mut self, limit: i64, hold: Duration) -> Result<Vec<InboxItem>> {
        let now = self.db_now_ms();
        let skip_locked = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // Only the clock expression and the fixed locking clause are spliced in.
        let sql = format!(
            "UPDATE gymchat_webhook_inbox SET state = 'working', attempts = attempts + 1, next_at_ms = {now} + $2 \
             WHERE webhook_id IN (SELECT webhook_id FROM gymchat_webhook_inbox \
             WHERE state IN ('pending', 'working') AND next_at_ms <= {now} ORDER BY next_at_ms LIMIT $1{skip_locked}) \
             RETURNING webhook_id, kind, body, attempts, received_at_ms"
        );
        let rows: Vec<(String, String, String, i64, i64)> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(limit).bind(hold.num_milliseconds()).fetch_all(&mut *c).await)?;
        let mut items: Vec<InboxItem> = rows
            .into_iter()
            .map(|(webhook_id, kind, body, attempts, received)| InboxItem {
                webhook_id,
                kind,
                body,
                attempts,
                received_at: DateTime::from_timestamp_millis(received).unwrap_or_default(),
            })
            .collect();
        items.sort_by_key(|i| i.received_at);
        Ok(items)
    }

    /// Marks a delivery done.
    pub async fn webhook_done(&mut self, webhook_id: &str, at: DateTime<Utc>) -> Result<()> {
        let sql =
            "UPDATE gymchat_webhook_inbox SET state = 'done', done_at_ms = $2, last_error = NULL WHERE webhook_id = $1";
        on_db!(self.db(), c => sqlx::query(sql).bind(webhook_id).bind(at.timestamp_millis()).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    /// Records a failed attempt: due again after `retry_in`, or failed for good when `None`.
    pub async fn webhook_attempt_failed(
        &mut self,
        webhook_id: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<()> {
        match retry_in {
            Some(delay) => {
                let now = self.db_now_ms();
                let sql = format!(
                    "UPDATE gymchat_webhook_inbox SET state = 'pending', last_error = $2, next_at_ms = {now} + $3 \
                     WHERE webhook_id = $1"
                );
                on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(webhook_id).bind(error).bind(delay.num_milliseconds()).execute(&mut *c).await.map(|_| ()))?;
            }
            None => {
                let sql = "UPDATE gymchat_webhook_inbox SET state = 'failed', last_error = $2 WHERE webhook_id = $1";
                on_db!(self.db(), c => sqlx::query(sql).bind(webhook_id).bind(error).execute(&mut *c).await.map(|_| ()))?;
            }
        }
        Ok(())
    }

    /// Deliveries by state.
    pub async fn webhook_inbox_counts(&mut self) -> Result<InboxCounts> {
        let sql = "SELECT state, COUNT(*) FROM gymchat_webhook_inbox GROUP BY state";
        let rows: Vec<(String, i64)> = on_db!(self.db(), c => sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        let mut counts = InboxCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "pending" => counts.pending = n,
                "working" => counts.working = n,
                "done" => counts.done = n,
                "failed" => counts.failed = n,
                _ => {}
            }
        }
        Ok(counts)
    }
}
