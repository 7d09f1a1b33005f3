//! The options every tool takes, and the logging they set up.

use std::path::PathBuf;

use tracing_subscriber::filter::LevelFilter;

use super::{
    logging::{self, Levels, LogFormat},
    CliError,
};
use crate::config::Settings;

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
    /// How log lines are written, on stderr and in the log file: text, or json (one JSON object per
    /// line, for log shippers)
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl CommonArgs {
    /// Settings from these options (and `output_path` where the tool has one).
    pub fn settings(&self, output_path: Option<PathBuf>) -> Result<Settings, CliError> {
        Ok(Settings::resolve(self.dsn.clone(), output_path, self.configuration.as_deref())?)
    }

    /// Log to stderr (and the log file, if any) at the level -q / -v ask for, in --log-format.
    pub fn init_logging(&self) -> Result<(), CliError> {
        let console = if self.quiet {
            LevelFilter::WARN
        } else if self.verbose {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        };
        // The file keeps info even with -q: it is the record, stderr is what the operator watches.
        let file = if self.verbose { LevelFilter::DEBUG } else { LevelFilter::INFO };
        logging::init(self.log_format, Levels { console, file }, self.log_file.as_deref())
    }
}
