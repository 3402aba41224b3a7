//! Gyms, users and memberships (`gyms`, `user`, `user_gyms`).

use chrono::{DateTime, Utc};
use gymchat_ids::{GymId, UserId};
use sqlx::{AssertSqlSafe, FromRow};

use super::rows::{IDS_PER_QUERY, RawRow, Rows, collect_rows, one_row, placeholders, req_id, required};
use crate::backend::{Session, on_db};
use crate::error::Result;
use crate::model::{Gym, GymRole, Membership, PlatformRole, User};
use crate::value::{DbInt, DbText, DbTime};

#[derive(FromRow)]
struct GymRow {
    id: Option<DbInt>,
    name: Option<String>,
    subdomain: Option<String>,
    logo_url: Option<String>,
    is_active: Option<bool>,
}

impl RawRow for GymRow {
    type Out = Gym;
    const TABLE: &'static str = "gyms";
    const KEY: &'static str = "id";
    fn key(&self) -> String {
        format!("id = {}", self.id.map_or(-1, |v| v.0))
    }
    fn convert(self) -> Result<Gym, String> {
        Ok(Gym {
            id: req_id(self.id, "id")?,
            name: required(self.name, "name")?,
            subdomain: self.subdomain,
            logo_url: self.logo_url,
            is_active: self.is_active,
        })
    }
}

#[derive(FromRow)]
struct UserRow {
    id: Option<DbInt>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    picture: Option<String>,
    auth0_id: Option<String>,
    is_active: Option<bool>,
    role: Option<DbText>,
}

impl RawRow for UserRow {
    type Out = User;
    const TABLE: &'static str = "user";
    const KEY: &'static str = "id";
    fn key(&self) -> String {
        format!("id = {}", self.id.map_or(-1, |v| v.0))
    }
    fn convert(self) -> Result<User, String> {
        Ok(User {
            id: req_id(self.id, "id")?,
            email: required(self.email, "email")?,
            first_name: self.first_name,
            last_name: self.last_name,
            picture: self.picture,
            auth0_id: self.auth0_id,
            is_active: self.is_active,
            role: self.role.map(|r| PlatformRole::from_db(&r.0)).transpose()?,
        })
    }
}

#[derive(FromRow)]
struct MembershipRow {
    user_id: Option<DbInt>,
    gym_id: Option<DbInt>,
    role: Option<DbText>,
    is_active: Option<bool>,
    membership_expires_at: Option<DbTime>,
}

impl RawRow for MembershipRow {
    type Out = Membership;
    const TABLE: &'static str = "user_gyms";
    const KEY: &'static str = "user_id";
    fn key(&self) -> String {
        format!("user_id = {}, gym_id = {}", self.user_id.map_or(-1, |v| v.0), self.gym_id.map_or(-1, |v| v.0))
    }
    fn convert(self) -> Result<Membership, String> {
        Ok(Membership {
            user_id: req_id(self.user_id, "user_id")?,
            gym_id: req_id(self.gym_id, "gym_id")?,
            role: GymRole::from_db(&required(self.role, "role")?.0)?,
            is_active: self.is_active,
            membership_expires_at: self.membership_expires_at.map(|t| t.0),
        })
    }
}

/// One row for a request's caller: the user by subject, the gym asked for, and the user's
/// membership of it (the two latter NULL when absent).
#[derive(FromRow)]
struct CallerRow {
    id: Option<DbInt>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    picture: Option<String>,
    auth0_id: Option<String>,
    is_active: Option<bool>,
    role: Option<DbText>,
    g_id: Option<DbInt>,
    g_name: Option<String>,
    g_subdomain: Option<String>,
    g_logo_url: Option<String>,
    g_is_active: Option<bool>,
    m_role: Option<DbText>,
    m_is_active: Option<bool>,
    m_expires_at: Option<DbTime>,
    s_fingerprint: Option<String>,
    s_synced_at_ms: Option<i64>,
}

/// Who calls, in which gym: what every request of the chat service checks first.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerInGym {
    /// The user whose identity-provider subject it is.
    pub user: User,
    /// The gym asked for; `None` when there is no such gym.
    pub gym: Option<Gym>,
    /// The user's membership of that gym, active or not; `None` when there is none.
    pub membership: Option<Membership>,
    /// What the chat service last upserted of the user's Stream identity in that gym:
    /// `(fingerprint, when)`; `None` when it never did.
    pub stream_synced: Option<(String, DateTime<Utc>)>,
}

macro_rules! select_gyms {
    ($rest:literal) => {
        concat!("SELECT id, name, subdomain, logo_url, is_active FROM gyms ", $rest)
    };
}
macro_rules! select_users {
    ($rest:literal) => {
        concat!("SELECT id, email, first_name, last_name, picture, auth0_id, is_active, role FROM \"user\" ", $rest)
    };
}
macro_rules! select_memberships {
    ($rest:literal) => {
        concat!("SELECT user_id, gym_id, role, is_active, membership_expires_at FROM user_gyms ", $rest)
    };
}

impl Session {
    /// The gym with this id.
    pub async fn gym(&mut self, id: GymId) -> Result<Option<Gym>> {
        let sql = select_gyms!("WHERE id = $1");
        let rows = on_db!(self.db(), c => sqlx::query(sql).bind(id.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, GymRow>))?;
        one_row(rows)
    }

    /// Every gym, by id.
    pub async fn gyms(&mut self) -> Result<Rows<Gym>> {
        let sql = select_gyms!("ORDER BY id");
        Ok(on_db!(self.db(), c => sqlx::query(sql).fetch_all(&mut *c).await.map(collect_rows::<_, GymRow>))?)
    }

    /// The user with this internal id.
    pub async fn user(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = select_users!("WHERE id = $1");
        let rows = on_db!(self.db(), c => sqlx::query(sql).bind(id.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, UserRow>))?;
        one_row(rows)
    }

    /// The user whose identity-provider subject is `subject` (`user.auth0_id`, unique).
    pub async fn user_by_auth0(&mut self, subject: &str) -> Result<Option<User>> {
        let sql = select_users!("WHERE auth0_id = $1");
        let rows = on_db!(self.db(), c => sqlx::query(sql).bind(subject).fetch_all(&mut *c).await
            .map(collect_rows::<_, UserRow>))?;
        one_row(rows)
    }

    /// The users with these ids, by id; unknown ids are left out. Any number of ids: they are
    /// bound a thousand at a time.
    pub async fn users(&mut self, ids: &[UserId]) -> Result<Rows<User>> {
        let mut sorted: Vec<i64> = ids.iter().map(|id| id.get()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut out = Rows::default();
        for chunk in sorted.chunks(IDS_PER_QUERY) {
            // Only `$n` placeholders are spliced in.
            let sql = format!(concat!(select_users!("WHERE id IN ({})"), " ORDER BY id"), placeholders(chunk.len(), 0));
            let rows = on_db!(self.db(), c => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await.map(collect_rows::<_, UserRow>)
            })?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// The user with identity-provider subject `subject`, the gym `gym` and the user's
    /// membership of it, in one statement; `None` when no user has that subject. A row that
    /// cannot be understood is [`crate::StoreError::BadRow`].
    pub async fn caller_in_gym(&mut self, subject: &str, gym: GymId) -> Result<Option<CallerInGym>> {
        let sql = "SELECT u.id, u.email, u.first_name, u.last_name, u.picture, u.auth0_id, u.is_active, u.role, \
                   g.id AS g_id, g.name AS g_name, g.subdomain AS g_subdomain, g.logo_url AS g_logo_url, \
                   g.is_active AS g_is_active, ug.role AS m_role, ug.is_active AS m_is_active, \
                   ug.membership_expires_at AS m_expires_at, su.fingerprint AS s_fingerprint, \
                   su.synced_at_ms AS s_synced_at_ms \
                   FROM \"user\" u LEFT JOIN gyms g ON g.id = $2 \
                   LEFT JOIN user_gyms ug ON ug.user_id = u.id AND ug.gym_id = $2 \
                   LEFT JOIN gymchat_stream_users su ON su.gym_id = $2 AND su.user_id = u.id \
                   WHERE u.auth0_id = $1";
        let row: Option<CallerRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(subject).bind(gym.get()).fetch_optional(&mut *c).await)?;
        let Some(r) = row else { return Ok(None) };
        let bad = |table: &'static str, key: String, reason: String| crate::StoreError::BadRow { table, key, reason };
        let user_key = format!("id = {}", r.id.map_or(-1, |v| v.0));
        let user = UserRow {
            id: r.id,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            picture: r.picture,
            auth0_id: r.auth0_id,
            is_active: r.is_active,
            role: r.role,
        }
        .convert()
        .map_err(|e| bad("user", user_key, e))?;
        let gym_row = r.g_id.map(|id| GymRow {
            id: Some(id),
            name: r.g_name,
            subdomain: r.g_subdomain,
            logo_url: r.g_logo_url,
            is_active: r.g_is_active,
        });
        let found = gym_row.map(|g| g.convert().map_err(|e| bad("gyms", format!("id = {gym}"), e))).transpose()?;
        let membership = r
            .m_role
            .map(|role| {
                MembershipRow {
                    user_id: Some(DbInt(user.id.get())),
                    gym_id: Some(DbInt(gym.get())),
                    role: Some(role),
                    is_active: r.m_is_active,
                    membership_expires_at: r.m_expires_at,
                }
                .convert()
                .map_err(|e| bad("user_gyms", format!("user_id = {}", user.id), e))
            })
            .transpose()?;
        let stream_synced = r
            .s_fingerprint
            .zip(r.s_synced_at_ms)
            .map(|(f, ms)| (f, DateTime::from_timestamp_millis(ms).unwrap_or_default()));
        Ok(Some(CallerInGym { user, gym: found, membership, stream_synced }))
    }

    /// Records that the user's Stream identity in the gym was upserted as `fingerprint` at `at`.
    pub async fn record_stream_user(
        &mut self,
        gym: GymId,
        user: UserId,
        fingerprint: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO gymchat_stream_users (gym_id, user_id, fingerprint, synced_at_ms) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (gym_id, user_id) \
                   DO UPDATE SET fingerprint = excluded.fingerprint, synced_at_ms = excluded.synced_at_ms";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(gym.get())
            .bind(user.get())
            .bind(fingerprint)
            .bind(at.timestamp_millis())
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The user's membership of the gym, active or not.
    pub async fn membership(&mut self, user: UserId, gym: GymId) -> Result<Option<Membership>> {
        let sql = select_memberships!("WHERE user_id = $1 AND gym_id = $2");
        let rows = on_db!(self.db(), c => sqlx::query(sql)
            .bind(user.get())
            .bind(gym.get())
            .fetch_all(&mut *c)
            .await
            .map(collect_rows::<_, MembershipRow>))?;
        one_row(rows)
    }

    /// Every membership of the gym, active or not, by user id.
    pub async fn memberships_of_gym(&mut self, gym: GymId) -> Result<Rows<Membership>> {
        let sql = select_memberships!("WHERE gym_id = $1 ORDER BY user_id");
        Ok(on_db!(self.db(), c => sqlx::query(sql).bind(gym.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, MembershipRow>))?)
    }

    /// Every membership of the user, active or not, by gym id.
    pub async fn memberships_of_user(&mut self, user: UserId) -> Result<Rows<Membership>> {
        let sql = select_memberships!("WHERE user_id = $1 ORDER BY gym_id");
        Ok(on_db!(self.db(), c => sqlx::query(sql).bind(user.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, MembershipRow>))?)
    }
}
