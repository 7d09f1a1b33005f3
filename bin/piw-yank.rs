//! piw-yank: yank or unyank a version (piw.yank_version, piw.unyank_version).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::yank;

fn main() -> ExitCode {
    yank::run(yank::Args::parse())
}
