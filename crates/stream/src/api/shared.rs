//! What the endpoint files share: channel paths and the reading of "does not exist".

use gymchat_ids::Cid;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::error::StreamError;

/// A delete that finds nothing to delete has nothing left to do: `None`. Only Stream's own
/// "does not exist" (404 with code 16) counts.
pub(crate) fn gone_is_done<T>(result: Result<T, StreamError>) -> Result<Option<T>, StreamError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The characters escaped in one path segment: what RFC 3986 does not allow there, and `/`
/// and `%`. Ids Stream generated (`!members-…`) keep their `!`, which a path segment allows.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%');

/// One path segment, percent-escaped.
pub(crate) fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// `/channels/{type}/{id}{suffix}`, the type and id percent-escaped.
pub(crate) fn channel_path(cid: &Cid, suffix: &str) -> String {
    format!("/channels/{}/{}{suffix}", segment(cid.channel_type().as_str()), segment(cid.id().as_str()))
}
