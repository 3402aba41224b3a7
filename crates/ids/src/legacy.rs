//! The rules the platform's older code used to make ids, kept so gymchat can recognise and map
//! back what it meets in production. Nothing here is used to create new Stream objects.

use md5::{Digest, Md5};

use crate::error::IdError;
use crate::numeric::UserId;
use crate::stream::StreamUserId;

/// Auth0 connection prefixes whose sanitised subjects appear as Stream user ids.
pub const AUTH0_PROVIDERS: &[&str] = &[
    "auth0",
    "google-oauth2",
    "apple",
    "facebook",
    "windowslive",
    "github",
    "twitter",
    "linkedin",
    "email",
    "sms",
    "samlp",
    "oidc",
    "waad",
    "adfs",
];

/// The oldest era's Stream user id for an Auth0 subject: every character outside `[a-z0-9@_-]`
/// (uppercase letters included) becomes `_`, so `auth0|abc` → `auth0_abc` and
/// `google-oauth2|123` → `google-oauth2_123`. Apply it to `user.auth0_id` to map such a Stream
/// user back to the platform user.
pub fn sanitize_auth0_subject(subject: &str) -> Result<StreamUserId, IdError> {
    let keep = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '@' | '_' | '-');
    let sanitised: String = subject.chars().map(|c| if keep(c) { c } else { '_' }).collect();
    StreamUserId::parse(&sanitised)
}

/// The 8 hex digits the legacy event chat id carried: the start of MD5 of the creator's internal
/// id in decimal (`event_644_d3d94468` was created by user 10).
pub fn legacy_event_creator_hash(creator: UserId) -> String {
    let digest = Md5::digest(creator.to_string().as_bytes());
    let mut h = hex::encode(digest);
    h.truncate(8);
    h
}
