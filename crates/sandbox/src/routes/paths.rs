//! Dotted paths into nested custom fields, as partial updates of users and channels take them
//! (`"set": {"test.passed": true}`, `"unset": ["test.passed"]`): each dot steps into an object,
//! made on the way when setting; a plain name is the field itself.

use serde_json::{Map, Value};

/// Sets `path` in `map`, making objects on the way (a non-object on the way is replaced).
pub fn set_path(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = map.entry(head.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(Map::new());
            }
            if let Value::Object(inner) = inner {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Removes `path` from `map`; a path that leads nowhere changes nothing.
pub fn unset_path(map: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            map.remove(path);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(inner)) = map.get_mut(head) {
                unset_path(inner, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dots_step_into_objects() {
        let mut map = Map::new();
        set_path(&mut map, "test.passed", json!(true));
        set_path(&mut map, "test.runs", json!(2));
        set_path(&mut map, "plain", json!("x"));
        assert_eq!(Value::Object(map.clone()), json!({ "test": { "passed": true, "runs": 2 }, "plain": "x" }));
        unset_path(&mut map, "test.passed");
        unset_path(&mut map, "nowhere.at.all");
        assert_eq!(Value::Object(map), json!({ "test": { "runs": 2 }, "plain": "x" }));
    }
}
