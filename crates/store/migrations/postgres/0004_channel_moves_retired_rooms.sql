-- gymchat's own records of what the operations did, read by the audit.

-- A room that moved from one Stream channel to another (written by the migration in the same
-- transaction as the room switch): the old channel is archived, not an orphan.
CREATE TABLE IF NOT EXISTS gymchat_channel_moves (
    room_id BIGINT NOT NULL,
    gym_id BIGINT NOT NULL,
    old_cid TEXT NOT NULL,
    new_cid TEXT NOT NULL,
    run_id TEXT NOT NULL,
    moved_at_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, old_cid)
);

-- A room that cleanup retired: its channel is gone and the operator accepted that.
CREATE TABLE IF NOT EXISTS gymchat_retired_rooms (
    room_id BIGINT PRIMARY KEY,
    gym_id BIGINT NOT NULL,
    cid TEXT,
    run_id TEXT NOT NULL,
    retired_at_ms BIGINT NOT NULL
);
