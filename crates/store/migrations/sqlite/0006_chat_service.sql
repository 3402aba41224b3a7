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

-- The Stream identities the service has upserted (what it sent, as a fingerprint, and when), so
-- that handing out a token calls Stream only when the person's name, avatar or team changed or a
-- day has passed: Stream allows few user updates a minute, and the apps ask for tokens often.
CREATE TABLE IF NOT EXISTS gymchat_stream_users (
    gym_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    synced_at_ms BIGINT NOT NULL,
    PRIMARY KEY (gym_id, user_id)
);
