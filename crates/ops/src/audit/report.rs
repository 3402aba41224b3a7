//! The audit's report: versioned JSON (documented in `docs/audit-report.md`), one entry per gym.
//!
//! Every finding carries evidence, a recommendation and the exact `gymchat` command that carries
//! it out. A finding whose recommendation destroys something (a channel delete, a room retired) is
//! `destructive`; the audit makes no destructive recommendation for a gym whose reads were not
//! complete.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gymchat_store::SkippedRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The report format's version; bumped on any change a reader would notice.
pub const REPORT_VERSION: u32 = 1;

/// The whole audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// When the audit ran.
    pub generated_at: DateTime<Utc>,
    /// True when every gym's every read was complete.
    pub complete: bool,
    /// One entry per gym, by gym id.
    pub gyms: Vec<GymReport>,
}

impl AuditReport {
    /// 0 when every gym is synced and clean, 1 when there are findings, 2 when the audit could
    /// not complete.
    pub fn exit_code(&self) -> u8 {
        if !self.complete {
            2
        } else if self.gyms.iter().all(GymReport::is_clean) {
            0
        } else {
            1
        }
    }
}

/// Whether one source was read whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceState {
    /// Read whole.
    pub complete: bool,
    /// What went wrong, when it did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// Both sources of one gym.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    /// The platform database.
    pub db: SourceState,
    /// Stream.
    pub stream: SourceState,
}

/// The summary, with today's field names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Stream channels of the gym: its team's, plus every existing channel a room points at.
    pub total_stream_channels: usize,
    /// Rooms of the gym in the database.
    pub total_db_chatrooms: usize,
    /// Rooms whose channel exists.
    pub synced: usize,
    /// Channels of the gym that no room of the gym points at (archived ones aside).
    pub stream_only: usize,
    /// Rooms whose channel does not exist (retired ones aside).
    pub db_only: usize,
    /// `synced` out of `synced + stream_only + db_only`, in percent, one decimal.
    pub synced_pct: f64,
    /// Legacy (`user_{U}`, sanitised Auth0) member ids found in the gym's channels, sorted.
    pub legacy_member_ids: Vec<String>,
    /// Legacy channels a migration moved a room away from.
    pub archived: usize,
    /// Rooms cleanup retired.
    pub retired: usize,
    /// Findings by kind.
    pub findings: BTreeMap<String, usize>,
}

/// What the id classifier says a channel id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelClass {
    /// A 1:1 chat.
    Direct,
    /// An event chat.
    Event,
    /// A group room.
    Group,
    /// A gym's General channel.
    General,
    /// An id Stream generated (`!members-…`).
    StreamGenerated,
    /// None of the known shapes.
    Unknown,
}

/// The kinds of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A channel of the gym that no room of the gym points at.
    StreamOnly,
    /// A room whose channel does not exist, or that has none.
    DbOnly,
    /// A room member who is not a member of its channel.
    MissingMembers,
    /// A channel member who is not a member of its room.
    ExtraMembers,
    /// Channel members in a legacy id form (`user_{U}`, sanitised Auth0).
    LegacyMemberIds,
    /// Channel members in another gym's target form.
    ForeignGymMemberIds,
    /// Channel members whose id gymchat does not recognise.
    UnknownMemberIds,
    /// Members of a target channel whose Stream user does not exist or lacks the gym's team
    /// (user tokens of such members are refused the channel).
    MembersNotInTeam,
    /// A channel without team.
    MissingTeam,
    /// A channel with another gym's team.
    WrongTeam,
    /// A channel whose `gym_id` field is not the gym's (or is absent).
    WrongGymId,
    /// The channel of an event that is over is not frozen.
    NotFrozenEventOver,
    /// Several rooms for one event.
    DuplicateRoomsForEvent,
    /// Several direct rooms for one pair of people.
    DuplicateRoomsForPair,
    /// A room points at an event that does not exist.
    RoomEventMissing,
    /// A room's member has no `user` row.
    RoomMemberUserMissing,
    /// Member rows of the gym's people whose room was deleted (`room_id` NULL).
    MemberRowsWithoutRoom,
    /// A row of the database that could not be read.
    UnreadableRow,
}

impl FindingKind {
    /// The name used in the report.
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// The room concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<i64>,
    /// The channel concerned, if any (`type:id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// What the audit saw, field by field.
    pub evidence: BTreeMap<String, Value>,
    /// What to do, in words.
    pub recommendation: String,
    /// The `gymchat` command that does it, when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The recommendation deletes or retires something.
    pub destructive: bool,
}

/// A legacy channel a migration moved a room away from: kept, frozen, not an orphan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archived {
    /// The old channel.
    pub cid: String,
    /// The room that moved.
    pub room_id: i64,
    /// Where it moved.
    pub new_cid: String,
}

/// A room cleanup retired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retired {
    /// The room.
    pub room_id: i64,
    /// The channel it had.
    pub cid: Option<String>,
    /// The cleanup run.
    pub run_id: String,
}

/// One gym's audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GymReport {
    /// The gym.
    pub gym_id: i64,
    /// Both sources read whole.
    pub complete: bool,
    /// Each source.
    pub sources: Sources,
    /// The counts.
    pub summary: Summary,
    /// Every finding, stream-only channels and db-only rooms included.
    pub findings: Vec<Finding>,
    /// Archived legacy channels.
    pub archived: Vec<Archived>,
    /// Retired rooms.
    pub retired: Vec<Retired>,
    /// Rows of the database set aside.
    pub skipped_rows: Vec<Skipped>,
}

/// A database row the audit could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The table.
    pub table: String,
    /// Which row.
    pub key: String,
    /// Why.
    pub reason: String,
}

impl From<&SkippedRow> for Skipped {
    fn from(s: &SkippedRow) -> Self {
        Skipped { table: s.table.to_owned(), key: s.key.clone(), reason: s.reason.clone() }
    }
}

impl GymReport {
    /// Everything synced and nothing to report.
    pub fn is_clean(&self) -> bool {
        self.complete && self.findings.is_empty()
    }

    /// The findings of one kind.
    pub fn of_kind(&self, kind: FindingKind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }
}
