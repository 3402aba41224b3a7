//! Events and participations (`events`, `event_participations`).

use std::collections::BTreeMap;

use gymchat_ids::{EventId, GymId};
use sqlx::{AssertSqlSafe, FromRow};

use super::rows::{IDS_PER_QUERY, RawRow, Rows, collect_rows, one_row, opt_id, placeholders, req_id, required};
use crate::backend::{Session, on_db};
use crate::error::Result;
use crate::model::{Event, EventStatus, Participation, ParticipationStatus};
use crate::value::{DbInt, DbText, DbTime};

#[derive(FromRow)]
struct EventRow {
    id: Option<DbInt>,
    gym_id: Option<DbInt>,
    title: Option<String>,
    start_time: Option<DbTime>,
    end_time: Option<DbTime>,
    status: Option<DbText>,
    creator_id: Option<DbInt>,
}

impl RawRow for EventRow {
    type Out = Event;
    const TABLE: &'static str = "events";
    const KEY: &'static str = "id";
    fn key(&self) -> String {
        format!("id = {}", self.id.map_or(-1, |v| v.0))
    }
    fn convert(self) -> Result<Event, String> {
        Ok(Event {
            id: req_id(self.id, "id")?,
            gym_id: req_id(self.gym_id, "gym_id")?,
            title: self.title,
            start_time: required(self.start_time, "start_time")?.0,
            end_time: required(self.end_time, "end_time")?.0,
            status: self.status.map(|s| EventStatus::from_db(&s.0)).transpose()?,
            creator_id: opt_id(self.creator_id, "creator_id")?,
        })
    }
}

#[derive(FromRow)]
struct ParticipationRow {
    member_id: Option<DbInt>,
    event_id: Option<DbInt>,
    gym_id: Option<DbInt>,
    status: Option<DbText>,
}

impl RawRow for ParticipationRow {
    type Out = Participation;
    const TABLE: &'static str = "event_participations";
    const KEY: &'static str = "member_id";
    fn key(&self) -> String {
        format!("event_id = {}, member_id = {}", self.event_id.map_or(-1, |v| v.0), self.member_id.map_or(-1, |v| v.0))
    }
    fn convert(self) -> Result<Participation, String> {
        Ok(Participation {
            event_id: req_id(self.event_id, "event_id")?,
            member_id: req_id(self.member_id, "member_id")?,
            gym_id: req_id(self.gym_id, "gym_id")?,
            status: self.status.map(|s| ParticipationStatus::from_db(&s.0)).transpose()?,
        })
    }
}

const SELECT_EVENTS: &str = "SELECT id, gym_id, title, start_time, end_time, status, creator_id FROM events";

impl Session {
    /// The event with this id, in whichever gym it is; callers check the gym.
    pub async fn event(&mut self, id: EventId) -> Result<Option<Event>> {
        let sql = format!("{SELECT_EVENTS} WHERE id = $1");
        let rows = on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str())).bind(id.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, EventRow>))?;
        one_row(rows)
    }

    /// The events with these ids, by id, in whichever gym they are; unknown ids are left out.
    /// Any number of ids: they are bound in chunks.
    pub async fn events(&mut self, ids: &[EventId]) -> Result<Rows<Event>> {
        let mut sorted: Vec<i64> = ids.iter().map(|id| id.get()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut out = Rows::default();
        for chunk in sorted.chunks(IDS_PER_QUERY) {
            // Only `$n` placeholders are spliced in.
            let sql = format!("{SELECT_EVENTS} WHERE id IN ({}) ORDER BY id", placeholders(chunk.len(), 0));
            let rows = on_db!(self.db(), c => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map(collect_rows::<_, EventRow>)
            })?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Every event of the gym, by id.
    pub async fn events_of_gym(&mut self, gym: GymId) -> Result<Rows<Event>> {
        let sql = format!("{SELECT_EVENTS} WHERE gym_id = $1 ORDER BY id");
        Ok(on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str())).bind(gym.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, EventRow>))?)
    }

    /// The event's participations, one per member, by member id. Production has no unique key
    /// on (event, member): of duplicate rows the latest (highest row id) is the member's
    /// current participation.
    pub async fn participations(&mut self, event: EventId) -> Result<Rows<Participation>> {
        let sql = "SELECT member_id, event_id, gym_id, status FROM event_participations \
                   WHERE event_id = $1 ORDER BY member_id, id";
        let read = on_db!(self.db(), c => sqlx::query(sql).bind(event.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, ParticipationRow>))?;
        let mut latest: BTreeMap<i64, Participation> = BTreeMap::new();
        for p in read.rows {
            latest.insert(p.member_id.get(), p);
        }
        Ok(Rows { rows: latest.into_values().collect(), skipped: read.skipped })
    }

    /// Events still SCHEDULED whose end has passed, oldest end first, at most `limit` (the
    /// completion worker's list), leaving out those whose completion failed more than
    /// `COMPLETION_ATTEMPTS` times where the table counts them (production's
    /// `events.completion_attempts`). Ordered by end time, the due events are the first rows,
    /// so the statement reads no more than `limit` rows whatever the store holds.
    pub async fn events_due_completion(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<Rows<Event>> {
        let attempts = if self.catalog.has_column("events", "completion_attempts") {
            format!(" AND COALESCE(completion_attempts, 0) <= {COMPLETION_ATTEMPTS}")
        } else {
            String::new()
        };
        // Only the fixed condition above is spliced in.
        let sql = format!(
            "{SELECT_EVENTS} WHERE CAST(status AS TEXT) = 'SCHEDULED'{attempts} ORDER BY end_time, id LIMIT $1"
        );
        let mut read = on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str())).bind(limit).fetch_all(&mut *c).await
            .map(collect_rows::<_, EventRow>))?;
        read.rows.retain(|e| e.end_time <= now);
        Ok(read)
    }

    /// Counts a failed completion of the event where the table counts them (production's
    /// `events.completion_attempts`); false where it does not.
    pub async fn count_completion_failure(&mut self, event: EventId) -> Result<bool> {
        if !self.catalog.has_column("events", "completion_attempts") {
            return Ok(false);
        }
        let sql = "UPDATE events SET completion_attempts = COALESCE(completion_attempts, 0) + 1 WHERE id = $1";
        on_db!(self.db(), c => sqlx::query(sql).bind(event.get()).execute(&mut *c).await.map(|_| ()))?;
        Ok(true)
    }
}

/// Failed completions after which the completion worker no longer lists an event (the
/// platform's rule).
const COMPLETION_ATTEMPTS: i64 = 10;
