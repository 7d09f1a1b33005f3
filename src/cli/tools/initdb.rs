//! piw-initdb: create the piw schema in a database, or upgrade it.

use std::process::ExitCode;

use crate::{
    cli::{finish, CliError, CommonArgs},
    config::Database,
    db, schema,
};

/// Create the piw schema (tables, queue, procedures, roles piw_admin and piw_reader) on an empty
/// database, or upgrade an older one, then apply the configuration file's site_url (where the
/// site is served, shown in its pages' install lines). Running it twice changes nothing.
#[derive(Debug, clap::Parser)]
#[command(name = "piw-initdb", version)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args) -> ExitCode {
    let format = args.common.log_format;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return finish("piw-initdb", format, Err(CliError::Failed(crate::Error::io("cannot start the runtime", e)))),
    };
    finish("piw-initdb", format, runtime.block_on(migrate(args)))
}

async fn migrate(args: Args) -> Result<(), CliError> {
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
        crate::admin::set_site_url(&client, url).await?;
        tracing::info!("site url: {}", if url.is_empty() { "none" } else { url });
    }
    if let Database::Embedded { home } = &settings.database {
        tracing::info!("database: the embedded cluster of {}", home.display());
    }
    Ok(())
}
