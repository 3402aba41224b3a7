//! Authentication as Stream does it: `api_key` in the query, the raw JWT in `Authorization`.
//!
//! A server token is HS256 over `{"server": true}`; a user token carries `user_id` and optionally
//! `exp`, `iat`, `nbf`. Time claims are checked here rather than by the JWT library so each
//! failure gets Stream's own code (40 expired, 41 not yet valid, 42 issued in the future,
//! 43 bad signature, 5 anything else).

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::ApiError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A server token: unfiltered, may do everything.
    Server,
    /// A user token for this user id.
    User(String),
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    server: bool,
    user_id: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
}

/// Leeway for clock skew, as Stream allows a little.
const LEEWAY_SECONDS: i64 = 5;

/// Checks the api key and the token; `now` is Unix seconds.
pub fn authenticate(
    key: &str,
    secret: &SecretString,
    api_key: Option<&str>,
    token: Option<&str>,
    now: i64,
) -> Result<Caller, ApiError> {
    match api_key {
        None | Some("") => return Err(ApiError::api_key("api_key not found")),
        Some(k) if k != key => return Err(ApiError::api_key(format!("api key {k} not found"))),
        Some(_) => {}
    }
    let token = token.map(|t| t.strip_prefix("Bearer ").unwrap_or(t)).filter(|t| !t.is_empty());
    let token = token.ok_or_else(|| ApiError::auth(5, "Authorization header is missing"))?;

    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let decoded = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.expose_secret().as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => ApiError::auth(43, "JWT signature is invalid"),
        _ => ApiError::auth(5, "token is malformed"),
    })?;
    let claims = decoded.claims;
    if claims.exp.is_some_and(|exp| exp + LEEWAY_SECONDS < now) {
        return Err(ApiError::auth(40, "token has expired"));
    }
    if claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECONDS > now) {
        return Err(ApiError::auth(41, "token is not valid yet"));
    }
    if claims.iat.is_some_and(|iat| iat - LEEWAY_SECONDS > now) {
        return Err(ApiError::auth(42, "token used before issue at (iat)"));
    }
    match (claims.server, claims.user_id) {
        (true, _) => Ok(Caller::Server),
        (false, Some(user)) if !user.is_empty() => Ok(Caller::User(user)),
        _ => Err(ApiError::auth(5, "token has neither server nor user_id")),
    }
}
