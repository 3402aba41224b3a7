//! The service's work that no request waits for, on every replica: the webhook inbox (woken at
//! once when a delivery is taken in, and looked at every second for retries that fell due), the
//! sweep of room reservations whose requests are over (every half minute), and, in a task of its
//! own so that a slow OneSignal holds nothing else up, the push outbox (woken when a push is
//! queued, looked at every second).

use std::time::Duration;

use crate::provision::room;
use crate::push::sender;
use crate::state::AppState;
use crate::webhooks;

/// How often the inbox is looked at without being woken.
const INBOX_TICK: Duration = Duration::from_secs(1);
/// How often stale room reservations are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Runs until the task is aborted (when the server stops).
pub(crate) async fn run(s: AppState) {
    let pushes = tokio::spawn(send_pushes(s.clone()));
    let _stop_pushes = AbortOnDrop(pushes);
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

/// Aborts the task when dropped (when [`run`] is aborted).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends the outbox's due pushes whenever woken or every second.
async fn send_pushes(s: AppState) {
    if s.config().push.is_none() {
        return;
    }
    loop {
        tokio::select! {
            () = s.outbox().notified() => {}
            () = tokio::time::sleep(INBOX_TICK) => {}
        }
        if let Err(e) = sender::send_due(&s).await {
            tracing::warn!(error = %e, "the push outbox could not be worked; tried again shortly");
        }
    }
}
