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

-- Cleanup runs and their journal: every action recorded before and after it happens, with what
-- a database change replaced, so that an undo restores it.
CREATE TABLE IF NOT EXISTS gymchat_cleanup_runs (
    run_id TEXT PRIMARY KEY,
    started_at_ms BIGINT NOT NULL,
    finished_at_ms BIGINT,
    undone_at_ms BIGINT,
    summary TEXT
);

CREATE TABLE IF NOT EXISTS gymchat_cleanup_actions (
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    gym_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    before_json TEXT,
    detail TEXT,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS gymchat_cleanup_actions_run ON gymchat_cleanup_actions (run_id);
