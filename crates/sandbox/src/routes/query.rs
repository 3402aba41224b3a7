//! `POST /channels`: the channel query. Filters (with Stream's operators), sorts (the default
//! `last_updated`, `created_at`, `updated_at`, `last_message_at`, `member_count`), offset and
//! limit, and for a user token only the channels of the caller's teams. A team's channels newest
//! or oldest first walk the team's index instead of scanning every channel.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use bytes::Bytes;
use chrono::Utc;
use rand::Rng;
use serde_json::{Map, Value, json};

use super::{ApiResult, body_object, bounded, can_see, channel_json, created, object, state_json};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::filter;
use crate::model::{App, ChannelRec, fmt_time};
use crate::state::{Shared, lock};

fn channel_field(c: &ChannelRec, caller: &Caller, field: &str) -> Option<Value> {
    match field {
        "type" => Some(json!(c.kind)),
        "id" => Some(json!(c.id)),
        "cid" => Some(json!(c.cid())),
        "team" => c.team.as_ref().map(|t| json!(t)),
        "frozen" => Some(json!(c.frozen)),
        "members" => Some(json!(c.members.iter().map(|m| m.user_id.as_str()).collect::<Vec<_>>())),
        "created_at" => Some(json!(fmt_time(c.created_at))),
        "updated_at" => Some(json!(fmt_time(c.updated_at))),
        "last_message_at" => c.last_message_at().map(|t| json!(fmt_time(t))),
        "member_count" => Some(json!(c.members.len())),
        "created_by_id" => c.created_by_id.as_ref().map(|b| json!(b)),
        "hidden" => match caller {
            Caller::User(me) => Some(json!(c.hidden_for.contains(me))),
            Caller::Server => Some(json!(false)),
        },
        other => c.custom.get(other).cloned(),
    }
}

/// A sort key of a channel.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Time(Option<chrono::DateTime<Utc>>),
    Count(usize),
}

fn sort_key(c: &ChannelRec, field: &str) -> SortKey {
    match field {
        "created_at" => SortKey::Time(Some(c.created_at)),
        "updated_at" => SortKey::Time(Some(c.updated_at)),
        "last_message_at" => SortKey::Time(c.last_message_at()),
        "member_count" => SortKey::Count(c.members.len()),
        // `last_updated`: the last message's time, or the creation time.
        _ => SortKey::Time(Some(c.last_message_at().unwrap_or(c.created_at))),
    }
}

const SORT_FIELDS: &[&str] = &["last_updated", "created_at", "updated_at", "last_message_at", "member_count"];

/// What a keyset listing's filter pins down: one team and the span of creation times it allows.
struct TeamSpan {
    team: String,
    /// The lowest creation time allowed (`$gte` or `$gt`; the filter itself still decides ties).
    since: Option<chrono::DateTime<Utc>>,
    /// The creation time at which the span ends: past it, nothing can match (`$lt`: at it
    /// already; `$lte`: just after it).
    until: Option<(chrono::DateTime<Utc>, bool)>,
}

impl TeamSpan {
    /// Whether a channel created at `t`, and every one created later, is past the span. Times
    /// compare as the filter sees them: to the microsecond, as they are written.
    fn ended_by(&self, t: chrono::DateTime<Utc>) -> bool {
        let t = chrono::SubsecRound::trunc_subsecs(t, 6);
        match self.until {
            Some((end, inclusive)) => t > end || (!inclusive && t == end),
            None => false,
        }
    }

    /// Whether a channel created at `t`, and every one created earlier, is before the span.
    fn starts_after(&self, t: chrono::DateTime<Utc>) -> bool {
        self.since.is_some_and(|since| chrono::SubsecRound::trunc_subsecs(t, 6) < since)
    }
}

/// The team a filter requires (`"team": "x"` or `{"$eq": "x"}`, at the top or in a top-level
/// `$and`) and the creation times it allows (`$gte`/`$gt`, `$lt`/`$lte`), when it requires one
/// team.
fn team_span(filter: &Map<String, Value>) -> Option<TeamSpan> {
    let mut parts: Vec<&Map<String, Value>> = vec![filter];
    if let Some(Value::Array(items)) = filter.get("$and") {
        parts.extend(items.iter().filter_map(Value::as_object));
    }
    let time = |ops: &Map<String, Value>, op: &str| {
        ops.get(op)
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let mut team = None;
    let mut since = None;
    let mut until: Option<(chrono::DateTime<Utc>, bool)> = None;
    for part in parts {
        match part.get("team") {
            Some(Value::String(t)) => team = Some(t.clone()),
            Some(Value::Object(ops)) => {
                if let Some(Value::String(t)) = ops.get("$eq") {
                    team = Some(t.clone());
                }
            }
            _ => {}
        }
        if let Some(Value::Object(ops)) = part.get("created_at") {
            for op in ["$gte", "$gt"] {
                if let Some(t) = time(ops, op) {
                    since = Some(since.map_or(t, |s: chrono::DateTime<Utc>| s.max(t)));
                }
            }
            for (op, inclusive) in [("$lt", false), ("$lte", true)] {
                if let Some(t) = time(ops, op) {
                    // Several upper bounds: the tightest one ends the span.
                    let tighter = until.is_none_or(|(u, i)| t < u || (t == u && !inclusive && i));
                    if tighter {
                        until = Some((t, inclusive));
                    }
                }
            }
        }
    }
    team.map(|team| TeamSpan { team, since, until })
}

/// A user token may only name teams it is in: Stream answers 403/17 otherwise (seen live).
fn check_named_teams(app: &App, caller: &Caller, filter: &Map<String, Value>) -> Result<(), ApiError> {
    let Caller::User(me) = caller else { return Ok(()) };
    if !app.multi_tenant_enabled {
        return Ok(());
    }
    let mine = app.users.get(me).map(|u| u.teams.clone()).unwrap_or_default();
    for team in filter::named_values(filter, "team") {
        let name = team.as_str().unwrap_or_default();
        if !mine.iter().any(|t| t == name) {
            return Err(ApiError::forbidden(format!(
                "user from teams {mine:?} cannot query a channel for team {name:?}"
            )));
        }
    }
    Ok(())
}

/// `POST /channels`: filter (`$ne`/`$nin` refused), sort (≤ 5 fields, `last_updated` by
/// default; ties by cid, or in a new random order each query with `shuffle_ties`), `limit` ≤ 30,
/// `offset` ≤ 1000.
pub async fn query(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    let body = body_object(&body)?;
    if body.get("watch") != Some(&Value::Bool(false)) {
        s.count_watching();
    }
    let filter = match body.get("filter_conditions") {
        None => Map::new(),
        Some(Value::Object(f)) => f.clone(),
        Some(_) => return Err(ApiError::input_field("filter_conditions", "filter_conditions must be an object")),
    };
    filter::refuse_operators(&filter, &["$ne", "$nin"])?;
    let sort: Vec<(String, bool)> = match body.get("sort") {
        None => vec![("last_updated".to_owned(), true)],
        Some(Value::Array(items)) if items.len() <= 5 => items
            .iter()
            .map(|s| {
                let field = s.get("field").and_then(Value::as_str).unwrap_or_default();
                if !SORT_FIELDS.contains(&field) {
                    return Err(ApiError::input_field("sort", format!("cannot sort by {field:?}")));
                }
                Ok((field.to_owned(), s.get("direction").and_then(Value::as_i64) == Some(-1)))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ApiError::input_field("sort", "sort must be an array of at most 5 fields")),
    };
    let limit = bounded(body.get("limit"), "limit", 10, 30)?;
    let offset = bounded(body.get("offset"), "offset", 0, 1000)?;
    let with_state = body.get("state").and_then(Value::as_bool).unwrap_or(true);
    let message_limit = bounded(body.get("message_limit"), "message_limit", 25, 300)?;
    let member_limit = bounded(body.get("member_limit"), "member_limit", 100, 100)?;

    let app = lock(&s.app);
    check_named_teams(&app, &caller, &filter)?;
    let mut found = Vec::new();
    let oldest_first = sort == [("created_at".to_owned(), false)];
    let newest_first = sort == [("created_at".to_owned(), true)];
    let span = team_span(&filter).filter(|_| (oldest_first || newest_first) && !s.settings.shuffle_ties);
    // A live channel the caller may see and the filter admits.
    let admitted = |c: &ChannelRec| -> Result<bool, ApiError> {
        Ok(c.deleted_at.is_none()
            && can_see(&app, &caller, c).is_ok()
            && filter::matches(&filter, &|f| channel_field(c, &caller, f))?)
    };
    match span {
        // The keyset listing's shape: walk the team's channels in creation order from the lower
        // bound and stop once the page is full or the span has ended, instead of scanning every
        // channel of the app.
        Some(span) if oldest_first => {
            let from = (Some(span.team.clone()), span.since.unwrap_or(chrono::DateTime::<Utc>::MIN_UTC), String::new());
            for (t, created_at, cid) in app.by_team.range(from..) {
                if t.as_deref() != Some(span.team.as_str())
                    || found.len() >= offset + limit
                    || span.ended_by(*created_at)
                {
                    break;
                }
                let Some(c) = app.channels.get(cid) else { continue };
                if admitted(c)? {
                    found.push(c);
                }
            }
        }
        // Newest first (what a listing asks to learn where its span ends): the same walk
        // backwards from the upper bound. Channels created at the same time as the page's last
        // are all taken, so that the sort below picks the right ones by cid.
        Some(span) => {
            let past_team = (Some(format!("{}\0", span.team)), chrono::DateTime::<Utc>::MIN_UTC, String::new());
            let mut last: Option<chrono::DateTime<Utc>> = None;
            for (t, created_at, cid) in app.by_team.range(..past_team).rev() {
                if t.as_deref() != Some(span.team.as_str())
                    || span.starts_after(*created_at)
                    || (found.len() >= offset + limit && last != Some(*created_at))
                {
                    break;
                }
                if span.ended_by(*created_at) {
                    continue;
                }
                let Some(c) = app.channels.get(cid) else { continue };
                if admitted(c)? {
                    found.push(c);
                    last = Some(*created_at);
                }
            }
        }
        None => {
            for c in app.channels.values() {
                if admitted(c)? {
                    found.push(c);
                }
            }
        }
    }
    // The tie-breaker: the cid, or a fresh random number per channel and query.
    let mut tie: HashMap<String, u64> = HashMap::new();
    if s.settings.shuffle_ties {
        let mut rng = lock(&s.chance);
        tie = found.iter().map(|c| (c.cid(), rng.random::<u64>())).collect();
    }
    found.sort_by(|a, b| {
        for (field, desc) in &sort {
            let o = sort_key(a, field).cmp(&sort_key(b, field));
            let o = if *desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        if tie.is_empty() {
            return a.cid_bytes().cmp(b.cid_bytes());
        }
        match (tie.get(&a.cid()), tie.get(&b.cid())) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => a.cid_bytes().cmp(b.cid_bytes()),
        }
    });
    let mut channels = Vec::new();
    for c in found.into_iter().skip(offset).take(limit) {
        if with_state {
            let m = json!({ "limit": message_limit });
            let mem = json!({ "limit": member_limit });
            channels.push(state_json(&app, &caller, c, Some(&m), Some(&mem))?);
        } else {
            channels.push(object([("channel", channel_json(c))]));
        }
    }
    Ok(created(object([("channels", Value::Array(channels))])))
}
