//! The states and kinds gymchat's journals record, as types: each has one spelling, written and
//! read here, at the database's edge ([`ItemState::as_str`], [`ItemState::parse`], …). A label the
//! database holds that this build does not know is reported as a bad row, never guessed at.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A label read from the database that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{label:?} is not a known {what}")]
pub struct UnknownLabel {
    /// What was being read.
    pub what: &'static str,
    /// The label.
    pub label: String,
}

macro_rules! labels {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $label:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The label the database holds.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }

            /// The value a label names.
            pub fn parse(label: &str) -> Result<Self, UnknownLabel> {
                match label {
                    $($label => Ok($name::$variant),)+
                    other => Err(UnknownLabel { what: $what, label: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownLabel;
            fn from_str(s: &str) -> Result<Self, UnknownLabel> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let label = String::deserialize(d)?;
                Self::parse(&label).map_err(serde::de::Error::custom)
            }
        }
    };
}

labels!(
    /// What a migration journal item stands for.
    ItemKind, "migration item kind" {
        /// A Stream user to create, or to give the gym's team.
        User = "user",
        /// A room whose channel moves.
        Channel = "channel",
        /// A room the plan leaves alone (journaled for the report).
        Skipped = "skipped",
    }
);

labels!(
    /// Where a migration journal item is: the step under way (whose call may or may not have
    /// happened) or the state it reached.
    ItemState, "migration item state" {
        /// Journaled, nothing done yet.
        Planned = "planned",
        /// A user: the upsert is under way.
        Upserting = "upserting",
        /// Rebuild: the target channel is being created.
        Creating = "creating",
        /// Rebuild: history is being copied.
        Copying = "copying",
        /// Rebuild and in-place: the channel is being checked.
        Verifying = "verifying",
        /// Rebuild: the old channel is being frozen with its note.
        FreezingOld = "freezing_old",
        /// Rebuild: the room points at the new channel.
        Switched = "switched",
        /// Rebuild: the new channel's last touches (frozen when it must be).
        Finishing = "finishing",
        /// In-place: members, team and `gym_id` are being changed.
        Updating = "updating",
        /// Done.
        Done = "done",
        /// Put back by a rollback.
        RolledBack = "rolled_back",
        /// Left alone by the plan.
        Skipped = "skipped",
    }
);

labels!(
    /// Where a migration run is.
    RunState, "migration run state" {
        /// A process is working on it.
        Running = "running",
        /// It stopped (circuit breaker, lost lock, an error) and resumes with the same command.
        Stopped = "stopped",
        /// It ended with items that failed; the same command retries them.
        Incomplete = "incomplete",
        /// Every item is done.
        Done = "done",
        /// A rollback put every item back.
        RolledBack = "rolled_back",
        /// A rollback is under way or stopped part way: only running `rollback` again finishes
        /// it; `apply` never resumes it.
        RollingBack = "rolling_back",
        /// Ended on purpose (`gymchat migrate abandon`); its switched rooms stay switched.
        Abandoned = "abandoned",
    }
);

impl RunState {
    /// Not finished: a later `apply` of its gyms resumes it.
    pub fn is_unfinished(self) -> bool {
        matches!(self, RunState::Running | RunState::Stopped | RunState::Incomplete)
    }

    /// A rollback of it started and has not finished.
    pub fn is_rolling_back(self) -> bool {
        self == RunState::RollingBack
    }
}

labels!(
    /// What a cleanup action does.
    ActionKind, "cleanup action kind" {
        /// Delete a stream-only channel proven orphaned.
        DeleteChannel = "delete_channel",
        /// Retire a room whose channel is gone.
        RetireRoom = "retire_room",
        /// Remove a room's rows.
        RemoveRoom = "remove_room",
        /// Add and remove channel members.
        RepairMembers = "repair_members",
        /// Set a channel's team, `gym_id` or frozen state.
        RepairData = "repair_data",
    }
);

labels!(
    /// Where a cleanup action is.
    ActionState, "cleanup action state" {
        /// Journaled before its call.
        Planned = "planned",
        /// Done.
        Done = "done",
        /// Failed; its detail says why.
        Failed = "failed",
        /// Undone by `gymchat cleanup undo`.
        Undone = "undone",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_reads_back_as_its_value() {
        for s in ItemState::ALL {
            assert_eq!(ItemState::parse(s.as_str()), Ok(*s));
        }
        for s in RunState::ALL {
            assert_eq!(s.as_str().parse::<RunState>(), Ok(*s));
        }
        for s in ActionState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
    }

    #[test]
    fn an_unknown_label_is_refused_by_name() {
        let err = ItemState::parse("frozen").unwrap_err();
        assert_eq!(err.to_string(), "\"frozen\" is not a known migration item state");
    }
}
