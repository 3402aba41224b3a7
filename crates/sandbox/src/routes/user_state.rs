//! A user's standing and what waits for them, as Stream's server SDK uses them: deactivate
//! (`POST /users/{id}/deactivate`: kept, but cannot write, and left out of user queries unless
//! they ask for deactivated users) and reactivate (`POST /users/{id}/reactivate`), and unread
//! counts (`GET /unread?user_id=` server-side, or for a user token's own user).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use chrono::Utc;
use serde_json::{Value, json};

use super::{ApiResult, created, ok, server_only, user_json};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::fmt_time;
use crate::state::{Shared, lock};

/// Sets or clears a user's deactivation.
fn set_deactivated(s: &Shared, caller: &Caller, id: &str, deactivated: bool) -> ApiResult {
    server_only(caller)?;
    let mut app = lock(&s.app);
    let user = app
        .users
        .get_mut(id)
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found(format!("user {id} does not exist")))?;
    user.deactivated_at = if deactivated { Some(user.deactivated_at.unwrap_or_else(Utc::now)) } else { None };
    user.updated_at = Utc::now();
    Ok(created(json!({ "user": user_json(user) })))
}

/// `POST /users/{id}/deactivate`. Deactivating again keeps the first time.
pub async fn deactivate(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    set_deactivated(&s, &caller, &id, true)
}

/// `POST /users/{id}/reactivate`.
pub async fn reactivate(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    set_deactivated(&s, &caller, &id, false)
}

/// `GET /unread?user_id=`: the user's unread messages in all, and per channel they are a member
/// of (those with none left out), as each channel's read state counts them.
pub async fn unread(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let user = match (&caller, query.get("user_id")) {
        (Caller::User(me), _) => me.clone(),
        (Caller::Server, Some(user)) => user.clone(),
        (Caller::Server, None) => {
            return Err(ApiError::input_field("user_id", "user_id is required when using server side auth"));
        }
    };
    let app = lock(&s.app);
    if !app.users.contains_key(&user) {
        return Err(ApiError::not_found(format!("user {user} does not exist")));
    }
    let mut total = 0;
    let mut channels: Vec<Value> = Vec::new();
    for c in app.channels.values().filter(|c| c.deleted_at.is_none()) {
        let Some(member) = c.members.iter().find(|m| m.user_id == user) else { continue };
        let unread = c.unread_for(member);
        if unread == 0 {
            continue;
        }
        total += unread;
        let last_read = fmt_time(member.last_read.unwrap_or(member.created_at));
        channels.push(json!({ "channel_id": c.cid(), "unread_count": unread, "last_read": last_read }));
    }
    Ok(ok(json!({ "total_unread_count": total, "channels": channels, "threads": [] })))
}
