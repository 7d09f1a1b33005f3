//! piw-remove: remove a version of a package (piw.remove_version).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::remove;

fn main() -> ExitCode {
    remove::run(remove::Args::parse())
}
