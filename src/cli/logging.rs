//! Where log lines go (stderr, and the log file if any) and how they are written: text for
//! people, or one JSON object per line for log shippers (`--log-format json`).

use std::{fs::OpenOptions, io::IsTerminal, path::Path, sync::Mutex};

use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    fmt::MakeWriter,
    layer::SubscriberExt,
    util::SubscriberInitExt,
    Layer, Registry,
};

use super::CliError;
use crate::error::Error;

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people: the level and the message (the log file adds the time)
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, message, target and the event's fields
    Json,
}

/// The log's levels: `-q` warnings and errors, `-v` debug, else info.
#[derive(Debug, Clone, Copy)]
pub struct Levels {
    pub console: LevelFilter,
    pub file: LevelFilter,
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Install the process's subscriber: stderr at `levels.console`, and `log_file` at `levels.file`.
pub fn init(format: LogFormat, levels: Levels, log_file: Option<&Path>) -> Result<(), CliError> {
    // tokio-postgres logs every server NOTICE at info; they are not ours to show.
    let quiet_driver = |level| Targets::new().with_default(level).with_target("tokio_postgres", LevelFilter::WARN);
    let mut layers = vec![console(format).with_filter(quiet_driver(levels.console))];
    if let Some(path) = log_file {
        layers.push(file(format, open_log(path)?).with_filter(quiet_driver(levels.file)));
    }
    // A second initialisation (tests calling tools in-process) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(())
}

/// A tool's one line on failure, in the format of its log: a shipper reading stderr as JSON
/// gets the failure as one more object (level ERROR, with the tool and its exit code), never a
/// line it cannot parse. Not through the process's subscriber, which may not be set up yet
/// (the failure may be that the log file cannot be opened).
pub fn failure(format: LogFormat, tool: &str, line: &str, exit_code: u8) {
    match format {
        LogFormat::Text => eprintln!("{tool}: {line}"),
        LogFormat::Json => {
            let stderr = tracing_subscriber::registry().with(json(std::io::stderr));
            tracing::subscriber::with_default(stderr, || tracing::error!(tool, exit_code, "{line}"));
        }
    }
}

fn console(format: LogFormat) -> BoxedLayer {
    match format {
        // The journal and terminals say when; a level and the message are what people read.
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .without_time()
            .boxed(),
        LogFormat::Json => json(std::io::stderr),
    }
}

fn file(format: LogFormat, file: std::fs::File) -> BoxedLayer {
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(Mutex::new(file)).with_ansi(false).boxed(),
        LogFormat::Json => json(Mutex::new(file)),
    }
}

/// One object per event, its fields at the top level beside `message` (what shippers index),
/// with the time: a shipper may read the lines long after they were written.
fn json<W>(writer: W) -> BoxedLayer
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_ansi(false)
        .with_writer(writer)
        .boxed()
}

fn open_log(path: &Path) -> Result<std::fs::File, CliError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| CliError::Failed(Error::Io { context: format!("cannot open log file {}", path.display()), source: e }))
}
