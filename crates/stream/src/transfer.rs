//! Calls beside Stream's JSON API, each repeated on a transient failure as calls are: a file
//! `PUT` to a pre-signed upload URL (an import's) and a file read from a URL (an attachment on
//! Stream's CDN, signed: no Stream auth). Neither is paced: Stream documents no limit for them.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;

use crate::client::Client;
use crate::error::{ErrorKind, StreamError};
use crate::failure::transport_error;

impl Client {
    /// Runs `attempt` until it succeeds, fails for good, or the retry policy's attempts are spent.
    pub(crate) async fn repeating<T, F: Future<Output = Result<T, StreamError>>>(
        &self,
        mut attempt: impl FnMut() -> F,
    ) -> Result<T, StreamError> {
        let mut n = 0;
        loop {
            n += 1;
            match attempt().await {
                Err(e) if e.is_transient() && n < self.config.retry.max_attempts => {
                    tokio::time::sleep(self.config.retry.backoff(n)).await;
                }
                other => return other,
            }
        }
    }

    /// `PUT`s a file to a pre-signed upload URL, allowing `timeout` for it (a `PUT` of the same
    /// bytes is safe to repeat).
    pub(crate) async fn put_file(&self, url: &str, file: Bytes, timeout: Duration) -> Result<(), StreamError> {
        const OP: &str = "UploadImport";
        self.repeating(|| async {
            let req = self.http.put(url).timeout(timeout).header(CONTENT_TYPE, "application/x-ndjson");
            let res = req.body(file.clone()).send().await.map_err(|e| transport_error(OP, &e))?;
            match res.status() {
                s if s.is_success() => Ok(()),
                s => Err(StreamError::new(OP, ErrorKind::Status { status: s.as_u16() })),
            }
        })
        .await
    }

    /// Reads a file from a URL (a signed CDN URL needs no Stream auth): its bytes and content
    /// type.
    pub async fn download(&self, url: &str) -> Result<(Bytes, String), StreamError> {
        const OP: &str = "Download";
        self.repeating(|| async {
            let res = self.http.get(url).send().await.map_err(|e| transport_error(OP, &e))?;
            if !res.status().is_success() {
                return Err(StreamError::new(OP, ErrorKind::Status { status: res.status().as_u16() }));
            }
            let kind = res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
            let kind = kind.unwrap_or("application/octet-stream").to_owned();
            Ok((res.bytes().await.map_err(|e| transport_error(OP, &e))?, kind))
        })
        .await
    }

    /// Whether `url` is a file on Stream's CDN as this client reaches Stream
    /// ([`crate::rules::on_stream_cdn`]).
    pub fn on_stream_cdn(&self, url: &str) -> bool {
        crate::rules::on_stream_cdn(url, &self.config.base_url)
    }
}
