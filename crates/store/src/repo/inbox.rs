//! The chat service's two durable queues, one table each and the same rules for both:
//!
//! - Stream's webhook deliveries (`gymchat_webhook_inbox`), durable from the moment they are
//!   acknowledged: taken in once per delivery id (a repeat is a no-op);
//! - push notifications waiting for OneSignal (`gymchat_push_outbox`), queued in the transaction
//!   of the delivery that caused them, once per push id.
//!
//! An item is claimed by any replica for a while (`FOR UPDATE SKIP LOCKED` on Postgres, so two
//! replicas never take the same one; SQLite has one writer), marked done, or put back with a
//! later time to retry, or failed for good after the last attempt. A claim whose worker died runs
//! out and the item is due again.

use chrono::{DateTime, Duration, Utc};

use super::rows::{IDS_PER_QUERY, placeholders};
use crate::backend::{Backend, Session, on_db};
use crate::error::Result;

/// One of the queue tables: its name, key column and the column of when an item was queued.
#[derive(Debug, Clone, Copy)]
struct Queue {
    table: &'static str,
    key: &'static str,
    queued_at: &'static str,
}

const WEBHOOKS: Queue = Queue { table: "gymchat_webhook_inbox", key: "webhook_id", queued_at: "received_at_ms" };
const PUSHES: Queue = Queue { table: "gymchat_push_outbox", key: "push_id", queued_at: "queued_at_ms" };

/// An item waiting to be worked, or being worked: a webhook delivery or a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    /// Its key: Stream's `X-Webhook-Id` (or a digest of the body when it sent none), or the
    /// push's id.
    pub webhook_id: String,
    /// The event's `type`, or the push's kind.
    pub kind: String,
    /// The raw body (the delivery's, or the push's request).
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// When it was queued.
    pub received_at: DateTime<Utc>,
}

/// How many items are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxCounts {
    /// Waiting for their (next) attempt.
    pub pending: i64,
    /// Claimed by a worker now.
    pub working: i64,
    /// Done (a push: sent).
    pub done: i64,
    /// Given up after the last attempt.
    pub failed: i64,
}

impl Session {
    async fn enqueue(&mut self, q: Queue, key: &str, kind: &str, body: &str, at: DateTime<Utc>) -> Result<bool> {
        // Only the fixed table and column names are spliced in.
        let sql = format!(
            "INSERT INTO {} ({}, kind, body, state, attempts, next_at_ms, {}) VALUES ($1, $2, $3, 'pending', 0, $4, $4) \
             ON CONFLICT ({}) DO NOTHING",
            q.table, q.key, q.queued_at, q.key
        );
        let n = on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(key).bind(kind).bind(body).bind(at.timestamp_millis())
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    async fn claim(&mut self, q: Queue, limit: i64, hold: Duration) -> Result<Vec<InboxItem>> {
        let now = self.db_now_ms();
        let skip_locked = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // Only the clock expression, the fixed names and the fixed locking clause are spliced in.
        let (table, key, queued_at) = (q.table, q.key, q.queued_at);
        let sql = format!(
            "UPDATE {table} SET state = 'working', attempts = attempts + 1, next_at_ms = {now} + $2 \
             WHERE {key} IN (SELECT {key} FROM {table} \
             WHERE state IN ('pending', 'working') AND next_at_ms <= {now} ORDER BY next_at_ms LIMIT $1{skip_locked}) \
             RETURNING {key}, kind, body, attempts, {queued_at}"
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

    async fn finish(&mut self, q: Queue, key: &str, at: DateTime<Utc>) -> Result<()> {
        let sql =
            format!("UPDATE {} SET state = 'done', done_at_ms = $2, last_error = NULL WHERE {} = $1", q.table, q.key);
        on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(key).bind(at.timestamp_millis()).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    async fn attempt_failed(&mut self, q: Queue, key: &str, error: &str, retry_in: Option<Duration>) -> Result<()> {
        match retry_in {
            Some(delay) => {
                let now = self.db_now_ms();
                let sql = format!(
                    "UPDATE {} SET state = 'pending', last_error = $2, next_at_ms = {now} + $3 WHERE {} = $1",
                    q.table, q.key
                );
                on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(key).bind(error).bind(delay.num_milliseconds()).execute(&mut *c).await.map(|_| ()))?;
            }
            None => {
                let sql = format!("UPDATE {} SET state = 'failed', last_error = $2 WHERE {} = $1", q.table, q.key);
                on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(key).bind(error).execute(&mut *c).await.map(|_| ()))?;
            }
        }
        Ok(())
    }

    async fn counts(&mut self, q: Queue) -> Result<InboxCounts> {
        let sql = format!("SELECT state, COUNT(*) FROM {} GROUP BY state", q.table);
        let rows: Vec<(String, i64)> =
            on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(&mut *c).await)?;
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

    /// Takes a delivery in, due at once. False when this delivery id was taken in before.
    pub async fn take_in_webhook(
        &mut self,
        webhook_id: &str,
        kind: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.enqueue(WEBHOOKS, webhook_id, kind, body, at).await
    }

    /// Claims up to `limit` due deliveries for `hold` (by the database's clock), oldest first,
    /// counting an attempt for each. A delivery claimed by a worker that died is due again once
    /// its hold ends.
    pub async fn claim_webhooks(&mut self, limit: i64, hold: Duration) -> Result<Vec<InboxItem>> {
        self.claim(WEBHOOKS, limit, hold).await
    }

    /// Marks a delivery done.
    pub async fn webhook_done(&mut self, webhook_id: &str, at: DateTime<Utc>) -> Result<()> {
        self.finish(WEBHOOKS, webhook_id, at).await
    }

    /// Records a failed attempt: due again after `retry_in`, or failed for good when `None`.
    pub async fn webhook_attempt_failed(
        &mut self,
        webhook_id: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<()> {
        self.attempt_failed(WEBHOOKS, webhook_id, error, retry_in).await
    }

    /// Deliveries by state.
    pub async fn webhook_inbox_counts(&mut self) -> Result<InboxCounts> {
        self.counts(WEBHOOKS).await
    }

    /// Queues a push (`body`: the OneSignal request without the app id), due at once. False
    /// when a push with this id was queued before.
    pub async fn queue_push(&mut self, push_id: &str, kind: &str, body: &str, at: DateTime<Utc>) -> Result<bool> {
        self.enqueue(PUSHES, push_id, kind, body, at).await
    }

    /// Claims up to `limit` due pushes for `hold`, as [`Session::claim_webhooks`] does.
    pub async fn claim_pushes(&mut self, limit: i64, hold: Duration) -> Result<Vec<InboxItem>> {
        self.claim(PUSHES, limit, hold).await
    }

    /// Marks pushes sent, a few statements for any number.
    pub async fn pushes_sent(&mut self, push_ids: &[String], at: DateTime<Utc>) -> Result<()> {
        for chunk in push_ids.chunks(IDS_PER_QUERY) {
            // Only `$n` placeholders are spliced in.
            let sql = format!(
                "UPDATE gymchat_push_outbox SET state = 'done', done_at_ms = $1, last_error = NULL WHERE push_id IN ({})",
                placeholders(chunk.len(), 1)
            );
            on_db!(self.db(), c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(at.timestamp_millis());
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.execute(&mut *c).await.map(|_| ())
            })?;
        }
        Ok(())
    }

    /// Records a failed send: due again after `retry_in`, or failed for good when `None`.
    pub async fn push_attempt_failed(&mut self, push_id: &str, error: &str, retry_in: Option<Duration>) -> Result<()> {
        self.attempt_failed(PUSHES, push_id, error, retry_in).await
    }

    /// Pushes by state (`done`: sent).
    pub async fn push_outbox_counts(&mut self) -> Result<InboxCounts> {
        self.counts(PUSHES).await
    }

    /// When the oldest push still waiting was queued, if any waits (the outbox's lag).
    pub async fn oldest_waiting_push(&mut self) -> Result<Option<DateTime<Utc>>> {
        let sql = "SELECT MIN(queued_at_ms) FROM gymchat_push_outbox WHERE state IN ('pending', 'working')";
        let oldest: Option<i64> = on_db!(self.db(), c => sqlx::query_scalar(sql).fetch_one(&mut *c).await)?;
        Ok(oldest.and_then(DateTime::from_timestamp_millis))
    }
}
