//! What cleanup would do: actions drawn from a fresh, complete audit, and the refusals, each with
//! its reason. Nothing here changes anything.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use gymchat_ids::{GymId, StreamUserId, UserId};
use gymchat_store::ActionKind;

use crate::audit::{AuditReport, Finding, FindingKind, GymReport};

/// One thing cleanup does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Delete a stream-only channel the audit proved orphaned (soft unless `--hard`).
    DeleteChannel {
        /// The gym whose team it carries.
        gym_id: i64,
        /// The channel.
        cid: String,
    },
    /// Retire a closed room whose channel is gone: status CLOSED, recorded in
    /// `gymchat_retired_rooms`, undoable.
    RetireRoom {
        /// The gym.
        gym_id: i64,
        /// The room.
        room_id: i64,
        /// The channel it pointed at.
        cid: Option<String>,
    },
    /// Remove a room whose channel is gone, with its member and hidden rows (`--remove-rooms`);
    /// every row is journaled whole first, so that undo writes it back as it was.
    RemoveRoom {
        /// The gym.
        gym_id: i64,
        /// The room.
        room_id: i64,
        /// The channel it pointed at.
        cid: Option<String>,
    },
    /// Add and remove members of a target channel so that they match its room.
    RepairMembers {
        /// The gym.
        gym_id: i64,
        /// The channel.
        cid: String,
        /// Stream ids to add.
        add: Vec<String>,
        /// Stream ids to remove.
        remove: Vec<String>,
    },
    /// Set a target channel's team, `gym_id` or frozen state, keeping the rest of its data.
    RepairData {
        /// The gym.
        gym_id: i64,
        /// The channel.
        cid: String,
        /// Fields to set (`team`, `gym_id`, `frozen`).
        set: BTreeMap<String, Value>,
    },
}

impl Action {
    /// The gym acted on.
    pub fn gym_id(&self) -> i64 {
        match self {
            Action::DeleteChannel { gym_id, .. }
            | Action::RetireRoom { gym_id, .. }
            | Action::RemoveRoom { gym_id, .. }
            | Action::RepairMembers { gym_id, .. }
            | Action::RepairData { gym_id, .. } => *gym_id,
        }
    }

    /// What is acted on, for the journal.
    pub fn target(&self) -> String {
        match self {
            Action::RetireRoom { room_id, .. } | Action::RemoveRoom { room_id, .. } => format!("room {room_id}"),
            Action::DeleteChannel { cid, .. } | Action::RepairMembers { cid, .. } | Action::RepairData { cid, .. } => {
                cid.clone()
            }
        }
    }

    /// Its kind, as the journal records it.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::DeleteChannel { .. } => ActionKind::DeleteChannel,
            Action::RetireRoom { .. } => ActionKind::RetireRoom,
            Action::RemoveRoom { .. } => ActionKind::RemoveRoom,
            Action::RepairMembers { .. } => ActionKind::RepairMembers,
            Action::RepairData { .. } => ActionKind::RepairData,
        }
    }
}

/// An action cleanup will not take, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// What was recommended.
    pub target: String,
    /// Why not.
    pub reason: String,
}

/// What cleanup would do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// What it will not do.
    pub refused: Vec<Refusal>,
    /// False when an audit it rests on was incomplete: then it has no action at all.
    pub complete: bool,
}

/// Choices of the operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Delete channels for good (their messages with them).
    pub hard: bool,
    /// Also delete channels that hold messages.
    pub include_with_messages: bool,
    /// Remove rooms whose channel is gone (their rows, journaled for undo) instead of retiring
    /// them.
    pub remove_rooms: bool,
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_i64).collect()).unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Whether the audit recommends cleanup (rather than the migration) for a finding.
fn by_cleanup(f: &Finding) -> bool {
    f.command.as_deref().is_some_and(|c| c.starts_with("gymchat cleanup"))
}

/// What happens to a room whose channel is gone: retired, or removed with `--remove-rooms`.
fn room_action(options: Options, gym_id: i64, room_id: i64, cid: Option<String>) -> Action {
    if options.remove_rooms {
        Action::RemoveRoom { gym_id, room_id, cid }
    } else {
        Action::RetireRoom { gym_id, room_id, cid }
    }
}

fn plan_gym(g: &GymReport, options: Options, plan: &mut Plan) {
    let gym = g.gym_id;
    let Ok(gym_id) = GymId::new(gym) else {
        plan.refused.push(Refusal { target: format!("gym {gym}"), reason: "not a valid gym id".to_owned() });
        return;
    };
    let target = |u: &i64| UserId::new(*u).map(|u| StreamUserId::for_member(gym_id, u).to_string());
    let mut members: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    let mut data: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for f in &g.findings {
        let Some(cid) = f.cid.clone() else {
            if f.kind == FindingKind::DbOnly && f.destructive {
                plan.actions.push(room_action(options, gym, f.room_id.unwrap_or_default(), None));
            }
            continue;
        };
        match f.kind {
            FindingKind::StreamOnly if f.destructive => {
                let messages = f.evidence.get("message_count").and_then(Value::as_u64);
                match messages {
                    Some(0) => plan.actions.push(Action::DeleteChannel { gym_id: gym, cid }),
                    _ if options.include_with_messages => plan.actions.push(Action::DeleteChannel { gym_id: gym, cid }),
                    Some(n) => plan.refused.push(Refusal {
                        target: cid,
                        reason: format!("the channel holds {n} messages: add --include-with-messages to delete it"),
                    }),
                    None => plan.refused.push(Refusal {
                        target: cid,
                        reason: "the channel's messages could not be counted".to_owned(),
                    }),
                }
            }
            FindingKind::DbOnly if f.destructive => {
                let bare = cid.split_once(':').map(|(_, id)| id.to_owned());
                plan.actions.push(room_action(options, gym, f.room_id.unwrap_or_default(), bare));
            }
            FindingKind::MissingMembers if by_cleanup(f) => {
                let add = ids(&f.evidence["room_members_missing_from_channel"]);
                members.entry(cid).or_default().0.extend(add.iter().filter_map(|u| target(u).ok()));
            }
            FindingKind::ExtraMembers if by_cleanup(f) => {
                let remove = ids(&f.evidence["channel_members_not_in_room"]);
                members.entry(cid).or_default().1.extend(remove.iter().filter_map(|u| target(u).ok()));
            }
            FindingKind::ForeignGymMemberIds if by_cleanup(f) => {
                members.entry(cid).or_default().1.extend(strings(&f.evidence["foreign_member_ids"]));
            }
            FindingKind::MissingTeam | FindingKind::WrongTeam if by_cleanup(f) => {
                data.entry(cid).or_default().insert("team".into(), json!(gymchat_tenant::team(gym_id)));
            }
            FindingKind::WrongGymId if by_cleanup(f) => {
                data.entry(cid)
                    .or_default()
                    .insert(gymchat_tenant::GYM_ID_FIELD.into(), gymchat_tenant::gym_id_value(gym_id));
            }
            FindingKind::NotFrozenEventOver if by_cleanup(f) => {
                data.entry(cid).or_default().insert("frozen".into(), json!(true));
            }
            _ => {}
        }
    }
    for (cid, (add, remove)) in members {
        plan.actions.push(Action::RepairMembers {
            gym_id: gym,
            cid,
            add: add.into_iter().collect(),
            remove: remove.into_iter().collect(),
        });
    }
    for (cid, set) in data {
        plan.actions.push(Action::RepairData { gym_id: gym, cid, set });
    }
}

/// The plan for a fresh audit: nothing at all for a gym whose audit was incomplete.
pub fn plan(report: &AuditReport, options: Options) -> Plan {
    let mut plan = Plan { complete: report.complete, ..Plan::default() };
    for g in &report.gyms {
        if !g.complete {
            plan.refused.push(Refusal {
                target: format!("gym {}", g.gym_id),
                reason: "its audit could not read everything: cleanup acts on complete audits only".to_owned(),
            });
            continue;
        }
        plan_gym(g, options, &mut plan);
    }
    plan
}

/// Keeps only the actions a report file also recommended (an old report must still be current):
/// the others are refused as no longer recommended by the file.
pub fn restrict_to(plan: &mut Plan, from_file: &Plan) {
    let wanted: BTreeSet<(ActionKind, String)> = from_file.actions.iter().map(|a| (a.kind(), a.target())).collect();
    let (keep, drop): (Vec<Action>, Vec<Action>) =
        std::mem::take(&mut plan.actions).into_iter().partition(|a| wanted.contains(&(a.kind(), a.target())));
    plan.actions = keep;
    plan.refused.extend(drop.into_iter().map(|a| Refusal {
        target: a.target(),
        reason: "the report file did not recommend this; run cleanup on a fresh audit to include it".to_owned(),
    }));
    let current: BTreeSet<(ActionKind, String)> = plan.actions.iter().map(|a| (a.kind(), a.target())).collect();
    for a in &from_file.actions {
        if !current.contains(&(a.kind(), a.target())) {
            plan.refused.push(Refusal {
                target: a.target(),
                reason: "the report file recommended this, but a fresh audit no longer does: the file is out of date"
                    .to_owned(),
            });
        }
    }
}

/// Fields of a channel's data as a map, for a repair.
pub(crate) fn as_map(set: &BTreeMap<String, Value>) -> Map<String, Value> {
    set.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
