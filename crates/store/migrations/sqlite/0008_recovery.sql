-- What makes the migration and the service safe to stop, repeat and recover (issue 18).

-- A gym's maintenance window: while it lasts, the chat service refuses the gym's chat-creating
-- and membership routes (503 with Retry-After) so that nothing is created or joined while its
-- channels move. It ends at `until_ms` by the database's clock unless renewed or cleared, so a
-- window whose migration died does not last.
CREATE TABLE IF NOT EXISTS gymchat_maintenance (
    gym_id BIGINT PRIMARY KEY,
    until_ms BIGINT NOT NULL,
    reason TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at_ms BIGINT NOT NULL
);

-- Stream's webhook deliveries, kept until processed: taken in (and acknowledged) first, worked
-- after by any replica, retried while they fail, done once whatever Stream repeats.
CREATE TABLE IF NOT EXISTS gymchat_webhook_inbox (
    webhook_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at_ms BIGINT NOT NULL,
    last_error TEXT,
    received_at_ms BIGINT NOT NULL,
    done_at_ms BIGINT
);
CREATE INDEX IF NOT EXISTS gymchat_webhook_inbox_due ON gymchat_webhook_inbox (state, next_at_ms);

-- Rooms the chat service has reserved and whose Stream channel is not confirmed yet: not listed
-- to anyone until the channel exists, removed (room and all) when it cannot be made.
CREATE TABLE IF NOT EXISTS gymchat_pending_rooms (
    room_id BIGINT PRIMARY KEY,
    gym_id BIGINT NOT NULL,
    cid TEXT NOT NULL,
    request_id TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
