-- The platform's tables as production has them (SYSTEM.md §2), created only when absent. On an
-- existing database every statement here is a no-op: gymchat never renames, retypes or constrains
-- the platform's tables.
--
-- The same shape as the Postgres schema (production's nullability, NOT NULL columns without a
-- default, no unique key on participations or members, nullable `chat_members.room_id` without
-- cascade), so both backends accept the same data. Enum columns are TEXT with a CHECK of the
-- labels (a CHECK passes NULL); times are TEXT, read as UTC.

CREATE TABLE IF NOT EXISTS gyms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    subdomain TEXT UNIQUE,
    logo_url TEXT,
    is_active BOOLEAN,
    timezone TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS "user" (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    first_name TEXT,
    last_name TEXT,
    picture TEXT,
    auth0_id TEXT UNIQUE,
    is_active BOOLEAN,
    role TEXT CHECK (role IN ('SUPER_ADMIN', 'ADMIN', 'TRAINER', 'MEMBER')),
    created_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS user_gyms (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES "user" (id),
    gym_id INTEGER NOT NULL REFERENCES gyms (id),
    role TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'TRAINER', 'MEMBER')),
    is_active BOOLEAN,
    membership_expires_at TIMESTAMP,
    membership_type TEXT NOT NULL,
    UNIQUE (user_id, gym_id)
);

CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    gym_id INTEGER NOT NULL REFERENCES gyms (id),
    title TEXT,
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP NOT NULL,
    status TEXT CHECK (status IN ('SCHEDULED', 'CANCELLED', 'COMPLETED')),
    creator_id INTEGER REFERENCES "user" (id),
    max_participants INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS event_participations (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events (id),
    member_id INTEGER NOT NULL REFERENCES "user" (id),
    gym_id INTEGER NOT NULL REFERENCES gyms (id),
    status TEXT CHECK (status IN ('REGISTERED', 'PENDING_PAYMENT', 'CANCELLED', 'WAITING_LIST'))
);

CREATE TABLE IF NOT EXISTS chat_rooms (
    id INTEGER PRIMARY KEY,
    stream_channel_id TEXT UNIQUE,
    stream_channel_type TEXT DEFAULT 'messaging',
    name TEXT,
    gym_id INTEGER NOT NULL REFERENCES gyms (id),
    event_id INTEGER REFERENCES events (id),
    is_direct BOOLEAN,
    status TEXT CHECK (status IN ('ACTIVE', 'CLOSED')),
    created_at TIMESTAMP,
    updated_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS chat_members (
    id INTEGER PRIMARY KEY,
    room_id INTEGER REFERENCES chat_rooms (id),
    user_id INTEGER NOT NULL REFERENCES "user" (id),
    joined_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS chat_member_hidden (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES "user" (id),
    room_id INTEGER NOT NULL REFERENCES chat_rooms (id),
    hidden_at TIMESTAMP,
    UNIQUE (user_id, room_id)
);
