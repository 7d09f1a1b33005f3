//! piw-hold: hold or release a version (piw.hold_version, piw.release_version).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::hold;

fn main() -> ExitCode {
    hold::run(hold::Args::parse())
}
