//! Test support shared by gymchat's crates: every test gets its own database.
//!
//! [`TestDb::postgres`] creates a fresh database on the local PostgreSQL server (the URL of an
//! admin database comes from `GYMCHAT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and drops it afterwards; [`TestDb::sqlite`] makes a
//! file in a temporary directory. [`on_both_backends!`] turns one async test body into a
//! Postgres test and a SQLite test, so the same story proves the same behaviour on both.
//!
//! A test that cannot reach PostgreSQL fails: it is never skipped, because a skipped backend
//! would make CI green without testing production's database.
//!
//! [`sandbox::Sandbox`] is the Stream sandbox started in the test's process on a free port, with
//! what tests read of it (its state and counters) and what they make it do (scripted answers).

pub mod sandbox;

use sqlx::{Connection, Executor, PgConnection};

/// Where the admin connection for creating test databases goes.
pub const POSTGRES_URL_VAR: &str = "GYMCHAT_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

enum Kind {
    Postgres { admin_url: String, name: String },
    Sqlite { _dir: tempfile::TempDir },
}

/// A database that exists for one test.
pub struct TestDb {
    url: String,
    kind: Kind,
}

fn admin_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// Replaces the database name at the end of a Postgres URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The one line a Postgres test fails with when the server cannot be reached: what to run.
fn unreachable(admin_url: &str, error: &sqlx::Error) -> String {
    let installed = std::path::Path::new("/etc/postgresql").is_dir();
    let how = if installed {
        "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (what .ci/run does)"
    } else {
        "install it with `apt-get install postgresql` and start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
    };
    format!(
        "PostgreSQL is not reachable at {admin_url} ({error}); the Postgres tests need it: {how}, or point {POSTGRES_URL_VAR} at a server with trust auth"
    )
}

impl TestDb {
    /// A new, empty database on the local PostgreSQL server.
    pub async fn postgres() -> TestDb {
        let admin_url = admin_url();
        let name = format!("gymchat_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin =
            PgConnection::connect(&admin_url).await.unwrap_or_else(|e| panic!("{}", unreachable(&admin_url, &e)));
        admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create test database");
        admin.close().await.ok();
        TestDb { url: with_database(&admin_url, &name), kind: Kind::Postgres { admin_url, name } }
    }

    /// A new SQLite file (not yet created) in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("gymchat.db").display());
        TestDb { url, kind: Kind::Sqlite { _dir: dir } }
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// True for the PostgreSQL variant.
    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, Kind::Postgres { .. })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Kind::Postgres { admin_url, name } = &self.kind else { return };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on; use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        // A database left behind is harmless clutter on a test server; say so and go on.
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("note: test database was not dropped");
        }
    }
}

/// A fixture file of the repository's own `fixtures/` folder (the reference scenario is
/// `gym4.json`, a copy of `shared/fixtures/gym4.json` kept identical to it).
pub fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name)
}

/// The text of a fixture file of the repository's `fixtures/` folder.
pub fn read_fixture(name: &str) -> String {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// Defines `mod $name { postgres(), sqlite() }`: the same async body run on each backend with a
/// fresh [`TestDb`]. The calling crate needs `tokio` (with `macros`) as a dev-dependency.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($db:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn story($db: $crate::TestDb) $body

            #[tokio::test]
            async fn postgres() {
                story($crate::TestDb::postgres().await).await
            }

            #[tokio::test]
            async fn sqlite() {
                story($crate::TestDb::sqlite().await).await
            }
        }
    };
}
