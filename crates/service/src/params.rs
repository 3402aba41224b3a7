//! Path, query and body values read as FastAPI reads them (APP_CONTRACT §1.2): an integer that
//! does not parse, a boolean outside `true/false/1/0/yes/no/on/off/t/f/y/n`, an out-of-range
//! number or a body that is not the model are 422 with Pydantic's error list.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// A path segment that must be an integer.
pub(crate) fn path_int(text: &str, name: &str) -> ApiResult<i64> {
    text.parse::<i64>().map_err(|_| {
        ApiError::invalid(
            "int_parsing",
            &["path", name],
            "Input should be a valid integer, unable to parse string as an integer",
            Value::String(text.to_owned()),
        )
    })
}

/// The query's parameters (the last of a repeated name wins, as in FastAPI).
pub(crate) type QueryMap = HashMap<String, String>;

/// A boolean query parameter, `default` when absent.
pub(crate) fn query_bool(query: &QueryMap, name: &str, default: bool) -> ApiResult<bool> {
    let Some(text) = query.get(name) else { return Ok(default) };
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(ApiError::invalid(
            "bool_parsing",
            &["query", name],
            "Input should be a valid boolean, unable to interpret input",
            Value::String(text.clone()),
        )),
    }
}

/// An integer query parameter, `default` when absent, within `range` when one is given.
pub(crate) fn query_int(
    query: &QueryMap,
    name: &str,
    default: Option<i64>,
    range: Option<(i64, i64)>,
) -> ApiResult<Option<i64>> {
    let Some(text) = query.get(name) else { return Ok(default) };
    let value = text.parse::<i64>().map_err(|_| {
        ApiError::invalid(
            "int_parsing",
            &["query", name],
            "Input should be a valid integer, unable to parse string as an integer",
            Value::String(text.clone()),
        )
    })?;
    if let Some((low, high)) = range {
        if value < low {
            let msg = format!("Input should be greater than or equal to {low}");
            return Err(ApiError::invalid("greater_than_equal", &["query", name], &msg, Value::String(text.clone())));
        }
        if value > high {
            let msg = format!("Input should be less than or equal to {high}");
            return Err(ApiError::invalid("less_than_equal", &["query", name], &msg, Value::String(text.clone())));
        }
    }
    Ok(Some(value))
}

/// A JSON body as its model, or 422: `json_invalid` for a body that is not JSON, `missing` for
/// an absent required field, `model_attributes_type` for a body that is not an object, and
/// `value_error` for a field of the wrong type.
pub(crate) fn body<T: DeserializeOwned>(raw: Result<Json<Value>, JsonRejection>) -> ApiResult<T> {
    let Json(value) = raw.map_err(|e| {
        ApiError::invalid("json_invalid", &["body"], &format!("JSON decode error: {}", e.body_text()), Value::Null)
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid("model_attributes_type", &["body"], "Input should be a valid dictionary", value));
    }
    T::deserialize(&value).map_err(|e| {
        let text = e.to_string();
        match text.strip_prefix("missing field `").and_then(|rest| rest.split_once('`')) {
            Some((field, _)) => ApiError::invalid("missing", &["body", field], "Field required", value.clone()),
            None => ApiError::invalid("value_error", &["body"], &text, value.clone()),
        }
    })
}

/// A positive integer body field that Pydantic declares `gt=0`.
pub(crate) fn positive(value: i64, name: &str) -> ApiResult<i64> {
    if value > 0 {
        Ok(value)
    } else {
        Err(ApiError::invalid("greater_than", &["body", name], "Input should be greater than 0", Value::from(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_and_integers_read_as_fastapi_reads_them() {
        let q: QueryMap = [("a", "YES"), ("b", "off"), ("c", "maybe"), ("d", "91"), ("e", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(query_bool(&q, "a", false).unwrap());
        assert!(!query_bool(&q, "b", true).unwrap());
        assert!(query_bool(&q, "missing", true).unwrap());
        assert_eq!(query_bool(&q, "c", false).unwrap_err().status.as_u16(), 422);
        assert_eq!(query_int(&q, "d", Some(30), Some((1, 90))).unwrap_err().status.as_u16(), 422);
        assert_eq!(query_int(&q, "e", None, None).unwrap_err().status.as_u16(), 422);
        assert_eq!(query_int(&q, "missing", Some(30), Some((1, 90))).unwrap(), Some(30));
        assert_eq!(path_int("12", "room_id").unwrap(), 12);
        let e = path_int("abc", "room_id").unwrap_err();
        assert_eq!(e.validation.unwrap()[0]["loc"], serde_json::json!(["path", "room_id"]));
    }
}
