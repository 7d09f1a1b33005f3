//! piw-skip: skip or unskip a package or a version (piw.skip_package, piw.skip_version ...).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::skip;

fn main() -> ExitCode {
    skip::run(skip::Args::parse())
}
