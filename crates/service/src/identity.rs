//! Checking the identity provider's tokens: HS256 with a shared secret (development and tests),
//! or RS256 with the provider's published keys (JWKS, production), keys cached and fetched again
//! when a token names an unknown `kid`.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

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
        /// The keys are fetched again for an unknown `kid` at most this often, so tokens with
        /// made-up key ids cannot make the service hammer the identity provider
        /// ([`JWKS_REFETCH_INTERVAL`] in production).
        refetch_interval: Duration,
    },
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
                key: DecodingKey::from_secret(secret.expose_secret().as_bytes()),
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
