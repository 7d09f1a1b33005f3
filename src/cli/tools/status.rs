//! piw-status: the queue, the listeners, failed jobs and the latest changes.
use std::process::ExitCode;

use crate::{
    cli::{finish, CliError, CommonArgs},
    db,
};

/// Show how the site's work stands: the queue (pending, running, failed, the oldest pending),
/// every listener (alive, awake, last heartbeat, jobs in hand), failed jobs with their errors,
/// and the latest entries of the audit log. Needs piw_reader (or more).
#[derive(Debug, clap::Parser)]
#[command(name = "piw-status", version)]
pub struct Args {
    /// How many of the latest audit entries to show
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(i64).range(0..))]
    pub recent: i64,
    /// Print the status as one JSON document on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

const TOOL: &str = "piw-status";

pub fn run(args: Args) -> ExitCode {
    let format = args.common.log_format;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return finish(TOOL, format, Err(CliError::Failed(crate::Error::io("cannot start the runtime", e)))),
    };
    finish(TOOL, format, runtime.block_on(carry_out(args)))
}

async fn carry_out(args: Args) -> Result<(), CliError> {
    args.common.init_logging()?;
    let settings = args.common.settings(None)?;
    let mut client = db::connect(&settings.database).await?;
    let status = crate::status::read(&mut client, args.recent).await?;
    if args.json {
        let json = serde_json::to_string(&status).map_err(|e| crate::Error::Unexpected(e.to_string()))?;
        println!("{json}");
    } else {
        print!("{status}");
    }
    Ok(())
}
