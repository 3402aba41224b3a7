//! Users: upsert (`POST /users`), partial update (`PATCH /users`), query (`GET /users`), delete
//! one (`DELETE /users/{id}`) and delete many (`POST /users/delete`, a task).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::paths::{set_path, unset_path};
use super::{ApiResult, body_object, bounded, check_user_id, created, ok, server_only, user_json};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::filter;
use crate::model::{App, TaskRec, UserRec};
use crate::state::{Shared, lock};

/// Most users per upsert, partial update or batch delete.
pub const MAX_USERS_PER_CALL: usize = 100;
/// Fields a user token may not set on itself.
const PRIVILEGED_FIELDS: &[&str] = &["role", "teams"];

fn check_teams(teams: &Value) -> Result<Vec<String>, ApiError> {
    let list = teams.as_array().ok_or_else(|| ApiError::input_field("teams", "teams must be an array of strings"))?;
    if list.len() > 250 {
        return Err(ApiError::input_field("teams", "a user can be in at most 250 teams"));
    }
    list.iter()
        .map(|t| match t.as_str() {
            Some(s) if !s.is_empty() && s.len() <= 100 => Ok(s.to_owned()),
            _ => Err(ApiError::input_field("teams", "team names are non-empty strings of at most 100 bytes")),
        })
        .collect()
}

/// Builds a user from an upsert body entry, keeping `created_at` of an existing user.
fn user_from(id: &str, fields: &Map<String, Value>, existing: Option<&UserRec>) -> Result<UserRec, ApiError> {
    let now = Utc::now();
    let mut custom = fields.clone();
    for reserved in ["id", "role", "teams", "created_at", "updated_at", "deleted_at", "deactivated_at"] {
        custom.remove(reserved);
    }
    Ok(UserRec {
        id: id.to_owned(),
        role: fields.get("role").and_then(Value::as_str).unwrap_or("user").to_owned(),
        teams: fields.get("teams").map(check_teams).transpose()?.unwrap_or_default(),
        created_at: existing.map_or(now, |u| u.created_at),
        updated_at: now,
        deleted_at: None,
        deactivated_at: existing.and_then(|u| u.deactivated_at),
        custom,
    })
}

/// `POST /users`: creates or replaces up to 100 users; one bad user fails the whole batch.
pub async fn upsert(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    let body = body_object(&body)?;
    let users = body
        .get("users")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::input_field("users", "users must be an object keyed by user id"))?;
    if users.is_empty() || users.len() > MAX_USERS_PER_CALL {
        return Err(ApiError::input_field("users", format!("send between 1 and {MAX_USERS_PER_CALL} users")));
    }
    let mut app = lock(&s.app);
    let mut built = Vec::with_capacity(users.len());
    for (key, value) in users {
        let fields = value.as_object().ok_or_else(|| ApiError::input_field("users", "each user must be an object"))?;
        let id = fields.get("id").and_then(Value::as_str).unwrap_or(key);
        if id != key {
            return Err(ApiError::input_field("users", format!("user key {key:?} does not match its id {id:?}")));
        }
        check_user_id(id, "users")?;
        if let Caller::User(me) = &caller {
            if me != id {
                return Err(ApiError::forbidden("a user token may only update its own user"));
            }
            if PRIVILEGED_FIELDS.iter().any(|f| fields.contains_key(*f)) {
                return Err(ApiError::forbidden("role and teams can only be set server-side"));
            }
        }
        built.push(user_from(id, fields, app.users.get(id))?);
    }
    let mut out = Map::new();
    for user in built {
        out.insert(user.id.clone(), user_json(&user));
        app.users.insert(user.id.clone(), user);
    }
    Ok(created(json!({ "users": out })))
}

/// `PATCH /users`: `set`/`unset` on up to 100 existing users.
pub async fn update_partial(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    let body = body_object(&body)?;
    let updates = body
        .get("users")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::input_field("users", "users must be an array"))?;
    if updates.is_empty() || updates.len() > MAX_USERS_PER_CALL {
        return Err(ApiError::input_field("users", format!("send between 1 and {MAX_USERS_PER_CALL} updates")));
    }
    let mut app = lock(&s.app);
    let mut changed = Vec::new();
    for update in updates {
        let id = update
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::input_field("id", "each update needs an id"))?;
        let mut user =
            app.users.get(id).cloned().ok_or_else(|| ApiError::input(format!("user {id} does not exist")))?;
        let set = update.get("set").and_then(Value::as_object).cloned().unwrap_or_default();
        let unset: Vec<String> = update
            .get("unset")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if let Caller::User(me) = &caller
            && (me != id || PRIVILEGED_FIELDS.iter().any(|f| set.contains_key(*f) || unset.iter().any(|u| u == f)))
        {
            return Err(ApiError::forbidden("a user token may only update its own non-privileged fields"));
        }
        for (k, v) in set {
            match k.as_str() {
                "id" | "created_at" | "updated_at" => {
                    return Err(ApiError::forbidden(format!("{k} is a reserved field")));
                }
                "role" => user.role = v.as_str().unwrap_or("user").to_owned(),
                "teams" => user.teams = check_teams(&v)?,
                _ => set_path(&mut user.custom, &k, v),
            }
        }
        for k in unset {
            if k == "teams" {
                user.teams.clear();
            } else {
                unset_path(&mut user.custom, &k);
            }
        }
        user.updated_at = Utc::now();
        changed.push(user);
    }
    let mut out = Map::new();
    for user in changed {
        out.insert(user.id.clone(), user_json(&user));
        app.users.insert(user.id.clone(), user);
    }
    Ok(ok(json!({ "users": out })))
}

fn user_field(u: &UserRec, field: &str) -> Option<Value> {
    match field {
        "id" => Some(json!(u.id)),
        "role" => Some(json!(u.role)),
        "teams" => Some(json!(u.teams)),
        "created_at" => Some(json!(crate::model::fmt_time(u.created_at))),
        "updated_at" => Some(json!(crate::model::fmt_time(u.updated_at))),
        other => u.custom.get(other).cloned(),
    }
}

/// `GET /users?payload={filter_conditions, sort, limit ≤ 100, offset ≤ 1000}`.
pub async fn query(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult {
    let payload: Map<String, Value> = match params.get("payload") {
        Some(p) => serde_json::from_str(p)
            .map_err(|e| ApiError::input_field("payload", format!("payload is not a JSON object: {e}")))?,
        None => Map::new(),
    };
    let filter = payload.get("filter_conditions").and_then(Value::as_object).cloned().unwrap_or_default();
    let limit = bounded(payload.get("limit"), "limit", 30, 100)?;
    let offset = bounded(payload.get("offset"), "offset", 0, 1000)?;
    let include_deactivated = payload.get("include_deactivated_users").and_then(Value::as_bool) == Some(true);
    let app = lock(&s.app);
    // Stream adds the caller's teams to a user-token query only when the query names no team.
    let visible_teams =
        if filter::named_values(&filter, "teams").is_empty() { visible_teams(&app, &caller) } else { None };
    let mut found = Vec::new();
    // A query by id looks those users up instead of scanning every user of the app; the filter
    // as a whole still decides.
    let candidates: Box<dyn Iterator<Item = &UserRec>> = match required_ids(&filter) {
        Some(ids) => Box::new(ids.into_iter().filter_map(|id| app.users.get(id))),
        None => Box::new(app.users.values()),
    };
    for user in candidates {
        if user.deleted_at.is_some() || (user.deactivated_at.is_some() && !include_deactivated) {
            continue;
        }
        if let Some(teams) = &visible_teams
            && !user.teams.iter().any(|t| teams.contains(t))
        {
            continue;
        }
        if filter::matches(&filter, &|f| user_field(user, f))? {
            found.push(user);
        }
    }
    if let Some(sort) = payload.get("sort").and_then(Value::as_array).and_then(|s| s.first()) {
        let field = sort.get("field").and_then(Value::as_str).unwrap_or("id").to_owned();
        let desc = sort.get("direction").and_then(Value::as_i64) == Some(-1);
        found.sort_by(|a, b| {
            let o = user_field(a, &field).map(|v| v.to_string()).cmp(&user_field(b, &field).map(|v| v.to_string()));
            if desc { o.reverse() } else { o }
        });
    }
    let users: Vec<Value> = found.into_iter().skip(offset).take(limit).map(user_json).collect();
    Ok(ok(json!({ "users": users })))
}

/// The ids a filter's top level requires (`"id": x`, `{"$eq": x}` or `{"$in": [...]}`), in the
/// order the app keeps its users: every match is one of them.
fn required_ids(filter: &Map<String, Value>) -> Option<BTreeSet<&str>> {
    let ids: Vec<&Value> = match filter.get("id")? {
        one @ Value::String(_) => vec![one],
        Value::Object(ops) if ops.len() == 1 => match ops.iter().next()? {
            (op, v) if op == "$eq" => vec![v],
            (op, Value::Array(vs)) if op == "$in" => vs.iter().collect(),
            _ => return None,
        },
        _ => return None,
    };
    ids.into_iter().map(Value::as_str).collect()
}

/// With multi-tenancy, a user-token caller sees only users sharing one of its teams.
fn visible_teams(app: &App, caller: &Caller) -> Option<Vec<String>> {
    match caller {
        Caller::User(me) if app.multi_tenant_enabled => {
            Some(app.users.get(me).map(|u| u.teams.clone()).unwrap_or_default())
        }
        _ => None,
    }
}

/// `DELETE /users/{id}?hard_delete=`.
pub async fn delete_one(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult {
    server_only(&caller)?;
    let hard = params.get("hard_delete").is_some_and(|v| v == "true");
    let mut app = lock(&s.app);
    let user = delete_user(&mut app, &id, hard).ok_or_else(|| ApiError::not_found(format!("user {id} not found")))?;
    Ok(ok(json!({ "user": user_json(&user) })))
}

fn delete_user(app: &mut App, id: &str, hard: bool) -> Option<UserRec> {
    if hard {
        return app.users.remove(id).map(|mut u| {
            u.deleted_at = Some(Utc::now());
            u
        });
    }
    let user = app.users.get_mut(id).filter(|u| u.deleted_at.is_none())?;
    user.deleted_at = Some(Utc::now());
    Some(user.clone())
}

/// A deletion mode of `POST /users/delete`: `user`, `messages` or `conversations`.
fn mode(body: &Map<String, Value>, field: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(m)) if allowed.contains(&m.as_str()) => Ok(Some(m.clone())),
        Some(other) => Err(ApiError::input_field(field, format!("{field} must be one of {allowed:?}, not {other}"))),
    }
}

/// `POST /users/delete {"user_ids": [1..100], "user": "soft"|"pruning"|"hard",
/// "messages"?: "soft"|"pruning"|"hard", "conversations"?: "soft"|"hard"}` → a task. A hard user
/// delete needs hard `messages` and `conversations` (Stream refuses it otherwise); `conversations`
/// deletes every channel the user is a member of, `messages` the messages they sent.
pub async fn delete_many(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    server_only(&caller)?;
    let body = body_object(&body)?;
    let ids: Vec<String> = body
        .get("user_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > MAX_USERS_PER_CALL {
        return Err(ApiError::input_field("user_ids", format!("send between 1 and {MAX_USERS_PER_CALL} user ids")));
    }
    let user = mode(&body, "user", &["soft", "pruning", "hard"])?.unwrap_or_else(|| "soft".to_owned());
    let messages = mode(&body, "messages", &["soft", "pruning", "hard"])?;
    let conversations = mode(&body, "conversations", &["soft", "hard"])?;
    if user == "hard" && (messages.as_deref() != Some("hard") || conversations.as_deref() != Some("hard")) {
        return Err(ApiError::input("a hard user delete requires messages and conversations to be hard deleted too"));
    }
    let mut app = lock(&s.app);
    let outcome = if s.task_fails() {
        Err("the task failed (injected): nothing was deleted".to_owned())
    } else {
        let mut result = Map::new();
        for id in ids {
            if let Some(how) = &conversations {
                delete_conversations(&mut app, &id, how == "hard");
            }
            if let Some(how) = &messages {
                delete_messages(&mut app, &id, how != "soft");
            }
            let status = if delete_user(&mut app, &id, user == "hard").is_some() { "ok" } else { "error" };
            result.insert(id, json!({ "status": status }));
        }
        Ok(result)
    };
    let task_id = uuid::Uuid::new_v4().to_string();
    app.tasks.insert(task_id.clone(), TaskRec { created_at: Utc::now(), polls: 0, outcome });
    Ok(created(json!({ "task_id": task_id })))
}

/// Deletes every channel the user is a member of.
fn delete_conversations(app: &mut App, user: &str, hard: bool) {
    let now = Utc::now();
    let cids: Vec<String> = app.channels.values().filter(|c| c.has_member(user)).map(|c| c.cid()).collect();
    for cid in cids {
        if hard {
            if let Some(c) = app.remove_channel(&cid) {
                for m in &c.messages {
                    app.message_ids.remove(&m.id);
                }
            }
        } else if let Some(c) = app.channels.get_mut(&cid) {
            c.deleted_at.get_or_insert(now);
        }
    }
}

/// Deletes the messages the user sent: removed when hard or pruned, marked `deleted` when soft.
fn delete_messages(app: &mut App, user: &str, remove: bool) {
    for c in app.channels.values_mut() {
        if remove {
            c.messages.retain(|m| m.user_id != user);
        } else {
            for m in c.messages.iter_mut().filter(|m| m.user_id == user) {
                m.kind = "deleted".to_owned();
            }
        }
    }
}
