//! The sandbox's in-memory Stream app and its snapshot format.
//!
//! The snapshot is the `stream` section of a fixture file (`shared/fixtures/gym4.json`): users,
//! and channels with members as user ids and messages inline, oldest first, custom fields flat.
//! `--fixture` and `--state` load it, `GET /_sandbox/state` returns it, shutdown saves it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod import_task;
mod message;
mod stored_file;

pub use import_task::ImportRec;
pub use message::{MessageRec, ReactionRec};
pub use stored_file::StoredFile;

/// RFC 3339, UTC, microseconds: how Stream writes times.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRec {
    /// Id.
    pub id: String,
    /// Role (`user` by default).
    #[serde(default = "default_role")]
    pub role: String,
    /// Teams (multi-tenancy).
    #[serde(default)]
    pub teams: Vec<String>,
    /// Created.
    #[serde(default = "Utc::now")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(default = "Utc::now")]
    pub updated_at: DateTime<Utc>,
    /// Soft-deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Deactivated (kept, but cannot write or be found unless asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<DateTime<Utc>>,
    /// Everything else (`name`, `image`, custom fields), flat.
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

fn default_role() -> String {
    "user".to_owned()
}

/// A channel member.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRec {
    /// The user.
    pub user_id: String,
    /// `channel_member` unless given.
    pub channel_role: String,
    /// Joined.
    pub created_at: DateTime<Utc>,
    /// Read up to this time; none yet: up to when they joined.
    pub last_read: Option<DateTime<Utc>>,
    /// The last message they read, when one was named.
    pub last_read_message_id: Option<String>,
    /// They see no message sent before this (hide with `clear_history`, or added with
    /// `hide_history` / `hide_history_before`).
    pub hide_messages_before: Option<DateTime<Utc>>,
}

impl MemberRec {
    /// A member who joined at `created_at`, with nothing read yet and all history visible.
    pub fn new(user_id: impl Into<String>, channel_role: impl Into<String>, created_at: DateTime<Utc>) -> Self {
        Self {
            user_id: user_id.into(),
            channel_role: channel_role.into(),
            created_at,
            last_read: None,
            last_read_message_id: None,
            hide_messages_before: None,
        }
    }

    /// What a snapshot keeps of the member beyond their id; `None` when it is all defaults.
    fn state(&self, channel_created_at: DateTime<Utc>) -> Option<MemberState> {
        let state = MemberState {
            channel_role: Some(self.channel_role.clone()).filter(|r| r != "channel_member"),
            created_at: Some(self.created_at).filter(|t| *t != channel_created_at),
            last_read: self.last_read,
            last_read_message_id: self.last_read_message_id.clone(),
            hide_messages_before: self.hide_messages_before,
        };
        (state != MemberState::default()).then_some(state)
    }
}

/// A member's state in snapshot form, beside the channel's list of member ids; every field
/// optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberState {
    /// Their role, when not `channel_member`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_role: Option<String>,
    /// When they joined, when not when the channel was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Read up to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read: Option<DateTime<Utc>>,
    /// The last message read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read_message_id: Option<String>,
    /// History hidden from them before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hide_messages_before: Option<DateTime<Utc>>,
}

/// A channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRec {
    /// Type.
    pub kind: String,
    /// Id.
    pub id: String,
    /// Team (multi-tenancy).
    pub team: Option<String>,
    /// Frozen: user-token writes refused.
    pub frozen: bool,
    /// Creator.
    pub created_by_id: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Soft-deleted.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Custom fields (`name`, `gym_id`, …).
    pub custom: Map<String, Value>,
    /// Members in joining order.
    pub members: Vec<MemberRec>,
    /// Users who hid the channel.
    pub hidden_for: BTreeSet<String>,
    /// Messages, oldest first.
    pub messages: Vec<MessageRec>,
}

impl ChannelRec {
    /// `type:id`.
    pub fn cid(&self) -> String {
        format!("{}:{}", self.kind, self.id)
    }

    /// The cid's bytes, without building it: compares as [`ChannelRec::cid`] does.
    pub fn cid_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.kind.bytes().chain(*b":").chain(self.id.bytes())
    }

    /// When the last message was sent.
    pub fn last_message_at(&self) -> Option<DateTime<Utc>> {
        self.messages.last().map(|m| m.created_at)
    }

    /// Whether the user is a member.
    pub fn has_member(&self, user: &str) -> bool {
        self.members.iter().any(|m| m.user_id == user)
    }

    /// Whether `user` sees message `m` in this channel: one visible to them and not in the
    /// history hidden from them (a member who cleared it, or was added with it hidden).
    pub fn seen_by(&self, m: &MessageRec, user: &str) -> bool {
        let hidden_before = self.members.iter().find(|x| x.user_id == user).and_then(|x| x.hide_messages_before);
        m.visible_to(user) && hidden_before.is_none_or(|t| m.created_at > t)
    }

    /// The member's unread messages: shown in the channel (thread replies count in their
    /// thread), sent after what they read (or after they joined), by someone else, not `silent`,
    /// not deleted, and seen by them. (Stream counts system messages too; the sandbox does the same.)
    pub fn unread_for(&self, member: &MemberRec) -> usize {
        let since = member.last_read.unwrap_or(member.created_at);
        self.messages
            .iter()
            .filter(|m| m.shown_in_channel() && m.created_at > since && m.user_id != member.user_id)
            .filter(|m| self.seen_by(m, &member.user_id))
            .filter(|m| m.custom.get("silent").and_then(Value::as_bool) != Some(true) && m.kind != "deleted")
            .count()
    }
}

/// A background task (batch deletes).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRec {
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Polls so far: the first answers `running`, later ones the outcome, as a real task moves on.
    pub polls: u32,
    /// Per-item results of a task that completed, or why it ended `error` (having applied
    /// nothing).
    pub outcome: Result<Map<String, Value>, String>,
}

/// The whole app.
#[derive(Debug, Clone, Default)]
pub struct App {
    /// Multi-tenancy switch.
    pub multi_tenant_enabled: bool,
    /// Where Stream posts the app's events (`PATCH /app`; not kept in snapshots).
    pub webhook_url: String,
    /// Users by id.
    pub users: BTreeMap<String, UserRec>,
    /// Channels by cid.
    pub channels: HashMap<String, ChannelRec>,
    /// Every message id in use (unique app-wide), with the cid of its channel.
    pub message_ids: HashMap<String, String>,
    /// Tasks by id.
    pub tasks: HashMap<String, TaskRec>,
    /// Every channel by (team, creation time, cid): the order of a channel query sorted by
    /// creation time within one team, so that a listing page costs what it returns, not the
    /// app's size. Kept by [`App::insert_channel`] and [`App::remove_channel`].
    pub by_team: BTreeSet<(Option<String>, DateTime<Utc>, String)>,
    /// Import tasks by id.
    pub imports: HashMap<String, ImportRec>,
    /// Import files by path: `None` until uploaded.
    pub uploads: HashMap<String, Option<bytes::Bytes>>,
    /// Files uploaded to channels, by their path on the CDN.
    pub files: HashMap<String, StoredFile>,
}

/// A channel in snapshot form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelSnapshot {
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Id.
    pub id: String,
    /// Team.
    #[serde(default)]
    pub team: Option<String>,
    /// Creator.
    #[serde(default)]
    pub created_by_id: Option<String>,
    /// Created.
    #[serde(default = "Utc::now")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Soft-deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Frozen.
    #[serde(default)]
    pub frozen: bool,
    /// Member user ids.
    #[serde(default)]
    pub members: Vec<String>,
    /// Members' roles, read positions and hidden history, for those that are not defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub member_state: BTreeMap<String, MemberState>,
    /// Members who hid the channel.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hidden_for: BTreeSet<String>,
    /// Messages, oldest first.
    #[serde(default)]
    pub messages: Vec<MessageRec>,
    /// Custom fields, flat.
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

/// The snapshot: a fixture's `stream` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Multi-tenancy switch.
    #[serde(default)]
    pub multi_tenant_enabled: bool,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserRec>,
    /// Channels, by creation time then cid.
    #[serde(default)]
    pub channels: Vec<ChannelSnapshot>,
}

impl App {
    /// Builds the app from a snapshot.
    pub fn from_snapshot(s: Snapshot) -> App {
        let mut app = App { multi_tenant_enabled: s.multi_tenant_enabled, ..App::default() };
        for u in s.users {
            app.users.insert(u.id.clone(), u);
        }
        for c in s.channels {
            let cid = format!("{}:{}", c.kind, c.id);
            app.message_ids.extend(c.messages.iter().map(|m| (m.id.clone(), cid.clone())));
            let rec = ChannelRec {
                members: c
                    .members
                    .iter()
                    .map(|u| {
                        let state = c.member_state.get(u).cloned().unwrap_or_default();
                        MemberRec {
                            last_read: state.last_read,
                            last_read_message_id: state.last_read_message_id,
                            hide_messages_before: state.hide_messages_before,
                            ..MemberRec::new(
                                u.clone(),
                                state.channel_role.unwrap_or_else(|| "channel_member".into()),
                                state.created_at.unwrap_or(c.created_at),
                            )
                        }
                    })
                    .collect(),
                kind: c.kind,
                id: c.id,
                team: c.team,
                frozen: c.frozen,
                created_by_id: c.created_by_id,
                updated_at: c.updated_at.unwrap_or(c.created_at),
                created_at: c.created_at,
                deleted_at: c.deleted_at,
                custom: c.custom,
                hidden_for: c.hidden_for,
                messages: c.messages,
            };
            app.insert_channel(rec);
        }
        app
    }

    /// Adds or replaces a channel, keeping the team index.
    pub fn insert_channel(&mut self, rec: ChannelRec) {
        let cid = rec.cid();
        if let Some(old) = self.channels.get(&cid) {
            self.by_team.remove(&(old.team.clone(), old.created_at, cid.clone()));
        }
        self.by_team.insert((rec.team.clone(), rec.created_at, cid.clone()));
        self.channels.insert(cid, rec);
    }

    /// Removes a channel for good, keeping the team index.
    pub fn remove_channel(&mut self, cid: &str) -> Option<ChannelRec> {
        let rec = self.channels.remove(cid)?;
        self.by_team.remove(&(rec.team.clone(), rec.created_at, cid.to_owned()));
        Some(rec)
    }

    /// The app as a snapshot, channels by creation time then cid.
    pub fn snapshot(&self) -> Snapshot {
        let mut channels: Vec<&ChannelRec> = self.channels.values().collect();
        channels.sort_by_key(|c| (c.created_at, c.cid()));
        Snapshot {
            multi_tenant_enabled: self.multi_tenant_enabled,
            users: self.users.values().cloned().collect(),
            channels: channels
                .into_iter()
                .map(|c| ChannelSnapshot {
                    kind: c.kind.clone(),
                    id: c.id.clone(),
                    team: c.team.clone(),
                    created_by_id: c.created_by_id.clone(),
                    created_at: c.created_at,
                    updated_at: Some(c.updated_at),
                    deleted_at: c.deleted_at,
                    frozen: c.frozen,
                    members: c.members.iter().map(|m| m.user_id.clone()).collect(),
                    member_state: c
                        .members
                        .iter()
                        .filter_map(|m| Some((m.user_id.clone(), m.state(c.created_at)?)))
                        .collect(),
                    hidden_for: c.hidden_for.clone(),
                    messages: c.messages.clone(),
                    custom: c.custom.clone(),
                })
                .collect(),
        }
    }
}
