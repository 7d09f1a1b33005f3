//! piw-log: read the audit log (piw.audit).
use std::process::ExitCode;

use crate::{
    audit::{self, Filter},
    cli::{finish, CliError, CommonArgs},
    db,
};

/// Show who did what: every admin call and every direct change of the rows the site is made of,
/// oldest first, with when, the database role and client, the action, package, version, reason,
/// what changed, and the request id (its work: SELECT * FROM piw.request_jobs('ID')). Needs
/// piw_reader (or more).
#[derive(Debug, clap::Parser)]
#[command(name = "piw-log", version)]
pub struct Args {
    /// Only entries about this package
    #[arg(long, value_name = "P")]
    pub package: Option<String>,
    /// Only entries since this time (2026-12-01, "2026-12-01 12:00+01", yesterday) or span back
    /// from now ("2 hours", "7 days")
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// At most this many entries, the newest
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Print the entries as one JSON array on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

const TOOL: &str = "piw-log";

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
    let client = db::connect(&settings.database).await?;
    let since = match &args.since {
        Some(text) => Some(audit::parse_since(&client, text).await?),
        None => None,
    };
    let entries = audit::entries(&client, &Filter { package: args.package.clone(), since, limit: Some(args.limit) }).await?;
    if args.json {
        let json = serde_json::to_string(&entries).map_err(|e| crate::Error::Unexpected(e.to_string()))?;
        println!("{json}");
    } else {
        for entry in &entries {
            println!("{entry}");
        }
    }
    Ok(())
}
