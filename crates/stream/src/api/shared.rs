//! What the endpoint files share: channel paths and the reading of "does not exist".

use gymchat_ids::Cid;

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

/// `/channels/{type}/{id}{suffix}`. Ids Stream generated (`!members-…`) go in as they are: `!`
/// is allowed in a URL path.
pub(crate) fn channel_path(cid: &Cid, suffix: &str) -> String {
    format!("/channels/{}/{}{suffix}", cid.channel_type(), cid.id())
}
