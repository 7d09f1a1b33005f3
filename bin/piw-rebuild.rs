//! piw-rebuild: queue a rebuild of part of the website (piw.rebuild).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::rebuild;

fn main() -> ExitCode {
    rebuild::run(rebuild::Args::parse())
}
