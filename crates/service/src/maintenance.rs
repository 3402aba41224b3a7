//! Maintenance windows as the service sees them: while a gym's window lasts (a migration moving
//! its channels, or one an operator opened with `gymchat maintenance on`), routes that create a
//! chat or change who is in one answer 503 with `Retry-After`; reading, tokens and per-member
//! changes keep working.

use chrono::Utc;
use gymchat_ids::GymId;
use gymchat_store::Session;

use crate::error::{ApiError, ApiResult};

/// 503 with `Retry-After` while the gym is in a maintenance window (a migration moving its
/// channels, or one an operator opened): routes that create a chat or change who is in one call
/// this first, so nothing is created on, or joined to, a channel that is about to be replaced.
pub(crate) async fn refuse_during_maintenance(db: &mut Session, gym: GymId) -> ApiResult<()> {
    let Some(window) = db.maintenance(gym).await? else { return Ok(()) };
    let left = (window.until - Utc::now()).num_seconds();
    // Never more than a minute: the window may end early, and the apps retry on their own.
    Err(ApiError::maintenance(left.clamp(1, 60) as u64))
}
