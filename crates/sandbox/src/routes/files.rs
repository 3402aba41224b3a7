//! Files on a channel's CDN: `POST /channels/{type}/{id}/file` and `/image` (multipart: `file`,
//! and server-side `user` as JSON `{"id"}`) answer `{"file": url}`. As on Stream's CDN the URL
//! is signed and expires (after 14 days): `GET /_sandbox/cdn/{path}?Expires=&Signature=` serves
//! the bytes only with the signature the sandbox gave, before it expires; any other answer is
//! 403. Sandbox choices: the signature (SHA-256 of the secret, the path and the expiry), the
//! CDN's place (under the sandbox's own address), and a largest file of 100 MB (Stream's).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ApiResult, check_channel_part, created, live_channel, own_address};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::StoredFile;
use crate::state::{Shared, lock};

/// The largest file Stream's CDN takes.
pub const MAX_FILE_BYTES: usize = 100 * 1024 * 1024;
/// How long a CDN URL stays readable.
const URL_LIFETIME_SECONDS: i64 = 14 * 24 * 3600;

fn signature(secret: &str, path: &str, expires: i64) -> String {
    hex::encode(Sha256::digest(format!("{secret}|{path}|{expires}").as_bytes()))
}

/// `POST /channels/{type}/{id}/file`.
pub async fn upload_file(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(cid): Path<(String, String)>,
    headers: HeaderMap,
    form: Multipart,
) -> ApiResult {
    upload(&s, &caller, cid, &headers, form, false).await
}

/// `POST /channels/{type}/{id}/image`: an image type only.
pub async fn upload_image(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(cid): Path<(String, String)>,
    headers: HeaderMap,
    form: Multipart,
) -> ApiResult {
    upload(&s, &caller, cid, &headers, form, true).await
}

async fn upload(
    s: &Shared,
    caller: &Caller,
    (kind, id): (String, String),
    headers: &HeaderMap,
    mut form: Multipart,
    image: bool,
) -> ApiResult {
    check_channel_part(&kind, "type")?;
    check_channel_part(&id, "id")?;
    let bad = |e: axum::extract::multipart::MultipartError| ApiError::input(format!("multipart body: {e}"));
    let (mut file, mut named) = (None, None);
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("file").to_owned();
                let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                file = Some((name, content_type, field.bytes().await.map_err(bad)?));
            }
            Some("user") => {
                let text = field.text().await.map_err(bad)?;
                let user: Value =
                    serde_json::from_str(&text).map_err(|e| ApiError::input_field("user", e.to_string()))?;
                named = user.get("id").and_then(Value::as_str).map(str::to_owned);
            }
            _ => {}
        }
    }
    let (name, content_type, bytes) = file.ok_or_else(|| ApiError::input_field("file", "file is required"))?;
    if image && !content_type.starts_with("image/") {
        return Err(ApiError::input_field("file", format!("{content_type} is not an image type")));
    }
    let name: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let cid = format!("{kind}:{id}");
    let mut app = lock(&s.app);
    let channel = live_channel(&mut app, caller, &cid)?;
    let uploader = match (caller, named) {
        (Caller::User(me), _) => me.clone(),
        (Caller::Server, Some(user)) => user,
        (Caller::Server, None) => return Err(ApiError::input_field("user", "user is required server-side")),
    };
    if !channel.has_member(&uploader) && matches!(caller, Caller::User(_)) {
        return Err(ApiError::forbidden(format!("user {uploader} is not a member of channel {cid}")));
    }
    let path = format!("{kind}/{id}/{}/{name}", uuid::Uuid::new_v4().simple());
    let expires = Utc::now().timestamp() + URL_LIFETIME_SECONDS;
    let signed = signature(s.settings.secret.expose_secret(), &path, expires);
    app.files.insert(path.clone(), StoredFile { bytes, content_type, cid });
    let host = own_address(headers);
    Ok(created(json!({ "file": format!("http://{host}/_sandbox/cdn/{path}?Expires={expires}&Signature={signed}") })))
}

/// `GET /_sandbox/cdn/{path}?Expires=&Signature=`: the file, for a valid signature before it
/// expires.
pub async fn serve(
    State(s): State<Arc<Shared>>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let expires = query.get("Expires").and_then(|e| e.parse::<i64>().ok()).unwrap_or_default();
    let given = query.get("Signature").map(String::as_str).unwrap_or_default();
    if expires <= Utc::now().timestamp() || given != signature(s.settings.secret.expose_secret(), &path, expires) {
        return (StatusCode::FORBIDDEN, "Request has expired or the signature is not valid").into_response();
    }
    match lock(&s.app).files.get(&path) {
        Some(f) => ([(header::CONTENT_TYPE, f.content_type.clone())], Body::from(f.bytes.clone())).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
