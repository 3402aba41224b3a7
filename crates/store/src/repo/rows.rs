//! What every repository shares: reads that set odd rows aside instead of failing
//! ([`Rows`], [`SkippedRow`]), decoding helpers for ids and NOT NULL columns, chunked id lists,
//! and inserting a row with the enum casts the database needs.

use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use gymchat_ids::IdError;
use serde::Serialize;
use sqlx::{AssertSqlSafe, ColumnIndex, Decode, FromRow, Row, Type};

use crate::backend::{Session, on_db};
use crate::error::{Result, StoreError};
use crate::value::{DbInt, SqlValue};

/// Most ids bound in one statement: far below Postgres' 65,535 and SQLite's 32,766 parameters.
pub(crate) const IDS_PER_QUERY: usize = 1_000;

/// A row that could not be understood and was set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    /// The table.
    pub table: &'static str,
    /// Which row: `id = 665`, or the natural key of tables without one.
    pub key: String,
    /// Why it could not be read.
    pub reason: String,
}

/// The rows of a read that were understood, and those set aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows<T> {
    /// The rows understood, in the read's order.
    pub rows: Vec<T>,
    /// The rows set aside.
    pub skipped: Vec<SkippedRow>,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows { rows: Vec::new(), skipped: Vec::new() }
    }
}

impl<T> Rows<T> {
    /// The rows, or [`StoreError::IncompleteRead`] when any was set aside.
    pub fn complete(self) -> Result<Vec<T>> {
        match self.skipped.first() {
            None => Ok(self.rows),
            Some(first) => Err(StoreError::IncompleteRead {
                table: first.table,
                count: self.skipped.len(),
                first: format!("{}: {}", first.key, first.reason),
            }),
        }
    }

    /// Appends another read's rows and skipped rows (for chunked reads).
    pub(crate) fn extend(&mut self, other: Rows<T>) {
        self.rows.extend(other.rows);
        self.skipped.extend(other.skipped);
    }
}

/// A row as decoded from the database, before it is checked and turned into a model value.
pub(crate) trait RawRow: Sized {
    /// The model value.
    type Out;
    /// The table, for reports.
    const TABLE: &'static str;
    /// The name of the first selected column, an integer that identifies the row.
    const KEY: &'static str;
    /// The row's key for reports.
    fn key(&self) -> String;
    /// Checks the row and builds the model value, or says why it cannot.
    fn convert(self) -> Result<Self::Out, String>;
}

/// Decodes and converts every row on its own, setting aside the ones that fail.
pub(crate) fn collect_rows<R, Raw>(rows: Vec<R>) -> Rows<Raw::Out>
where
    R: Row,
    Raw: RawRow + for<'r> FromRow<'r, R>,
    for<'r> DbInt: Decode<'r, R::Database>,
    DbInt: Type<R::Database>,
    usize: ColumnIndex<R>,
{
    let mut out = Rows::default();
    for row in rows {
        collect_row::<R, Raw>(&mut out, &row);
    }
    out
}

/// [`collect_rows`] as the rows arrive: a read of many rows never holds all of its raw rows at
/// once, only what they turn into.
pub(crate) async fn stream_rows<R, Raw>(
    mut rows: BoxStream<'_, std::result::Result<R, sqlx::Error>>,
) -> std::result::Result<Rows<Raw::Out>, sqlx::Error>
where
    R: Row,
    Raw: RawRow + for<'r> FromRow<'r, R>,
    for<'r> DbInt: Decode<'r, R::Database>,
    DbInt: Type<R::Database>,
    usize: ColumnIndex<R>,
{
    let mut out = Rows::default();
    while let Some(row) = rows.try_next().await? {
        collect_row::<R, Raw>(&mut out, &row);
    }
    Ok(out)
}

/// Decodes and converts one row into `out`, or sets it aside with the reason.
fn collect_row<R, Raw>(out: &mut Rows<Raw::Out>, row: &R)
where
    R: Row,
    Raw: RawRow + for<'r> FromRow<'r, R>,
    for<'r> DbInt: Decode<'r, R::Database>,
    DbInt: Type<R::Database>,
    usize: ColumnIndex<R>,
{
    match Raw::from_row(row) {
        Ok(raw) => {
            let key = raw.key();
            match raw.convert() {
                Ok(v) => out.rows.push(v),
                Err(reason) => out.skipped.push(SkippedRow { table: Raw::TABLE, key, reason }),
            }
        }
        Err(e) => {
            let key = match row.try_get::<Option<DbInt>, _>(0usize) {
                Ok(Some(v)) => format!("{} = {}", Raw::KEY, v.0),
                _ => format!("{} unknown", Raw::KEY),
            };
            out.skipped.push(SkippedRow { table: Raw::TABLE, key, reason: e.to_string() });
        }
    }
}

/// The one row of a single-row read, or [`StoreError::BadRow`].
pub(crate) fn one_row<T>(mut rows: Rows<T>) -> Result<Option<T>> {
    if let Some(bad) = rows.skipped.pop() {
        return Err(StoreError::BadRow { table: bad.table, key: bad.key, reason: bad.reason });
    }
    Ok(rows.rows.pop())
}

/// A stored integer as an id type.
pub(crate) fn to_id<T: TryFrom<i64, Error = IdError>>(v: DbInt, column: &str) -> Result<T, String> {
    T::try_from(v.0).map_err(|e| format!("{column} {}: {e}", v.0))
}

/// A NOT NULL integer column as an id type.
pub(crate) fn req_id<T: TryFrom<i64, Error = IdError>>(v: Option<DbInt>, column: &str) -> Result<T, String> {
    to_id(v.ok_or_else(|| format!("{column} is NULL"))?, column)
}

/// A nullable integer column as an id type.
pub(crate) fn opt_id<T: TryFrom<i64, Error = IdError>>(v: Option<DbInt>, column: &str) -> Result<Option<T>, String> {
    v.map(|v| to_id(v, column)).transpose()
}

/// A column production declares NOT NULL.
pub(crate) fn required<T>(v: Option<T>, column: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("{column} is NULL"))
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
        let params: Vec<String> =
            row.iter().enumerate().map(|(i, (c, _))| self.catalog.param(table, c, i + 1)).collect();
        // Table and column names come from gymchat's own code and the catalog; values travel as
        // parameters.
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

/// `$offset+1, $offset+2, …` for `n` parameters.
pub(crate) fn placeholders(n: usize, offset: usize) -> String {
    (offset + 1..=offset + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
