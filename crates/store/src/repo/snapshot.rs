//! Whole rows as text, for changes that must be undone exactly: every column the catalog knows
//! (production's own columns included), each as the database prints it or NULL, and written back
//! with a cast to the column's type. Cleanup's `--remove-rooms` journals a room's rows this way
//! before deleting them, and its undo puts them back as they were.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use crate::backend::{Session, on_db};
use crate::error::{Result, StoreError};

/// One row: column → value as text (`None` for NULL).
pub type TextRow = BTreeMap<String, Option<String>>;

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Session {
    fn known_columns(&self, table: &str) -> Result<Vec<String>> {
        let columns: Vec<String> = self.catalog.columns(table).iter().map(|c| c.name.clone()).collect();
        if columns.is_empty() {
            return Err(StoreError::BadRow { table: "catalog", key: table.to_owned(), reason: "unknown table".into() });
        }
        Ok(columns)
    }

    /// Every row of `table` whose integer column `column` is `value`, every column as text.
    pub async fn rows_as_text(&mut self, table: &str, column: &str, value: i64) -> Result<Vec<TextRow>> {
        let columns = self.known_columns(table)?;
        let select: Vec<String> =
            columns.iter().enumerate().map(|(i, c)| format!("CAST({} AS TEXT) AS c{i}", quote(c))).collect();
        // Table and column names come from the catalog and gymchat's code; the value is a parameter.
        let sql = format!("SELECT {} FROM {} WHERE {} = $1", select.join(", "), quote(table), quote(column));
        let rows = on_db!(self.db(), c => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(value).fetch_all(&mut *c).await?;
            rows.iter()
                .map(|row| {
                    (0..columns.len())
                        .map(|i| Ok((columns[i].clone(), row.try_get::<Option<String>, _>(i)?)))
                        .collect::<Result<TextRow, sqlx::Error>>()
                })
                .collect::<Result<Vec<TextRow>, sqlx::Error>>()
        })?;
        Ok(rows)
    }

    /// Deletes the rows of `table` whose integer column `column` is `value`; returns how many.
    pub async fn delete_rows(&mut self, table: &str, column: &str, value: i64) -> Result<u64> {
        self.known_columns(table)?;
        let sql = format!("DELETE FROM {} WHERE {} = $1", quote(table), quote(column));
        let n = on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(value)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n)
    }

    /// Writes rows read by [`Session::rows_as_text`] back, each value cast to its column's type.
    pub async fn insert_text_rows(&mut self, table: &str, rows: &[TextRow]) -> Result<()> {
        let casts: BTreeMap<String, Option<String>> =
            self.catalog.columns(table).iter().map(|c| (c.name.clone(), c.text_cast.clone())).collect();
        for row in rows {
            let columns: Vec<&String> = row.keys().collect();
            if let Some(unknown) = columns.iter().find(|c| !casts.contains_key(c.as_str())) {
                return Err(StoreError::BadRow {
                    table: "journal",
                    key: table.to_owned(),
                    reason: format!("column {unknown} no longer exists"),
                });
            }
            let params: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| match &casts[c.as_str()] {
                    Some(ty) => format!("CAST(${} AS {ty})", i + 1),
                    None => format!("${}", i + 1),
                })
                .collect();
            let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
            let sql = format!("INSERT INTO {} ({}) VALUES ({})", quote(table), names.join(", "), params.join(", "));
            on_db!(self.db(), c => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for value in row.values() {
                    q = q.bind(value.clone());
                }
                q.execute(&mut *c).await.map(|_| ())
            })?;
        }
        Ok(())
    }
}
