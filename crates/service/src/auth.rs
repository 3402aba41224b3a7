//! Who calls: axum extractors that every route states in its signature.
//!
//! - [`GymCaller`]: `Authorization: Bearer <JWT>` checked by the verifier
//!   ([`crate::identity::Verifier`]), its `sub` mapped to
//!   `user.auth0_id`; then `X-Gym-ID` mapped to the gym and the caller's membership, which must be
//!   active (SYSTEM.md §2, expiry included) unless the caller is a SUPER_ADMIN. One database
//!   statement for all of it.
//! - [`WorkerKey`]: `X-API-Key` compared in constant time with the configured key.
//!
//! Failures: no or bad token 401; missing or malformed `X-Gym-ID` 400; unknown subject or no
//! active membership 403; unknown gym 404.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use gymchat_ids::{GymId, StreamUserId, UserId};
use gymchat_store::{Gym, GymRole, User};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn bearer(parts: &Parts) -> ApiResult<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
    let value = value.to_str().map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(ApiError::unauthorized("Authorization must be `Bearer <token>`")),
    }
}

fn gym_header(parts: &Parts) -> ApiResult<GymId> {
    let value = parts.headers.get("x-gym-id").ok_or_else(|| ApiError::bad_request("missing X-Gym-ID header"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|v| GymId::new(v).ok())
        .ok_or_else(|| ApiError::bad_request("X-Gym-ID must be a positive integer"))
}

/// The caller of a chat route: a known user, in the gym of `X-Gym-ID`, with an active
/// membership there (or SUPER_ADMIN).
#[derive(Debug, Clone)]
pub struct GymCaller {
    /// The user.
    pub user: User,
    /// The gym of the request.
    pub gym: Gym,
    /// The caller's role in the gym; `None` for a SUPER_ADMIN without a membership.
    pub role: Option<GymRole>,
    /// What the service last upserted of the caller's Stream identity here, and when.
    pub stream_synced: Option<(String, chrono::DateTime<Utc>)>,
}

impl GymCaller {
    /// The request's gym.
    pub fn gym_id(&self) -> GymId {
        self.gym.id
    }

    /// The caller's internal id.
    pub fn user_id(&self) -> UserId {
        self.user.id
    }

    /// The caller's Stream identity in this gym.
    pub fn stream_id(&self) -> StreamUserId {
        StreamUserId::for_member(self.gym.id, self.user.id)
    }

    /// True when the caller has `minimum` or above in this gym, or is a SUPER_ADMIN.
    pub fn has_role(&self, minimum: GymRole) -> bool {
        self.user.is_super_admin() || self.role.is_some_and(|r| r.at_least(minimum))
    }

    /// 403 unless [`GymCaller::has_role`].
    pub fn require(&self, minimum: GymRole) -> ApiResult<()> {
        if self.has_role(minimum) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this needs the {minimum} role or above in this gym")))
        }
    }
}

impl FromRequestParts<AppState> for GymCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let subject = state.verifier().subject(token).await?;
        let gym_id = gym_header(parts)?;
        let mut db = state.store().session().await?;
        let found = db.caller_in_gym(&subject, gym_id).await?.ok_or_else(|| {
            ApiError::forbidden("no user of this platform has this identity; sign up in the app first")
        })?;
        if found.user.is_active == Some(false) {
            return Err(ApiError::forbidden("this account is deactivated"));
        }
        let gym = found.gym.ok_or_else(|| ApiError::not_found(format!("gym {gym_id} does not exist")))?;
        let active = found.membership.as_ref().filter(|m| m.active_at(Utc::now()));
        if active.is_none() && !found.user.is_super_admin() {
            return Err(ApiError::forbidden(format!("you are not an active member of gym {gym_id}")));
        }
        let role = active.map(|m| m.role);
        Ok(GymCaller { user: found.user, gym, role, stream_synced: found.stream_synced })
    }
}

/// A worker's call: `X-API-Key` equals the configured key (compared in constant time).
#[derive(Debug, Clone, Copy)]
pub struct WorkerKey;

impl FromRequestParts<AppState> for WorkerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.config().worker_api_key.as_ref() else {
            return Err(ApiError::forbidden("worker endpoints are disabled: no worker API key is configured"));
        };
        let given = parts
            .headers
            .get("x-api-key")
            .ok_or_else(|| ApiError::unauthorized("missing X-API-Key header"))?
            .as_bytes();
        if bool::from(given.ct_eq(expected.expose_secret().as_bytes())) {
            Ok(WorkerKey)
        } else {
            Err(ApiError::unauthorized("invalid X-API-Key"))
        }
    }
}
