//! Checking the identity provider's tokens as the platform does (APP_CONTRACT §1.3): HS256 with a
//! shared secret (development and tests), or RS256 with the provider's published keys (JWKS,
//! production). The keys are cached, refreshed when an hour old, and fetched again once for an
//! unknown `kid`; every fetch (a failed one too) waits out the refetch interval before the next,
//! so neither made-up key ids nor a provider that is down make every request call it.
//!
//! A token's grants are its resource scopes ([`Scopes`]): the space-separated `scope` claim, plus
//! the `permissions` list, or failing that `https://gymapi/permissions`, or failing that the first
//! list-valued claim whose name contains `permissions`; `:` and `_` are the same character in
//! them.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Who issues the callers' tokens.
#[derive(Debug, Clone)]
pub enum IdentityConfig {
    /// HS256 with a shared secret (development and tests).
    Hs256 {
        /// The secret.
        secret: SecretString,
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
        /// The keys are fetched at most this often, whatever tokens arrive and whether the last
        /// fetch worked ([`JWKS_REFETCH_INTERVAL`] in production).
        refetch_interval: Duration,
    },
}

/// How often, at most, the JWKS is fetched in production.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// Keys older than this are fetched again on the next request.
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);

/// A resource scope a route requires (APP_CONTRACT §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `resource:read`: every member.
    Read,
    /// `resource:write`: TRAINER and above.
    Write,
    /// `resource:admin`: ADMIN, OWNER, SUPER_ADMIN.
    Admin,
}

impl Scope {
    /// The scope's name, as the tokens and the refusals spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "resource:read",
            Scope::Write => "resource:write",
            Scope::Admin => "resource:admin",
        }
    }
}

/// The scopes a token grants, with `_` read as `:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    fn normalise(s: &str) -> String {
        s.replace('_', ":")
    }

    /// Whether `scope` is granted.
    pub fn grants(&self, scope: Scope) -> bool {
        self.0.contains(scope.as_str())
    }

    /// The grants of a token's claims, or 403 when `scope` is not a string.
    fn of(claims: &Map<String, Value>) -> ApiResult<Self> {
        let mut granted = BTreeSet::new();
        match claims.get("scope") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => granted.extend(s.split_whitespace().map(Self::normalise)),
            Some(_) => return Err(ApiError::forbidden("Token \"scope\" field must be a string")),
        }
        let list = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|items| items.iter().filter_map(Value::as_str).map(Self::normalise).collect())
                .unwrap_or_default()
        };
        let mut permissions = list(claims.get("permissions"));
        if permissions.is_empty() {
            permissions = list(claims.get("https://gymapi/permissions"));
        }
        if permissions.is_empty() {
            permissions = claims
                .iter()
                .find(|(name, value)| name.contains("permissions") && value.is_array())
                .map(|(_, value)| list(Some(value)))
                .unwrap_or_default();
        }
        granted.extend(permissions);
        Ok(Scopes(granted))
    }
}

/// A checked token: who, and what it grants.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The `sub` claim (the identity provider's user id).
    pub subject: String,
    /// The resource scopes granted.
    pub scopes: Scopes,
}

struct JwksCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    tried_at: Option<Instant>,
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
    v.validate_nbf = true;
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

/// The platform's 401 for a token the library refused.
fn refused(e: &jsonwebtoken::errors::Error) -> ApiError {
    tracing::debug!(error = %e, "token refused");
    match e.kind() {
        ErrorKind::ExpiredSignature => ApiError::unauthorized("Expired token"),
        ErrorKind::InvalidIssuer
        | ErrorKind::InvalidAudience
        | ErrorKind::InvalidSubject
        | ErrorKind::ImmatureSignature
        | ErrorKind::MissingRequiredClaim(_) => ApiError::unauthorized(format!("Invalid token claims: {e}")),
        ErrorKind::InvalidToken
        | ErrorKind::InvalidSignature
        | ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => ApiError::unauthorized(format!("Malformed token: {e}")),
        _ => ApiError::unauthorized("Error verifying token"),
    }
}

impl Verifier {
    /// A verifier for `config`.
    pub fn new(config: &IdentityConfig) -> Self {
        let kind = match config {
            IdentityConfig::Hs256 { secret, issuer, audience } => VerifierKind::Hs256 {
                key: DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                validation: validation(Algorithm::HS256, issuer.as_deref(), audience.as_deref()),
            },
            IdentityConfig::Jwks { url, issuer, audience, refetch_interval } => VerifierKind::Jwks {
                url: url.clone(),
                validation: validation(Algorithm::RS256, Some(issuer), Some(audience)),
                http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
                cache: RwLock::new(JwksCache { keys: HashMap::new(), fetched_at: None, tried_at: None }),
                refetch: *refetch_interval,
            },
        };
        Verifier { kind }
    }

    /// The token's subject and scopes, or the platform's 401/403 saying what is wrong with it.
    pub async fn check(&self, token: &str) -> ApiResult<Identity> {
        let claims = match &self.kind {
            VerifierKind::Hs256 { key, validation } => {
                decode::<Map<String, Value>>(token, key, validation).map_err(|e| refused(&e))?
            }
            VerifierKind::Jwks { url, validation, http, cache, refetch } => {
                let header = decode_header(token).map_err(|e| refused(&e))?;
                let kid = header.kid.ok_or_else(|| ApiError::unauthorized("Malformed token header: missing kid"))?;
                if stale(cache) {
                    // An hour-old key set is refreshed; if the provider is down the cached keys
                    // keep working.
                    let _ = refresh_jwks(url, http, cache, *refetch).await;
                }
                let key = match cached_key(cache, &kid) {
                    Some(key) => key,
                    None => {
                        refresh_jwks(url, http, cache, *refetch).await?;
                        cached_key(cache, &kid).ok_or_else(|| {
                            ApiError::unauthorized("Invalid kid header (wrong tenant or rotated public key)")
                        })?
                    }
                };
                decode::<Map<String, Value>>(token, &key, validation).map_err(|e| refused(&e))?
            }
        };
        let claims = claims.claims;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::unauthorized("Invalid token claims: sub is not a string"))?
            .to_owned();
        Ok(Identity { subject, scopes: Scopes::of(&claims)? })
    }
}

fn cached_key(cache: &RwLock<JwksCache>, kid: &str) -> Option<DecodingKey> {
    cache.read().unwrap_or_else(|p| p.into_inner()).keys.get(kid).cloned()
}

fn stale(cache: &RwLock<JwksCache>) -> bool {
    let c = cache.read().unwrap_or_else(|p| p.into_inner());
    c.fetched_at.is_some_and(|t| t.elapsed() >= JWKS_MAX_AGE)
}

/// Fetches the JWKS again, unless a fetch was tried within `interval` (whether it worked or not).
async fn refresh_jwks(
    url: &str,
    http: &reqwest::Client,
    cache: &RwLock<JwksCache>,
    interval: Duration,
) -> ApiResult<()> {
    let unavailable = || ApiError::unavailable("the identity provider's keys cannot be fetched; try again");
    {
        let mut c = cache.write().unwrap_or_else(|p| p.into_inner());
        if c.tried_at.is_some_and(|t| t.elapsed() < interval) {
            // Tried a moment ago: the keys are what that fetch left (none if it failed).
            return if c.fetched_at.is_some() { Ok(()) } else { Err(unavailable()) };
        }
        c.tried_at = Some(Instant::now());
    }
    let fetched: Result<JwkSet, String> = async {
        let response = http.get(url).send().await.and_then(reqwest::Response::error_for_status);
        response.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())
    }
    .await;
    let set = fetched.map_err(|e| {
        tracing::error!(url, error = %e, "cannot fetch the identity provider's keys");
        unavailable()
    })?;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scopes(claims: Value) -> ApiResult<Scopes> {
        Scopes::of(claims.as_object().unwrap())
    }

    #[test]
    fn scopes_come_from_scope_then_permissions_with_colon_and_underscore_alike() {
        let s = scopes(json!({ "scope": "openid resource_read", "permissions": ["resource:write"] })).unwrap();
        assert!(s.grants(Scope::Read) && s.grants(Scope::Write) && !s.grants(Scope::Admin));
        let s = scopes(json!({ "https://gymapi/permissions": ["resource:admin"] })).unwrap();
        assert!(s.grants(Scope::Admin) && !s.grants(Scope::Read));
        // `permissions` wins over the namespaced claim when it has entries.
        let s = scopes(json!({ "permissions": ["resource:read"], "https://gymapi/permissions": ["resource:admin"] }))
            .unwrap();
        assert!(s.grants(Scope::Read) && !s.grants(Scope::Admin));
        let s = scopes(json!({ "my_permissions": ["resource_write"] })).unwrap();
        assert!(s.grants(Scope::Write));
        let refused = scopes(json!({ "scope": ["resource:read"] })).unwrap_err();
        assert_eq!((refused.status.as_u16(), refused.detail.as_str()), (403, "Token \"scope\" field must be a string"));
    }
}
