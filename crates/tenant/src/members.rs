//! Who a room's channel must hold (each member of the room as `gym_{G}_user_{U}`, nobody else),
//! and who any member id a channel holds is, seen from one gym.

use std::collections::{BTreeSet, HashMap};

use gymchat_ids::{GymId, StreamUserId, UserId, UserIdForm, classify_user_id, sanitize_auth0_subject};
use gymchat_store::User;

/// The Stream ids a room's channel must hold, for these members of the room, sorted.
pub fn member_ids(gym: GymId, members: impl IntoIterator<Item = UserId>) -> BTreeSet<StreamUserId> {
    members.into_iter().map(|u| StreamUserId::for_member(gym, u)).collect()
}

/// How a channel's members differ from those it must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberDiff {
    /// Must be members and are not.
    pub missing: Vec<String>,
    /// Are members and must not be.
    pub extra: Vec<String>,
}

impl MemberDiff {
    /// The channel holds exactly whom it must.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }
}

/// The difference between the members a channel must hold and those it has.
pub fn member_diff<'a>(want: impl IntoIterator<Item = &'a str>, have: impl IntoIterator<Item = &'a str>) -> MemberDiff {
    let want: BTreeSet<&str> = want.into_iter().collect();
    let have: BTreeSet<&str> = have.into_iter().collect();
    MemberDiff {
        missing: want.difference(&have).map(|s| (*s).to_owned()).collect(),
        extra: have.difference(&want).map(|s| (*s).to_owned()).collect(),
    }
}

/// Who a channel member id is, seen from one gym.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    /// `gym_{G}_user_{U}` of this gym.
    Target(UserId),
    /// A legacy id (`user_{U}`, or the sanitised Auth0 subject of a known person).
    Legacy(UserId),
    /// Another gym's target id or bot.
    Foreign,
    /// The gym's bot, or `system`.
    Special,
    /// Not recognised, or a sanitised Auth0 subject of nobody known.
    Unknown,
}

impl Person {
    /// The person behind the id, when it is one of the gym's people in either form.
    pub fn user(self) -> Option<UserId> {
        match self {
            Person::Target(u) | Person::Legacy(u) => Some(u),
            _ => None,
        }
    }
}

/// Who `id` is in `gym`; `form` is what [`classify_user_id`] makes of it, and `by_auth0` maps
/// the sanitised Auth0 subjects of the gym's people back to them ([`people_by_auth0`]).
pub fn person(form: UserIdForm, id: &str, gym: GymId, by_auth0: &HashMap<String, UserId>) -> Person {
    match form {
        UserIdForm::Target { gym: g, user } if g == gym => Person::Target(user),
        UserIdForm::Target { .. } => Person::Foreign,
        UserIdForm::Legacy { user } => Person::Legacy(user),
        UserIdForm::Auth0 { .. } => by_auth0.get(id).map_or(Person::Unknown, |u| Person::Legacy(*u)),
        UserIdForm::Bot { gym: g } if g == gym => Person::Special,
        UserIdForm::System => Person::Special,
        UserIdForm::Bot { .. } => Person::Foreign,
        UserIdForm::Unknown { .. } => Person::Unknown,
    }
}

/// Who `id` is in `gym` ([`person`] with the id classified here).
pub fn person_of(id: &str, gym: GymId, by_auth0: &HashMap<String, UserId>) -> Person {
    person(classify_user_id(id), id, gym, by_auth0)
}

/// The people behind the oldest Stream ids: each person's sanitised Auth0 subject.
pub fn people_by_auth0<'a>(users: impl IntoIterator<Item = &'a User>) -> HashMap<String, UserId> {
    users
        .into_iter()
        .filter_map(|u| Some((sanitize_auth0_subject(u.auth0_id.as_deref()?).ok()?.to_string(), u.id)))
        .collect()
}
