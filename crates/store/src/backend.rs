//! Connecting, migrating, and running one statement on either backend.
//!
//! [`Store`] owns a pool for the backend that `DATABASE_URL` names. [`Session`] is one pooled
//! connection or one transaction; every repository method lives on it, so the same method works
//! inside and outside a transaction. The `on_db!` macro expands a statement once per backend,
//! which lets each query be written a single time without sqlx's generic-executor bounds.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::error::{Result, StoreError};

/// sqlx's migrator keeps its bookkeeping here, so gymchat adds only `gymchat_` tables.
pub const MIGRATIONS_TABLE: &str = "gymchat_schema_migrations";

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL: production.
    Postgres,
    /// SQLite: the embedded default.
    Sqlite,
}

#[derive(Clone)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Casts that writes need on this database: Postgres enum columns refuse a `TEXT` parameter, and
/// production's enum type names are not ours to assume, so they are read from the catalog.
#[derive(Debug, Default)]
pub(crate) struct Casts {
    enum_types: HashMap<(String, String), String>,
}

impl Casts {
    /// The placeholder for parameter `n` written into `table.column`.
    pub(crate) fn param(&self, table: &str, column: &str, n: usize) -> String {
        match self.enum_types.get(&(table.to_owned(), column.to_owned())) {
            Some(ty) => format!("CAST(${n} AS {ty})"),
            None => format!("${n}"),
        }
    }
}

/// The database: a connection pool plus what was learnt about its schema at open.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    casts: Arc<Casts>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

/// Removes the password from a database URL before it is shown anywhere.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Connects to `url` (`postgres://…`, `postgresql://…` or `sqlite://…`; a SQLite file is
    /// created when missing and runs in WAL mode), applies gymchat's schema migrations and learns
    /// the column types writes must respect.
    pub async fn open(url: &str) -> Result<Store> {
        let mut store = Self::connect(url).await?;
        store.migrate().await?;
        store.casts = Arc::new(store.learn_casts().await?);
        Ok(store)
    }

    /// Connects without migrating.
    async fn connect(url: &str) -> Result<Store> {
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
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(connect_err)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool =
                    SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(connect_err)?;
                Pool::Sqlite(pool)
            }
            other => return Err(StoreError::UnsupportedUrl { scheme: other.to_owned() }),
        };
        Ok(Store { pool, casts: Arc::default() })
    }

    /// Applies the migrations that are not yet applied. Idempotent.
    async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let mut migrator = sqlx::migrate!("./migrations/postgres");
                migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
                migrator.run(pool).await?;
            }
            Pool::Sqlite(pool) => {
                let mut migrator = sqlx::migrate!("./migrations/sqlite");
                migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
                migrator.run(pool).await?;
            }
        }
        tracing::debug!(backend = ?self.backend(), "schema migrations applied");
        Ok(())
    }

    /// Reads the enum-typed columns of the platform tables (Postgres only).
    async fn learn_casts(&self) -> Result<Casts> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(Casts::default());
        };
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, udt_schema::text, udt_name::text \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND data_type = 'USER-DEFINED'",
        )
        .fetch_all(pool)
        .await?;
        let enum_types = rows
            .into_iter()
            .map(|(table, column, schema, name)| {
                let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
                ((table, column), format!("{}.{}", quote(&schema), quote(&name)))
            })
            .collect();
        Ok(Casts { enum_types })
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
        Ok(Session { inner, casts: Arc::clone(&self.casts) })
    }

    /// A session inside a transaction: nothing is visible to others until [`Session::commit`];
    /// dropping it rolls back.
    pub async fn begin(&self) -> Result<Session> {
        let inner = match &self.pool {
            Pool::Postgres(p) => SessionInner::PostgresTx(p.begin().await?),
            Pool::Sqlite(p) => SessionInner::SqliteTx(p.begin().await?),
        };
        Ok(Session { inner, casts: Arc::clone(&self.casts) })
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
    pub(crate) casts: Arc<Casts>,
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
