//! The target users a plan creates: every member, creator and sender of the moved channels who
//! has a `user` row, plus the gym's bot; those that exist already only get the gym's team.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gymchat_ids::{GymId, StreamUserId, UserId};
use gymchat_store::User;
use gymchat_stream::Client;

use super::read::DbRead;
use super::spec::{ChannelSpec, UserSpec};

/// The target users the moved channels need: every member, every creator and every sender with a
/// `user` row, and the gym's bot (stand-in for senders who no longer exist, author of the notes).
pub(crate) async fn plan_users(
    client: &Client,
    gym: GymId,
    db: &DbRead,
    channels: &[ChannelSpec],
    senders: &BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Vec<UserSpec> {
    if channels.is_empty() {
        return Vec::new();
    }
    let team = gymchat_tenant::team(gym).to_string();
    // Person → the legacy ids seen for them.
    let mut people: BTreeMap<UserId, BTreeSet<String>> = BTreeMap::new();
    for c in channels {
        for m in c.members.iter().chain(std::iter::once(&c.created_by)) {
            if let Some(u) = db.people.person(m) {
                people.entry(u).or_default();
            }
        }
        for m in &c.old_members {
            if let Some(u) = db.people.person(m).filter(|u| db.people.users.contains_key(u)) {
                people.entry(u).or_default().insert(m.clone());
            }
        }
    }
    for s in senders {
        if let Some(u) = db.people.person(s).filter(|u| db.people.users.contains_key(u)) {
            people.entry(u).or_default().insert(s.clone());
        }
    }
    let legacy: Vec<String> = people.values().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    let targets: Vec<String> = people
        .keys()
        .map(|u| StreamUserId::for_member(gym, *u).to_string())
        .chain(std::iter::once(StreamUserId::bot(gym).to_string()))
        .collect();
    let mut found: HashMap<String, gymchat_stream::model::User> = HashMap::new();
    match client.users_by_ids(&[legacy, targets].concat()).await {
        Ok(users) => {
            problems.extend(users.problems("Stream user"));
            found.extend(users.items.into_iter().map(|u| (u.id.to_string(), u)));
        }
        Err(e) => problems.push(format!("reading Stream users: {e}")),
    }
    let needs = |id: &str| match found.get(id) {
        Some(u) if u.deleted_at.is_none() => {
            if u.teams.iter().any(|t| t.as_str() == team) {
                None
            } else {
                Some(true)
            }
        }
        _ => Some(false),
    };
    let mut users = Vec::new();
    for (person, legacy_ids) in &people {
        let id = StreamUserId::for_member(gym, *person).to_string();
        let Some(exists) = needs(&id) else { continue };
        let legacy_user = legacy_ids.iter().find_map(|l| found.get(l));
        let row = db.people.users.get(person);
        users.push(UserSpec {
            id,
            user_id: Some(person.get()),
            legacy_ids: legacy_ids.iter().cloned().collect(),
            name: legacy_user.and_then(|u| u.name.clone()).or_else(|| row.and_then(User::display_name)),
            image: legacy_user.and_then(|u| u.image.clone()).or_else(|| row.and_then(|u| u.picture.clone())),
            team: team.clone(),
            exists,
        });
    }
    let bot = StreamUserId::bot(gym).to_string();
    if let Some(exists) = needs(&bot) {
        users.push(UserSpec {
            id: bot,
            user_id: None,
            legacy_ids: Vec::new(),
            name: Some(db.gym_name.clone()),
            image: None,
            team,
            exists,
        });
    }
    users
}
