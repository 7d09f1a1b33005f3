//! piw-listener: the daemon that carries out queued file deletions and page rebuilds.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::{
    cli::{finish, CliError, CommonArgs},
    db,
    listener::{self, ListenerOptions},
};

/// Carry out the queued work: delete removed wheels and rewrite the pages of the website under the
/// output path, until stopped. SIGTERM or SIGINT finish the jobs in hand (handing back those that
/// take longer than --shutdown-timeout), then exit 0. Several listeners may share one database.
#[derive(Debug, clap::Parser)]
#[command(name = "piw-listener", version)]
pub struct Args {
    /// Where the website lives (default: output_path from the configuration file, else PIW_HOME/www)
    #[arg(long, value_name = "DIR")]
    pub output_path: Option<PathBuf>,
    /// Jobs carried out at once
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    /// Seconds before a failed job is first retried (doubling with each attempt, up to 5 minutes)
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub retry_delay: f64,
    /// Attempts before a job is marked failed (CALL piw.retry_failed() queues it again)
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub max_attempts: i32,
    /// Seconds between reads of the queue when no notification arrives
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub poll_interval: f64,
    /// Seconds a claimed job stays ours without a heartbeat (the jobs of a listener that is alive
    /// but stuck return after it; a killed one's return at once)
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub lease: f64,
    /// Seconds the jobs in hand may take to finish on SIGTERM or SIGINT before they are handed
    /// back to the queue unfinished
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub shutdown_timeout: f64,
    /// Seconds between counts of logged downloads (piw.count_downloads): download counts alone
    /// rewrite the home page and search index at most this often; listing changes (a new
    /// package, a removal, a skip) rewrite them at once
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub count_downloads_every: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn seconds(value: f64, name: &str) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| CliError::Failed(crate::Error::Usage(format!("--{name} must be a positive number of seconds"))))
}

/// Run the listener until SIGTERM or SIGINT, on a multi-threaded runtime.
pub fn run(args: Args) -> ExitCode {
    let format = args.common.log_format;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            return finish("piw-listener", format, Err(crate::Error::Io { context: "cannot start the runtime".into(), source: e }.into()))
        }
    };
    let code = runtime.block_on(async { finish("piw-listener", format, listen(args).await) });
    // A job abandoned at shutdown (see --shutdown-timeout) may still be blocked in the file
    // system; its work went back to the queue: do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

async fn listen(args: Args) -> Result<(), CliError> {
    args.common.init_logging()?;
    let settings = args.common.settings(args.output_path.clone())?;
    let mut options = ListenerOptions::new(settings.output_path.clone());
    options.workers = usize::from(args.workers);
    options.retry_delay = seconds(args.retry_delay, "retry-delay")?;
    options.max_attempts = args.max_attempts;
    options.poll_interval = seconds(args.poll_interval, "poll-interval")?;
    options.lease = seconds(args.lease, "lease")?;
    options.heartbeat_interval = (options.lease / 3).min(Duration::from_secs(1));
    options.shutdown_timeout = seconds(args.shutdown_timeout, "shutdown-timeout")?;
    options.count_downloads_every = seconds(args.count_downloads_every, "count-downloads-every")?;

    let cancel = CancellationToken::new();
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| crate::Error::Io { context: "cannot handle SIGTERM".into(), source: e })?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| crate::Error::Io { context: "cannot handle SIGINT".into(), source: e })?;
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: finishing the jobs in hand"),
            _ = interrupt.recv() => tracing::info!("SIGINT: finishing the jobs in hand"),
        }
        on_signal.cancel();
    });

    // The embedded cluster may take a while to create on first use; a signal meanwhile still stops us.
    let connector = tokio::select! {
        connector = db::connector(&settings.database) => connector?,
        () = cancel.cancelled() => return Ok(()),
    };
    listener::run(connector, options, cancel).await?;
    Ok(())
}
