//! The plan's types: per gym the users to create, the rooms to move and those left alone, with
//! the content hash that ties a saved plan to what it read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gymchat_tenant::ChannelKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::migrate::options::{History, Options, Strategy};

/// The plan format's version.
pub const PLAN_VERSION: u32 = 1;
/// Custom field that marks a channel made by the migration, naming the channel it replaces.
pub const MIGRATED_FROM: &str = "migrated_from";

/// A Stream user to create (or to give the gym's team).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    /// Target id.
    pub id: String,
    /// The person (none for the gym's bot).
    pub user_id: Option<i64>,
    /// The legacy ids this person had in the gym's channels.
    pub legacy_ids: Vec<String>,
    /// Display name (from the legacy Stream user, else the database).
    pub name: Option<String>,
    /// Avatar (likewise).
    pub image: Option<String>,
    /// The team.
    pub team: String,
    /// The target user exists already (it only needs the team).
    pub exists: bool,
}

/// A room to move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSpec {
    /// The room.
    pub room_id: i64,
    /// What its new channel is.
    pub kind: ChannelKind,
    /// The channel it points at now.
    pub old_cid: String,
    /// The channel it will point at (the same for `in-place`).
    pub new_cid: String,
    /// Members, target ids, sorted.
    pub members: Vec<String>,
    /// The old channel's members (in-place removes those not in `members`).
    pub old_members: Vec<String>,
    /// Room members that get no Stream identity (no `user` row).
    pub dropped_members: Vec<i64>,
    /// Team.
    pub team: String,
    /// Creator of the new channel: the old creator's target id, else the gym's bot.
    pub created_by: String,
    /// Custom fields of the new channel (name, gym_id, the old channel's own fields).
    pub custom: Map<String, Value>,
    /// The old channel was frozen.
    pub old_frozen: bool,
    /// The new channel ends frozen (the old one was, or the room's event is over).
    pub frozen_after: bool,
    /// Messages in the old channel (the migration's own notes left out).
    pub messages: usize,
    /// Who the old channel's senders become: their target id, or the gym's bot for a sender
    /// with no `user` row.
    pub senders: BTreeMap<String, String>,
    /// Upload the attachments on Stream's CDN to the new channel (`--rehost-attachments`).
    #[serde(default)]
    pub rehost_attachments: bool,
    /// Gym members the history mentions, by legacy id: their target ids (a mention of someone
    /// who is neither a sender nor a member still reaches them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mentioned: BTreeMap<String, String>,
    /// The old channel's data as a full update carries it (what `in-place` rollback restores).
    pub old_data: Map<String, Value>,
    /// Why this room does not take the id its kind would give it, or why it is repaired, if so.
    pub note: Option<String>,
    /// The room is already on its target channel (`old_cid` = `new_cid`): its members, team and
    /// `gym_id` are repaired in place, whatever the strategy; it is neither moved nor frozen.
    #[serde(default)]
    pub repair: bool,
    /// Who each old member becomes (old id → target id), for the members who have a person:
    /// their read positions follow them to the new channel.
    #[serde(default)]
    pub member_targets: BTreeMap<String, String>,
    /// Members' roles in the channel other than `channel_member` (target id → role), kept in the
    /// new channel.
    #[serde(default)]
    pub member_roles: BTreeMap<String, String>,
    /// What the old channel's history holds beyond its messages (read when history is copied),
    /// for the estimate.
    #[serde(default)]
    pub conversation: ConversationCounts,
    /// When the old channel's last message was sent (as planned): the new channels get their
    /// last copy in this order, so channel lists sorted by last message keep their order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<DateTime<Utc>>,
}

/// What a channel's history holds beyond its messages, as its history shows it (thread replies
/// not shown in the channel and their reactions are known only by their counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationCounts {
    /// Messages with thread replies.
    pub threads: usize,
    /// Thread replies in all.
    pub replies: usize,
    /// Of those, the ones also shown in the channel (counted in its messages already).
    pub shown_replies: usize,
    /// Messages with reactions.
    pub reacted: usize,
    /// Reactions in all.
    pub reactions: usize,
    /// Pinned messages.
    pub pins: usize,
    /// Deleted messages (copied as deleted placeholders).
    pub deleted: usize,
    /// Attachment files (distinct URLs) on Stream's CDN (signed, readable by the old channel's
    /// members only, expiring): a copy that keeps their URLs points at files new members may not
    /// read.
    #[serde(default)]
    pub cdn_attachments: usize,
}

impl ConversationCounts {
    /// The counts of a history; `on_cdn` says which URLs are files on Stream's CDN.
    pub fn of(history: &[gymchat_stream::model::Message], on_cdn: &dyn Fn(&str) -> bool) -> Self {
        let mut counts = Self::default();
        let mut cdn = std::collections::HashSet::new();
        for m in history {
            let replies = m.reply_count() as usize;
            counts.threads += usize::from(replies > 0);
            counts.replies += replies;
            counts.shown_replies += usize::from(m.parent_id().is_some());
            counts.reacted += usize::from(m.reaction_total() > 0);
            counts.reactions += m.reaction_total() as usize;
            counts.pins += usize::from(m.pinned_by().is_some());
            counts.deleted += usize::from(m.kind == "deleted");
            cdn.extend(m.attachment_urls().filter(|u| on_cdn(u)));
        }
        counts.cdn_attachments = cdn.len();
        counts
    }
}

impl ChannelSpec {
    /// The target id of a user the history names (a sender, a member or someone mentioned).
    pub fn named_target(&self, legacy: &str) -> Option<&str> {
        self.senders
            .get(legacy)
            .or_else(|| self.member_targets.get(legacy))
            .or_else(|| self.mentioned.get(legacy))
            .map(String::as_str)
    }

    /// The gym's bot (`gym_{G}_bot`), stand-in for senders without a person and author of the
    /// notes.
    pub fn gym_bot(&self) -> String {
        self.team.strip_prefix("gym_").map_or_else(|| "system".to_owned(), |g| format!("gym_{g}_bot"))
    }

    /// Who an old user id becomes when that user has a person: a member's target, else a
    /// sender's (never the gym's bot, which stands in for senders without one).
    pub fn person_target(&self, old: &str) -> Option<&str> {
        let bot = self.gym_bot();
        self.member_targets.get(old).or_else(|| self.senders.get(old).filter(|t| **t != bot)).map(String::as_str)
    }

    /// The gym, from the spec's `gym_id`.
    pub fn gym_id(&self) -> Result<i64, gymchat_ids::IdError> {
        let id = self.custom.get(gymchat_tenant::GYM_ID_FIELD).and_then(|v| match v {
            Value::String(s) => s.parse::<i64>().ok(),
            other => other.as_i64(),
        });
        id.ok_or(gymchat_ids::IdError::NotANumber { kind: gymchat_ids::IdKind::Gym })
    }
}

/// A room the migration leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRoom {
    /// The room.
    pub room_id: i64,
    /// The channel it points at, if any.
    pub cid: Option<String>,
    /// Why.
    pub reason: String,
}

/// One gym's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GymPlan {
    /// The gym.
    pub gym_id: i64,
    /// Users to create, before any channel is touched.
    pub users: Vec<UserSpec>,
    /// Rooms to move.
    pub channels: Vec<ChannelSpec>,
    /// Rooms left alone.
    pub skipped: Vec<SkippedRoom>,
    /// Rows or reads that failed; a gym with problems is not migrated.
    pub problems: Vec<String>,
}

impl GymPlan {
    /// Everything was read.
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }

    /// The plan of a gym that could not be planned, with why.
    pub fn unplanned(gym: gymchat_ids::GymId, why: &dyn std::fmt::Display) -> Self {
        GymPlan {
            gym_id: gym.get(),
            users: Vec::new(),
            channels: Vec::new(),
            skipped: Vec::new(),
            problems: vec![format!("the gym could not be planned: {why}")],
        }
    }
}

/// The cost of one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Strategy.
    pub strategy: Strategy,
    /// History handling.
    pub history: History,
    /// Calls per operation, users phase.
    pub users_calls: BTreeMap<String, u64>,
    /// Calls per operation, channels phase.
    pub channel_calls: BTreeMap<String, u64>,
    /// Messages copied.
    pub messages: u64,
    /// Least wall time in seconds at the full limits (rate budget 1.0); divide by the budget
    /// for a run that uses a share of them.
    pub min_wall_seconds_full_budget: f64,
    /// The operation that sets the channels phase's time.
    pub bottleneck: Option<String>,
}

/// A migration plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Format version.
    pub version: u32,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// The options.
    pub options: Options,
    /// Per gym.
    pub gyms: Vec<GymPlan>,
    /// Calls and minimum wall time of each strategy, side by side.
    pub estimates: Vec<Estimate>,
    /// The per-minute limits the estimates assume, and where they come from.
    #[serde(default)]
    pub limits: AppLimits,
    /// SHA-256 of the options and the gyms' plans: what the plan read.
    pub content_hash: String,
}

/// The app's per-minute limits by operation (`GET /rate_limits`), or none (then Stream's
/// documented defaults apply), and where they come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppLimits {
    /// Where the limits come from.
    pub source: String,
    /// Calls per minute by operation, as the app reported them.
    pub per_minute: BTreeMap<String, u64>,
}

impl AppLimits {
    /// An operation's limit per minute: the app's, else Stream's documented default.
    pub fn of(&self, operation: &str) -> u64 {
        self.per_minute.get(operation).copied().unwrap_or_else(|| gymchat_stream::pacing::documented_limit(operation))
    }
}

impl Plan {
    /// The hash of the options and the gyms' plans.
    pub fn compute_hash(options: &Options, gyms: &[GymPlan]) -> String {
        let body = serde_json::to_vec(&json!({ "options": options, "gyms": gyms })).unwrap_or_default();
        hex::encode(Sha256::digest(&body))
    }

    /// The plan's hash matches its content (the file was not edited or cut).
    pub fn hash_holds(&self) -> bool {
        Self::compute_hash(&self.options, &self.gyms) == self.content_hash
    }

    /// Channels to move, over all gyms.
    pub fn channel_count(&self) -> usize {
        self.gyms.iter().map(|g| g.channels.len()).sum()
    }
}
