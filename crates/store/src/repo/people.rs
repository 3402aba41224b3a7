//! Gyms, users and memberships (`gyms`, `user`, `user_gyms`).

use gymchat_ids::{GymId, UserId};
use sqlx::{AssertSqlSafe, FromRow};

use super::{label, to_id};
use crate::backend::{Session, on_db};
use crate::error::Result;
use crate::model::{Gym, GymRole, Membership, PlatformRole, User};
use crate::value::{DbInt, DbText, DbTime};

#[derive(FromRow)]
struct GymRow {
    id: DbInt,
    name: String,
    subdomain: String,
    logo_url: Option<String>,
    is_active: bool,
}

impl TryFrom<GymRow> for Gym {
    type Error = crate::StoreError;
    fn try_from(r: GymRow) -> Result<Gym> {
        Ok(Gym {
            id: to_id(r.id, "gyms", "id")?,
            name: r.name,
            subdomain: r.subdomain,
            logo_url: r.logo_url,
            is_active: r.is_active,
        })
    }
}

#[derive(FromRow)]
struct UserRow {
    id: DbInt,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    picture: Option<String>,
    auth0_id: Option<String>,
    is_active: bool,
    role: DbText,
}

impl TryFrom<UserRow> for User {
    type Error = crate::StoreError;
    fn try_from(r: UserRow) -> Result<User> {
        Ok(User {
            id: to_id(r.id, "user", "id")?,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            picture: r.picture,
            auth0_id: r.auth0_id,
            is_active: r.is_active,
            role: PlatformRole::from_db(&label(r.role), "user", "role")?,
        })
    }
}

#[derive(FromRow)]
struct MembershipRow {
    user_id: DbInt,
    gym_id: DbInt,
    role: DbText,
    is_active: bool,
    membership_expires_at: Option<DbTime>,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = crate::StoreError;
    fn try_from(r: MembershipRow) -> Result<Membership> {
        Ok(Membership {
            user_id: to_id(r.user_id, "user_gyms", "user_id")?,
            gym_id: to_id(r.gym_id, "user_gyms", "gym_id")?,
            role: GymRole::from_db(&label(r.role), "user_gyms", "role")?,
            is_active: r.is_active,
            membership_expires_at: r.membership_expires_at.map(|t| t.0),
        })
    }
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
        let row: Option<GymRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(id.get()).fetch_optional(&mut *c).await)?;
        row.map(Gym::try_from).transpose()
    }

    /// Every gym, by id.
    pub async fn gyms(&mut self) -> Result<Vec<Gym>> {
        let sql = select_gyms!("ORDER BY id");
        let rows: Vec<GymRow> = on_db!(self.db(), c => sqlx::query_as(sql).fetch_all(&mut *c).await)?;
        rows.into_iter().map(Gym::try_from).collect()
    }

    /// The user with this internal id.
    pub async fn user(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = select_users!("WHERE id = $1");
        let row: Option<UserRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(id.get()).fetch_optional(&mut *c).await)?;
        row.map(User::try_from).transpose()
    }

    /// The user whose identity-provider subject is `subject` (`user.auth0_id`).
    pub async fn user_by_auth0(&mut self, subject: &str) -> Result<Option<User>> {
        let sql = select_users!("WHERE auth0_id = $1");
        let row: Option<UserRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(subject).fetch_optional(&mut *c).await)?;
        row.map(User::try_from).transpose()
    }

    /// The users with these ids, by id; unknown ids are left out.
    pub async fn users(&mut self, ids: &[UserId]) -> Result<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let params: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        // Only `$n` placeholders are spliced in.
        let sql = format!(concat!(select_users!("WHERE id IN ({})"), " ORDER BY id"), params.join(", "));
        let rows: Vec<UserRow> = on_db!(self.db(), c => {
            let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
            for id in ids {
                q = q.bind(id.get());
            }
            q.fetch_all(&mut *c).await
        })?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// The user's membership of the gym, active or not.
    pub async fn membership(&mut self, user: UserId, gym: GymId) -> Result<Option<Membership>> {
        let sql = select_memberships!("WHERE user_id = $1 AND gym_id = $2");
        let row: Option<MembershipRow> = on_db!(self.db(), c => sqlx::query_as(sql)
            .bind(user.get())
            .bind(gym.get())
            .fetch_optional(&mut *c)
            .await)?;
        row.map(Membership::try_from).transpose()
    }

    /// Every membership of the gym, by user id.
    pub async fn memberships_of_gym(&mut self, gym: GymId) -> Result<Vec<Membership>> {
        let sql = select_memberships!("WHERE gym_id = $1 ORDER BY user_id");
        let rows: Vec<MembershipRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(gym.get()).fetch_all(&mut *c).await)?;
        rows.into_iter().map(Membership::try_from).collect()
    }

    /// Every membership of the user, by gym id.
    pub async fn memberships_of_user(&mut self, user: UserId) -> Result<Vec<Membership>> {
        let sql = select_memberships!("WHERE user_id = $1 ORDER BY gym_id");
        let rows: Vec<MembershipRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(user.get()).fetch_all(&mut *c).await)?;
        rows.into_iter().map(Membership::try_from).collect()
    }
}
