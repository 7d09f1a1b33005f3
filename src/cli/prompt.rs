//! Asking before a request that needs it.

use std::io::{BufRead, IsTerminal, Write};

use super::CliError;
use crate::error::Error;

/// Ask a yes/no question on the terminal. With `yes`, the answer is yes without asking; with no
/// terminal on stdin, the tool declines rather than wait.
pub fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Declined(format!("{question} needs confirmation: run on a terminal or pass --yes")));
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(|e| CliError::Failed(Error::Io { context: "cannot read the answer".into(), source: e }))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::Declined("declined".into())),
    }
}
