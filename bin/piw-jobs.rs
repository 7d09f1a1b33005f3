//! piw-jobs: retry failed jobs or cancel a package's waiting work.
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::jobs;

fn main() -> ExitCode {
    jobs::run(jobs::Args::parse())
}
