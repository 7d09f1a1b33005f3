//! What every command-line tool shares: the common options, logging, prompts and exit codes.

use std::{
    fs::OpenOptions,
    io::{BufRead, IsTerminal, Write},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Mutex,
};

use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    layer::SubscriberExt,
    util::SubscriberInitExt,
    Layer,
};

use crate::{config::Settings, error::Error};

pub use futures_util::FutureExt;

/// Options common to every tool, as in the original piwheels tools.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Specify a configuration file to load (TOML with the keys dsn, output_path and password_file)
    #[arg(short = 'c', long = "configuration", value_name = "FILE")]
    pub configuration: Option<PathBuf>,
    /// Produce less console output
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Produce more console output
    #[arg(short, long)]
    pub verbose: bool,
    /// Log messages to the specified file
    #[arg(short = 'l', long = "log-file", value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// The database to use, as a libpq connection string (sslmode, sslrootcert, ... as in psql; PGHOST,
    /// PGUSER, PGSSLMODE, ... and ~/.pgpass fill what it leaves out). With none anywhere and no
    /// PGHOST, PGHOSTADDR, PGPORT or PGDATABASE set, a private cluster under PIW_HOME (default
    /// ./piw-data) is created and started on first use
    #[arg(long, env = "PIW_DSN", value_name = "DSN", hide_env_values = true)]
    pub dsn: Option<String>,
}

impl CommonArgs {
    /// Settings from these options (and `output_path` where the tool has one).
    pub fn settings(&self, output_path: Option<PathBuf>) -> Result<Settings, CliError> {
        Ok(Settings::resolve(self.dsn.clone(), output_path, self.configuration.as_deref())?)
    }

    /// Log to stderr (and the log file, if any) at the level -q / -v ask for.
    pub fn init_logging(&self) -> Result<(), CliError> {
        let level = if self.quiet {
            LevelFilter::WARN
        } else if self.verbose {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        };
        // tokio-postgres logs every server NOTICE at info; they are not ours to show.
        let quiet_driver = |level| Targets::new().with_default(level).with_target("tokio_postgres", LevelFilter::WARN);
        let console = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .without_time()
            .with_filter(quiet_driver(level));
        let file = match &self.log_file {
            Some(path) => Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(Mutex::new(open_log(path)?))
                    .with_ansi(false)
                    .with_filter(quiet_driver(if self.verbose { LevelFilter::DEBUG } else { LevelFilter::INFO })),
            ),
            None => None,
        };
        // A second initialisation (tests calling tools in-process) keeps the first subscriber.
        let _ = tracing_subscriber::registry().with(console).with(file).try_init();
        Ok(())
    }
}

fn open_log(path: &Path) -> Result<std::fs::File, CliError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| CliError::Failed(Error::Io { context: format!("cannot open log file {}", path.display()), source: e }))
}

/// How a tool run ended, other than success.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Exit 1: the request failed; nothing changed. (Exit 2 when it is a usage error.)
    #[error(transparent)]
    Failed(#[from] Error),
    /// Exit 2: the user declined, or there was no terminal to ask and no --yes.
    #[error("{0}")]
    Declined(String),
    /// Exit 3: the request was queued, but the connection was lost while `--wait` waited for it.
    #[error("queued; lost the connection while waiting ({0}); the listener carries the work out all the same")]
    LostWhileWaiting(#[source] Error),
    /// Exit 3: the request was sent, but the connection was lost before the server answered: it
    /// may or may not have been carried out.
    #[error("sent; lost the connection before the server answered ({0}): the request may or may not have been carried out (look at the rows it would change)")]
    LostBeforeAnswer(#[source] Error),
}

/// Exit code of a request that was sent and whose outcome the tool could not learn.
pub const EXIT_CONNECTION_LOST: u8 = 3;

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Failed(Error::Usage(_)) => ExitCode::from(2),
            CliError::Failed(_) => ExitCode::from(1),
            CliError::Declined(_) => ExitCode::from(2),
            CliError::LostWhileWaiting(_) | CliError::LostBeforeAnswer(_) => ExitCode::from(EXIT_CONNECTION_LOST),
        }
    }

    /// The outcome of an admin call: a connection lost while the call was under way leaves it
    /// unknown whether it committed, which is not "nothing changed".
    pub fn from_request(error: Error) -> Self {
        if matches!(error, Error::Connection(_)) {
            CliError::LostBeforeAnswer(error)
        } else {
            CliError::Failed(error)
        }
    }
}

/// Print a failure as one line on stderr and turn the outcome into the process's exit code.
pub fn finish(tool: &str, outcome: Result<(), CliError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let line = error.to_string().replace('\n', " ");
            eprintln!("{tool}: {line}");
            error.exit_code()
        }
    }
}

/// Ask a yes/no question on the terminal. With `yes`, the answer is yes without asking; with no
/// terminal on stdin, the tool declines rather than wait.
pub fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Declined(format!("{question} needs confirmation: run on a terminal or pass --yes")));
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(|e| CliError::Failed(Error::Io { context: "cannot read the answer".into(), source: e }))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::Declined("declined".into())),
    }
}

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
        let tool = self.tool;
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return finish(tool, Err(CliError::Failed(Error::io("cannot start the runtime", e)))),
        };
        finish(tool, runtime.block_on(self.carry_out(body)))
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
