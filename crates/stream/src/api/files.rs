//! Files on a channel's CDN: `POST /channels/{type}/{id}/file` and `/image`, multipart (`file`,
//! and `user` as JSON). Not paced: Stream documents no limit for uploads.

use bytes::Bytes;
use gymchat_ids::{Cid, StreamUserId};
use reqwest::header::AUTHORIZATION;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use super::shared::channel_path;
use crate::client::{CLIENT_NAME, Client};
use crate::error::{ErrorKind, StreamError};
use crate::failure::{error_kind, transport_error};

/// A file uploaded to a channel.
#[derive(Deserialize)]
struct Uploaded {
    file: String,
}

impl Client {
    /// `POST /channels/{type}/{id}/file` (or `/image`) as `user`: the file's URL on Stream's
    /// CDN. A repeat after a lost answer makes a second file that nothing points at.
    pub async fn upload_to_channel(
        &self,
        cid: &Cid,
        user: &StreamUserId,
        (name, content_type, bytes): (&str, &str, Bytes),
        image: bool,
    ) -> Result<String, StreamError> {
        let op = if image { "UploadImage" } else { "UploadFile" };
        let what = if image { "image" } else { "file" };
        let url = format!("{}{}", self.config.base_url, channel_path(cid, &format!("/{what}")));
        self.repeating(|| async {
            let part = reqwest::multipart::Part::bytes(bytes.to_vec())
                .file_name(name.to_owned())
                .mime_str(content_type)
                .map_err(|e| StreamError::new(op, ErrorKind::Refused(format!("content type {content_type}: {e}"))))?;
            let user = reqwest::multipart::Part::text(json!({ "id": user }).to_string());
            let form = reqwest::multipart::Form::new().part("file", part).part("user", user);
            let res = self
                .http
                .post(&url)
                .query(&[("api_key", self.config.key.as_str())])
                .header(AUTHORIZATION, self.token.expose_secret())
                .header("stream-auth-type", "jwt")
                .header("X-Stream-Client", CLIENT_NAME)
                .multipart(form)
                .send()
                .await
                .map_err(|e| transport_error(op, &e))?;
            let (status, headers) = (res.status(), res.headers().clone());
            let body = res.bytes().await.map_err(|e| transport_error(op, &e))?;
            if !status.is_success() {
                return Err(StreamError::new(op, error_kind(status, &headers, &body)));
            }
            let uploaded: Uploaded =
                serde_json::from_slice(&body).map_err(|e| StreamError::new(op, ErrorKind::Decode(e.to_string())))?;
            Ok(uploaded.file)
        })
        .await
    }
}
