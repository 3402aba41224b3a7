//! Connecting, migrating, and running one statement on either backend.
//!
//! [`Store`] owns a pool for the backend that `DATABASE_URL` names and the catalog of the
//! database's columns learnt at open (see `catalog`). [`Session`] is one pooled
//! connection or one transaction; every repository method lives on it, so the same method works
//! inside and outside a transaction. The `on_db!` macro expands a statement once per backend,
//! which lets each query be written a single time without sqlx's generic-executor bounds.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::catalog::Catalog;
use crate::error::{Result, StoreError};
use crate::member_index;

/// sqlx's migrator keeps its bookkeeping here, so gymchat adds only `gymchat_` tables.
pub const MIGRATIONS_TABLE: &str = "gymchat_schema_migrations";

/// Rows sqlx's SQLite worker thread may hand over ahead of the reader (sqlx's default is 50): a
/// fuller buffer wakes the reader, and the worker, less often on the large reads of an audit or
/// a migration plan.
const SQLITE_ROW_BUFFER: usize = 1024;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PostgreSQL: production.
    Postgres,
    /// SQLite: the embedded default.
    Sqlite,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The database: a connection pool plus what was learnt about its schema at open.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    catalog: Arc<Catalog>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

/// A database URL fit to show: its password (`user:password@`, or a `password` query parameter,
/// as libpq and sqlx read it) replaced by `***`. A URL that cannot be parsed is shown as its
/// scheme only, since nothing says where a password in it would be.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        return format!("{scheme}://*** (not a URL that can be shown safely)");
    };
    if parsed.password().is_some() {
        // Only URLs that can carry credentials have a password, so this cannot fail.
        let _ = parsed.set_password(Some("***"));
    }
    let secret = |key: &str| key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("sslpassword");
    if parsed.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) { "***".to_owned() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

impl Store {
    /// Connects to `url` (`postgres://…`, `postgresql://…` or `sqlite://…`; a SQLite file is
    /// created when missing and runs in WAL mode), applies gymchat's schema migrations and learns
    /// the column types writes must respect.
    pub async fn open(url: &str) -> Result<Store> {
        let mut store = Self::connect(url, false).await?;
        store.migrate().await?;
        store.catalog = Arc::new(store.learn_catalog().await?);
        Ok(store)
    }

    /// Connects without migrating and without writing anything ([`Store::readiness`]); a SQLite
    /// file must exist.
    pub(crate) async fn connect_read_only(url: &str) -> Result<Store> {
        Self::connect(url, true).await
    }

    /// Connects without migrating; `read_only` opens a SQLite file as it is (not made when
    /// missing, its journal mode left alone).
    async fn connect(url: &str, read_only: bool) -> Result<Store> {
        let scheme = url.split(':').next().unwrap_or_default();
        let connect_err = |source| StoreError::Connect { target: redact_url(url), source };
        let pool = match scheme {
            "postgres" | "postgresql" => {
                // Naive production timestamps are UTC; make the session agree.
                let options = PgConnectOptions::from_str(url).map_err(connect_err)?.options([("timezone", "UTC")]);
                let pool = PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pool::Postgres(pool)
            }
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url).map_err(connect_err)?;
                let options = if read_only {
                    options.read_only(true)
                } else {
                    options.create_if_missing(true).journal_mode(SqliteJournalMode::Wal)
                };
                let options = options
                    // WAL with NORMAL: never corrupt, always consistent; a power loss may undo the
                    // last commits, which every gymchat operation survives (journaled steps are
                    // safe to repeat, and each change commits with its journal row).
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .row_buffer_size(SQLITE_ROW_BUFFER);
                let pool =
                    SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(connect_err)?;
                Pool::Sqlite(pool)
            }
            other => return Err(StoreError::UnsupportedUrl { scheme: other.to_owned() }),
        };
        Ok(Store { pool, catalog: Arc::default() })
    }

    /// Applies the migrations that are not yet applied, then makes sure the member index is there
    /// exactly once ([`crate::member_index`]). Idempotent.
    async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let migrator = migrator_of(Backend::Postgres);
                member_index::restamp_0007_pg(pool, &checksum_0007(&migrator)).await?;
                migrator.run(pool).await?;
                member_index::ensure_pg(pool).await?;
            }
            Pool::Sqlite(pool) => {
                let migrator = migrator_of(Backend::Sqlite);
                member_index::restamp_0007_sqlite(pool, &checksum_0007(&migrator)).await?;
                migrator.run(pool).await?;
                member_index::ensure_sqlite(pool).await?;
            }
        }
        tracing::debug!(backend = ?self.backend(), "schema migrations applied");
        Ok(())
    }

    /// Reads every column of the current schema (type, nullability, default, enum labels).
    async fn learn_catalog(&self) -> Result<Catalog> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let columns = sqlx::query_as(
                    "SELECT table_name::text, column_name::text, is_nullable = 'YES', \
                     (column_default IS NOT NULL OR is_identity = 'YES' OR is_generated <> 'NEVER'), \
                     data_type::text, udt_schema::text, udt_name::text \
                     FROM information_schema.columns WHERE table_schema = current_schema()",
                )
                .fetch_all(pool)
                .await?;
                let labels = sqlx::query_as(
                    "SELECT n.nspname::text, t.typname::text, e.enumlabel::text FROM pg_enum e \
                     JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace \
                     ORDER BY t.oid, e.enumsortorder",
                )
                .fetch_all(pool)
                .await?;
                Ok(Catalog::from_postgres(columns, labels))
            }
            Pool::Sqlite(pool) => {
                let columns = sqlx::query_as(
                    "SELECT m.name, p.name, p.type, p.\"notnull\" <> 0, p.dflt_value IS NOT NULL, p.pk <> 0 \
                     FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
                )
                .fetch_all(pool)
                .await?;
                Ok(Catalog::from_sqlite(columns))
            }
        }
    }

    /// The most connections the pool opens at once.
    pub fn max_connections(&self) -> usize {
        let n = match &self.pool {
            Pool::Postgres(p) => p.options().get_max_connections(),
            Pool::Sqlite(p) => p.options().get_max_connections(),
        };
        n as usize
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// A session on one pooled connection; each statement commits on its own.
    pub async fn session(&self) -> Result<Session> {
        let inner = match &self.pool {
            Pool::Postgres(p) => SessionInner::Postgres(p.acquire().await?),
            Pool::Sqlite(p) => SessionInner::Sqlite(p.acquire().await?),
        };
        Ok(Session { inner, catalog: Arc::clone(&self.catalog) })
    }

    /// A session inside a transaction: nothing is visible to others until [`Session::commit`];
    /// dropping it rolls back.
    pub async fn begin(&self) -> Result<Session> {
        let inner = match &self.pool {
            Pool::Postgres(p) => SessionInner::PostgresTx(p.begin().await?),
            Pool::Sqlite(p) => SessionInner::SqliteTx(p.begin().await?),
        };
        Ok(Session { inner, catalog: Arc::clone(&self.catalog) })
    }

    /// Closes every connection (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(p) => p.close().await,
            Pool::Sqlite(p) => p.close().await,
        }
    }
}

enum SessionInner {
    Postgres(PoolConnection<Postgres>),
    PostgresTx(Transaction<'static, Postgres>),
    Sqlite(PoolConnection<Sqlite>),
    SqliteTx(Transaction<'static, Sqlite>),
}

/// One connection or one transaction, carrying every repository method (see [`crate::repo`]).
pub struct Session {
    inner: SessionInner,
    pub(crate) catalog: Arc<Catalog>,
}

/// A borrowed connection of either backend, for [`on_db!`].
pub(crate) enum DbRef<'a> {
    Postgres(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

/// Runs `$body` with `$c` bound to the backend's `&mut Connection`. The body is compiled once per
/// backend, so the same sqlx calls serve both.
macro_rules! on_db {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            $crate::backend::DbRef::Postgres($c) => $body,
            $crate::backend::DbRef::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_db;

impl Session {
    pub(crate) fn db(&mut self) -> DbRef<'_> {
        match &mut self.inner {
            SessionInner::Postgres(c) => DbRef::Postgres(c),
            SessionInner::PostgresTx(t) => DbRef::Postgres(t),
            SessionInner::Sqlite(c) => DbRef::Sqlite(c),
            SessionInner::SqliteTx(t) => DbRef::Sqlite(t),
        }
    }

    /// Which engine the session runs on.
    pub fn backend(&self) -> Backend {
        match self.inner {
            SessionInner::Postgres(_) | SessionInner::PostgresTx(_) => Backend::Postgres,
            SessionInner::Sqlite(_) | SessionInner::SqliteTx(_) => Backend::Sqlite,
        }
    }

    /// Commits a transaction; a plain session has nothing to commit.
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            SessionInner::PostgresTx(t) => t.commit().await?,
            SessionInner::SqliteTx(t) => t.commit().await?,
            SessionInner::Postgres(_) | SessionInner::Sqlite(_) => {}
        }
        Ok(())
    }
}

/// gymchat's schema migrations for a backend, journaled in [`MIGRATIONS_TABLE`].
pub(crate) fn migrator_of(backend: Backend) -> sqlx::migrate::Migrator {
    let mut migrator = match backend {
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
    };
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// The checksum of migration 0007 as this build has it.
fn checksum_0007(migrator: &sqlx::migrate::Migrator) -> Vec<u8> {
    migrator.iter().find(|m| m.version == 7).map(|m| m.checksum.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_password_in_the_credentials_is_redacted() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/prod"), "postgres://app:***@db:5432/prod");
        assert_eq!(redact_url("postgres://app@db/prod"), "postgres://app@db/prod");
    }

    #[test]
    fn a_password_in_the_query_is_redacted() {
        let shown = redact_url("postgres://db/prod?user=app&password=s3cret&sslmode=require");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(shown, "postgres://db/prod?user=app&password=***&sslmode=require");
        assert!(!redact_url("postgresql://db/x?PASSWORD=hunter2").contains("hunter2"));
    }

    #[test]
    fn a_url_that_cannot_be_parsed_shows_its_scheme_only() {
        let shown = redact_url("postgres://app:pa ss@[bad/prod");
        assert!(!shown.contains("pa ss"), "{shown}");
        assert!(shown.starts_with("postgres://***"), "{shown}");
    }

    #[test]
    fn a_sqlite_file_is_shown_as_it_is() {
        assert_eq!(redact_url("sqlite://gymchat.db"), "sqlite://gymchat.db");
    }
}
