//! Channels: get-or-create, update (members, data, message) and partial update; removing them
//! is in [`super::removal`].

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::messages::{append_message, check_sender};
use super::paths::{set_path, unset_path};
use super::{
    ApiResult, body_object, can_see, channel_json, check_channel_part, check_user_id, created, member_json,
    message_json, ok, server_only,
};
use super::{live_channel, missing, state_json};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{App, ChannelRec, MemberRec};
use crate::state::{Shared, lock};

/// Most members per create, add or remove; most cids per batch delete.
pub const MAX_PER_CALL: usize = 100;
/// Keys of `data`/`set` that are not the client's to write.
const RESERVED: &[&str] = &[
    "id",
    "type",
    "cid",
    "created_at",
    "updated_at",
    "deleted_at",
    "last_message_at",
    "member_count",
    "config",
    "created_by",
];

pub(super) fn cid_of(kind: &str, id: &str) -> Result<String, ApiError> {
    check_channel_part(kind, "type")?;
    check_channel_part(id, "id")?;
    Ok(format!("{kind}:{id}"))
}

/// Member ids from `["a", {"user_id": "b", "channel_role": "…"}]`. Plain ids are taken, and
/// counted where members are added (Stream's own SDK always sends objects there; it removes by
/// id).
fn member_list(s: &Shared, v: Option<&Value>, field: &str) -> Result<Vec<(String, String)>, ApiError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let items = v.as_array().ok_or_else(|| ApiError::input_field(field, format!("{field} must be an array")))?;
    if items.len() > MAX_PER_CALL {
        return Err(ApiError::input_field(field, format!("at most {MAX_PER_CALL} members per call")));
    }
    if field != "remove_members" {
        s.count_members_as_ids(items.iter().filter(|i| i.is_string()).count());
    }
    items
        .iter()
        .map(|item| {
            let (id, role) = match item {
                Value::String(s) => (s.clone(), None),
                Value::Object(o) => (
                    o.get("user_id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    o.get("channel_role").and_then(Value::as_str).map(str::to_owned),
                ),
                _ => (String::new(), None),
            };
            check_user_id(&id, field)?;
            Ok((id, role.unwrap_or_else(|| "channel_member".to_owned())))
        })
        .collect()
}

/// Every user must exist; with `--strict-team-members`, be in the channel's team too.
fn check_members(
    s: &Shared,
    app: &App,
    team: Option<&str>,
    members: &[(String, String)],
    field: &str,
) -> Result<(), ApiError> {
    for (id, _) in members {
        let user = app.users.get(id).filter(|u| u.deleted_at.is_none());
        let user = user.ok_or_else(|| ApiError::input(format!("could not find user {id} from {field}")))?;
        if let (true, Some(team)) = (s.settings.strict_team_members && app.multi_tenant_enabled, team)
            && !user.teams.iter().any(|t| t == team)
        {
            return Err(ApiError::forbidden(format!("user {id} is not a member of team {team:?}")));
        }
    }
    Ok(())
}

/// Adds the members not in the channel yet; `hide_before` hides earlier history from them.
/// Members who join as a channel is made join when it is made.
fn add_members(channel: &mut ChannelRec, members: Vec<(String, String)>, hide_before: Option<DateTime<Utc>>) {
    let now = if channel.members.is_empty() && channel.messages.is_empty() { channel.created_at } else { Utc::now() };
    for (user_id, channel_role) in members {
        if !channel.has_member(&user_id) {
            channel
                .members
                .push(MemberRec { hide_messages_before: hide_before, ..MemberRec::new(user_id, channel_role, now) });
        }
    }
}

/// `hide_history: true` (nothing before joining) or `hide_history_before: <time>` of an update
/// that adds members.
fn history_hidden_before(body: &Map<String, Value>) -> Result<Option<DateTime<Utc>>, ApiError> {
    if body.get("hide_history").and_then(Value::as_bool) == Some(true) {
        return Ok(Some(Utc::now()));
    }
    match body.get("hide_history_before") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| Some(t.with_timezone(&Utc)))
            .ok_or_else(|| {
                ApiError::input_field("hide_history_before", "hide_history_before must be an RFC 3339 time")
            }),
    }
}

fn refuse_reserved(map: &Map<String, Value>) -> Result<(), ApiError> {
    match map.keys().find(|k| RESERVED.contains(&k.as_str())) {
        Some(k) => Err(ApiError::forbidden(format!("{k} is a reserved field and cannot be changed"))),
        None => Ok(()),
    }
}

/// `POST /channels/{type}/{id}/query`: returns the channel, creating it from `data` when it does
/// not exist (or was soft-deleted: it comes back empty). `data` is ignored for existing channels.
pub async fn get_or_create(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let cid = cid_of(&kind, &id)?;
    let body = body_object(&body)?;
    get_or_create_at(&s, &caller, &kind, &id, &cid, &body, false)
}

/// `POST /channels/{type}/query` without an id: the distinct channel of exactly `data.members`
/// (a user token's own user among them), under an id generated from them (`!members-…`), the
/// same for the same members; made the first time.
pub async fn get_or_create_distinct(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(kind): Path<String>,
    body: Bytes,
) -> ApiResult {
    check_channel_part(&kind, "type")?;
    let body = body_object(&body)?;
    let data = body.get("data").and_then(Value::as_object);
    let mut members: Vec<String> =
        member_list(&s, data.and_then(|d| d.get("members")), "members")?.into_iter().map(|(u, _)| u).collect();
    if let Caller::User(me) = &caller
        && !members.contains(me)
    {
        members.push(me.clone());
    }
    members.sort();
    members.dedup();
    if members.is_empty() {
        return Err(ApiError::input_field("members", "a channel without an id needs its members"));
    }
    let digest = Sha256::digest(format!("{kind}\n{}", members.join("\n")).as_bytes());
    let id = format!("!members-{}", &hex::encode(digest)[..43]);
    let cid = format!("{kind}:{id}");
    get_or_create_at(&s, &caller, &kind, &id, &cid, &body, true)
}

/// Returns channel `cid`, made from `body.data` when it does not exist (`generated`: its id is
/// one Stream generates).
fn get_or_create_at(
    s: &Shared,
    caller: &Caller,
    kind: &str,
    id: &str,
    cid: &str,
    body: &Map<String, Value>,
    generated: bool,
) -> ApiResult {
    if body.get("watch") != Some(&Value::Bool(false)) {
        s.count_watching();
    }
    let mut app = lock(&s.app);
    let exists = app.channels.get(cid).is_some_and(|c| c.deleted_at.is_none());
    if !exists {
        let data = body.get("data").and_then(Value::as_object).cloned().unwrap_or_default();
        let channel = new_channel(s, &app, caller, kind, id, data, generated)?;
        app.insert_channel(channel);
    }
    let channel = app.channels.get(cid).ok_or_else(|| missing(cid))?;
    can_see(&app, caller, channel)?;
    Ok(created(state_json(&app, caller, channel, body.get("messages"), body.get("members"))?))
}

fn new_channel(
    s: &Shared,
    app: &App,
    caller: &Caller,
    kind: &str,
    id: &str,
    mut data: Map<String, Value>,
    generated: bool,
) -> Result<ChannelRec, ApiError> {
    if id.starts_with('!') && !generated {
        return Err(ApiError::input_field("id", "channel ids starting with ! are reserved for ids Stream generates"));
    }
    let created_by = data
        .remove("created_by_id")
        .and_then(|v| v.as_str().map(str::to_owned))
        .or_else(|| data.remove("created_by").and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned)));
    let created_by = match caller {
        Caller::User(me) => me.clone(),
        Caller::Server => created_by.ok_or_else(|| {
            ApiError::input(
                "either data.created_by or data.created_by_id must be provided when using server side auth.",
            )
        })?,
    };
    if !app.users.contains_key(&created_by) {
        return Err(ApiError::input(format!("could not find user {created_by} from created_by")));
    }
    refuse_reserved(&data)?;
    let team = match data.remove("team") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if !t.is_empty() && t.len() <= 100 => Some(t),
        Some(_) => return Err(ApiError::input_field("team", "team must be a non-empty string of at most 100 bytes")),
    };
    if let (Caller::User(me), true) = (caller, app.multi_tenant_enabled) {
        let mine = app.users.get(me).map(|u| u.teams.clone()).unwrap_or_default();
        if team.as_ref().is_some_and(|t| !mine.contains(t)) || (team.is_none() && !mine.is_empty()) {
            return Err(ApiError::forbidden(format!(
                "user from teams {mine:?} cannot create a channel for team {:?}",
                team.clone().unwrap_or_default()
            )));
        }
    }
    let members = member_list(s, data.remove("members").as_ref(), "members")?;
    check_members(s, app, team.as_deref(), &members, "members")?;
    let frozen = data.remove("frozen").and_then(|v| v.as_bool()).unwrap_or(false);
    let now = Utc::now();
    let mut channel = ChannelRec {
        kind: kind.to_owned(),
        id: id.to_owned(),
        team,
        frozen,
        created_by_id: Some(created_by),
        created_at: now,
        updated_at: now,
        deleted_at: None,
        custom: data,
        members: Vec::new(),
        hidden_for: BTreeSet::new(),
        messages: Vec::new(),
    };
    add_members(&mut channel, members, None);
    Ok(channel)
}

/// `POST /channels/{type}/{id}`: full `data` update, `add_members`, `remove_members`, `message`.
pub async fn update(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let cid = cid_of(&kind, &id)?;
    let body = body_object(&body)?;
    let mut app = lock(&s.app);
    let mut channel = live_channel(&mut app, &caller, &cid)?.clone();
    if channel.frozen && caller != Caller::Server {
        return Err(ApiError::forbidden("channel is frozen"));
    }
    if let Some(data) = body.get("data") {
        // A full update replaces the channel's data: what it does not carry is removed, team and
        // frozen included (Stream: "any data … not included in a full update will be deleted").
        let mut data =
            data.as_object().cloned().ok_or_else(|| ApiError::input_field("data", "data must be an object"))?;
        refuse_reserved(&data)?;
        let team = match data.remove("team") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if !t.is_empty() && t.len() <= 100 => Some(t),
            Some(_) => {
                return Err(ApiError::input_field("team", "team must be a non-empty string of at most 100 bytes"));
            }
        };
        if team != channel.team && caller != Caller::Server {
            return Err(ApiError::forbidden("changing channel team is not allowed client-side"));
        }
        channel.team = team;
        channel.frozen = match data.remove("frozen") {
            None | Some(Value::Null) => false,
            Some(v) => v.as_bool().ok_or_else(|| ApiError::input_field("frozen", "frozen must be a boolean"))?,
        };
        data.remove("members");
        channel.custom = data;
    }
    let add = member_list(&s, body.get("add_members"), "add_members")?;
    check_members(&s, &app, channel.team.as_deref(), &add, "add_members")?;
    let remove = member_list(&s, body.get("remove_members"), "remove_members")?;
    add_members(&mut channel, add, history_hidden_before(&body)?);
    channel.members.retain(|m| !remove.iter().any(|(r, _)| *r == m.user_id));
    // What a removed member had of the channel (hiding it) goes with them.
    channel.hidden_for.retain(|u| !remove.iter().any(|(r, _)| r == u));
    for (user, role) in member_list(&s, body.get("assign_roles"), "assign_roles")? {
        let member = channel.members.iter_mut().find(|m| m.user_id == user);
        let member = member
            .ok_or_else(|| ApiError::input_field("assign_roles", format!("user {user} is not a member of {cid}")))?;
        member.channel_role = role;
    }
    let mut reply = Map::new();
    if let Some(message) = body.get("message") {
        s.count_send(false, body.get("skip_push").and_then(Value::as_bool).unwrap_or(false), false);
        let message =
            message.as_object().ok_or_else(|| ApiError::input_field("message", "message must be an object"))?;
        let sender = check_sender(&mut app, &caller, message)?;
        let sent = append_message(&mut app.message_ids, &mut channel, &sender, message)?;
        if sent.command.is_some() {
            s.count_command();
        }
        if body.get("keep_channel_hidden").and_then(Value::as_bool) != Some(true) {
            channel.hidden_for.clear();
        }
        reply.insert("message".into(), message_json(&app, &channel, &sent));
    }
    channel.updated_at = Utc::now();
    reply.insert("channel".into(), channel_json(&channel));
    reply.insert(
        "members".into(),
        json!(channel.members.iter().rev().map(|m| member_json(&app, m)).collect::<Vec<_>>()),
    );
    app.insert_channel(channel);
    Ok(created(Value::Object(reply)))
}

/// `PATCH /channels/{type}/{id}` with `set` and `unset`.
pub async fn update_partial(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let cid = cid_of(&kind, &id)?;
    let body = body_object(&body)?;
    let set = body.get("set").and_then(Value::as_object).cloned().unwrap_or_default();
    let unset: Vec<String> = body
        .get("unset")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    refuse_reserved(&set)?;
    if unset.iter().any(|k| RESERVED.contains(&k.as_str())) {
        return Err(ApiError::forbidden("reserved fields cannot be unset"));
    }
    let mut app = lock(&s.app);
    let channel = live_channel(&mut app, &caller, &cid)?;
    if channel.frozen && caller != Caller::Server && !set.contains_key("frozen") {
        return Err(ApiError::forbidden("channel is frozen"));
    }
    let mut next = channel.clone();
    for (k, v) in set {
        match k.as_str() {
            "team" => {
                if caller != Caller::Server {
                    return Err(ApiError::forbidden("changing channel team is not allowed client-side"));
                }
                next.team = v.as_str().map(str::to_owned);
            }
            "frozen" => {
                next.frozen = v.as_bool().ok_or_else(|| ApiError::input_field("frozen", "frozen must be a boolean"))?
            }
            _ => set_path(&mut next.custom, &k, v),
        }
    }
    for k in unset {
        match k.as_str() {
            "team" => {
                server_only(&caller)?;
                next.team = None;
            }
            "frozen" => next.frozen = false,
            _ => unset_path(&mut next.custom, &k),
        }
    }
    next.updated_at = Utc::now();
    let channel = next.clone();
    app.insert_channel(next);
    let members: Vec<Value> = channel.members.iter().map(|m| member_json(&app, m)).collect();
    Ok(ok(json!({ "channel": channel_json(&channel), "members": members })))
}
