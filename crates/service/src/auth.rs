//! Who calls, as the platform checks it (APP_CONTRACT §1.3–§1.5): axum extractors that every
//! route states in its signature, and the per-route gym level and scope.
//!
//! - [`GymCaller`]: `Authorization: Bearer <JWT>` checked by the verifier
//!   ([`crate::identity::Verifier`]), `X-Gym-ID` mapped to the gym, the token's `sub` to
//!   `user.auth0_id` and the caller's membership, which must be active (SYSTEM.md §2, expiry
//!   included; the platform only asks for a row) unless the caller is a SUPER_ADMIN. One database
//!   statement for all of it. The route then states its [`Level`] and [`Scope`] with
//!   [`GymCaller::allow`], checked in the platform's order: gym role first, then scope.
//! - [`Caller`]: a bearer token and a known user, no gym (`GET /chat/user-rooms`).
//! - [`WorkerKey`]: `X-API-Key` compared in constant time with the configured key.
//!
//! The refusals' statuses and `detail` texts are the platform's, Spanish where its are.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use gymchat_ids::{GymId, StreamUserId, UserId};
use gymchat_store::{Gym, GymRole, User};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::identity::{Identity, Scope, Scopes};
use crate::state::AppState;

/// The bearer token, or the platform's 403 when there is none.
fn bearer(parts: &Parts) -> ApiResult<&str> {
    let missing = || ApiError::forbidden("Missing bearer token");
    let value = parts.headers.get(axum::http::header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(missing()),
    }
}

/// `X-Gym-ID` as an integer, with the platform's 400s; 0 and negative ids are gyms that do not
/// exist (404 later).
fn gym_header(parts: &Parts) -> ApiResult<i64> {
    let value = parts.headers.get("x-gym-id").ok_or_else(|| {
        ApiError::bad_request("Header 'X-Gym-ID' requerido. Debe especificar el ID del gimnasio al que desea acceder.")
    })?;
    let text = String::from_utf8_lossy(value.as_bytes());
    text.trim().parse::<i64>().map_err(|_| {
        ApiError::bad_request(format!("El valor '{text}' no es un ID de gimnasio válido. Debe ser un número entero."))
    })
}

fn no_gym(id: i64) -> ApiError {
    ApiError::not_found(format!(
        "El gimnasio con ID {id} no existe o no está activo. Verifique que el ID del gimnasio sea correcto."
    ))
}

fn unregistered(subject: &str) -> ApiError {
    ApiError::forbidden(format!(
        "Tu cuenta no está registrada en el sistema. Contacta al administrador para completar tu registro (Auth0 ID: {subject})."
    ))
}

/// The gym role a route needs (APP_CONTRACT §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Any role in the gym.
    Member,
    /// TRAINER, ADMIN or OWNER.
    Trainer,
    /// ADMIN or OWNER.
    Admin,
}

impl Level {
    fn minimum(self) -> GymRole {
        match self {
            Level::Member => GymRole::Member,
            Level::Trainer => GymRole::Trainer,
            Level::Admin => GymRole::Admin,
        }
    }

    /// The roles allowed, sorted and joined as the platform's refusal names them.
    fn roles(self) -> &'static str {
        match self {
            Level::Member => "ADMIN, MEMBER, OWNER, TRAINER",
            Level::Trainer => "ADMIN, OWNER, TRAINER",
            Level::Admin => "ADMIN, OWNER",
        }
    }
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
    /// The token's resource scopes.
    pub scopes: Scopes,
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

    /// The route's gym level, then its scope, with the platform's 403s.
    pub fn allow(&self, level: Level, scope: Scope) -> ApiResult<()> {
        if !self.has_role(level.minimum()) {
            let role = self.role.map_or("MEMBER", GymRole::as_str);
            return Err(ApiError::forbidden(format!(
                "Permisos insuficientes para esta operación en '{}'. Rol actual: {role}. Roles requeridos: {}.",
                self.gym.name,
                level.roles()
            )));
        }
        require_scope(&self.scopes, scope)
    }
}

fn require_scope(scopes: &Scopes, scope: Scope) -> ApiResult<()> {
    if scopes.grants(scope) { Ok(()) } else { Err(ApiError::missing_scope(scope.as_str())) }
}

impl FromRequestParts<AppState> for GymCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Identity { subject, scopes } = state.verifier().check(bearer(parts)?).await?;
        let raw_gym = gym_header(parts)?;
        let gym_id = GymId::new(raw_gym).map_err(|_| no_gym(raw_gym))?;
        let mut db = state.store().session().await?;
        let Some(found) = db.caller_in_gym(&subject, gym_id).await? else {
            // The platform names a missing gym before an unknown caller.
            return Err(match db.gym(gym_id).await?.filter(|g| g.is_active != Some(false)) {
                Some(_) => unregistered(&subject),
                None => no_gym(raw_gym),
            });
        };
        let gym = found.gym.filter(|g| g.is_active != Some(false)).ok_or_else(|| no_gym(raw_gym))?;
        if found.user.is_active == Some(false) {
            return Err(ApiError::forbidden("this account is deactivated"));
        }
        let active = found.membership.as_ref().filter(|m| m.active_at(Utc::now()));
        if active.is_none() && !found.user.is_super_admin() {
            return Err(ApiError::forbidden(format!(
                "No tienes acceso al gimnasio '{}' (ID: {gym_id}). Solo los miembros de este gimnasio pueden acceder a sus recursos.",
                gym.name
            )));
        }
        let role = active.map(|m| m.role);
        Ok(GymCaller { user: found.user, gym, role, stream_synced: found.stream_synced, scopes })
    }
}

/// The caller of a route without a gym: a checked token with `resource:read`, and the user it
/// names (404 `Usuario no encontrado` when there is none, as the platform answers).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Identity { subject, scopes } = state.verifier().check(bearer(parts)?).await?;
        require_scope(&scopes, Scope::Read)?;
        let user = state.store().session().await?.user_by_auth0(&subject).await?;
        let user = user.ok_or_else(|| ApiError::not_found("Usuario no encontrado"))?;
        Ok(Caller { user })
    }
}

/// A worker's call: `X-API-Key` equals the configured key (compared in constant time).
#[derive(Debug, Clone, Copy)]
pub struct WorkerKey;

impl FromRequestParts<AppState> for WorkerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.config().worker_api_key.as_ref() else {
            return Err(ApiError::internal("Error de configuración: WORKER_API_KEY no está definida"));
        };
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
        let given = parts.headers.get("x-api-key").map(|v| v.as_bytes()).filter(|v| !v.is_empty());
        let Some(given) = given else {
            return Err(ApiError::unauthorized(format!("Autenticación de worker faltante desde IP: {ip}")));
        };
        if bool::from(given.ct_eq(expected.expose_secret().as_bytes())) {
            Ok(WorkerKey)
        } else {
            Err(ApiError::unauthorized(format!("Clave API del worker inválida desde IP: {ip}")))
        }
    }
}
