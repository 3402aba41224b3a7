//! What the plan reads from the database for one gym: its rooms with their members, the people
//! they name (and how the oldest Stream ids map back to them), and the events the rooms are for.

use std::collections::{BTreeSet, HashMap};

use gymchat_ids::{EventId, GymId, StreamUserId, UserId};
use gymchat_store::{Event, RoomWithMembers, SkippedRow, Store, User};
use gymchat_tenant::person_of;

use crate::migrate::error::MigrateError;

/// How a Stream user id maps to a person of the gym.
pub(crate) struct People {
    gym: GymId,
    /// Sanitised Auth0 subject → person.
    by_auth0: HashMap<String, UserId>,
    /// Every person read, by id.
    pub users: HashMap<UserId, User>,
}

impl People {
    /// The person behind a Stream id, if it is one of the gym's forms.
    pub fn person(&self, stream_id: &str) -> Option<UserId> {
        person_of(stream_id, self.gym, &self.by_auth0).user()
    }

    /// The target id of the person behind a Stream id, when the person has a `user` row.
    pub fn target(&self, stream_id: &str) -> Option<StreamUserId> {
        self.person(stream_id).filter(|u| self.users.contains_key(u)).map(|u| StreamUserId::for_member(self.gym, u))
    }
}

/// The database's rooms of a gym with what the plan reads around them.
pub(crate) struct DbRead {
    pub rooms: Vec<RoomWithMembers>,
    pub people: People,
    pub events: HashMap<EventId, Event>,
    pub gym_name: String,
}

fn report(skipped: &[SkippedRow], problems: &mut Vec<String>) {
    problems.extend(skipped.iter().map(|r| format!("{} {}: {}", r.table, r.key, r.reason)));
}

/// Reads the gym's side; rows that cannot be read are named in `problems`.
pub(crate) async fn read_db(store: &Store, gym: GymId, problems: &mut Vec<String>) -> Result<DbRead, MigrateError> {
    let mut s = store.session().await?;
    let gym_row = s.gym(gym).await?.ok_or(MigrateError::UnknownGym(gym))?;
    let rooms = s.rooms_with_members(gym).await?;
    report(&rooms.skipped, problems);
    let memberships = s.memberships_of_gym(gym).await?;
    let people: BTreeSet<UserId> = rooms
        .rows
        .iter()
        .flat_map(|r| r.members.iter().copied())
        .chain(memberships.rows.iter().map(|m| m.user_id))
        .collect();
    let users = s.users(&people.into_iter().collect::<Vec<_>>()).await?;
    report(&users.skipped, problems);
    let by_auth0 = gymchat_tenant::people_by_auth0(&users.rows);
    let event_ids: Vec<_> = rooms.rows.iter().filter_map(|r| r.room.event_id).collect();
    let events = s.events(&event_ids).await?;
    report(&events.skipped, problems);
    Ok(DbRead {
        rooms: rooms.rows,
        people: People { gym, by_auth0, users: users.rows.into_iter().map(|u| (u.id, u)).collect() },
        events: events.rows.into_iter().map(|e| (e.id, e)).collect(),
        gym_name: gym_row.name,
    })
}

/// Rooms in the order that decides who takes a shared id: oldest first, NULL times last.
pub(crate) fn by_age(rooms: &[RoomWithMembers]) -> Vec<&RoomWithMembers> {
    let mut sorted: Vec<&RoomWithMembers> = rooms.iter().collect();
    sorted.sort_by_key(|r| (r.room.created_at.is_none(), r.room.created_at, r.room.id));
    sorted
}
