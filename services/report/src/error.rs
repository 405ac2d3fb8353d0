//! The errors of the report projection: broken machinery (SQLite, a corrupt
//! or foreign file), never a business "no".

use std::path::PathBuf;

/// What went wrong while opening, updating or querying the projection.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The SQLite file could not be opened or configured (WAL, busy timeout).
    #[error("open projection {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file of another schema version could not be moved aside for the
    /// rebuild ([`crate::Projection::open_for_replay`]).
    #[error("move projection {path} aside to rebuild it: {source}")]
    SetAside {
        /// The file.
        path: PathBuf,
        /// The rename's error.
        #[source]
        source: std::io::Error,
    },
    /// The file was written by another schema version of this crate. The
    /// projection is rebuildable: delete the file and replay the streams.
    #[error(
        "projection {path} has schema version {found}, this build reads version {expected}: with NATS reachable (patchflow up running, or NATS_URL set) it is set aside and rebuilt from the streams"
    )]
    SchemaVersion {
        /// The file.
        path: PathBuf,
        /// Version recorded in the file.
        found: i64,
        /// [`crate::SCHEMA_VERSION`].
        expected: i64,
    },
    /// A SQL statement failed; `context` names what was being done.
    #[error("{context}: {source}")]
    Sql {
        /// What the statement was for (`insert event`, `query open findings`).
        context: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored event's JSON no longer decodes as an [`events::Event`] (the
    /// file was edited, or written by an incompatible contract).
    #[error("stored event at position {position} does not decode: {source}")]
    StoredEvent {
        /// Application-order position of the row.
        position: u64,
        /// Why it does not decode.
        #[source]
        source: events::EventError,
    },
    /// A value read back from the file is not what this crate wrote (a bad
    /// instant, id or enum name): the file was edited or is not a projection.
    #[error("corrupt projection: {0}")]
    Corrupt(String),
    /// An unsigned number does not fit SQLite's signed 64-bit integers.
    #[error("{what} {value} does not fit in a signed 64-bit column")]
    OutOfRange {
        /// Which number (`stream sequence`, `dead letter stream sequence`).
        what: &'static str,
        /// The value.
        value: u64,
    },
    /// Serialising a report or an event to JSON failed.
    #[error("encode json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Adds the `context` of [`ReportError::Sql`] to a rusqlite result.
pub(crate) trait SqlContext<T> {
    /// Maps the error to [`ReportError::Sql`] with `context`.
    fn ctx(self, context: &'static str) -> Result<T, ReportError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: &'static str) -> Result<T, ReportError> {
        self.map_err(|source| ReportError::Sql { context, source })
    }
}
