//! Where the database and the output directory are: flags, environment, a TOML file, or the
//! embedded default (a private cluster under `PIW_HOME`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// Default of `PIW_HOME`, relative to the working directory.
pub const DEFAULT_HOME: &str = "piw-data";

/// The keys a configuration file (`-c FILE`) may set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub dsn: Option<String>,
    pub output_path: Option<PathBuf>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config { path: path.to_owned(), message: e.to_string() })?;
        toml::from_str(&text).map_err(|e| Error::Config { path: path.to_owned(), message: e.message().replace('\n', " ") })
    }
}

/// Which database the tools talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A libpq-style connection string (`host=... dbname=...` or `postgresql://...`).
    Dsn(String),
    /// The private cluster under this directory, created and started on first use.
    Embedded { home: PathBuf },
}

/// Resolved settings of one tool run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub database: Database,
    pub output_path: PathBuf,
}

impl Settings {
    /// Resolve settings: a flag (or its environment variable, which clap has merged into it) wins
    /// over the configuration file, which wins over the embedded default.
    pub fn resolve(dsn: Option<String>, output_path: Option<PathBuf>, config_file: Option<&Path>) -> Result<Self> {
        let file = match config_file {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let home = piw_home();
        let database = match dsn.or(file.dsn).filter(|d| !d.trim().is_empty()) {
            Some(dsn) => Database::Dsn(dsn),
            None => Database::Embedded { home: home.clone() },
        };
        let output_path = output_path.or(file.output_path).unwrap_or_else(|| home.join("www"));
        Ok(Settings { database, output_path })
    }
}

/// `PIW_HOME`, or `./piw-data`.
pub fn piw_home() -> PathBuf {
    std::env::var_os("PIW_HOME").filter(|home| !home.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_HOME))
}
