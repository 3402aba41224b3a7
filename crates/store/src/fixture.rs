//! Loading the `db` section of a fixture file (format of `shared/fixtures/gym4.json`).
//!
//! Parsing reports the exact place of a malformed value (`db.chat_rooms[3].gym_id`, line and
//! column). Loading runs in one transaction, tables in dependency order; the first row the
//! database refuses is reported by table and position and nothing at all is written.

use serde::Deserialize;

use crate::backend::{Backend, Session, Store};
use crate::catalog::Catalog;
use crate::error::{Result, StoreError};
use crate::model::{Event, Gym, Hidden, Member, Membership, Participation, Room, User};
use crate::value::SqlValue;

/// The platform rows of a fixture, one array per table, named as the tables are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbFixture {
    /// `gyms`.
    #[serde(default)]
    pub gyms: Vec<Gym>,
    /// `user`.
    #[serde(default)]
    pub user: Vec<User>,
    /// `user_gyms`.
    #[serde(default)]
    pub user_gyms: Vec<Membership>,
    /// `events`.
    #[serde(default)]
    pub events: Vec<Event>,
    /// `event_participations`.
    #[serde(default)]
    pub event_participations: Vec<Participation>,
    /// `chat_rooms`.
    #[serde(default)]
    pub chat_rooms: Vec<Room>,
    /// `chat_members`.
    #[serde(default)]
    pub chat_members: Vec<Member>,
    /// `chat_member_hidden`.
    #[serde(default)]
    pub chat_member_hidden: Vec<Hidden>,
}

/// One row to insert: (column, value) pairs.
type Row = Vec<(&'static str, SqlValue)>;

/// A fixture file; sections other than `db` (Stream state, expectations) are not the store's.
#[derive(Deserialize)]
struct FixtureFile {
    db: DbFixture,
}

/// How many rows of each table a load wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadReport {
    /// (table, rows) in load order.
    pub tables: Vec<(&'static str, usize)>,
}

impl DbFixture {
    /// Parses a whole fixture file and returns its `db` section.
    pub fn from_json(text: &str) -> Result<DbFixture> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize::<_, FixtureFile>(de).map(|f| f.db).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            StoreError::FixtureFormat {
                path: format!("{path} (line {}, column {})", inner.line(), inner.column()),
                message: inner.to_string(),
            }
        })
    }

    /// The rows of each table as column/value pairs, in an order that satisfies foreign keys.
    fn tables(&self) -> Vec<(&'static str, Vec<Row>)> {
        use SqlValue::{Bool, Int, Text, Time};
        let id = |v: i64| Int(Some(v));
        let text = |v: &str| Text(Some(v.to_owned()));
        let opt_text = |v: &Option<String>| Text(v.clone());
        vec![
            (
                "gyms",
                self.gyms
                    .iter()
                    .map(|g| {
                        vec![
                            ("id", id(g.id.get())),
                            ("name", text(&g.name)),
                            ("subdomain", opt_text(&g.subdomain)),
                            ("logo_url", opt_text(&g.logo_url)),
                            ("is_active", Bool(g.is_active)),
                        ]
                    })
                    .collect(),
            ),
            (
                "user",
                self.user
                    .iter()
                    .map(|u| {
                        vec![
                            ("id", id(u.id.get())),
                            ("email", text(&u.email)),
                            ("first_name", opt_text(&u.first_name)),
                            ("last_name", opt_text(&u.last_name)),
                            ("picture", opt_text(&u.picture)),
                            ("auth0_id", opt_text(&u.auth0_id)),
                            ("is_active", Bool(u.is_active)),
                            ("role", Text(u.role.map(|r| r.as_str().to_owned()))),
                        ]
                    })
                    .collect(),
            ),
            (
                "user_gyms",
                self.user_gyms
                    .iter()
                    .map(|m| {
                        vec![
                            ("user_id", id(m.user_id.get())),
                            ("gym_id", id(m.gym_id.get())),
                            ("role", text(m.role.as_str())),
                            ("is_active", Bool(m.is_active)),
                            ("membership_expires_at", Time(m.membership_expires_at)),
                        ]
                    })
                    .collect(),
            ),
            (
                "events",
                self.events
                    .iter()
                    .map(|e| {
                        vec![
                            ("id", id(e.id.get())),
                            ("gym_id", id(e.gym_id.get())),
                            ("title", opt_text(&e.title)),
                            ("start_time", Time(Some(e.start_time))),
                            ("end_time", Time(Some(e.end_time))),
                            ("status", Text(e.status.map(|s| s.as_str().to_owned()))),
                            ("creator_id", Int(e.creator_id.map(|c| c.get()))),
                        ]
                    })
                    .collect(),
            ),
            (
                "event_participations",
                self.event_participations
                    .iter()
                    .map(|p| {
                        vec![
                            ("event_id", id(p.event_id.get())),
                            ("member_id", id(p.member_id.get())),
                            ("gym_id", id(p.gym_id.get())),
                            ("status", Text(p.status.map(|s| s.as_str().to_owned()))),
                        ]
                    })
                    .collect(),
            ),
            (
                "chat_rooms",
                self.chat_rooms
                    .iter()
                    .map(|r| {
                        vec![
                            ("id", id(r.id.get())),
                            ("stream_channel_id", opt_text(&r.stream_channel_id)),
                            ("stream_channel_type", text(&r.stream_channel_type)),
                            ("name", opt_text(&r.name)),
                            ("gym_id", id(r.gym_id.get())),
                            ("event_id", Int(r.event_id.map(|e| e.get()))),
                            ("is_direct", Bool(Some(r.is_direct))),
                            ("status", Text(r.status.map(|s| s.as_str().to_owned()))),
                            ("created_at", Time(r.created_at)),
                            ("updated_at", Time(r.updated_at)),
                        ]
                    })
                    .collect(),
            ),
            (
                "chat_members",
                self.chat_members
                    .iter()
                    .map(|m| {
                        let mut row = vec![
                            ("room_id", Int(m.room_id.map(|r| r.get()))),
                            ("user_id", id(m.user_id.get())),
                            ("joined_at", Time(m.joined_at)),
                        ];
                        if let Some(row_id) = m.id {
                            row.insert(0, ("id", id(row_id)));
                        }
                        row
                    })
                    .collect(),
            ),
            (
                "chat_member_hidden",
                self.chat_member_hidden
                    .iter()
                    .map(|h| {
                        vec![
                            ("user_id", id(h.user_id.get())),
                            ("room_id", id(h.room_id.get())),
                            ("hidden_at", Time(h.hidden_at)),
                        ]
                    })
                    .collect(),
            ),
        ]
    }
}

/// Tables whose `id` sequence must move past explicitly loaded ids (Postgres only; SQLite's
/// rowid allocation already does).
const TABLES_WITH_SERIAL_IDS: &[&str] = &["gyms", "user", "events", "chat_rooms", "chat_members"];

impl Store {
    /// Loads the fixture's rows in one transaction: all of them, or none. Columns the database
    /// declares NOT NULL without a default and a fixture row does not carry (production's
    /// `gyms.timezone`, `user_gyms.membership_type`, `events.max_participants`) are filled with
    /// the values `Catalog::fill_value` states.
    pub async fn load_fixture(&self, fixture: &DbFixture) -> Result<LoadReport> {
        let mut tx = self.begin().await?;
        let mut report = LoadReport::default();
        for (table, rows) in fixture.tables() {
            let count = rows.len();
            for (index, row) in rows.into_iter().enumerate() {
                let fills = required_fills(&tx, table, &row)?;
                let mut full: Vec<(&str, SqlValue)> = row;
                full.extend(fills.iter().map(|(c, v)| (c.as_str(), v.clone())));
                tx.insert_row(table, &full).await.map_err(|source| StoreError::FixtureRow { table, index, source })?;
            }
            report.tables.push((table, count));
        }
        if tx.backend() == Backend::Postgres {
            advance_sequences(&mut tx).await?;
        }
        tx.commit().await?;
        // A bulk load leaves the planner without statistics until autovacuum gets to the tables;
        // refresh them now, so the first queries plan as they will in production.
        self.session().await?.execute_sql("ANALYZE").await?;
        Ok(report)
    }
}

/// A stated value for each required column the row leaves out, by column name.
fn required_fills(tx: &Session, table: &str, row: &Row) -> Result<Vec<(String, SqlValue)>> {
    let written: Vec<&str> = row.iter().map(|(c, _)| *c).collect();
    tx.catalog
        .unfilled_required(table, &written)
        .into_iter()
        .map(|column| Ok((column.name.clone(), Catalog::fill_value(table, column)?)))
        .collect()
}

async fn advance_sequences(tx: &mut Session) -> Result<()> {
    for table in TABLES_WITH_SERIAL_IDS {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), MAX(id)) FROM \"{table}\" HAVING MAX(id) IS NOT NULL"
        );
        tx.execute_sql(&sql).await?;
    }
    Ok(())
}
