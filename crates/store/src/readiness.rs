//! Whether a database is ready for gymchat, read without changing it (`gymchat doctor`): which of
//! gymchat's schema migrations are not applied yet, which platform tables and columns gymchat
//! reads are missing, and which index serves `GET /chat/my-rooms`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::backend::{Backend, MIGRATIONS_TABLE, Pool, Store, migrator_of};
use crate::error::Result;
use crate::member_index;

/// The platform's tables and the columns gymchat reads and writes in them.
pub const PLATFORM_COLUMNS: &[(&str, &[&str])] = &[
    ("gyms", &["id", "name", "subdomain", "logo_url", "is_active", "timezone"]),
    ("user", &["id", "email", "first_name", "last_name", "picture", "auth0_id", "is_active", "role", "created_at"]),
    ("user_gyms", &["id", "user_id", "gym_id", "role", "is_active", "membership_expires_at", "membership_type"]),
    ("events", &["id", "gym_id", "title", "start_time", "end_time", "status", "creator_id", "max_participants"]),
    ("event_participations", &["id", "event_id", "member_id", "gym_id", "status"]),
    (
        "chat_rooms",
        &[
            "id",
            "stream_channel_id",
            "stream_channel_type",
            "name",
            "gym_id",
            "event_id",
            "is_direct",
            "status",
            "created_at",
            "updated_at",
        ],
    ),
    ("chat_members", &["id", "room_id", "user_id", "joined_at"]),
    ("chat_member_hidden", &["id", "user_id", "room_id", "hidden_at"]),
];

/// What a database lacks for gymchat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// The backend.
    pub backend: Backend,
    /// gymchat's migrations not applied yet (`0008 recovery`); `db migrate` applies them.
    pub pending_migrations: Vec<String>,
    /// Platform tables missing, or columns of them (`chat_members.joined_at`).
    pub missing: Vec<String>,
    /// The indexes leading with `chat_members (user_id, room_id)` (none: every my-rooms read
    /// scans the member table).
    pub member_indexes: Vec<String>,
}

impl Store {
    /// Reads what the database at `url` lacks for gymchat, changing nothing (no migration runs;
    /// a SQLite file that does not exist is not created).
    pub async fn readiness(url: &str) -> Result<Readiness> {
        let store = Store::connect_read_only(url).await?;
        let backend = store.backend();
        let migrator = migrator_of(backend);
        let (applied, columns, member_indexes) = match &store.pool {
            Pool::Postgres(pool) => {
                let journal: Option<String> =
                    sqlx::query_scalar("SELECT to_regclass($1)::text").bind(MIGRATIONS_TABLE).fetch_one(pool).await?;
                let applied: Vec<i64> = match journal {
                    Some(_) => {
                        sqlx::query_scalar("SELECT version FROM gymchat_schema_migrations WHERE success")
                            .fetch_all(pool)
                            .await?
                    }
                    None => Vec::new(),
                };
                let columns: Vec<(String, String)> = sqlx::query_as(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema()",
                )
                .fetch_all(pool)
                .await?;
                let indexes = if columns.iter().any(|(t, _)| t == "chat_members") {
                    member_index::leading_pg(pool).await?
                } else {
                    Vec::new()
                };
                (applied, columns, indexes)
            }
            Pool::Sqlite(pool) => {
                let tables: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(pool).await?;
                let applied: Vec<i64> = if tables.iter().any(|t| t == MIGRATIONS_TABLE) {
                    sqlx::query_scalar("SELECT version FROM gymchat_schema_migrations WHERE success")
                        .fetch_all(pool)
                        .await?
                } else {
                    Vec::new()
                };
                let columns: Vec<(String, String)> = sqlx::query_as(
                    "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                     WHERE m.type = 'table'",
                )
                .fetch_all(pool)
                .await?;
                let indexes = if tables.iter().any(|t| t == "chat_members") {
                    member_index::leading_sqlite(pool).await?
                } else {
                    Vec::new()
                };
                (applied, columns, indexes)
            }
        };
        store.close().await;
        let applied: BTreeSet<i64> = applied.into_iter().collect();
        let pending_migrations = migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{:04} {}", m.version, m.description))
            .collect();
        let mut by_table: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (table, column) in &columns {
            by_table.entry(table.as_str()).or_default().insert(column.as_str());
        }
        let mut missing = Vec::new();
        for (table, wanted) in PLATFORM_COLUMNS {
            match by_table.get(table) {
                None => missing.push((*table).to_owned()),
                Some(have) => {
                    missing.extend(wanted.iter().filter(|c| !have.contains(*c)).map(|c| format!("{table}.{c}")))
                }
            }
        }
        Ok(Readiness { backend, pending_migrations, missing, member_indexes })
    }
}
