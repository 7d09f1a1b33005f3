//! piw-jobs: retry failed jobs or cancel a package's waiting work (piw.retry_jobs,
//! piw.cancel_jobs).
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use piw::cli::{request, CommonArgs, FutureExt, Request, WaitArgs};

/// Retry failed jobs, or cancel a package's work that has not started. piw-status lists failed
/// jobs with their ids and errors. Needs piw_operator (or piw_admin).
#[derive(Debug, Parser)]
#[command(name = "piw-jobs", version)]
struct Args {
    #[command(subcommand)]
    action: Action,
    /// Print what would change and change nothing
    #[arg(long, global = true)]
    dry_run: bool,
    #[command(flatten)]
    wait: WaitArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Clone, Subcommand)]
enum Action {
    /// Put failed jobs back in the queue: the jobs named, or every failed job of a package, or
    /// (neither given) every failed job
    Retry {
        /// The ids of the jobs to retry (piw-status shows them)
        #[arg(value_name = "JOB_ID", conflicts_with = "package")]
        jobs: Vec<i64>,
        /// Every failed job of this package
        #[arg(long, value_name = "P")]
        package: Option<String>,
    },
    /// Cancel a package's pending and failed jobs and its requests not yet taken by a listener
    /// (running jobs finish); piw-rebuild index PACKAGE puts its pages right later
    Cancel {
        /// The package
        package: String,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let action = args.action.clone();
    let run = Request {
        tool: "piw-jobs",
        common: &args.common,
        output_path: None,
        confirm: None,
        preview: false,
        wait: args.wait.wait(),
        dry_run: args.dry_run,
    };
    run.run(move |client, _| {
        let action = action.clone();
        async move {
            match action {
                Action::Retry { jobs, package: None } if !jobs.is_empty() => {
                    for job in &jobs {
                        request(piw::admin::retry_jobs(client, None, Some(*job))).await?;
                    }
                    Ok(format!("queued {} failed job(s) again", jobs.len()))
                }
                Action::Retry { package, .. } => {
                    request(piw::admin::retry_jobs(client, package.as_deref(), None)).await?;
                    Ok(match package {
                        Some(package) => format!("queued the failed jobs of package {package} again"),
                        None => "queued every failed job again".to_owned(),
                    })
                }
                Action::Cancel { package } => {
                    request(piw::admin::cancel_jobs(client, &package)).await?;
                    Ok(format!("cancelled the waiting work of package {package}"))
                }
            }
        }
        .boxed()
    })
}
