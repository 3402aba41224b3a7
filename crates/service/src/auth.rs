//! Who calls: axum extractors that every route states in its signature.
//!
//! - [`GymCaller`]: `Authorization: Bearer <JWT>` checked by the [`Verifier`] (HS256 with a shared
//!   secret for development and tests; RS256 with the identity provider's JWKS in production,
//!   keys cached and fetched again when a token names an unknown `kid`), its `sub` mapped to
//!   `user.auth0_id`; then `X-Gym-ID` mapped to the gym and the caller's membership, which must be
//!   active (SYSTEM.md §2, expiry included) unless the caller is a SUPER_ADMIN. One database
//!   statement for all of it.
//! - [`WorkerKey`]: `X-API-Key` compared in constant time with the configured key.
//!
//! Failures: no or bad token 401; missing or malformed `X-Gym-ID` 400; unknown subject or no
//! active membership 403; unknown gym 404.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use gymchat_ids::{GymId, StreamUserId, UserId};
use gymchat_store::{Gym, GymRole, User};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Who issues the callers' tokens.
#[derive(Clone)]
pub enum IdentityConfig {
    /// HS256 with a shared secret (development and tests).
    Hs256 {
        /// The secret.
        secret: String,
        /// Required `iss`, when set.
        issuer: Option<String>,
        /// Required `aud`, when set.
        audience: Option<String>,
    },
    /// RS256 with the keys the identity provider publishes (production).
    Jwks {
        /// The JWKS document's URL.
        url: String,
        /// Required `iss`.
        issuer: String,
        /// Required `aud`.
        audience: String,
        /// The keys are fetched again for an unknown `kid` at most this often, so tokens with
        /// made-up key ids cannot make the service hammer the identity provider
        /// ([`JWKS_REFETCH_INTERVAL`] in production).
        refetch_interval: Duration,
    },
}

impl std::fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentityConfig::Hs256 { issuer, audience, .. } => f
                .debug_struct("Hs256")
                .field("secret", &"***")
                .field("issuer", issuer)
                .field("audience", audience)
                .finish(),
            IdentityConfig::Jwks { url, issuer, audience, refetch_interval } => f
                .debug_struct("Jwks")
                .field("url", url)
                .field("issuer", issuer)
                .field("audience", audience)
                .field("refetch_interval", refetch_interval)
                .finish(),
        }
    }
}

/// How often, at most, the JWKS is fetched again for an unknown `kid` in production.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

struct JwksCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

/// Checks the identity provider's tokens.
pub struct Verifier {
    kind: VerifierKind,
}

enum VerifierKind {
    Hs256 { key: DecodingKey, validation: Validation },
    Jwks { url: String, validation: Validation, http: reqwest::Client, cache: RwLock<JwksCache>, refetch: Duration },
}

fn validation(algorithm: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Validation {
    // One algorithm only: `alg: none` and algorithm confusion are refused by the library.
    let mut v = Validation::new(algorithm);
    v.set_required_spec_claims(&["exp", "sub"]);
    v.leeway = 30;
    match issuer {
        Some(iss) => v.set_issuer(&[iss]),
        None => v.iss = None,
    }
    match audience {
        Some(aud) => v.set_audience(&[aud]),
        None => v.validate_aud = false,
    }
    v
}

impl Verifier {
    /// A verifier for `config`.
    pub fn new(config: &IdentityConfig) -> Self {
        let kind = match config {
            IdentityConfig::Hs256 { secret, issuer, audience } => VerifierKind::Hs256 {
                key: DecodingKey::from_secret(secret.as_bytes()),
                validation: validation(Algorithm::HS256, issuer.as_deref(), audience.as_deref()),
            },
            IdentityConfig::Jwks { url, issuer, audience, refetch_interval } => VerifierKind::Jwks {
                url: url.clone(),
                validation: validation(Algorithm::RS256, Some(issuer), Some(audience)),
                http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
                cache: RwLock::new(JwksCache { keys: HashMap::new(), fetched_at: None }),
                refetch: *refetch_interval,
            },
        };
        Verifier { kind }
    }

    /// The token's subject, or 401 saying what is wrong with it.
    pub async fn subject(&self, token: &str) -> ApiResult<String> {
        let invalid = |e: jsonwebtoken::errors::Error| {
            tracing::debug!(error = %e, "token refused");
            ApiError::unauthorized(format!("invalid token: {e}"))
        };
        let claims = match &self.kind {
            VerifierKind::Hs256 { key, validation } => decode::<Claims>(token, key, validation).map_err(invalid)?,
            VerifierKind::Jwks { url, validation, http, cache, refetch } => {
                let header = decode_header(token).map_err(invalid)?;
                let kid = header.kid.ok_or_else(|| ApiError::unauthorized("invalid token: no key id (kid)"))?;
                let key = match cached_key(cache, &kid) {
                    Some(key) => key,
                    None => {
                        refresh_jwks(url, http, cache, *refetch).await?;
                        cached_key(cache, &kid)
                            .ok_or_else(|| ApiError::unauthorized(format!("invalid token: unknown key id {kid}")))?
                    }
                };
                decode::<Claims>(token, &key, validation).map_err(invalid)?
            }
        };
        Ok(claims.claims.sub)
    }
}

fn cached_key(cache: &RwLock<JwksCache>, kid: &str) -> Option<DecodingKey> {
    cache.read().unwrap_or_else(|p| p.into_inner()).keys.get(kid).cloned()
}

/// Fetches the JWKS again, unless it was fetched within `interval`.
async fn refresh_jwks(
    url: &str,
    http: &reqwest::Client,
    cache: &RwLock<JwksCache>,
    interval: Duration,
) -> ApiResult<()> {
    {
        let c = cache.read().unwrap_or_else(|p| p.into_inner());
        if c.fetched_at.is_some_and(|t| t.elapsed() < interval) {
            return Ok(());
        }
    }
    let unavailable = |e: String| {
        tracing::error!(url, error = %e, "cannot fetch the identity provider's keys");
        ApiError::unavailable("the identity provider's keys cannot be fetched; try again")
    };
    let set: JwkSet = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| unavailable(e.to_string()))?
        .json()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let keys = set
        .keys
        .iter()
        .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
        .collect();
    let mut c = cache.write().unwrap_or_else(|p| p.into_inner());
    c.keys = keys;
    c.fetched_at = Some(Instant::now());
    Ok(())
}

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
        let Some(expected) = state.config().worker_api_key.as_deref() else {
            return Err(ApiError::forbidden("worker endpoints are disabled: no worker API key is configured"));
        };
        let given = parts
            .headers
            .get("x-api-key")
            .ok_or_else(|| ApiError::unauthorized("missing X-API-Key header"))?
            .as_bytes();
        if bool::from(given.ct_eq(expected.as_bytes())) {
            Ok(WorkerKey)
        } else {
            Err(ApiError::unauthorized("invalid X-API-Key"))
        }
    }
}
