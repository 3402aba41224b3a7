-- The platform's tables as production has them (SYSTEM.md §2), created only when absent. On an
-- existing production database every statement here is a no-op: gymchat never renames, retypes or
-- constrains the platform's tables.
--
-- The fresh schema mirrors production on purpose, quirks included, so that gymchat is tested
-- against what it meets: production's enum types, int4 ids, naive `timestamp` chat times holding
-- UTC (but `timestamptz` event times and `user.created_at`), the nullable columns production holds
-- NULL in, NOT NULL columns without a default (every INSERT fills them), no unique key on
-- `event_participations (event_id, member_id)` nor on `chat_members`, and `chat_members.room_id`
-- nullable without cascade. Only gymchat's own writes avoid creating duplicates.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'userrole' AND typnamespace = current_schema()::regnamespace) THEN
        CREATE TYPE userrole AS ENUM ('SUPER_ADMIN', 'ADMIN', 'TRAINER', 'MEMBER');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'gymroletype' AND typnamespace = current_schema()::regnamespace) THEN
        CREATE TYPE gymroletype AS ENUM ('OWNER', 'ADMIN', 'TRAINER', 'MEMBER');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'eventstatus' AND typnamespace = current_schema()::regnamespace) THEN
        CREATE TYPE eventstatus AS ENUM ('SCHEDULED', 'CANCELLED', 'COMPLETED');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'eventparticipationstatus' AND typnamespace = current_schema()::regnamespace) THEN
        CREATE TYPE eventparticipationstatus AS ENUM ('REGISTERED', 'PENDING_PAYMENT', 'CANCELLED', 'WAITING_LIST');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'chatroomstatus' AND typnamespace = current_schema()::regnamespace) THEN
        CREATE TYPE chatroomstatus AS ENUM ('ACTIVE', 'CLOSED');
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS gyms (
    id SERIAL PRIMARY KEY,
    name VARCHAR NOT NULL,
    subdomain VARCHAR UNIQUE,
    logo_url VARCHAR,
    is_active BOOLEAN,
    timezone VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS "user" (
    id SERIAL PRIMARY KEY,
    email VARCHAR NOT NULL UNIQUE,
    first_name VARCHAR,
    last_name VARCHAR,
    picture VARCHAR,
    auth0_id VARCHAR UNIQUE,
    is_active BOOLEAN,
    role userrole,
    created_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS user_gyms (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES "user" (id),
    gym_id INTEGER NOT NULL REFERENCES gyms (id),
    role gymroletype NOT NULL,
    is_active BOOLEAN,
    membership_expires_at TIMESTAMP,
    membership_type VARCHAR NOT NULL,
    UNIQUE (user_id, gym_id)
);

CREATE TABLE IF NOT EXISTS events (
    id SERIAL PRIMARY KEY,
    gym_id INTEGER NOT NULL REFERENCES gyms (id),
    title VARCHAR,
    start_time TIMESTAMPTZ NOT NULL,
    end_time TIMESTAMPTZ NOT NULL,
    status eventstatus,
    creator_id INTEGER REFERENCES "user" (id),
    max_participants INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS event_participations (
    id SERIAL PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events (id),
    member_id INTEGER NOT NULL REFERENCES "user" (id),
    gym_id INTEGER NOT NULL REFERENCES gyms (id),
    status eventparticipationstatus
);

CREATE TABLE IF NOT EXISTS chat_rooms (
    id SERIAL PRIMARY KEY,
    stream_channel_id VARCHAR UNIQUE,
    stream_channel_type VARCHAR DEFAULT 'messaging',
    name VARCHAR,
    gym_id INTEGER NOT NULL REFERENCES gyms (id),
    event_id INTEGER REFERENCES events (id),
    is_direct BOOLEAN,
    status chatroomstatus,
    created_at TIMESTAMP,
    updated_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS chat_members (
    id SERIAL PRIMARY KEY,
    room_id INTEGER REFERENCES chat_rooms (id),
    user_id INTEGER NOT NULL REFERENCES "user" (id),
    joined_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS chat_member_hidden (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES "user" (id),
    room_id INTEGER NOT NULL REFERENCES chat_rooms (id),
    hidden_at TIMESTAMP,
    UNIQUE (user_id, room_id)
);
