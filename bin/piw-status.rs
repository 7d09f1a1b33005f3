//! piw-status: the queue, the listeners, failed jobs and the latest changes.
use std::process::ExitCode;

use clap::Parser;
use piw::{
    cli::{finish, CliError, CommonArgs},
    db,
};

/// Show how the site's work stands: the queue (pending, running, failed, the oldest pending),
/// every listener (alive, awake, last heartbeat, jobs in hand), failed jobs with their errors,
/// and the latest entries of the audit log. Needs piw_reader (or more).
#[derive(Debug, Parser)]
#[command(name = "piw-status", version)]
struct Args {
    /// How many of the latest audit entries to show
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(i64).range(0..))]
    recent: i64,
    /// Print the status as one JSON document on stdout
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    finish("piw-status", run(args).await)
}

async fn run(args: Args) -> Result<(), CliError> {
    args.common.init_logging()?;
    let settings = args.common.settings(None)?;
    let mut client = db::connect(&settings.database).await?;
    let status = piw::status::read(&mut client, args.recent).await?;
    if args.json {
        let json = serde_json::to_string(&status).map_err(|e| piw::Error::Unexpected(e.to_string()))?;
        println!("{json}");
    } else {
        print!("{status}");
    }
    Ok(())
}
