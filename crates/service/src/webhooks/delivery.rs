//! What every webhook route reads of a delivery: Stream's signature over the raw body, the
//! delivery's id, the event's channel, and whether a message is a migration's copy.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// 401 unless `signature` is the HMAC-SHA256 of `body` keyed with `secret` (the platform's texts).
pub(crate) fn verify(secret: &SecretString, body: &[u8], signature: Option<&str>) -> ApiResult<()> {
    let signature = signature.ok_or_else(|| ApiError::unauthorized("Missing signature"))?;
    let given = hex::decode(signature.trim()).map_err(|_| ApiError::unauthorized("Invalid signature"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| ApiError::unavailable("the webhook secret cannot be used"))?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).map_err(|_| ApiError::unauthorized("Invalid signature"))
}

/// The delivery's id: Stream's `X-Webhook-Id`, or a digest of the body when it sent none.
pub(crate) fn delivery_id(headers: &HeaderMap, body: &[u8]) -> String {
    match headers.get("x-webhook-id").and_then(|v| v.to_str().ok()).map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

/// Whether a message is a copy a migration made.
pub(crate) fn is_copy(message: &Value) -> bool {
    message.get("gymchat_copy").is_some_and(|v| v.as_bool() == Some(true)) || message.get("original_id").is_some()
}

/// The event's channel type and bare id: from its `channel` object (as the platform reads them),
/// else from `channel_type` and `channel_id`, else from `cid`.
pub(crate) fn channel_of(event: &Value) -> (Option<&str>, Option<&str>) {
    let channel = event.get("channel");
    let field = |object: &str, top: &str| {
        channel
            .and_then(|c| c.get(object))
            .and_then(Value::as_str)
            .or_else(|| event.get(top).and_then(Value::as_str))
            .filter(|v| !v.is_empty())
    };
    let cid = event.get("cid").and_then(Value::as_str).and_then(|c| c.split_once(':'));
    let kind = field("type", "channel_type").or(cid.map(|(t, _)| t));
    let id = field("id", "channel_id").or(cid.map(|(_, id)| id));
    (kind, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn only_the_secrets_signature_of_these_exact_bytes_passes() {
        let body = br#"{"type":"message.new"}"#;
        let s = SecretString::from("s");
        assert!(verify(&s, body, Some(&sign("s", body))).is_ok());
        assert_eq!(verify(&s, body, Some(&sign("other", body))).unwrap_err().status, 401);
        assert_eq!(verify(&s, b"{}", Some(&sign("s", body))).unwrap_err().status, 401);
        assert_eq!(verify(&s, body, Some("zz")).unwrap_err().status, 401);
        assert_eq!(verify(&s, body, None).unwrap_err().status, 401);
    }
}
