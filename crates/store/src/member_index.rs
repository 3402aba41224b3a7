//! The one index gymchat needs on a platform table: `GET /chat/my-rooms` reads a member's rooms
//! on every call, which without an index on `chat_members (user_id, room_id)` scans every member
//! row. Production already has one (`ix_chat_members_user_id_room_id`,
//! `shared/spec/production-schema.sql`), so gymchat makes its own (`gymchat_chat_members_user`)
//! only where no valid index leads with those two columns, and drops its own once another one
//! does; on production `db migrate` changes nothing in the platform's tables. On PostgreSQL the
//! index is built and dropped `CONCURRENTLY`, so the live app's writes are never blocked.
//!
//! Migration 0007 once created the index unconditionally; its text is now a no-op, and a
//! database that applied the old text has the migration's checksum stamped anew
//! ([`restamp_0007_pg`], [`restamp_0007_sqlite`]) so that the migrator accepts the changed file.

use sqlx::{PgPool, SqlitePool};

use crate::error::Result;

/// gymchat's own index on `chat_members (user_id, room_id)` (the statements below name it).
const OURS: &str = "gymchat_chat_members_user";
/// The migration whose text changed.
const CHANGED_VERSION: i64 = 7;

/// Stamps migration 0007 with its current checksum where it was applied with the old text, and
/// only then: a database on which it never ran, or ran with this text, is left alone.
pub(crate) async fn restamp_0007_pg(pool: &PgPool, checksum: &[u8]) -> Result<()> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('gymchat_schema_migrations') IS NOT NULL").fetch_one(pool).await?;
    if exists {
        sqlx::query("UPDATE gymchat_schema_migrations SET checksum = $1 WHERE version = $2 AND checksum <> $1")
            .bind(checksum)
            .bind(CHANGED_VERSION)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// [`restamp_0007_pg`] on SQLite.
pub(crate) async fn restamp_0007_sqlite(pool: &SqlitePool, checksum: &[u8]) -> Result<()> {
    let exists: bool = sqlx::query_scalar(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'gymchat_schema_migrations'",
    )
    .fetch_one(pool)
    .await?;
    if exists {
        sqlx::query("UPDATE gymchat_schema_migrations SET checksum = ? WHERE version = ? AND checksum <> ?")
            .bind(checksum)
            .bind(CHANGED_VERSION)
            .bind(checksum)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// The member index on PostgreSQL: made when no valid index of `chat_members` in the current
/// schema leads with `(user_id, room_id)`, ours dropped when another one does.
pub(crate) async fn ensure_pg(pool: &PgPool) -> Result<()> {
    let leading = leading_pg(pool).await?;
    let ours = leading.iter().any(|name| name == OURS);
    let theirs = leading.iter().any(|name| name != OURS);
    if theirs && ours {
        sqlx::query("DROP INDEX CONCURRENTLY IF EXISTS gymchat_chat_members_user").execute(pool).await?;
    } else if !theirs && !ours {
        // Another process opening the store at the same time may be building it too.
        sqlx::query(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS gymchat_chat_members_user ON chat_members (user_id, room_id)",
        )
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// The valid indexes of `chat_members` (current schema) that lead with `(user_id, room_id)`.
pub(crate) async fn leading_pg(pool: &PgPool) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT ic.relname::text FROM pg_index i \
         JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_attribute a0 ON a0.attrelid = t.oid AND a0.attnum = i.indkey[0] \
         JOIN pg_attribute a1 ON a1.attrelid = t.oid AND a1.attnum = i.indkey[1] \
         WHERE n.nspname = current_schema() AND t.relname = 'chat_members' AND i.indisvalid \
         AND a0.attname = 'user_id' AND a1.attname = 'room_id'",
    )
    .fetch_all(pool)
    .await?)
}

/// The member index on SQLite, by the same rule.
pub(crate) async fn ensure_sqlite(pool: &SqlitePool) -> Result<()> {
    let leading = leading_sqlite(pool).await?;
    let ours = leading.iter().any(|name| name == OURS);
    let theirs = leading.iter().any(|name| name != OURS);
    if theirs && ours {
        sqlx::query("DROP INDEX IF EXISTS gymchat_chat_members_user").execute(pool).await?;
    } else if !theirs && !ours {
        sqlx::query("CREATE INDEX IF NOT EXISTS gymchat_chat_members_user ON chat_members (user_id, room_id)")
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// The indexes of `chat_members` that lead with `(user_id, room_id)`, on SQLite.
pub(crate) async fn leading_sqlite(pool: &SqlitePool) -> Result<Vec<String>> {
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_index_list('chat_members')").fetch_all(pool).await?;
    let mut leading = Vec::new();
    for name in indexes {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
            .bind(&name)
            .fetch_all(pool)
            .await?;
        if columns.len() >= 2 && columns[0] == "user_id" && columns[1] == "room_id" {
            leading.push(name);
        }
    }
    Ok(leading)
}
