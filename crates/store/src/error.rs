//! The store's error type. Messages name the table, row or lock concerned and never include a
//! database password.

/// Everything the store can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `DATABASE_URL` is neither `postgres://`/`postgresql://` nor `sqlite:`.
    #[error("unsupported database URL scheme {scheme:?}: use postgres://… or sqlite://…")]
    UnsupportedUrl {
        /// The scheme that was given.
        scheme: String,
    },
    /// Could not connect or open the database file.
    #[error("cannot connect to {target}")]
    Connect {
        /// The database, with any password removed.
        target: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A schema migration failed; the migration's own transaction was rolled back.
    #[error("schema migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A row holds a value gymchat cannot interpret (unknown enum label, id ≤ 0, …).
    #[error("{table}.{column} holds {value:?}, which gymchat cannot interpret: {reason}")]
    BadValue {
        /// Table of the row.
        table: &'static str,
        /// Column of the value.
        column: &'static str,
        /// The value as text.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// Another room already points at this Stream channel (`chat_rooms.stream_channel_id` is unique).
    #[error("another room already uses Stream channel {channel_id:?}")]
    ChannelIdTaken {
        /// The channel id.
        channel_id: String,
    },
    /// A fixture file is not valid JSON of the expected shape.
    #[error("fixture is malformed at {path}: {message}")]
    FixtureFormat {
        /// Where in the file (`db.chat_rooms[3].gym_id`), plus line and column when known.
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// A fixture row was refused by the database (constraint, type, …). Nothing was written.
    #[error("fixture row {table}[{index}] was refused by the database, nothing was loaded")]
    FixtureRow {
        /// The table.
        table: &'static str,
        /// The row's position in that table's array, from 0.
        index: usize,
        /// The database's error.
        source: sqlx::Error,
    },
    /// The named lock is held by someone else whose lease has not run out.
    #[error("lock {name:?} is held by {holder:?} until {expires_at}")]
    LockHeld {
        /// Lock name.
        name: String,
        /// Who holds it.
        holder: String,
        /// When the lease runs out unless renewed.
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    /// A lock operation named a lease that this holder does not hold (expired and taken over).
    #[error("lock {name:?} is not held by {holder:?}")]
    LockLost {
        /// Lock name.
        name: String,
        /// The holder that asked.
        holder: String,
    },
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
