//! Events and participations (`events`, `event_participations`).

use gymchat_ids::EventId;
use sqlx::FromRow;

use super::{label, to_id, to_opt_id};
use crate::backend::{Session, on_db};
use crate::error::Result;
use crate::model::{Event, EventStatus, Participation, ParticipationStatus};
use crate::value::{DbInt, DbText, DbTime};

#[derive(FromRow)]
struct EventRow {
    id: DbInt,
    gym_id: DbInt,
    title: String,
    start_time: DbTime,
    end_time: DbTime,
    status: DbText,
    creator_id: Option<DbInt>,
}

impl TryFrom<EventRow> for Event {
    type Error = crate::StoreError;
    fn try_from(r: EventRow) -> Result<Event> {
        Ok(Event {
            id: to_id(r.id, "events", "id")?,
            gym_id: to_id(r.gym_id, "events", "gym_id")?,
            title: r.title,
            start_time: r.start_time.0,
            end_time: r.end_time.0,
            status: EventStatus::from_db(&label(r.status), "events", "status")?,
            creator_id: to_opt_id(r.creator_id, "events", "creator_id")?,
        })
    }
}

#[derive(FromRow)]
struct ParticipationRow {
    event_id: DbInt,
    member_id: DbInt,
    gym_id: DbInt,
    status: DbText,
}

impl TryFrom<ParticipationRow> for Participation {
    type Error = crate::StoreError;
    fn try_from(r: ParticipationRow) -> Result<Participation> {
        Ok(Participation {
            event_id: to_id(r.event_id, "event_participations", "event_id")?,
            member_id: to_id(r.member_id, "event_participations", "member_id")?,
            gym_id: to_id(r.gym_id, "event_participations", "gym_id")?,
            status: ParticipationStatus::from_db(&label(r.status), "event_participations", "status")?,
        })
    }
}

impl Session {
    /// The event with this id, in whichever gym it is; callers check the gym.
    pub async fn event(&mut self, id: EventId) -> Result<Option<Event>> {
        let sql = "SELECT id, gym_id, title, start_time, end_time, status, creator_id FROM events WHERE id = $1";
        let row: Option<EventRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(id.get()).fetch_optional(&mut *c).await)?;
        row.map(Event::try_from).transpose()
    }

    /// The event's participations, by member id.
    pub async fn participations(&mut self, event: EventId) -> Result<Vec<Participation>> {
        let sql = "SELECT event_id, member_id, gym_id, status FROM event_participations \
                   WHERE event_id = $1 ORDER BY member_id";
        let rows: Vec<ParticipationRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(event.get()).fetch_all(&mut *c).await)?;
        rows.into_iter().map(Participation::try_from).collect()
    }
}
