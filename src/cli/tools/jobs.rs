//! piw-jobs: retry failed jobs or cancel a package's waiting work (piw.retry_jobs,
//! piw.cancel_jobs).
use std::process::ExitCode;

use crate::cli::{request, CommonArgs, FutureExt, Request, WaitArgs};

/// Retry failed jobs (--retry: the jobs named, or every failed job of --package, or every failed
/// job), or cancel a package's work that has not started (--cancel --package P: its requests and
/// pending jobs; running jobs finish, and piw-rebuild index P puts its pages right later).
/// piw-status lists failed jobs with their ids and errors. Needs piw_operator (or piw_admin).
#[derive(Debug, clap::Parser)]
#[command(name = "piw-jobs", version)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["retry", "cancel"])))]
pub struct Args {
    /// Put failed jobs back in the queue
    #[arg(long)]
    pub retry: bool,
    /// Cancel the package's work that has not started (needs --package)
    #[arg(long, requires = "package", conflicts_with = "jobs")]
    pub cancel: bool,
    /// The ids of the failed jobs to retry (piw-status shows them)
    #[arg(value_name = "JOB_ID", conflicts_with = "package")]
    pub jobs: Vec<i64>,
    /// Only this package's jobs
    #[arg(long, value_name = "P")]
    pub package: Option<String>,
    /// Print what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args) -> ExitCode {
    let (retry, jobs, package) = (args.retry, args.jobs.clone(), args.package.clone());
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
        let (jobs, package) = (jobs.clone(), package.clone());
        async move {
            match (retry, package) {
                (true, None) if !jobs.is_empty() => {
                    for job in &jobs {
                        request(crate::admin::retry_jobs(client, None, Some(*job))).await?;
                    }
                    Ok(format!("queued {} failed job(s) again", jobs.len()))
                }
                (true, package) => {
                    request(crate::admin::retry_jobs(client, package.as_deref(), None)).await?;
                    Ok(match package {
                        Some(package) => format!("queued the failed jobs of package {package} again"),
                        None => "queued every failed job again".to_owned(),
                    })
                }
                (false, package) => {
                    let package = package.unwrap_or_default();
                    request(crate::admin::cancel_jobs(client, &package)).await?;
                    Ok(format!("cancelled the waiting work of package {package}"))
                }
            }
        }
        .boxed()
    })
}
