//! What the database's own catalog says about the tables gymchat writes: each column's type,
//! nullability and default, and the labels of Postgres enum types.
//!
//! Production's schema is not ours to assume. Writes cast to the enum type a column really has
//! (Postgres refuses a `TEXT` parameter for an enum column), and fixture loading fills the
//! columns that are NOT NULL without a default which gymchat's rows do not carry
//! (`gyms.timezone`, `user_gyms.membership_type`, `events.max_participants` in production) with
//! the stated values of [`Catalog::fill_value`].

use std::collections::HashMap;

use chrono::Utc;

use crate::error::{Result, StoreError};
use crate::value::SqlValue;

/// The kind of value a column holds, as far as writes need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    /// `text`, `varchar`, `char`.
    Text,
    /// Any integer or numeric type.
    Integer,
    /// `boolean`.
    Boolean,
    /// `timestamp`, `timestamptz`, `date`.
    Time,
    /// A Postgres enum: the quoted, schema-qualified type name and its labels in sort order.
    Enum { ty: String, labels: Vec<String> },
    /// Anything else, by its type name.
    Other(String),
}

/// One column of a table.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    pub kind: ColumnKind,
    pub nullable: bool,
    /// A default, an identity, a serial sequence, or SQLite's rowid alias fills it.
    pub has_default: bool,
    /// The type a text parameter is cast to when a whole row is written back (Postgres); `None`
    /// where the column's affinity converts text itself (SQLite).
    pub text_cast: Option<String>,
}

/// Columns by table.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    tables: HashMap<String, Vec<Column>>,
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Catalog {
    /// Builds the Postgres catalog from `information_schema.columns` rows
    /// `(table, column, nullable, has_default, data_type, udt_schema, udt_name)` and `pg_enum`
    /// rows `(schema, type, label)` in sort order.
    pub(crate) fn from_postgres(
        columns: Vec<(String, String, bool, bool, String, String, String)>,
        enum_labels: Vec<(String, String, String)>,
    ) -> Catalog {
        let mut labels: HashMap<(String, String), Vec<String>> = HashMap::new();
        for (schema, ty, label) in enum_labels {
            labels.entry((schema, ty)).or_default().push(label);
        }
        let mut tables: HashMap<String, Vec<Column>> = HashMap::new();
        for (table, name, nullable, has_default, data_type, udt_schema, udt_name) in columns {
            let text_cast = Some(if data_type == "USER-DEFINED" || data_type == "ARRAY" {
                format!("{}.{}", quote(&udt_schema), quote(&udt_name))
            } else {
                data_type.clone()
            });
            let kind = match data_type.as_str() {
                "USER-DEFINED" => match labels.get(&(udt_schema.clone(), udt_name.clone())) {
                    Some(l) => ColumnKind::Enum {
                        ty: format!("{}.{}", quote(&udt_schema), quote(&udt_name)),
                        labels: l.clone(),
                    },
                    None => ColumnKind::Other(udt_name),
                },
                "text" | "character varying" | "character" => ColumnKind::Text,
                "smallint" | "integer" | "bigint" | "numeric" | "real" | "double precision" => ColumnKind::Integer,
                "boolean" => ColumnKind::Boolean,
                t if t.starts_with("timestamp") || t == "date" => ColumnKind::Time,
                other => ColumnKind::Other(other.to_owned()),
            };
            tables.entry(table).or_default().push(Column { name, kind, nullable, has_default, text_cast });
        }
        Catalog { tables }
    }

    /// Builds the SQLite catalog from `pragma_table_info` rows
    /// `(table, column, declared type, notnull, has_default, pk)`.
    pub(crate) fn from_sqlite(columns: Vec<(String, String, String, bool, bool, bool)>) -> Catalog {
        let mut tables: HashMap<String, Vec<Column>> = HashMap::new();
        for (table, name, declared, not_null, has_default, pk) in columns {
            let upper = declared.to_ascii_uppercase();
            let kind = if upper.contains("INT") {
                ColumnKind::Integer
            } else if upper.contains("BOOL") {
                ColumnKind::Boolean
            } else if upper.contains("TIME") || upper.contains("DATE") {
                ColumnKind::Time
            } else if upper.contains("CHAR") || upper.contains("TEXT") || upper.contains("CLOB") || upper.is_empty() {
                ColumnKind::Text
            } else {
                ColumnKind::Other(declared)
            };
            // An INTEGER PRIMARY KEY is the rowid: SQLite assigns it.
            let rowid = pk && kind == ColumnKind::Integer;
            tables.entry(table).or_default().push(Column {
                name,
                kind,
                nullable: !not_null && !pk,
                has_default: has_default || rowid,
                text_cast: None,
            });
        }
        Catalog { tables }
    }

    /// Every column of `table`, in the catalog's order.
    pub(crate) fn columns(&self, table: &str) -> &[Column] {
        self.tables.get(table).map_or(&[], Vec::as_slice)
    }

    fn column(&self, table: &str, column: &str) -> Option<&Column> {
        self.tables.get(table)?.iter().find(|c| c.name == column)
    }

    /// Whether `table` has `column` (production has columns gymchat's own definitions lack).
    pub(crate) fn has_column(&self, table: &str, column: &str) -> bool {
        self.column(table, column).is_some()
    }

    /// The placeholder for parameter `n` written into `table.column`, cast to its enum type.
    pub(crate) fn param(&self, table: &str, column: &str, n: usize) -> String {
        match self.column(table, column).map(|c| &c.kind) {
            Some(ColumnKind::Enum { ty, .. }) => format!("CAST(${n} AS {ty})"),
            _ => format!("${n}"),
        }
    }

    /// Columns of `table` that are NOT NULL without any default and are not among `written`:
    /// an INSERT that leaves them out fails.
    pub(crate) fn unfilled_required<'a>(&'a self, table: &str, written: &[&str]) -> Vec<&'a Column> {
        self.tables
            .get(table)
            .map(|cols| {
                cols.iter().filter(|c| !c.nullable && !c.has_default && !written.contains(&c.name.as_str())).collect()
            })
            .unwrap_or_default()
    }

    /// The stated value for a required column a fixture row does not carry: `timezone` is
    /// `"UTC"`, `membership_type` is `"STANDARD"`; otherwise an enum's first label, `""` for
    /// text, `0` for numbers (`events.max_participants`), `false`, or the current time. A column
    /// of any other type is refused by name.
    pub(crate) fn fill_value(table: &str, column: &Column) -> Result<SqlValue> {
        Ok(match (column.name.as_str(), &column.kind) {
            (_, ColumnKind::Enum { labels, .. }) => SqlValue::Text(labels.first().cloned()),
            ("timezone", ColumnKind::Text) => SqlValue::Text(Some("UTC".to_owned())),
            ("membership_type", ColumnKind::Text) => SqlValue::Text(Some("STANDARD".to_owned())),
            (_, ColumnKind::Text) => SqlValue::Text(Some(String::new())),
            (_, ColumnKind::Integer) => SqlValue::Int(Some(0)),
            (_, ColumnKind::Boolean) => SqlValue::Bool(Some(false)),
            (_, ColumnKind::Time) => SqlValue::Time(Some(Utc::now())),
            (_, ColumnKind::Other(ty)) => {
                return Err(StoreError::NoFillValue {
                    table: table.to_owned(),
                    column: column.name.clone(),
                    ty: ty.clone(),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_columns_without_default_are_found_and_filled() {
        let catalog = Catalog::from_postgres(
            vec![
                ("gyms".into(), "id".into(), false, true, "integer".into(), "pg_catalog".into(), "int4".into()),
                ("gyms".into(), "name".into(), false, false, "character varying".into(), "".into(), "".into()),
                ("gyms".into(), "timezone".into(), false, false, "character varying".into(), "".into(), "".into()),
                ("gyms".into(), "logo_url".into(), true, false, "text".into(), "".into(), "".into()),
                (
                    "user_gyms".into(),
                    "membership_type".into(),
                    false,
                    false,
                    "USER-DEFINED".into(),
                    "public".into(),
                    "mtype".into(),
                ),
            ],
            vec![
                ("public".into(), "mtype".into(), "MONTHLY".into()),
                ("public".into(), "mtype".into(), "YEARLY".into()),
            ],
        );
        let names: Vec<&str> =
            catalog.unfilled_required("gyms", &["id", "name"]).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["timezone"]);
        let timezone = catalog.unfilled_required("gyms", &["name"]).into_iter().find(|c| c.name == "timezone").unwrap();
        assert!(matches!(Catalog::fill_value("gyms", timezone).unwrap(), SqlValue::Text(Some(t)) if t == "UTC"));
        let membership = &catalog.unfilled_required("user_gyms", &[])[0];
        assert!(
            matches!(Catalog::fill_value("user_gyms", membership).unwrap(), SqlValue::Text(Some(t)) if t == "MONTHLY")
        );
        assert_eq!(catalog.param("user_gyms", "membership_type", 3), "CAST($3 AS \"public\".\"mtype\")");
        assert_eq!(catalog.param("gyms", "name", 1), "$1");
    }

    #[test]
    fn sqlite_rowid_is_filled_by_the_database_and_unknown_types_are_refused() {
        let catalog = Catalog::from_sqlite(vec![
            ("events".into(), "id".into(), "INTEGER".into(), false, false, true),
            ("events".into(), "max_participants".into(), "INTEGER".into(), true, false, false),
            ("events".into(), "blob".into(), "BLOB".into(), true, false, false),
        ]);
        let required: Vec<&str> = catalog.unfilled_required("events", &[]).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(required, ["max_participants", "blob"]);
        let blob = catalog.unfilled_required("events", &[]).into_iter().find(|c| c.name == "blob").unwrap();
        assert!(Catalog::fill_value("events", blob).is_err());
    }
}
