-- A member's rooms are read on every `GET /chat/my-rooms`: an index on the member column, so the
-- read does not scan every member row.
CREATE INDEX IF NOT EXISTS gymchat_chat_members_user ON chat_members (user_id, room_id);
