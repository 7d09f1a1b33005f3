//! The one request runner of the request tools, and `--wait`.

use std::{path::PathBuf, process::ExitCode};

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
    /// `--wait`: after the request, wait until the work queued so far is done.
    pub wait: bool,
}

/// The body of a request: given a connection and the resolved settings, make the request and
/// say what was done (logged at info).
pub type RequestBody<'c> = futures_util::future::BoxFuture<'c, Result<String, CliError>>;

impl Request<'_> {
    /// Run the request on a single-threaded runtime: logging, confirmation, connection, the
    /// request itself, `--wait`, and the exit code with its one line.
    pub fn run<F>(self, body: F) -> ExitCode
    where
        F: for<'c> FnOnce(&'c mut tokio_postgres::Client, &'c Settings) -> RequestBody<'c>,
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
        F: for<'c> FnOnce(&'c mut tokio_postgres::Client, &'c Settings) -> RequestBody<'c>,
    {
        self.common.init_logging()?;
        if let Some((question, yes)) = &self.confirm {
            confirm(question, *yes)?;
        }
        let settings = self.common.settings(self.output_path.clone())?;
        let mut client = crate::db::connect(&settings.database).await?;
        let done = body(&mut client, &settings).await?;
        tracing::info!("{done}");
        if self.wait {
            wait_until_drained(&client).await?;
        }
        Ok(())
    }
}

/// A library call made as a request: a connection lost under way leaves the outcome unknown.
pub async fn request<T>(call: impl std::future::Future<Output = crate::Result<T>>) -> Result<T, CliError> {
    call.await.map_err(CliError::from_request)
}

/// Wait (`--wait`) until the work queued so far, this tool's included, is carried out: everything
/// requested up to now. Work queued later, by anyone, is not waited for. Says once, after a while,
/// that a listener must be running for that to happen.
pub async fn wait_until_drained(client: &tokio_postgres::Client) -> Result<(), CliError> {
    wait_for_queued(client).await.map_err(|error| match error {
        CliError::Failed(error) if error.is_connection() => CliError::LostWhileWaiting(error),
        other => other,
    })
}

async fn wait_for_queued(client: &tokio_postgres::Client) -> Result<(), CliError> {
    let last = crate::queue::watermark(client).await?;
    let started = std::time::Instant::now();
    let mut hinted = false;
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        let (to_do, failed) = crate::queue::progress_up_to(client, last).await?;
        if to_do == 0 {
            if failed > 0 {
                return Err(CliError::Failed(Error::JobsFailed(failed)));
            }
            return Ok(());
        }
        if !hinted && started.elapsed() > std::time::Duration::from_secs(5) {
            hinted = true;
            tracing::info!("waiting for {to_do} job(s); is piw-listener running?");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(200));
    }
}
