//! piw-status: the queue, the listeners, failed jobs and the latest changes.
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::status;

fn main() -> ExitCode {
    status::run(status::Args::parse())
}
