//! A file uploaded to a channel, as the sandbox's stand-in for Stream's CDN keeps it.

use bytes::Bytes;

/// An uploaded file.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    /// Its bytes.
    pub bytes: Bytes,
    /// Its content type.
    pub content_type: String,
    /// The channel it was uploaded to.
    pub cid: String,
}
