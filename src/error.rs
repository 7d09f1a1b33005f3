//! The one error type of the library, with predicates callers branch on (never on message text).
use std::{io, path::PathBuf};

use tokio_postgres::error::SqlState;

/// Everything that can go wrong in piw. Messages are lower case and fit on one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A package or version that does not exist (SQLSTATE P0002).
    #[error("{message}")]
    NotFound { message: String, source: tokio_postgres::Error },
    /// A bad argument: empty or malformed name, unknown part (SQLSTATE 22023 and other data errors).
    #[error("{message}")]
    InvalidArgument { message: String, source: tokio_postgres::Error },
    /// Something in the wrong state for the operation: unskipping what is not skipped, yanking
    /// what is yanked, removing what was removed (SQLSTATEs PW001 to PW099, one per kind).
    #[error("{message}")]
    WrongState { message: String, source: tokio_postgres::Error },
    /// The connected role may not do this (SQLSTATE 42501).
    #[error("permission denied: {message}")]
    PermissionDenied { message: String, source: tokio_postgres::Error },
    /// Any other error reported by the server.
    #[error("database error: {message}")]
    Database { message: String, source: tokio_postgres::Error },
    /// The server answered something piw's schema does not (a schema of another version?).
    #[error("unexpected answer from the database: {0}")]
    Unexpected(String),
    /// An established connection was lost (or a server went away mid-call).
    #[error("lost the connection to the database: {}", with_causes(.0))]
    Connection(#[source] tokio_postgres::Error),
    /// No connection could be made: the server named, and why (refused, TLS, authentication).
    /// `lasting` when trying again cannot help (a certificate that does not verify, a password
    /// refused, a database that does not exist), as opposed to a server down or starting up.
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String, lasting: bool, source: tokio_postgres::Error },
    /// No pooled connection could be had (the pool's own errors carry no server error).
    #[error("cannot get a database connection: {0}")]
    Pool(String),
    /// A connection lost under a job, as the job reported it (the job itself is put back).
    #[error("{0}")]
    ConnectionLost(String),
    /// Work run as a task of its own (a listener's job, a blocking file operation) panicked or
    /// was cancelled.
    #[error("a task failed: {0}")]
    TaskFailed(String),
    /// A schema migration failed.
    #[error("migration failed: {0}")]
    Migration(#[source] refinery::Error),
    /// The private PostgreSQL cluster could not be set up or started.
    #[error("{0}")]
    Cluster(String),
    /// A connection string (or PG* environment) that cannot be used.
    #[error("invalid DSN: {0}")]
    Dsn(#[from] crate::connect::DsnError),
    /// A wheel that cannot be imported (bad filename, skipped package or version).
    #[error("{0}")]
    Import(String),
    /// A file that is not the wheel its name says (not a zip, METADATA or RECORD wrong).
    #[error("{file}: {reason}")]
    BadWheel { file: String, reason: crate::wheel::WheelError },
    /// Work waited for (`--wait`) failed, or was not done in the time allowed.
    #[error("{0}")]
    Wait(String),
    /// A command-line value out of range.
    #[error("{0}")]
    Usage(String),
    /// A configuration file could not be read or parsed.
    #[error("configuration file {path}: {message}")]
    Config { path: PathBuf, message: String },
    /// The output directory refused or failed an operation.
    #[error(transparent)]
    Output(#[from] crate::site::OutputError),
    /// A page could not be rendered (a template or a JSON document refused a value).
    #[error("rendering {page}: {reason}")]
    Render { page: String, reason: String },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

impl Error {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    pub fn is_invalid_argument(&self) -> bool {
        matches!(self, Error::InvalidArgument { .. })
    }

    pub fn is_wrong_state(&self) -> bool {
        matches!(self, Error::WrongState { .. })
    }

    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Error::PermissionDenied { .. })
    }

    /// The SQLSTATE the server reported, if this error came from the server.
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            Error::NotFound { source, .. }
            | Error::InvalidArgument { source, .. }
            | Error::PermissionDenied { source, .. }
            | Error::WrongState { source, .. }
            | Error::Database { source, .. }
            | Error::Connection(source)
            | Error::Connect { source, .. } => source.code(),
            _ => None,
        }
    }

    /// Whether retrying on a new connection may succeed (the server went away).
    pub fn is_connection(&self) -> bool {
        matches!(self, Error::Connection(_) | Error::Connect { .. } | Error::ConnectionLost(_) | Error::Pool(_))
    }

    /// A connection attempt that failed for a reason that trying again cannot mend.
    pub fn is_lasting_connect_failure(&self) -> bool {
        matches!(self, Error::Connect { lasting: true, .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(source: tokio_postgres::Error) -> Self {
        let Some(db) = source.as_db_error() else {
            return Error::Connection(source);
        };
        // One line: the server's message, without the CONTEXT and HINT that psql would print.
        let message = db.message().replace('\n', " ");
        let code = db.code();
        if *code == SqlState::NO_DATA_FOUND {
            Error::NotFound { message, source }
        } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            Error::PermissionDenied { message, source }
        } else if code.code().starts_with("PW") {
            Error::WrongState { message, source }
        } else if code.code().starts_with("22") || code.code().starts_with("23") {
            Error::InvalidArgument { message, source }
        } else if code.code().starts_with("08") || code.code().starts_with("57P") {
            Error::Connection(source)
        } else {
            Error::Database { message, source }
        }
    }
}

/// An error and its causes on one line ("error connecting to server: No such file or directory").
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text.replace('\n', " ")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
