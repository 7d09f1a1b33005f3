//! piw-import: import built wheels (rows plus the file put in place).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::import;

fn main() -> ExitCode {
    import::run(import::Args::parse())
}
