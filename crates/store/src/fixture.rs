//! Loading the `db` section of a fixture file (format of `shared/fixtures/gym4.json`).
//!
//! Parsing reports the exact place of a malformed value (`db.chat_rooms[3].gym_id`, line and
//! column). Loading runs in one transaction, tables in dependency order; the first row the
//! database refuses is reported by table and position and nothing at all is written.

use serde::Deserialize;

use crate::backend::{Backend, Session, Store};
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
                            ("subdomain", text(&g.subdomain)),
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
                            ("role", text(u.role.as_str())),
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
                            ("title", text(&e.title)),
                            ("start_time", Time(Some(e.start_time))),
                            ("end_time", Time(Some(e.end_time))),
                            ("status", text(e.status.as_str())),
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
                            ("status", text(p.status.as_str())),
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
                            ("is_direct", Bool(r.is_direct)),
                            ("status", text(r.status.as_str())),
                            ("created_at", Time(Some(r.created_at))),
                            ("updated_at", Time(Some(r.updated_at))),
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
                            ("joined_at", Time(Some(m.joined_at))),
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
                            ("hidden_at", Time(Some(h.hidden_at))),
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
    /// Loads the fixture's rows in one transaction: all of them, or none.
    pub async fn load_fixture(&self, fixture: &DbFixture) -> Result<LoadReport> {
        let mut tx = self.begin().await?;
        let mut report = LoadReport::default();
        for (table, rows) in fixture.tables() {
            for (index, row) in rows.iter().enumerate() {
                tx.insert_row(table, row).await.map_err(|source| StoreError::FixtureRow { table, index, source })?;
            }
            report.tables.push((table, rows.len()));
        }
        if tx.backend() == Backend::Postgres {
            advance_sequences(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(report)
    }
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
