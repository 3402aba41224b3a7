-- The chat service's own state, in the database so that several replicas behave as one.

-- One room per direct pair, per event and per General channel of a gym: a request claims the key
-- in the transaction that writes the room, so concurrent first requests (on any replica) create
-- exactly one room. Keys: `direct:{gym}:{low user}:{high user}`, `event:{gym}:{event}`,
-- `general:{gym}`.
CREATE TABLE IF NOT EXISTS gymchat_room_keys (
    room_key TEXT PRIMARY KEY,
    gym_id BIGINT NOT NULL,
    room_id BIGINT NOT NULL
);

-- Stream webhooks already taken in, by `X-Webhook-Id`: a delivery Stream repeats is done once.
CREATE TABLE IF NOT EXISTS gymchat_webhooks (
    webhook_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL
);
