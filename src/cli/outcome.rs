//! How a tool run ends: its error, the exit code, and the one line on stderr.

use std::process::ExitCode;

use super::logging::{self, LogFormat};
use crate::error::Error;

/// How a tool run ended, other than success.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Exit 1: the request failed; nothing changed. (Exit 2 when it is a usage error.)
    #[error(transparent)]
    Failed(#[from] Error),
    /// Exit 2: the user declined, or there was no terminal to ask and no --yes.
    #[error("{0}")]
    Declined(String),
    /// Exit 3: the request was queued, but the connection was lost while `--wait` waited for it.
    #[error("queued; lost the connection while waiting ({0}); the listener carries the work out all the same")]
    LostWhileWaiting(#[source] Error),
    /// Exit 3: the request was sent, but the connection was lost before the server answered: it
    /// may or may not have been carried out.
    #[error("sent; lost the connection before the server answered ({0}): the request may or may not have been carried out (look at the rows it would change)")]
    LostBeforeAnswer(#[source] Error),
}

/// Exit code of a request that was sent and whose outcome the tool could not learn.
pub const EXIT_CONNECTION_LOST: u8 = 3;

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }

    /// The exit code as a number (`ExitCode` cannot be read back), for the JSON failure line.
    pub fn code(&self) -> u8 {
        match self {
            CliError::Failed(Error::Usage(_)) => 2,
            CliError::Failed(_) => 1,
            CliError::Declined(_) => 2,
            CliError::LostWhileWaiting(_) | CliError::LostBeforeAnswer(_) => EXIT_CONNECTION_LOST,
        }
    }

    /// The outcome of an admin call: a connection lost while the call was under way leaves it
    /// unknown whether it committed, which is not "nothing changed".
    pub fn from_request(error: Error) -> Self {
        if matches!(error, Error::Connection(_)) {
            CliError::LostBeforeAnswer(error)
        } else {
            CliError::Failed(error)
        }
    }
}

/// Print a failure as one line on stderr (in the tool's `--log-format`) and turn the outcome into
/// the process's exit code.
pub fn finish(tool: &str, format: LogFormat, outcome: Result<(), CliError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let line = error.to_string().replace('\n', " ");
            logging::failure(format, tool, &line, error.code());
            error.exit_code()
        }
    }
}
