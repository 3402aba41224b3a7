//! Typed reads and writes of the platform tables and gymchat's own, as methods on
//! [`crate::Session`]. One file per area; SQL is written once and run on either backend through
//! the crate-private `on_db!` macro.
//!
//! Reads tolerate production's quirks (NULL `chat_members.room_id`, duplicate member rows,
//! int4/enum/naive-timestamp columns); writes never create them.

mod events;
mod locks;
mod people;
mod rooms;

pub use locks::Lease;

use gymchat_ids::IdError;
use sqlx::AssertSqlSafe;

use crate::backend::{Session, on_db};
use crate::error::{Result, StoreError};
use crate::value::{DbInt, DbText, SqlValue};

/// Turns a stored integer into an id type, naming the column when it is not a valid id.
pub(crate) fn to_id<T: TryFrom<i64, Error = IdError>>(
    v: DbInt,
    table: &'static str,
    column: &'static str,
) -> Result<T> {
    T::try_from(v.0).map_err(|e| StoreError::BadValue { table, column, value: v.0.to_string(), reason: e.to_string() })
}

/// [`to_id`] for a nullable column.
pub(crate) fn to_opt_id<T: TryFrom<i64, Error = IdError>>(
    v: Option<DbInt>,
    table: &'static str,
    column: &'static str,
) -> Result<Option<T>> {
    v.map(|v| to_id(v, table, column)).transpose()
}

/// Reads an enum label stored as text or as a Postgres enum.
pub(crate) fn label(v: DbText) -> String {
    v.0
}

impl Session {
    /// Runs a statement built by gymchat's own code from fixed identifiers, without parameters.
    pub(crate) async fn execute_sql(&mut self, sql: &str) -> Result<()> {
        on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql)).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    /// `INSERT INTO table (columns…) VALUES (…)`, with enum casts where the database needs them.
    pub(crate) async fn insert_row(&mut self, table: &str, row: &[(&str, SqlValue)]) -> Result<(), sqlx::Error> {
        let columns: Vec<String> = row.iter().map(|(c, _)| format!("\"{c}\"")).collect();
        let params: Vec<String> = row.iter().enumerate().map(|(i, (c, _))| self.casts.param(table, c, i + 1)).collect();
        // Table and column names come from gymchat's own code, values travel as parameters.
        let sql = format!("INSERT INTO \"{table}\" ({}) VALUES ({})", columns.join(", "), params.join(", "));
        on_db!(self.db(), c => {
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
            for (_, value) in row {
                q = match value.clone() {
                    SqlValue::Int(v) => q.bind(v),
                    SqlValue::Text(v) => q.bind(v),
                    SqlValue::Bool(v) => q.bind(v),
                    SqlValue::Time(v) => q.bind(v),
                };
            }
            q.execute(&mut *c).await.map(|_| ())
        })
    }
}
