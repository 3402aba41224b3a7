-- The member index of `GET /chat/my-rooms` is made after the migrations, and only where no index
-- on chat_members (user_id, room_id) exists (production has ix_chat_members_user_id_room_id): see
-- the store's member_index module. This migration once created it unconditionally.
SELECT 1;
