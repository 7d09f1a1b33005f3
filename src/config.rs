//! Where the database and the output directory are: flags, environment, a TOML file, libpq's
//! `PG*` variables, or the embedded default (a private cluster under `PIW_HOME`).

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
    /// A libpq password file (same format as `~/.pgpass`) for when the DSN names no password.
    pub password_file: Option<PathBuf>,
    /// Where the output path is served (`https://wheels.example.org`), for the pages' install
    /// lines. A property of the site, kept in the database: `piw-initdb` applies it
    /// (`piw.set_site_url`), every listener renders it.
    pub site_url: Option<String>,
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
    /// A server, named by a libpq connection string (`host=... dbname=...` or `postgresql://...`;
    /// empty when the `PG*` variables alone name it), with the password file to fall back on.
    Server { dsn: String, password_file: Option<PathBuf> },
    /// The private cluster under this directory, created and started on first use.
    Embedded { home: PathBuf },
}

/// Resolved settings of one tool run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub database: Database,
    pub output_path: PathBuf,
    /// The configuration file's `site_url`, when it has one.
    pub site_url: Option<String>,
}

impl Settings {
    /// Resolve settings. The database: `--dsn` (or `PIW_DSN`, which clap has merged into it), else
    /// the configuration file's `dsn`, else the server the `PG*` variables name (`PGHOST`,
    /// `PGHOSTADDR`, `PGPORT` or `PGDATABASE` set), else the embedded default. An empty DSN is a
    /// usage error, never a quiet fallback to the embedded cluster.
    pub fn resolve(dsn: Option<String>, output_path: Option<PathBuf>, config_file: Option<&Path>) -> Result<Self> {
        Self::resolve_in(dsn, output_path, config_file, &crate::connect::Environment::from_process())
    }

    /// [`Settings::resolve`] against a given environment.
    pub fn resolve_in(
        dsn: Option<String>,
        output_path: Option<PathBuf>,
        config_file: Option<&Path>,
        env: &crate::connect::Environment,
    ) -> Result<Self> {
        let file = match config_file {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let home = piw_home();
        let dsn = match (dsn, file.dsn) {
            (Some(dsn), _) => Some((dsn, "--dsn (or PIW_DSN)")),
            (None, Some(dsn)) => Some((dsn, "the configuration file's dsn")),
            (None, None) => None,
        };
        let database = match dsn {
            Some((dsn, _)) if !dsn.trim().is_empty() => Database::Server { dsn, password_file: file.password_file },
            Some((_, source)) => {
                return Err(Error::Usage(format!(
                    "{source} is empty: give a connection string, or none at all for the embedded cluster under PIW_HOME"
                )))
            }
            None if env.names_a_server() => Database::Server { dsn: String::new(), password_file: file.password_file },
            None => Database::Embedded { home: home.clone() },
        };
        let output_path = output_path.or(file.output_path).unwrap_or_else(|| home.join("www"));
        Ok(Settings { database, output_path, site_url: file.site_url })
    }
}

/// `PIW_HOME`, or `./piw-data`.
pub fn piw_home() -> PathBuf {
    std::env::var_os("PIW_HOME").filter(|home| !home.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_HOME))
}
