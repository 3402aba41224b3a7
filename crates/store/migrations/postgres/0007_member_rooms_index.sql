-- no-transaction
-- A member's rooms are read on every `GET /chat/my-rooms`: without an index on the member column
-- each read scans every member row of the database. The platform's table gets this one index,
-- named gymchat_ and built CONCURRENTLY (hence outside a transaction), so the live app's writes
-- are never blocked; it changes no row, no column and no constraint.
CREATE INDEX CONCURRENTLY IF NOT EXISTS gymchat_chat_members_user ON chat_members (user_id, room_id);
