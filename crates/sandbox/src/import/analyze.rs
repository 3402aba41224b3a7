//! The analysis of an import file: JSON Lines of `{"type", "data"}`, items in Stream's order,
//! every field of the documented format checked for its form, and every reference (a member's
//! channel and user, a message's sender, thread and quote, a reaction's message) found in the
//! file or in the app. Under multi-tenancy a member's user must be in the channel's team.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::model::App;
use crate::routes::{check_channel_part, check_user_id};

/// Item types in the order a file must list them.
const ORDER: &[&str] = &["user", "device", "future_channel_ban", "channel", "member", "message", "reaction"];
/// Message types an import may hold.
const MESSAGE_TYPES: &[&str] = &["regular", "reply", "deleted", "system"];
/// The fields a pinned message carries together.
const PIN_FIELDS: &[&str] = &["pinned_at", "pinned_by_id", "pin_expires"];
/// Attachment fields that are URLs.
const URL_FIELDS: &[&str] = &["image_url", "thumb_url", "asset_url", "og_scrape_url", "title_link"];
/// Errors reported at most: past them the analysis stops.
const MAX_ERRORS: usize = 50;

/// One item of a file that analysed clean.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A user.
    User(Map<String, Value>),
    /// A channel.
    Channel(Map<String, Value>),
    /// A channel member.
    Member(Map<String, Value>),
    /// A message.
    Message(Map<String, Value>),
    /// A reaction.
    Reaction(Map<String, Value>),
    /// A device or future channel ban: checked, not kept.
    Ignored,
}

/// What the file defines so far, beside what the app holds.
struct Known<'a> {
    app: &'a App,
    /// User id → teams.
    users: HashMap<String, Vec<String>>,
    /// Cid → team.
    channels: HashMap<String, Option<String>>,
    /// Message id → (cid, is a reply).
    messages: HashMap<String, (String, bool)>,
}

impl Known<'_> {
    fn user_teams(&self, id: &str) -> Option<Vec<String>> {
        self.users
            .get(id)
            .cloned()
            .or_else(|| self.app.users.get(id).filter(|u| u.deleted_at.is_none()).map(|u| u.teams.clone()))
    }

    fn channel_team(&self, cid: &str) -> Option<Option<String>> {
        self.channels
            .get(cid)
            .cloned()
            .or_else(|| self.app.channels.get(cid).filter(|c| c.deleted_at.is_none()).map(|c| c.team.clone()))
    }

    /// The message's channel and whether it is a reply.
    fn message(&self, id: &str) -> Option<(String, bool)> {
        self.messages.get(id).cloned().or_else(|| {
            let cid = self.app.message_ids.get(id)?;
            let m = self.app.channels.get(cid)?.messages.iter().find(|m| m.id == id)?;
            Some((cid.clone(), m.parent_id().is_some()))
        })
    }

    fn user(&self, data: &Map<String, Value>, field: &str) -> Result<String, String> {
        let id = text(data, field).ok_or_else(|| format!("{field} is required"))?;
        self.user_teams(id).ok_or_else(|| format!("{field} {id:?} is neither in the file nor in the app"))?;
        Ok(id.to_owned())
    }
}

fn text<'a>(data: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    data.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// An RFC 3339 time, when the field is there (and not null).
fn time(data: &Map<String, Value>, field: &str, required: bool) -> Result<Option<DateTime<Utc>>, String> {
    match data.get(field) {
        None | Some(Value::Null) if required => Err(format!("{field} is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| format!("{field} {s:?} is not an RFC 3339 time: {e}")),
        Some(other) => Err(format!("{field} must be an RFC 3339 time, not {other}")),
    }
}

fn flag(data: &Map<String, Value>, field: &str) -> Result<(), String> {
    match data.get(field) {
        None | Some(Value::Null | Value::Bool(_)) => Ok(()),
        Some(other) => Err(format!("{field} must be a boolean, not {other}")),
    }
}

fn user_list(known: &Known, data: &Map<String, Value>, field: &str) -> Result<(), String> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(ids)) => ids.iter().try_for_each(|id| match id.as_str() {
            Some(id) if known.user_teams(id).is_some() => Ok(()),
            _ => Err(format!("{field} names {id}, which is neither in the file nor in the app")),
        }),
        Some(other) => Err(format!("{field} must be a list of user ids, not {other}")),
    }
}

fn cid_of(known: &Known, data: &Map<String, Value>) -> Result<String, String> {
    let kind = text(data, "channel_type").ok_or("channel_type is required")?;
    let id = text(data, "channel_id").ok_or("channel_id is required")?;
    let cid = format!("{kind}:{id}");
    known.channel_team(&cid).ok_or_else(|| format!("channel {cid} is neither in the file nor in the app"))?;
    Ok(cid)
}

fn user(known: &mut Known, data: &Map<String, Value>) -> Result<(), String> {
    let id = text(data, "id").ok_or("id is required")?;
    check_user_id(id, "id").map_err(|e| e.reason)?;
    let teams = match data.get("teams") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(t)) if t.iter().all(Value::is_string) => {
            t.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        Some(other) => return Err(format!("teams must be a list of strings, not {other}")),
    };
    for field in ["created_at", "deactivated_at", "deleted_at"] {
        time(data, field, false)?;
    }
    known.users.insert(id.to_owned(), teams);
    Ok(())
}

fn channel(known: &mut Known, data: &Map<String, Value>) -> Result<(), String> {
    if data.contains_key("member_ids") && !data.contains_key("id") {
        return Err("distinct channels by member_ids are not imported by the sandbox: give an id".into());
    }
    let kind = text(data, "type").ok_or("type is required")?;
    let id = text(data, "id").ok_or("id is required")?;
    check_channel_part(kind, "type").map_err(|e| e.reason)?;
    check_channel_part(id, "id").map_err(|e| e.reason)?;
    known.user(data, "created_by")?;
    let team = match data.get("team") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(other) => return Err(format!("team must be a string, not {other}")),
    };
    flag(data, "frozen")?;
    flag(data, "disabled")?;
    time(data, "created_at", false)?;
    time(data, "truncated_at", false)?;
    known.channels.insert(format!("{kind}:{id}"), team);
    Ok(())
}

fn member(known: &Known, data: &Map<String, Value>, multi_tenant: bool) -> Result<(), String> {
    let cid = cid_of(known, data)?;
    let user = known.user(data, "user_id")?;
    if multi_tenant
        && let Some(Some(team)) = known.channel_team(&cid)
        && !known.user_teams(&user).unwrap_or_default().contains(&team)
    {
        return Err(format!("user {user} is not in team {team:?} of channel {cid}"));
    }
    for field in ["created_at", "archived_at", "last_read", "hide_messages_before"] {
        time(data, field, false)?;
    }
    flag(data, "hide_channel")
}

fn message(known: &mut Known, data: &Map<String, Value>) -> Result<(), String> {
    let id = text(data, "id").ok_or("id is required")?;
    if id.len() > 255 || id.contains([',', '%']) {
        return Err(format!("message id {id:?} must be at most 255 characters without ',' or '%'"));
    }
    let cid = cid_of(known, data)?;
    if data.contains_key("user_id") && !data.contains_key("user") {
        return Err("the sender's key is user, not user_id".into());
    }
    known.user(data, "user")?;
    let kind = data.get("type").and_then(Value::as_str).unwrap_or("regular");
    if !MESSAGE_TYPES.contains(&kind) {
        return Err(format!("type {kind:?} is not one of {MESSAGE_TYPES:?}"));
    }
    time(data, "created_at", true)?;
    time(data, "deleted_at", false)?;
    let parent = text(data, "parent_id");
    if (kind == "reply") != parent.is_some() {
        return Err("a reply (type reply) needs a parent_id, and only a reply has one".into());
    }
    if let Some(parent) = parent {
        match known.message(parent) {
            Some((parent_cid, false)) if parent_cid == cid => {}
            Some((_, true)) => return Err(format!("parent {parent} is itself a reply")),
            Some(_) => return Err(format!("parent {parent} is in another channel")),
            None => return Err(format!("parent {parent} is neither earlier in the file nor in the app")),
        }
    }
    if let Some(quoted) = text(data, "quoted_message_id")
        && known.message(quoted).is_none()
    {
        return Err(format!("quoted message {quoted} is neither earlier in the file nor in the app"));
    }
    let pin = PIN_FIELDS.iter().filter(|f| data.contains_key(**f)).count();
    if pin != 0 && pin != PIN_FIELDS.len() {
        return Err(format!("a pinned message carries {PIN_FIELDS:?} together"));
    }
    if pin > 0 {
        time(data, "pinned_at", true)?;
        time(data, "pin_expires", false)?;
        known.user(data, "pinned_by_id")?;
    }
    user_list(known, data, "mentioned_users_ids")?;
    user_list(known, data, "restricted_visibility")?;
    attachments(data)?;
    known.messages.insert(id.to_owned(), (cid, parent.is_some()));
    Ok(())
}

fn attachments(data: &Map<String, Value>) -> Result<(), String> {
    let Some(list) = data.get("attachments").filter(|v| !v.is_null()) else { return Ok(()) };
    let list = list.as_array().ok_or("attachments must be a list")?;
    for a in list {
        let a = a.as_object().ok_or("an attachment must be an object")?;
        for field in URL_FIELDS {
            if let Some(u) = a.get(*field).and_then(Value::as_str) {
                let public = url::Url::parse(u).is_ok_and(|u| ["http", "https"].contains(&u.scheme()));
                if !public {
                    return Err(format!("attachment {field} {u:?} is not a public http(s) URL"));
                }
            }
        }
    }
    Ok(())
}

fn reaction(known: &Known, data: &Map<String, Value>) -> Result<(), String> {
    let id = text(data, "message_id").ok_or("message_id is required")?;
    known.message(id).ok_or_else(|| format!("message {id} is neither in the file nor in the app"))?;
    text(data, "type").ok_or("type is required")?;
    known.user(data, "user_id")?;
    time(data, "created_at", true)?;
    Ok(())
}

/// Analyses a file against the app: its items, or every error found (up to fifty), each with
/// its line.
pub fn analyze(app: &App, bytes: &[u8]) -> Result<Vec<Item>, Vec<String>> {
    let mut known = Known { app, users: HashMap::new(), channels: HashMap::new(), messages: HashMap::new() };
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let mut rank = 0;
    let text = String::from_utf8_lossy(bytes);
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        let line_no = n + 1;
        let parsed: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("line {line_no}: not JSON: {e}"));
                continue;
            }
        };
        let Some(kind) = parsed.get("type").and_then(Value::as_str) else {
            errors.push(format!("line {line_no}: no \"type\""));
            continue;
        };
        let Some(data) = parsed.get("data").and_then(Value::as_object) else {
            errors.push(format!("line {line_no}: no \"data\" object (each line is {{\"type\", \"data\"}})"));
            continue;
        };
        let Some(at) = ORDER.iter().position(|k| *k == kind) else {
            errors.push(format!("line {line_no}: unknown item type {kind:?}"));
            continue;
        };
        if at < rank {
            errors.push(format!("line {line_no}: a {kind} item after {} items (the order is {ORDER:?})", ORDER[rank]));
            continue;
        }
        rank = at;
        let checked = match kind {
            "user" => user(&mut known, data).map(|()| Item::User(data.clone())),
            "channel" => channel(&mut known, data).map(|()| Item::Channel(data.clone())),
            "member" => member(&known, data, app.multi_tenant_enabled).map(|()| Item::Member(data.clone())),
            "message" => message(&mut known, data).map(|()| Item::Message(data.clone())),
            "reaction" => reaction(&known, data).map(|()| Item::Reaction(data.clone())),
            _ => known.user(data, "user_id").map(|_| Item::Ignored),
        };
        match checked {
            Ok(item) => items.push(item),
            Err(e) => errors.push(format!("line {line_no}: {kind}: {e}")),
        }
    }
    if items.is_empty() && errors.is_empty() {
        errors.push("the file holds no item".into());
    }
    if errors.is_empty() { Ok(items) } else { Err(errors) }
}
