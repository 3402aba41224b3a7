//! Column decoders that accept what production databases actually hold.
//!
//! The platform's production schema differs from the one gymchat creates on a fresh database:
//! `int4` ids instead of `int8`, Postgres enum types instead of `TEXT`, `timestamp` without time
//! zone instead of `timestamptz`. These wrappers decode any of those forms, so every query is
//! written once for both schemas and both backends.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgTypeKind, PgValueRef};
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Postgres, Sqlite, Type, TypeInfo, ValueRef};

/// An integer column of any width.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DbInt(pub i64);

/// A text column, or a Postgres enum read as its label.
#[derive(Debug, Clone)]
pub(crate) struct DbText(pub String);

/// A timestamp column with or without time zone; naive values are UTC (the platform's rule).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DbTime(pub DateTime<Utc>);

impl Type<Postgres> for DbInt {
    fn type_info() -> PgTypeInfo {
        <i64 as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        matches!(ty.name(), "INT2" | "INT4" | "INT8")
    }
}

impl<'r> Decode<'r, Postgres> for DbInt {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let name = value.type_info().name().to_owned();
        Ok(DbInt(match name.as_str() {
            "INT2" => i64::from(<i16 as Decode<Postgres>>::decode(value)?),
            "INT4" => i64::from(<i32 as Decode<Postgres>>::decode(value)?),
            _ => <i64 as Decode<Postgres>>::decode(value)?,
        }))
    }
}

impl Type<Sqlite> for DbInt {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for DbInt {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbInt(<i64 as Decode<Sqlite>>::decode(value)?))
    }
}

impl Type<Postgres> for DbText {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty) || matches!(ty.kind(), PgTypeKind::Enum(_))
    }
}

impl<'r> Decode<'r, Postgres> for DbText {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        // An enum's wire form, text or binary, is its label.
        Ok(DbText(<String as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Sqlite> for DbText {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for DbText {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbText(<String as Decode<Sqlite>>::decode(value)?))
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        matches!(ty.name(), "TIMESTAMPTZ" | "TIMESTAMP")
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.type_info().name() == "TIMESTAMP" {
            Ok(DbTime(<NaiveDateTime as Decode<Postgres>>::decode(value)?.and_utc()))
        } else {
            Ok(DbTime(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
        }
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <DateTime<Utc> as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <DateTime<Utc> as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        // sqlx reads RFC 3339 and SQLite's own `YYYY-MM-DD HH:MM:SS` (taken as UTC).
        Ok(DbTime(<DateTime<Utc> as Decode<Sqlite>>::decode(value)?))
    }
}

/// A value to bind, for statements whose columns are chosen at run time (fixture loading).
#[derive(Debug, Clone)]
pub(crate) enum SqlValue {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
    Time(Option<DateTime<Utc>>),
}
