//! The options every tool takes, and the logging they set up.

use std::{
    fs::OpenOptions,
    io::IsTerminal,
    path::{Path, PathBuf},
    sync::Mutex,
};

use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    layer::SubscriberExt,
    util::SubscriberInitExt,
    Layer,
};

use super::CliError;
use crate::{config::Settings, error::Error};

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
