//! piw-log: read the audit log (piw.audit).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::log;

fn main() -> ExitCode {
    log::run(log::Args::parse())
}
