//! Stream's filter conditions (`{"team": "gym_4", "created_at": {"$gt": "…"}, "members": {"$in": […]}}`)
//! evaluated against one object through a field accessor.
//!
//! Array fields (`members`, `teams`) follow Stream's reading: `$in` means "shares an element",
//! `$contains` means "holds this element", a bare value means "holds it". Time fields compare as
//! times, not strings. Unknown operators are refused, never ignored: a filter that silently
//! matched everything would be a dangerous double.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Fields compared as times.
const TIME_FIELDS: &[&str] = &["created_at", "updated_at", "last_message_at", "deleted_at"];

/// True when `get` (field name → value, `None` when absent) satisfies every condition.
pub fn matches(filter: &Map<String, Value>, get: &dyn Fn(&str) -> Option<Value>) -> Result<bool, ApiError> {
    for (key, cond) in filter {
        let ok = match key.as_str() {
            "$and" => each(cond)?.iter().try_fold(true, |acc, f| Ok::<_, ApiError>(acc && matches(f, get)?))?,
            "$or" => each(cond)?.iter().try_fold(false, |acc, f| Ok::<_, ApiError>(acc || matches(f, get)?))?,
            field => field_matches(field, cond, get(field).as_ref())?,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Refuses any of the `refused` operators anywhere in the filter (Stream documents `$ne` and
/// `$nin` for users, not for channels).
pub fn refuse_operators(filter: &Map<String, Value>, refused: &[&str]) -> Result<(), ApiError> {
    for (key, cond) in filter {
        match key.as_str() {
            "$and" | "$or" => {
                for f in each(cond)? {
                    refuse_operators(f, refused)?;
                }
            }
            field => {
                if let Value::Object(ops) = cond
                    && let Some(op) = ops.keys().find(|k| refused.contains(&k.as_str()))
                {
                    return Err(ApiError::input(format!("operator {op} is not supported on field {field}")));
                }
            }
        }
    }
    Ok(())
}

/// Every value the filter compares `field` with (`$eq`, a bare value, `$in`), at any depth.
pub fn named_values(filter: &Map<String, Value>, field: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (key, cond) in filter {
        match (key.as_str(), cond) {
            ("$and" | "$or", Value::Array(items)) => {
                for f in items.iter().filter_map(Value::as_object) {
                    out.extend(named_values(f, field));
                }
            }
            (k, Value::Object(ops)) if k == field => {
                for (op, want) in ops {
                    match (op.as_str(), want) {
                        ("$eq", v) => out.push(v.clone()),
                        ("$in", Value::Array(vs)) => out.extend(vs.iter().cloned()),
                        _ => {}
                    }
                }
            }
            (k, v) if k == field => out.push(v.clone()),
            _ => {}
        }
    }
    out
}

fn each(cond: &Value) -> Result<Vec<&Map<String, Value>>, ApiError> {
    cond.as_array()
        .ok_or_else(|| ApiError::input("$and and $or take an array of filters"))?
        .iter()
        .map(|f| f.as_object().ok_or_else(|| ApiError::input("$and and $or take an array of filters")))
        .collect()
}

fn field_matches(field: &str, cond: &Value, actual: Option<&Value>) -> Result<bool, ApiError> {
    let ops = match cond {
        Value::Object(ops) if ops.keys().all(|k| k.starts_with('$')) => ops.clone(),
        literal => Map::from_iter([("$eq".to_owned(), literal.clone())]),
    };
    for (op, want) in &ops {
        let ok = match op.as_str() {
            "$eq" => eq(field, actual, want),
            "$ne" => !eq(field, actual, want),
            "$in" => want
                .as_array()
                .ok_or_else(|| ApiError::input(format!("$in on {field} needs an array")))?
                .iter()
                .any(|w| eq(field, actual, w)),
            "$nin" => !want.as_array().is_some_and(|ws| ws.iter().any(|w| eq(field, actual, w))),
            "$contains" => actual.and_then(Value::as_array).is_some_and(|a| a.contains(want)),
            "$exists" => actual.is_some_and(|v| !v.is_null()) == want.as_bool().unwrap_or(true),
            "$gt" | "$gte" | "$lt" | "$lte" => match actual.and_then(|a| compare(field, a, want)) {
                Some(ord) => match op.as_str() {
                    "$gt" => ord.is_gt(),
                    "$gte" => ord.is_ge(),
                    "$lt" => ord.is_lt(),
                    _ => ord.is_le(),
                },
                None => false,
            },
            other => return Err(ApiError::input(format!("operator {other} is not supported on field {field}"))),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Equality, with array fields meaning "contains" and numbers compared as numbers.
fn eq(field: &str, actual: Option<&Value>, want: &Value) -> bool {
    match actual {
        Some(Value::Array(items)) => items.iter().any(|i| scalar_eq(field, i, want)),
        Some(v) => scalar_eq(field, v, want),
        None => want.is_null(),
    }
}

fn scalar_eq(field: &str, a: &Value, b: &Value) -> bool {
    compare(field, a, b).is_some_and(|o| o.is_eq()) || a == b
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

fn compare(field: &str, a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    if TIME_FIELDS.contains(&field) {
        return Some(time(a)?.cmp(&time(b)?));
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(field: &str) -> Option<Value> {
        match field {
            "team" => Some(json!("gym_4")),
            "members" => Some(json!(["a", "b"])),
            "created_at" => Some(json!("2025-09-01T10:00:00.000001Z")),
            "gym_id" => Some(json!("4")),
            _ => None,
        }
    }

    fn m(filter: Value) -> Result<bool, ApiError> {
        matches(filter.as_object().unwrap(), &doc)
    }

    #[test]
    fn conditions_follow_streams_semantics() {
        assert!(m(json!({"team": "gym_4"})).unwrap());
        assert!(!m(json!({"team": {"$in": ["gym_5"]}})).unwrap());
        assert!(m(json!({"members": {"$in": ["b", "z"]}})).unwrap());
        assert!(!m(json!({"members": {"$in": ["z"]}})).unwrap());
        assert!(m(json!({"created_at": {"$gt": "2025-09-01T10:00:00Z"}})).unwrap());
        assert!(!m(json!({"created_at": {"$gt": "2025-09-01T10:00:00.000001Z"}})).unwrap());
        assert!(m(json!({"$or": [{"team": "x"}, {"gym_id": "4"}]})).unwrap());
        assert!(!m(json!({"frozen": true})).unwrap());
        assert!(m(json!({"frozen": {"$exists": false}})).unwrap());
    }

    #[test]
    fn unknown_operators_are_refused() {
        assert!(m(json!({"team": {"$regex": "gym"}})).is_err());
        assert!(m(json!({"$and": {"team": "gym_4"}})).is_err());
    }
}
