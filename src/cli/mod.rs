//! The command-line tools: what they share, and each tool's own arguments and run.
//!
//! Every tool's clap definition lives here, in [`tools`], rather than in `bin/`: the binaries
//! only parse and call [`tools`]' `run`, and [`tools::commands`] lists every tool's command line,
//! from which the man pages and shell completions under `deploy/` are made.

mod common;
mod logging;
mod outcome;
mod prompt;
mod request;
pub mod tools;

pub use common::CommonArgs;
pub use futures_util::FutureExt;
pub use logging::LogFormat;
pub use outcome::{finish, CliError, EXIT_CONNECTION_LOST};
pub use prompt::confirm;
pub use request::{request, wait_for_requests, Request, RequestBody, Wait, WaitArgs};
