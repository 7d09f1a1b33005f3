//! Connecting the way libpq does, so that a working psql setup works with piw unchanged: the
//! connection string (either syntax), the `PG*` environment for what it leaves out, the password
//! file, and TLS with libpq's `sslmode` meanings.

mod account;
mod conninfo;
mod passfile;
mod tls;
mod verify;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use tokio_postgres::{config::Host, tls::MakeTlsConnect, Client, Config, Connection, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

pub use self::tls::{SslMode, TlsSettings};
use crate::error::Error;

/// libpq's default socket directory on Debian, where psql looks when no host is named.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
const DEFAULT_PORT: u16 = 5432;

/// The stream of a connection made by a [`Connector`].
pub type TlsStream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

/// A connection string or environment that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DsnError {
    #[error("{0}")]
    Syntax(#[from] conninfo::ConninfoError),
    #[error("invalid connection option \"{0}\"")]
    UnknownOption(String),
    #[error("connection option \"{key}\" is not supported by piw: {why}")]
    Unsupported { key: String, why: &'static str },
    #[error("invalid value \"{value}\" for connection option \"{key}\" (expected {expected})")]
    InvalidValue { key: String, value: String, expected: &'static str },
    #[error("{0}")]
    Driver(String),
    #[error("{0}")]
    Tls(String),
}

/// How piw treats each connection option libpq knows, and the environment variable that supplies it.
enum Handling {
    /// Passed to tokio-postgres under this name.
    Driver(&'static str),
    /// Read by piw itself (TLS, the password file, names, encodings).
    Own,
    /// Known to libpq, refused here with the reason (silently ignoring it could weaken security).
    Unsupported(&'static str),
}

const OPTIONS: &[(&str, Option<&str>, Handling)] = &[
    ("host", Some("PGHOST"), Handling::Driver("host")),
    ("hostaddr", Some("PGHOSTADDR"), Handling::Driver("hostaddr")),
    ("port", Some("PGPORT"), Handling::Driver("port")),
    ("dbname", Some("PGDATABASE"), Handling::Driver("dbname")),
    ("user", Some("PGUSER"), Handling::Driver("user")),
    ("password", Some("PGPASSWORD"), Handling::Driver("password")),
    ("passfile", None, Handling::Own),
    ("options", Some("PGOPTIONS"), Handling::Driver("options")),
    ("application_name", Some("PGAPPNAME"), Handling::Driver("application_name")),
    ("fallback_application_name", None, Handling::Own),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT"), Handling::Driver("connect_timeout")),
    ("tcp_user_timeout", None, Handling::Driver("tcp_user_timeout")),
    ("keepalives", None, Handling::Driver("keepalives")),
    ("keepalives_idle", None, Handling::Driver("keepalives_idle")),
    ("keepalives_interval", None, Handling::Driver("keepalives_interval")),
    ("keepalives_count", None, Handling::Driver("keepalives_retries")),
    ("target_session_attrs", Some("PGTARGETSESSIONATTRS"), Handling::Driver("target_session_attrs")),
    ("load_balance_hosts", Some("PGLOADBALANCEHOSTS"), Handling::Driver("load_balance_hosts")),
    ("channel_binding", Some("PGCHANNELBINDING"), Handling::Driver("channel_binding")),
    ("sslnegotiation", Some("PGSSLNEGOTIATION"), Handling::Driver("sslnegotiation")),
    ("sslmode", Some("PGSSLMODE"), Handling::Own),
    ("sslrootcert", Some("PGSSLROOTCERT"), Handling::Own),
    ("sslcert", Some("PGSSLCERT"), Handling::Own),
    ("sslkey", Some("PGSSLKEY"), Handling::Own),
    ("sslsni", Some("PGSSLSNI"), Handling::Own),
    ("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION"), Handling::Own),
    ("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION"), Handling::Own),
    ("sslcompression", Some("PGSSLCOMPRESSION"), Handling::Own),
    ("gssencmode", Some("PGGSSENCMODE"), Handling::Own),
    ("client_encoding", Some("PGCLIENTENCODING"), Handling::Own),
    ("service", Some("PGSERVICE"), Handling::Unsupported("name the server in the DSN or the PG* variables instead of a service file")),
    ("sslpassword", None, Handling::Unsupported("use an unencrypted private key file (mode 0600)")),
    ("sslcrl", Some("PGSSLCRL"), Handling::Unsupported("certificate revocation lists are not checked")),
    ("sslcrldir", Some("PGSSLCRLDIR"), Handling::Unsupported("certificate revocation lists are not checked")),
    ("sslcertmode", None, Handling::Unsupported("a client certificate is sent whenever sslcert names one")),
    ("requirepeer", Some("PGREQUIREPEER"), Handling::Unsupported("the server's user is not checked on Unix sockets")),
    ("require_auth", Some("PGREQUIREAUTH"), Handling::Unsupported("use channel_binding=require to insist on SCRAM")),
    ("krbsrvname", Some("PGKRBSRVNAME"), Handling::Unsupported("GSSAPI and Kerberos are not available")),
    ("gsslib", Some("PGGSSLIB"), Handling::Unsupported("GSSAPI and Kerberos are not available")),
    ("gssdelegation", Some("PGGSSDELEGATION"), Handling::Unsupported("GSSAPI and Kerberos are not available")),
    ("replication", None, Handling::Unsupported("piw does not use replication connections")),
];

/// Environment variables that name a server: with one of them set, a tool given no DSN connects
/// to that server (as psql would) instead of starting the embedded cluster.
pub const SERVER_VARIABLES: &[&str] = &["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE"];

/// The process environment as libpq reads it: the `PG*` variables and the home directory. Empty
/// variables count as unset.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
    home: Option<PathBuf>,
}

impl Environment {
    pub fn from_process() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, value)| name.starts_with("PG") && !value.is_empty())
            .collect();
        Environment { vars, home: account::home_dir() }
    }

    /// An environment with only these variables and this home directory (tests, embedding).
    pub fn with(vars: &[(&str, &str)], home: Option<&Path>) -> Self {
        let vars = vars.iter().filter(|(_, value)| !value.is_empty()).map(|(name, value)| ((*name).into(), (*value).into())).collect();
        Environment { vars, home: home.map(Path::to_owned) }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Whether a variable names a server (see [`SERVER_VARIABLES`]).
    pub fn names_a_server(&self) -> bool {
        SERVER_VARIABLES.iter().any(|name| self.var(name).is_some())
    }
}

/// Settings that reach the database the way libpq would, TLS included. Cheap to clone; every
/// connection piw makes (tools, the listener's pool, its LISTEN and presence sessions) goes
/// through one.
#[derive(Clone)]
pub struct Connector {
    config: Config,
    tls: MakeRustlsConnect,
    settings: Option<TlsSettings>,
    target: String,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("target", &self.target).field("tls", &self.settings).finish_non_exhaustive()
    }
}

impl Connector {
    /// Settings from a libpq connection string, the environment filling what it leaves out, and a
    /// password file to use when neither names a password (before `PGPASSFILE` and `~/.pgpass`).
    pub fn from_dsn(dsn: &str, env: &Environment, password_file: Option<&Path>) -> Result<Self, DsnError> {
        let mut params: Vec<(String, String)> = Vec::new();
        for (key, value) in conninfo::parse(dsn)? {
            let Some((_, _, handling)) = OPTIONS.iter().find(|(name, _, _)| *name == key) else {
                return Err(DsnError::UnknownOption(key));
            };
            if let Handling::Unsupported(why) = handling {
                return Err(DsnError::Unsupported { key, why });
            }
            params.push((key, value));
        }
        for (key, variable, handling) in OPTIONS {
            let Some(value) = variable.and_then(|variable| env.var(variable)) else { continue };
            if params.iter().any(|(given, _)| given == key) {
                continue;
            }
            if let Handling::Unsupported(why) = handling {
                return Err(DsnError::Unsupported { key: format!("{key} (from {})", variable.unwrap_or_default()), why });
            }
            params.push(((*key).into(), value.into()));
        }
        let get = |key: &str| param(&params, key);
        check_own_values(&params)?;

        let mut text = String::new();
        for (key, value) in &params {
            if let Some((_, _, Handling::Driver(name))) = OPTIONS.iter().find(|(option, _, _)| option == key) {
                text.push_str(&format!("{name}={} ", quote(value)));
            }
        }
        let mut config: Config = text.parse().map_err(|e: tokio_postgres::Error| DsnError::Driver(e.to_string()))?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            config.host_path(DEFAULT_SOCKET_DIR);
        }
        if config.get_user().is_none() {
            config.user(
                &account::os_user_name().ok_or_else(|| DsnError::Driver("no user name given and none known for this process".into()))?,
            );
        }
        if config.get_dbname().is_none() {
            let user = config.get_user().unwrap_or_default().to_owned();
            config.dbname(&user);
        }
        if config.get_application_name().is_none() {
            if let Some(fallback) = get("fallback_application_name") {
                config.application_name(fallback);
            }
        }
        if config.get_password().is_none() {
            let file = get("passfile")
                .map(PathBuf::from)
                .or_else(|| password_file.map(Path::to_owned))
                .or_else(|| env.var("PGPASSFILE").map(PathBuf::from).or_else(|| env.home.as_ref().map(|home| home.join(".pgpass"))));
            if let Some(file) = file {
                if let Some(password) = look_up_password(&file, &config) {
                    config.password(password);
                }
            }
        }

        let every_host_is_a_socket = !config.get_hosts().is_empty()
            && config.get_hostaddrs().is_empty()
            && config.get_hosts().iter().all(|host| matches!(host, Host::Unix(_)));
        let settings = if every_host_is_a_socket {
            // As libpq: TLS does not apply to Unix sockets, whatever sslmode says.
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            None
        } else {
            let tls_params = tls::TlsParams {
                sslmode: get("sslmode"),
                sslrootcert: get("sslrootcert"),
                sslcert: get("sslcert"),
                sslkey: get("sslkey"),
                sslsni: get("sslsni"),
                ssl_min_protocol_version: get("ssl_min_protocol_version"),
                ssl_max_protocol_version: get("ssl_max_protocol_version"),
            };
            let settings = TlsSettings::resolve(&tls_params, env.home.as_deref())?;
            config.ssl_mode(settings.mode.for_driver());
            Some(settings)
        };
        let client_config = match &settings {
            Some(settings) if settings.mode != SslMode::Disable => settings.client_config()?,
            _ => TlsSettings::unused_client_config(),
        };
        let target = describe_target(&config);
        Ok(Connector { config, tls: MakeRustlsConnect::new(client_config), settings, target })
    }

    /// Plain settings for a server reached over a Unix socket (the embedded cluster, tests).
    pub fn unix_socket(config: Config) -> Self {
        let mut config = config;
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        let target = describe_target(&config);
        Connector { config, tls: MakeRustlsConnect::new(TlsSettings::unused_client_config()), settings: None, target }
    }

    /// The driver's settings (host, user, ...), to read or adjust (application name, database).
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// The TLS connector, for a pool.
    pub fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    /// Where connections go, for messages: `host:port`, or the socket's path.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Use this application name unless the settings name one (libpq's fallback_application_name).
    pub fn fallback_application_name(&mut self, name: &str) {
        if self.config.get_application_name().is_none() {
            self.config.application_name(name);
        }
    }

    /// Connect; the caller drives the connection (to read notifications).
    pub async fn connect_raw(&self) -> Result<(Client, Connection<Socket, TlsStream>), Error> {
        self.config.connect(self.tls.clone()).await.map_err(|source| self.connect_error(source))
    }

    /// Connect; the connection is driven by a spawned task.
    pub async fn connect(&self) -> Result<Client, Error> {
        let (client, connection) = self.connect_raw().await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("connection closed: {error}");
            }
        });
        Ok(client)
    }

    /// A failed connection attempt, in one line that names the server and the reason.
    pub fn connect_error(&self, source: tokio_postgres::Error) -> Error {
        let (reason, lasting) = if let Some(db) = source.as_db_error() {
            // Refused by pg_hba.conf or a password (28...), or no such database (3D000): for
            // good. Starting up, shutting down, too many connections: for now.
            let code = db.code().code();
            (db.message().replace('\n', " "), code.starts_with("28") || code == "3D000")
        } else if let Some(problem) = verify::certificate_problem(&source) {
            let roots = self.settings.as_ref().and_then(TlsSettings::roots_description).unwrap_or_default();
            let mode = self.settings.as_ref().map_or("", |settings| settings.mode.as_str());
            (format!("the server's certificate does not verify: {problem} (sslmode {mode}, trusting {roots})"), true)
        } else if crate::error::with_causes(&source).contains("password missing") {
            // tokio-postgres says so only in words (its error kinds are private).
            let reason = "the server asks for a password and none was given (password in the DSN, PGPASSWORD, or a \
                          password file: passfile, password_file, PGPASSFILE, ~/.pgpass)";
            (reason.into(), true)
        } else {
            (crate::error::with_causes(&source), false)
        };
        Error::Connect { target: self.target.clone(), reason, lasting, source }
    }
}

/// The value of `key` among the resolved parameters.
fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(given, _)| given == key).map(|(_, value)| value.as_str())
}

/// Values of the options piw reads itself that are not TLS (those are checked when resolved).
fn check_own_values(params: &[(String, String)]) -> Result<(), DsnError> {
    let get = |key: &str| param(params, key);
    if let Some(mode) = get("gssencmode") {
        match mode {
            "disable" | "prefer" => {}
            "require" => return Err(DsnError::Unsupported { key: "gssencmode=require".into(), why: "GSSAPI encryption is not available" }),
            other => {
                return Err(DsnError::InvalidValue {
                    key: "gssencmode".into(),
                    value: other.into(),
                    expected: "disable, prefer or require",
                })
            }
        }
    }
    if let Some(encoding) = get("client_encoding") {
        if !matches!(encoding.to_ascii_uppercase().as_str(), "UTF8" | "UTF-8" | "UNICODE" | "AUTO") {
            return Err(DsnError::InvalidValue {
                key: "client_encoding".into(),
                value: encoding.into(),
                expected: "UTF8 (piw speaks UTF-8 only)",
            });
        }
    }
    if let Some(compression) = get("sslcompression") {
        if !matches!(compression, "0" | "1") {
            return Err(DsnError::InvalidValue { key: "sslcompression".into(), value: compression.into(), expected: "0 or 1" });
        }
    }
    Ok(())
}

/// A value as tokio-postgres's key=value parser reads it back: quoted, `\` and `'` escaped.
fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\\' || c == '\'' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// The password file's entry for the first host, as libpq looks it up: the default socket
/// directory counts as `localhost`, another socket directory as its path. (libpq looks up each
/// host of a list in turn; tokio-postgres takes one password.)
fn look_up_password(file: &Path, config: &Config) -> Option<String> {
    let host = match (config.get_hosts().first(), config.get_hostaddrs().first()) {
        (Some(Host::Tcp(name)), _) if !name.is_empty() => name.clone(),
        (Some(Host::Unix(dir)), _) if dir != Path::new(DEFAULT_SOCKET_DIR) => dir.display().to_string(),
        (Some(Host::Unix(_)), _) | (None, None) => "localhost".into(),
        (_, Some(addr)) => addr.to_string(),
        (Some(Host::Tcp(_)), None) => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(DEFAULT_PORT).to_string();
    let query = passfile::PassfileQuery {
        host: &host,
        port: &port,
        dbname: config.get_dbname().unwrap_or_default(),
        user: config.get_user().unwrap_or_default(),
    };
    match passfile::lookup(file, &query) {
        Ok(found) => found,
        Err(warning) => {
            tracing::warn!("{warning}");
            None
        }
    }
}

/// `host:port` of the first host (and how many others), or the socket file.
fn describe_target(config: &Config) -> String {
    let port = config.get_ports().first().copied().unwrap_or(DEFAULT_PORT);
    let first = match (config.get_hosts().first(), config.get_hostaddrs().first()) {
        (Some(Host::Tcp(name)), _) if !name.is_empty() => format!("{name}:{port}"),
        (Some(Host::Unix(dir)), _) => dir.join(format!(".s.PGSQL.{port}")).display().to_string(),
        (_, Some(addr)) => format!("{addr}:{port}"),
        _ => format!("localhost:{port}"),
    };
    let others = config.get_hosts().len().max(config.get_hostaddrs().len()).saturating_sub(1);
    if others > 0 {
        format!("{first} (and {others} other host(s))")
    } else {
        first
    }
}

#[cfg(test)]
mod tests;
