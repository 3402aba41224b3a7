-- gymchat's own state. Schema versions live in gymchat_schema_migrations (sqlx's migrator,
-- renamed). Locks are leases: a holder that dies stops renewing and its lease runs out.
CREATE TABLE IF NOT EXISTS gymchat_locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
