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
    /// One row could not be understood (a NULL where gymchat needs a value, an unknown label, a
    /// time out of range). Reads of many rows set such rows aside as [`crate::SkippedRow`]
    /// instead; this error is for a read of one row.
    #[error("{table} row {key} cannot be read: {reason}")]
    BadRow {
        /// The table.
        table: &'static str,
        /// Which row (`id = 665`, `user_id = 8, gym_id = 4`).
        key: String,
        /// Why.
        reason: String,
    },
    /// A read was asked to be complete, and some rows had to be set aside.
    #[error("{count} {table} row(s) could not be read, the first: {first}")]
    IncompleteRead {
        /// The table of the first row set aside.
        table: &'static str,
        /// How many rows were set aside.
        count: usize,
        /// The first row's key and reason.
        first: String,
    },
    /// A table has a NOT NULL column without a default that a fixture row does not carry, and
    /// gymchat has no stated value for its type.
    #[error("{table}.{column} is NOT NULL without a default and gymchat has no value to fill it with (type {ty})")]
    NoFillValue {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its type.
        ty: String,
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
    /// A lock operation named a lease that this holder no longer holds: it ran out and was
    /// taken over, or was released. A fenced write guarded by it is refused.
    #[error("lock {name:?} is no longer held by {holder:?}")]
    LockLost {
        /// Lock name.
        name: String,
        /// The holder that asked.
        holder: String,
    },
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
