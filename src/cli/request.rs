//! The one request runner of the request tools, and `--wait`.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use super::{confirm, finish, CliError, CommonArgs};
use crate::{config::Settings, error::Error};

/// One run of a request tool (`piw-remove`, `piw-rebuild`, `piw-skip`, `piw-import`): what is
/// the same in all of them, around the one library call that is each tool's own.
pub struct Request<'a> {
    /// The tool's name, for its one line on failure.
    pub tool: &'static str,
    pub common: &'a CommonArgs,
    /// `--output-path`, for the tools that have one.
    pub output_path: Option<PathBuf>,
    /// A question to ask first (and whether `--yes` answered it).
    pub confirm: Option<(String, bool)>,
    /// Before asking, make the request in a transaction rolled back and show what it would change
    /// (what a removal deletes), so the question can be answered knowing it.
    pub preview: bool,
    /// `--wait`: after the request, wait until the work it queued is done.
    pub wait: Option<Wait>,
    /// `--dry-run`: make the request in a transaction, print what it would change, roll back.
    pub dry_run: bool,
}

/// `--wait` and `--timeout`, for the tools whose requests queue work.
#[derive(Debug, Clone, clap::Args)]
pub struct WaitArgs {
    /// Wait until the listener has carried out the work this request queued (not the rest of the
    /// queue); a progress bar on a terminal; exit 1 naming the jobs that failed
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds (exit 1 naming what is left)
    #[arg(long, value_name = "SECONDS", requires = "wait", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
}

impl WaitArgs {
    pub fn wait(&self) -> Option<Wait> {
        self.wait.then(|| Wait { timeout: self.timeout.map(std::time::Duration::from_secs) })
    }
}

/// How to wait for a request's work.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub timeout: Option<std::time::Duration>,
}

/// The body of a request: given a connection and the resolved settings, make the request and
/// say what was done (logged at info).
pub type RequestBody<'c> = futures_util::future::BoxFuture<'c, Result<String, CliError>>;

impl Request<'_> {
    /// Run the request on a single-threaded runtime: logging, confirmation, connection, the
    /// request itself, `--wait`, and the exit code with its one line.
    pub fn run<F>(self, body: F) -> ExitCode
    where
        F: for<'c> Fn(&'c mut tokio_postgres::Client, &'c Settings) -> RequestBody<'c>,
    {
        let (tool, format) = (self.tool, self.common.log_format);
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return finish(tool, format, Err(CliError::Failed(Error::io("cannot start the runtime", e)))),
        };
        finish(tool, format, runtime.block_on(self.carry_out(body)))
    }

    async fn carry_out<F>(self, body: F) -> Result<(), CliError>
    where
        F: for<'c> Fn(&'c mut tokio_postgres::Client, &'c Settings) -> RequestBody<'c>,
    {
        self.common.init_logging()?;
        let settings = self.common.settings(self.output_path.clone())?;
        // A dry run changes nothing: there is nothing to confirm.
        let question = self.confirm.as_ref().filter(|(_, yes)| !yes && !self.dry_run).map(|(question, _)| question);
        // Refused before connecting: a declined run touches nothing, the database included.
        if question.is_some() && !std::io::stdin().is_terminal() {
            return confirm(question.map_or("", String::as_str), false);
        }
        let mut client = crate::db::connect(&settings.database).await?;
        if let Some(question) = question {
            if self.preview {
                request(async { Ok(client.batch_execute("BEGIN").await?) }).await?;
                body(&mut client, &settings).await?;
                let plan = request(crate::request::plan(&client)).await?;
                request(async { Ok(client.batch_execute("ROLLBACK").await?) }).await?;
                eprintln!("This would change:");
                for line in &plan {
                    eprintln!("  {line}");
                }
            }
            confirm(question, false)?;
        }
        if !self.dry_run && self.wait.is_none() {
            let done = body(&mut client, &settings).await?;
            tracing::info!("{done}");
            return Ok(());
        }
        // In a transaction of our own, to read what it did (dry run) or its id (--wait) before
        // it ends.
        request(async { Ok(client.batch_execute("BEGIN").await?) }).await?;
        let done = body(&mut client, &settings).await?;
        if self.dry_run {
            let plan = request(crate::request::plan(&client)).await?;
            request(async { Ok(client.batch_execute("ROLLBACK").await?) }).await?;
            print_plan(&done, &plan);
            return Ok(());
        }
        let id = request(crate::request::current(&client)).await?;
        let total = request(crate::request::outstanding(&client, &[id])).await?.len() as u64;
        request(async { Ok(client.batch_execute("COMMIT").await?) }).await?;
        tracing::info!("{done}");
        match self.wait {
            Some(wait) => wait_for_requests(&client, &[id], total, wait).await,
            None => Ok(()),
        }
    }
}

/// A dry run's plan on stdout: the request as it would be made, then one line per change.
fn print_plan(done: &str, plan: &[crate::request::PlanLine]) {
    println!("dry run, nothing changed; would have {done}:");
    if plan.is_empty() {
        println!("  nothing");
    }
    for line in plan {
        println!("  {line}");
    }
}

/// A library call made as a request: a connection lost under way leaves the outcome unknown.
pub async fn request<T>(call: impl std::future::Future<Output = crate::Result<T>>) -> Result<T, CliError> {
    call.await.map_err(CliError::from_request)
}

/// Wait (`--wait`) until the work of these requests (`total` targets when queued) is carried out,
/// with a progress bar on a terminal (nothing without one). Work queued by anyone else is not
/// waited for.
pub async fn wait_for_requests(
    client: &tokio_postgres::Client,
    requests: &[crate::request::RequestId],
    total: u64,
    wait: Wait,
) -> Result<(), CliError> {
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} jobs {wide_bar} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let outcome = crate::request::wait(client, requests, total, wait.timeout, |progress| {
        bar.set_length(progress.total);
        bar.set_position(progress.done);
        let running = progress.left.iter().find(|job| job.state == crate::request::JobState::Running);
        bar.set_message(running.map(ToString::to_string).unwrap_or_default());
    })
    .await;
    bar.finish_and_clear();
    outcome.map_err(|error| match error {
        crate::request::WaitError::Database(error) if error.is_connection() => CliError::LostWhileWaiting(error),
        crate::request::WaitError::Database(error) => CliError::Failed(error),
        other => CliError::Failed(Error::Wait(other.to_string())),
    })
}
