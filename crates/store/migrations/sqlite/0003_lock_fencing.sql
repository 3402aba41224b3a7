-- Fencing tokens for leases: `fence` grows by one each time the lock passes to a new holder and
-- survives release (the row is kept), so a write guarded by an older token can be refused.
ALTER TABLE gymchat_locks ADD COLUMN fence BIGINT NOT NULL DEFAULT 0;
