//! piw-initdb: create the piw schema in a database, or upgrade it.
use std::process::ExitCode;

use clap::Parser;
use piw::cli::tools::initdb;

fn main() -> ExitCode {
    initdb::run(initdb::Args::parse())
}
