//! piw-import: import built wheels (rows plus the file put in place).
use std::{path::PathBuf, process::ExitCode};

use crate::{
    cli::{request, wait_for_requests, CliError, CommonArgs, FutureExt, Request, WaitArgs},
    import::{ImportReport, Outcome},
    site::OutputDir,
};

/// Import wheel files: each is read first (a zip whose .dist-info, METADATA and RECORD match its
/// file name), then its package, version, build and file rows are added and the wheel copied to
/// simple/PACKAGE/ under the output path, one wheel at a time. Requires-Python and Summary come
/// from the wheel's METADATA. The listener then rebuilds the pages that show them.
///
/// Each wheel's outcome is printed on its own line, then how many were imported and how many
/// not. Exit 0 when every wheel was imported; 1 when any was not (the others are imported all the
/// same: each wheel is its own transaction).
///
/// With --backfill-metadata, instead: write the core metadata (FILENAME.metadata, PEP 658) of
/// every published wheel imported before piw served it, reading each wheel where it is.
#[derive(Debug, clap::Parser)]
#[command(name = "piw-import", version)]
pub struct Args {
    /// The wheel files to import
    #[arg(required_unless_present = "backfill_metadata", value_name = "WHEEL")]
    pub wheels: Vec<PathBuf>,
    /// Write the missing core metadata of wheels imported already, instead of importing
    #[arg(long, conflicts_with = "wheels")]
    pub backfill_metadata: bool,
    /// Where the website lives (default: output_path from the configuration file, else PIW_HOME/www)
    #[arg(long, value_name = "DIR")]
    pub output_path: Option<PathBuf>,
    /// Print the outcomes as one JSON document on stdout instead of lines
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args) -> ExitCode {
    let (wheels, json, quiet, backfill) = (args.wheels.clone(), args.json, args.common.quiet, args.backfill_metadata);
    let wait = args.wait.wait();
    // --wait is the import's own: each wheel is a transaction (a request) of its own.
    let run = Request {
        tool: "piw-import",
        common: &args.common,
        output_path: args.output_path.clone(),
        confirm: None,
        preview: false,
        wait: None,
        dry_run: false,
    };
    run.run(move |client, settings| {
        let wheels = wheels.clone();
        async move {
            let output = OutputDir::open(&settings.output_path).map_err(crate::Error::from)?;
            if backfill {
                return backfill_metadata(client, &output, json, quiet).await;
            }
            let mut report = ImportReport::default();
            for wheel in &wheels {
                let outcome = match request(crate::import::import_wheel(client, &output, wheel)).await {
                    Ok(imported) => Outcome::Imported(imported),
                    // The connection went under an import: its outcome, and the rest, unknown.
                    Err(lost @ CliError::LostBeforeAnswer(_)) => return Err(lost),
                    Err(CliError::Failed(error)) => Outcome::NotImported { wheel: wheel.clone(), error: error.to_string() },
                    Err(other) => return Err(other),
                };
                if !json && !quiet {
                    println!("{outcome}");
                }
                report.outcomes.push(outcome);
            }
            if json {
                println!("{}", report.to_json());
            }
            if let Some(wait) = wait {
                let requests = report.requests();
                let total = request(crate::request::outstanding(&*client, &requests)).await?.len() as u64;
                wait_for_requests(client, &requests, total, wait).await?;
            }
            match report.not_imported() {
                0 => Ok(report.summary()),
                _ => Err(CliError::Failed(crate::Error::Import(report.summary()))),
            }
        }
        .boxed()
    })
}

/// `--backfill-metadata`: one line per wheel, then the counts; exit 1 when any could not be done.
async fn backfill_metadata(client: &mut tokio_postgres::Client, output: &OutputDir, json: bool, quiet: bool) -> Result<String, CliError> {
    let done = request(crate::import::backfill_metadata(client, output)).await?;
    let failed = done.iter().filter(|b| b.outcome.is_err()).count();
    if json {
        let lines: Vec<serde_json::Value> = done
            .iter()
            .map(|b| match &b.outcome {
                Ok(written) => serde_json::json!({"package": b.package, "filename": b.filename, "written": written}),
                Err(error) => serde_json::json!({"package": b.package, "filename": b.filename, "error": error}),
            })
            .collect();
        println!("{}", serde_json::Value::Array(lines));
    } else if !quiet {
        for backfilled in &done {
            println!("{backfilled}");
        }
    }
    let summary =
        format!("metadata written for {} of {} wheel(s) without it", done.iter().filter(|b| b.outcome == Ok(true)).count(), done.len());
    match failed {
        0 => Ok(summary),
        _ => Err(CliError::Failed(crate::Error::Import(format!("{summary}; {failed} could not be read")))),
    }
}
