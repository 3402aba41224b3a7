//! The service's work that no request waits for, on every replica: the webhook inbox (woken at
//! once when a delivery is taken in, and looked at every second for retries that fell due) and
//! the sweep of room reservations whose requests are over (every half minute).

use std::time::Duration;

use crate::provision::room;
use crate::state::AppState;
use crate::webhooks;

/// How often the inbox is looked at without being woken.
const INBOX_TICK: Duration = Duration::from_secs(1);
/// How often stale room reservations are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Runs until the task is aborted (when the server stops).
pub(crate) async fn run(s: AppState) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = s.inbox().notified() => {}
            () = tokio::time::sleep(INBOX_TICK) => {}
            _ = sweep.tick() => {
                let age = chrono::Duration::from_std(s.limits().pending_room_age).unwrap_or(chrono::Duration::minutes(2));
                match room::sweep(s.store(), s.stream(), age).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(settled = n, "stale room reservations settled"),
                    Err(e) => tracing::warn!(error = %e, "sweeping room reservations failed; tried again later"),
                }
            }
        }
        if let Err(e) = webhooks::work_inbox(&s).await {
            tracing::warn!(error = %e, "the webhook inbox could not be worked; tried again shortly");
        }
    }
}
