//! One module per tool: its arguments (a clap `Parser` named `Args`, whose doc comment is the
//! tool's help) and `run`, which carries them out and gives the exit code. `bin/piw-TOOL.rs`
//! parses and calls `run`, nothing more.
//!
//! A new tool is a module here, a line in [`commands`], and its thin binary in `bin/` (with its
//! `[[bin]]` in Cargo.toml, and a line in `tool_exe` of tests/support/mod.rs). Its man page and
//! completions then follow from [`commands`] (`PIW_BLESS=1 cargo test --test manual` writes them
//! under `deploy/`); tests/manual.rs fails while a `[[bin]]` is missing from [`commands`], and
//! tests/cli.rs runs `--help` and `--version` of every tool listed.

use clap::CommandFactory;

pub mod hold;
pub mod import;
pub mod initdb;
pub mod jobs;
pub mod listener;
pub mod log;
pub mod rebuild;
pub mod remove;
pub mod skip;
pub mod status;
pub mod yank;

/// Every tool's command line (name, about, arguments), in alphabetical order.
pub fn commands() -> Vec<clap::Command> {
    vec![
        hold::Args::command(),
        import::Args::command(),
        initdb::Args::command(),
        jobs::Args::command(),
        listener::Args::command(),
        log::Args::command(),
        rebuild::Args::command(),
        remove::Args::command(),
        skip::Args::command(),
        status::Args::command(),
        yank::Args::command(),
    ]
}
