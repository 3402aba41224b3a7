//! Column decoders that accept what production databases actually hold.
//!
//! The platform's production schema differs from the one gymchat creates on a fresh database:
//! `int4` ids instead of `int8`, Postgres enum types instead of `TEXT`, `timestamp` without time
//! zone instead of `timestamptz`. These wrappers decode any of those forms, so every query is
//! written once for both schemas and both backends.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgTypeKind, PgValueFormat, PgValueRef};
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

/// Postgres counts timestamps in microseconds from 2000-01-01 00:00 UTC.
const POSTGRES_EPOCH_UNIX_SECONDS: i64 = 946_684_800;

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        // Decoded by hand: sqlx's chrono decoder panics on `infinity`, which production can hold.
        match value.format() {
            PgValueFormat::Binary => {
                let micros = <i64 as Decode<Postgres>>::decode(value)?;
                if micros == i64::MAX || micros == i64::MIN {
                    return Err("an infinite timestamp cannot be read as a time".into());
                }
                DateTime::from_timestamp_micros(micros)
                    .and_then(|t| t.checked_add_signed(chrono::Duration::seconds(POSTGRES_EPOCH_UNIX_SECONDS)))
                    .map(DbTime)
                    .ok_or_else(|| format!("timestamp {micros} µs after 2000-01-01 is out of range").into())
            }
            PgValueFormat::Text => parse_time(value.as_str()?).map(DbTime),
        }
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <DateTime<Utc> as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <DateTime<Utc> as Type<Sqlite>>::compatible(ty) || <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.type_info().name() == "INTEGER" {
            let seconds = <i64 as Decode<Sqlite>>::decode(value)?;
            return DateTime::from_timestamp(seconds, 0)
                .map(DbTime)
                .ok_or_else(|| format!("Unix time {seconds} is out of range").into());
        }
        parse_time(&<String as Decode<Sqlite>>::decode(value)?).map(DbTime)
    }
}

/// Reads a time written as text by any writer: RFC 3339, or SQL's `YYYY-MM-DD HH:MM:SS[.f]`
/// with an offset (`+01`, `+0100`, `+01:00`, `Z`) or without one (UTC, the platform's rule).
fn parse_time(text: &str) -> Result<DateTime<Utc>, BoxDynError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let spaced = text.replacen('T', " ", 1);
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.fZ"] {
        if let Ok(t) = DateTime::parse_from_str(&spaced, format) {
            return Ok(t.with_timezone(&Utc));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(&spaced, format.trim_end_matches('Z')) {
            return Ok(t.and_utc());
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&spaced, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(&spaced, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(format!("{text:?} is not a time gymchat can read").into())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_are_read_in_every_form_writers_use() {
        let t = Utc.with_ymd_and_hms(2025, 12, 20, 18, 0, 0).unwrap();
        for text in [
            "2025-12-20T18:00:00Z",
            "2025-12-20T19:00:00+01:00",
            "2025-12-20 19:00:00+01",
            "2025-12-20 19:00:00+0100",
            "2025-12-20 18:00:00",
            "2025-12-20 18:00:00.000",
            "2025-12-20 18:00",
        ] {
            assert_eq!(parse_time(text).unwrap(), t, "{text}");
        }
        assert!(parse_time("infinity").is_err());
        assert!(parse_time("").is_err());
    }
}

/// A value to bind, for statements whose columns are chosen at run time (fixture loading).
#[derive(Debug, Clone)]
pub(crate) enum SqlValue {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
}
