-- Push notifications waiting to be sent to OneSignal (issue 20): written with the webhook
-- delivery that caused them, in the same transaction, keyed by that delivery and the push's
-- purpose (so a repeated delivery never queues a push twice), sent by any replica (claimed with
-- a hold that runs out if the sender dies), retried with a growing delay while OneSignal fails,
-- and failed for good after the last attempt.
CREATE TABLE IF NOT EXISTS gymchat_push_outbox (
    push_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at_ms BIGINT NOT NULL,
    last_error TEXT,
    queued_at_ms BIGINT NOT NULL,
    done_at_ms BIGINT
);
-- Only what waits is indexed, in the order the sender claims it.
CREATE INDEX IF NOT EXISTS gymchat_push_outbox_due ON gymchat_push_outbox (next_at_ms) WHERE state IN ('pending', 'working');
