//! The data a gym's channel carries: its team `gym_{G}` and its custom field `gym_id`.
//!
//! `gym_id` is written as the gym id in a string (`"4"`), as the platform writes it (SYSTEM.md
//! §5); readers accept a number too, because older channels carry one. A channel belongs to a
//! gym when its team is the gym's or, lacking that, its `gym_id` names the gym.

use gymchat_ids::{GymId, Team};
use serde_json::{Map, Value};

/// The custom field that names a channel's gym.
pub const GYM_ID_FIELD: &str = "gym_id";

/// The gym's team: `gym_{G}`.
pub fn team(gym: GymId) -> Team {
    Team::for_gym(gym)
}

/// Whether a channel's team is the gym's.
pub fn team_matches(team: Option<&str>, gym: GymId) -> bool {
    team.is_some_and(|t| t == Team::for_gym(gym).as_str())
}

/// The value of `gym_id` as it is written: the gym id as a string.
pub fn gym_id_value(gym: GymId) -> Value {
    Value::String(gym.to_string())
}

/// Whether a channel's `gym_id` names `gym`, as a string (how it is written) or a number (how
/// some older channels carry it).
pub fn gym_id_matches(value: Option<&Value>, gym: GymId) -> bool {
    match value {
        Some(Value::String(s)) => *s == gym.to_string(),
        Some(Value::Number(n)) => n.as_i64() == Some(gym.get()),
        _ => false,
    }
}

/// Whether a channel is the gym's: its team is the gym's, or it has no team and its `gym_id`
/// names the gym. A channel of another gym's team is never this gym's, whatever its `gym_id`.
pub fn belongs_to_gym(team: Option<&str>, gym_id: Option<&Value>, gym: GymId) -> bool {
    match team {
        Some(_) => team_matches(team, gym),
        None => gym_id_matches(gym_id, gym),
    }
}

/// The custom fields every channel of a gym's room carries: its display name and `gym_id`.
pub fn channel_custom(gym: GymId, name: Option<&str>) -> Map<String, Value> {
    let mut custom = Map::new();
    if let Some(name) = name {
        custom.insert("name".to_owned(), Value::String(name.to_owned()));
    }
    custom.insert(GYM_ID_FIELD.to_owned(), gym_id_value(gym));
    custom
}
