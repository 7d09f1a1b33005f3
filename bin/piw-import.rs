//! piw-import: import built wheels (rows plus the file put in place).
use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use piw::{
    cli::{request, CommonArgs, FutureExt, Request},
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

fn main() -> ExitCode {
    let args = Args::parse();
    let (wheels, requires_python) = (args.wheels.clone(), args.requires_python.clone());
    let run = Request { tool: "piw-import", common: &args.common, output_path: args.output_path.clone(), confirm: None, wait: args.wait };
    run.run(move |client, settings| {
        async move {
            let output = OutputDir::open(&settings.output_path).map_err(piw::Error::from)?;
            for wheel in &wheels {
                let imported = request(piw::import::import_wheel(client, &output, wheel, requires_python.as_deref())).await?;
                tracing::info!("imported {} ({} {})", imported.filename, imported.package, imported.version);
            }
            Ok(format!("imported {} wheel(s)", wheels.len()))
        }
        .boxed()
    })
}
