-- Several workers on one run (issue 21): each journal item is claimed under a lease of its own,
-- each worker says it is alive, and the rate budget is shared per operation and window.

-- An item's claim: who works it, its fencing token (grows with every claim, so a worker whose
-- claim was taken over cannot write), until when by the database's clock, and when a worker last
-- let it go (a worker never takes back in the same pass an item let go after its pass began).
ALTER TABLE gymchat_migration_items ADD COLUMN claimed_by TEXT;
ALTER TABLE gymchat_migration_items ADD COLUMN claim_fence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE gymchat_migration_items ADD COLUMN claim_until_ms BIGINT;
ALTER TABLE gymchat_migration_items ADD COLUMN released_at_ms BIGINT;
CREATE INDEX IF NOT EXISTS gymchat_migration_items_open ON gymchat_migration_items (run_id, kind, state, gym_id);

-- The workers of a run: their heartbeat (the database's clock) and what they finished.
CREATE TABLE IF NOT EXISTS gymchat_migration_workers (
    run_id TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    items_done BIGINT NOT NULL DEFAULT 0,
    items_failed BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    message TEXT,
    PRIMARY KEY (run_id, worker)
);

-- One rate budget for every worker: per operation and rate window (the window's length and its
-- number since the Unix epoch), the calls all workers together may make and those claimed.
CREATE TABLE IF NOT EXISTS gymchat_rate_budget (
    operation TEXT NOT NULL,
    window_ms BIGINT NOT NULL,
    window_index BIGINT NOT NULL,
    cap BIGINT NOT NULL,
    claimed BIGINT NOT NULL,
    last_grant BIGINT NOT NULL,
    PRIMARY KEY (operation, window_ms, window_index)
);
