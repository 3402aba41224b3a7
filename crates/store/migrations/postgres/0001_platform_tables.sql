-- The platform's tables, created only when absent. On an existing production database every
-- statement here is a no-op: gymchat never renames, retypes or constrains the platform's tables.
-- Fresh databases get TEXT + CHECK where production has enum types; the store reads both.

CREATE TABLE IF NOT EXISTS gyms (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    subdomain TEXT NOT NULL UNIQUE,
    logo_url TEXT,
    is_active BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE IF NOT EXISTS "user" (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    first_name TEXT,
    last_name TEXT,
    picture TEXT,
    auth0_id TEXT UNIQUE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    role TEXT NOT NULL DEFAULT 'MEMBER' CHECK (role IN ('SUPER_ADMIN', 'ADMIN', 'TRAINER', 'MEMBER'))
);

CREATE TABLE IF NOT EXISTS user_gyms (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES "user" (id),
    gym_id BIGINT NOT NULL REFERENCES gyms (id),
    role TEXT NOT NULL DEFAULT 'MEMBER' CHECK (role IN ('OWNER', 'ADMIN', 'TRAINER', 'MEMBER')),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    membership_expires_at TIMESTAMPTZ,
    UNIQUE (user_id, gym_id)
);

CREATE TABLE IF NOT EXISTS events (
    id BIGSERIAL PRIMARY KEY,
    gym_id BIGINT NOT NULL REFERENCES gyms (id),
    title TEXT NOT NULL,
    start_time TIMESTAMPTZ NOT NULL,
    end_time TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL DEFAULT 'SCHEDULED' CHECK (status IN ('SCHEDULED', 'CANCELLED', 'COMPLETED')),
    creator_id BIGINT REFERENCES "user" (id)
);

CREATE TABLE IF NOT EXISTS event_participations (
    id BIGSERIAL PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES events (id),
    member_id BIGINT NOT NULL REFERENCES "user" (id),
    gym_id BIGINT NOT NULL REFERENCES gyms (id),
    status TEXT NOT NULL CHECK (status IN ('REGISTERED', 'PENDING_PAYMENT', 'CANCELLED', 'WAITING_LIST')),
    UNIQUE (event_id, member_id)
);

-- event_id has no foreign key: production keeps rooms of events that were deleted.
CREATE TABLE IF NOT EXISTS chat_rooms (
    id BIGSERIAL PRIMARY KEY,
    stream_channel_id TEXT UNIQUE,
    stream_channel_type TEXT NOT NULL DEFAULT 'messaging',
    name TEXT,
    gym_id BIGINT NOT NULL REFERENCES gyms (id),
    event_id BIGINT,
    is_direct BOOLEAN NOT NULL DEFAULT FALSE,
    status TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'CLOSED')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS chat_members (
    id BIGSERIAL PRIMARY KEY,
    room_id BIGINT NOT NULL REFERENCES chat_rooms (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES "user" (id),
    joined_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (room_id, user_id)
);

CREATE TABLE IF NOT EXISTS chat_member_hidden (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES "user" (id),
    room_id BIGINT NOT NULL REFERENCES chat_rooms (id) ON DELETE CASCADE,
    hidden_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, room_id)
);
