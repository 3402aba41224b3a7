-- The migration's journal (gymchat migrate). A run covers some gyms with one strategy; its items
-- are one row per Stream user to create and per room to move, each with its state, attempts,
-- last error and timings. A state change is written before and after the call it guards, and
-- the room switch commits in one transaction with its item row and its channel move.
CREATE TABLE IF NOT EXISTS gymchat_migration_runs (
    run_id TEXT PRIMARY KEY,
    gyms TEXT NOT NULL,
    strategy TEXT NOT NULL,
    history TEXT NOT NULL,
    plan_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    holder TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    finished_at_ms BIGINT,
    message TEXT
);

CREATE TABLE IF NOT EXISTS gymchat_migration_items (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    gym_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    room_id BIGINT,
    old_id TEXT NOT NULL,
    new_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    spec TEXT NOT NULL,
    detail TEXT,
    started_at_ms BIGINT,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (run_id, kind, old_id)
);
CREATE INDEX IF NOT EXISTS gymchat_migration_items_run ON gymchat_migration_items (run_id, id);
