//! piw-import: import built wheels (rows plus the file put in place).
use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use piw::{
    cli::{finish, wait_until_drained, CliError, CommonArgs},
    db,
    site::OutputDir,
};

/// Import wheel files: add their package, version, build and file rows and copy each wheel to
/// simple/PACKAGE/ under the output path. The listener then rebuilds the pages that show them.
#[derive(Debug, Parser)]
#[command(name = "piw-import", version)]
struct Args {
    /// The wheel files to import
    #[arg(required = true, value_name = "WHEEL")]
    wheels: Vec<PathBuf>,
    /// Where the website lives (default: output_path from the configuration file, else PIW_HOME/www)
    #[arg(long, value_name = "DIR")]
    output_path: Option<PathBuf>,
    /// The Requires-Python of the wheels (published as data-requires-python)
    #[arg(long, value_name = "SPEC")]
    requires_python: Option<String>,
    /// Wait until the listener has rebuilt the pages
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    finish("piw-import", run(args).await)
}

async fn run(args: Args) -> Result<(), CliError> {
    args.common.init_logging()?;
    let settings = args.common.settings(args.output_path.clone())?;
    let mut client = db::connect(&settings.database).await?;
    let output = OutputDir::open(&settings.output_path).map_err(piw::Error::from)?;
    for wheel in &args.wheels {
        let imported = piw::import::import_wheel(&mut client, &output, wheel, args.requires_python.as_deref())
            .await
            .map_err(CliError::from_request)?;
        tracing::info!("imported {} ({} {})", imported.filename, imported.package, imported.version);
    }
    if args.wait {
        wait_until_drained(&client).await?;
    }
    Ok(())
}
