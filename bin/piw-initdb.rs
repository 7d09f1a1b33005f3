//! piw-initdb: create the piw schema in a database, or upgrade it.
use std::process::ExitCode;

use clap::Parser;
use piw::{
    cli::{finish, CliError, CommonArgs},
    config::Database,
    db, schema,
};

/// Create the piw schema (tables, queue, procedures, roles piw_admin and piw_reader) on an empty
/// database, or upgrade an older one, then apply the configuration file's site_url (where the
/// site is served, shown in its pages' install lines). Running it twice changes nothing.
#[derive(Debug, Parser)]
#[command(name = "piw-initdb", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    finish("piw-initdb", run(args).await)
}

async fn run(args: Args) -> Result<(), CliError> {
    args.common.init_logging()?;
    let settings = args.common.settings(None)?;
    let mut client = db::connect(&settings.database).await?;
    let report = schema::migrate(&mut client).await?;
    if report.applied.is_empty() {
        tracing::info!("schema is up to date; {} procedure sources applied", report.procedures);
    } else {
        tracing::info!("applied {}; {} procedure sources applied", report.applied.join(", "), report.procedures);
    }
    if let Some(url) = &settings.site_url {
        piw::admin::set_site_url(&client, url).await?;
        tracing::info!("site url: {}", if url.is_empty() { "none" } else { url });
    }
    if let Database::Embedded { home } = &settings.database {
        tracing::info!("database: the embedded cluster of {}", home.display());
    }
    Ok(())
}
