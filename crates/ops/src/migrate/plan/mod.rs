//! What a migration will do, read from the database and Stream: per gym the Stream users to
//! create, the rooms to move (old cid → new cid with members, team, creator and custom fields),
//! the rooms left alone and why, and the messages to copy; plus an estimate of API calls and
//! minimum wall time for each strategy.
//!
//! - `spec`: the plan's types and its content hash;
//! - `read`: what is read from the database for a gym;
//! - `gym`: one gym's rooms, each to its target channel (SYSTEM.md §3) or left alone;
//! - `users`: the target users the moved channels need.
//!
//! The plan carries a hash of its content, which is everything it read that matters: applying a
//! saved plan re-plans and refuses when the hash differs (the world changed since).

mod gym;
mod read;
pub mod spec;
mod users;

use chrono::{DateTime, Utc};
use gymchat_ids::GymId;
use gymchat_store::Store;
use gymchat_stream::Client;

pub use spec::{
    AppLimits, ChannelSpec, ConversationCounts, Estimate, GymPlan, MIGRATED_FROM, PLAN_VERSION, Plan, SkippedRoom,
    UserSpec,
};

use crate::migrate::error::MigrateError;
use crate::migrate::estimate::estimates;
use crate::migrate::options::Options;

/// Reads what the plan needs and makes it.
pub async fn plan(
    store: &Store,
    client: &Client,
    gyms: &[GymId],
    options: Options,
    now: DateTime<Utc>,
) -> Result<Plan, MigrateError> {
    let mut plans = Vec::with_capacity(gyms.len());
    for gym in gyms {
        // Each gym is its own unit: one that cannot be planned is reported in its own plan (which
        // is then not complete, so nothing of it is run) and the others are planned.
        let planned = match gym::plan_gym(store, client, *gym, options, now).await {
            Ok(plan) => plan,
            Err(e @ (MigrateError::UnknownGym(_) | MigrateError::Store(_))) => GymPlan::unplanned(*gym, &e),
            Err(e) => return Err(e),
        };
        plans.push(planned);
    }
    let content_hash = Plan::compute_hash(&options, &plans);
    let limits = app_limits(client).await;
    Ok(Plan {
        version: PLAN_VERSION,
        generated_at: now,
        estimates: estimates(&plans, &limits),
        limits,
        options,
        gyms: plans,
        content_hash,
    })
}

/// The app's real limits (`GET /rate_limits`; plans differ from the defaults), or Stream's
/// documented defaults when the app does not say, and which.
async fn app_limits(client: &Client) -> AppLimits {
    match client.rate_limits().await {
        Ok(limits) if !limits.is_empty() => AppLimits {
            source: "the app's limits (GET /rate_limits)".into(),
            per_minute: limits.into_iter().map(|(op, l)| (op, l.limit)).collect(),
        },
        Ok(_) => AppLimits {
            source: "Stream's documented defaults (the app reported no limits)".into(),
            per_minute: Default::default(),
        },
        Err(e) => AppLimits {
            source: format!("Stream's documented defaults (GET /rate_limits failed: {e})"),
            per_minute: Default::default(),
        },
    }
}
