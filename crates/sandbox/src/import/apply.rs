//! Applying an analysed import to the app: every object with its own times. `upsert` overwrites
//! what exists (a listed field wins, an omitted `frozen` or `disabled` falls back to false, and
//! custom fields are replaced, or merged with `merge_custom`); `insert` leaves what exists alone.
//! Messages take their place in their channel by `created_at`; a member's `last_read`,
//! `hide_channel` and `hide_messages_before` become their read position, hidden flag and cleared
//! history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::analyze::Item;
use crate::model::{App, ChannelRec, MemberRec, MessageRec, ReactionRec, UserRec, fmt_time};

/// Channel fields that are not custom data.
const CHANNEL_FIELDS: &[&str] =
    &["id", "type", "created_by", "team", "frozen", "disabled", "created_at", "truncated_at", "member_ids"];
/// Message fields kept outside custom data.
const MESSAGE_FIELDS: &[&str] = &["id", "channel_type", "channel_id", "user", "type", "text", "created_at"];

fn time(data: &Map<String, Value>, field: &str) -> Option<DateTime<Utc>> {
    let t = data.get(field)?.as_str()?;
    DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc))
}

fn string(data: &Map<String, Value>, field: &str) -> String {
    data.get(field).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn custom(data: &Map<String, Value>, own: &[&str]) -> Map<String, Value> {
    data.iter().filter(|(k, _)| !own.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// How existing objects are treated.
#[derive(Debug, Clone, Copy)]
struct Mode {
    upsert: bool,
    merge_custom: bool,
}

impl Mode {
    fn custom(self, into: &mut Map<String, Value>, from: Map<String, Value>) {
        if !self.merge_custom {
            into.clear();
        }
        into.extend(from);
    }
}

/// Applies `items` (analysed clean against this app); returns how many items of each type were
/// applied.
pub fn apply(app: &mut App, items: Vec<Item>, upsert: bool, merge_custom: bool) -> BTreeMap<&'static str, usize> {
    let mode = Mode { upsert, merge_custom };
    let mut counts = BTreeMap::new();
    for item in items {
        let kind = match item {
            Item::User(data) => user(app, &data, mode).then_some("user"),
            Item::Channel(data) => channel(app, &data, mode).then_some("channel"),
            Item::Member(data) => member(app, &data, mode).then_some("member"),
            Item::Message(data) => message(app, data, mode).then_some("message"),
            Item::Reaction(data) => reaction(app, &data).then_some("reaction"),
            Item::Ignored => None,
        };
        if let Some(kind) = kind {
            *counts.entry(kind).or_default() += 1;
        }
    }
    counts
}

fn user(app: &mut App, data: &Map<String, Value>, mode: Mode) -> bool {
    let id = string(data, "id");
    let now = Utc::now();
    let teams: Vec<String> = data
        .get("teams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let own = ["id", "teams", "role", "created_at", "updated_at", "deactivated_at", "deleted_at", "teams_role"];
    match app.users.get_mut(&id) {
        Some(_) if !mode.upsert => return false,
        Some(u) => {
            u.teams = teams;
            if let Some(role) = data.get("role").and_then(Value::as_str) {
                u.role = role.to_owned();
            }
            mode.custom(&mut u.custom, custom(data, &own));
            u.deactivated_at = time(data, "deactivated_at");
            u.updated_at = now;
        }
        None => {
            let rec = UserRec {
                id: id.clone(),
                role: data.get("role").and_then(Value::as_str).unwrap_or("user").to_owned(),
                teams,
                created_at: time(data, "created_at").unwrap_or(now),
                updated_at: now,
                deleted_at: time(data, "deleted_at"),
                deactivated_at: time(data, "deactivated_at"),
                custom: custom(data, &own),
            };
            app.users.insert(id, rec);
        }
    }
    true
}

fn channel(app: &mut App, data: &Map<String, Value>, mode: Mode) -> bool {
    let (kind, id) = (string(data, "type"), string(data, "id"));
    let cid = format!("{kind}:{id}");
    let now = Utc::now();
    let existing = app.channels.get(&cid).filter(|c| c.deleted_at.is_none()).cloned();
    if existing.is_some() && !mode.upsert {
        return false;
    }
    let mut rec = existing.unwrap_or_else(|| ChannelRec {
        kind,
        id,
        team: None,
        frozen: false,
        created_by_id: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        custom: Map::new(),
        members: Vec::new(),
        hidden_for: Default::default(),
        messages: Vec::new(),
    });
    rec.team = data.get("team").and_then(Value::as_str).map(str::to_owned);
    rec.frozen = data.get("frozen").and_then(Value::as_bool).unwrap_or(false);
    rec.created_by_id = Some(string(data, "created_by"));
    rec.created_at = time(data, "created_at").unwrap_or(rec.created_at);
    rec.updated_at = now;
    let mut fields = custom(data, CHANNEL_FIELDS);
    if data.get("disabled").and_then(Value::as_bool) == Some(true) {
        fields.insert("disabled".into(), json!(true));
    }
    mode.custom(&mut rec.custom, fields);
    app.insert_channel(rec);
    true
}

fn member(app: &mut App, data: &Map<String, Value>, mode: Mode) -> bool {
    let cid = format!("{}:{}", string(data, "channel_type"), string(data, "channel_id"));
    let user = string(data, "user_id");
    let Some(channel) = app.channels.get_mut(&cid) else { return false };
    let at = match channel.members.iter().position(|m| m.user_id == user) {
        Some(_) if !mode.upsert => return false,
        Some(at) => at,
        None => {
            channel.members.push(MemberRec::new(user.clone(), "channel_member", channel.created_at));
            channel.members.len() - 1
        }
    };
    let m = &mut channel.members[at];
    m.channel_role = data.get("channel_role").and_then(Value::as_str).unwrap_or("channel_member").to_owned();
    m.created_at = time(data, "created_at").unwrap_or(m.created_at);
    m.last_read = time(data, "last_read");
    m.last_read_message_id = None;
    m.hide_messages_before = time(data, "hide_messages_before");
    if data.get("hide_channel").and_then(Value::as_bool) == Some(true) {
        channel.hidden_for.insert(user);
    } else {
        channel.hidden_for.remove(&user);
    }
    true
}

fn message(app: &mut App, data: Map<String, Value>, mode: Mode) -> bool {
    let cid = format!("{}:{}", string(&data, "channel_type"), string(&data, "channel_id"));
    let id = string(&data, "id");
    if app.message_ids.contains_key(&id) && !mode.upsert {
        return false;
    }
    let mut fields = custom(&data, MESSAGE_FIELDS);
    // The import's names for what a sent message calls `mentioned_users` and `pinned_by`.
    if let Some(mentions) = fields.remove("mentioned_users_ids") {
        fields.insert("mentioned_users".into(), mentions);
    }
    if let Some(by) = fields.remove("pinned_by_id") {
        fields.insert("pinned".into(), json!(true));
        fields.insert("pinned_by".into(), json!({ "id": by }));
        if let Some(at) = time(&fields, "pinned_at") {
            fields.insert("pinned_at".into(), json!(fmt_time(at)));
        }
    }
    let rec = MessageRec {
        id: id.clone(),
        user_id: string(&data, "user"),
        text: string(&data, "text"),
        kind: data.get("type").and_then(Value::as_str).unwrap_or("regular").to_owned(),
        created_at: time(&data, "created_at").unwrap_or_else(Utc::now),
        command: None,
        reactions: Vec::new(),
        custom: fields,
    };
    // A message upserted into another channel leaves its old place.
    if let Some(previous) = app.message_ids.get(&id).cloned()
        && let Some(c) = app.channels.get_mut(&previous)
    {
        c.messages.retain(|m| m.id != id);
    }
    let Some(channel) = app.channels.get_mut(&cid) else { return false };
    let at = channel.messages.partition_point(|m| m.created_at <= rec.created_at);
    channel.messages.insert(at, rec);
    app.message_ids.insert(id, cid);
    true
}

fn reaction(app: &mut App, data: &Map<String, Value>) -> bool {
    let id = string(data, "message_id");
    let Some(cid) = app.message_ids.get(&id).cloned() else { return false };
    let Some(m) = app.channels.get_mut(&cid).and_then(|c| c.messages.iter_mut().find(|m| m.id == id)) else {
        return false;
    };
    let rec = ReactionRec {
        kind: string(data, "type"),
        user_id: string(data, "user_id"),
        score: data.get("score").and_then(Value::as_u64).unwrap_or(1),
        created_at: time(data, "created_at").unwrap_or_else(Utc::now),
        custom: custom(data, &["message_id", "type", "user_id", "score", "created_at"]),
    };
    m.reactions.retain(|r| !(r.kind == rec.kind && r.user_id == rec.user_id));
    let at = m.reactions.partition_point(|r| r.created_at <= rec.created_at);
    m.reactions.insert(at, rec);
    true
}
