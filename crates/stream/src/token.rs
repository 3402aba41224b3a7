//! Stream's JWTs, HS256 with the API secret: a server token (`{"server": true}`) for gymchat's
//! own calls, user tokens (`{"user_id", "iat", "exp"}`) for the apps.

use chrono::{DateTime, Utc};
use gymchat_ids::StreamUserId;
use jsonwebtoken::{EncodingKey, Header, encode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::error::{ErrorKind, StreamError};

#[derive(Serialize)]
struct UserClaims<'a> {
    user_id: &'a str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
}

fn sign<T: Serialize>(claims: &T, secret: &SecretString) -> Result<String, StreamError> {
    encode(&Header::default(), claims, &EncodingKey::from_secret(secret.expose_secret().as_bytes()))
        .map_err(|e| StreamError::new("CreateToken", ErrorKind::Token(e.to_string())))
}

/// The server token: exactly `{"server": true}`. It never expires, so it is as good as the
/// secret it is signed with, and is held as a secret too.
pub fn server_token(secret: &SecretString) -> Result<SecretString, StreamError> {
    sign(&serde_json::json!({ "server": true }), secret).map(SecretString::from)
}

/// A user token issued at `iat`, valid until `exp` when given.
pub fn user_token(
    secret: &SecretString,
    user: &StreamUserId,
    iat: DateTime<Utc>,
    exp: Option<DateTime<Utc>>,
) -> Result<String, StreamError> {
    sign(&UserClaims { user_id: user.as_str(), iat: iat.timestamp(), exp: exp.map(|e| e.timestamp()) }, secret)
}
