//! Connecting to the configured database, starting the embedded cluster on first use.

use std::{
    fs::File,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

use tokio_postgres::{Client, Config};

use crate::{
    cluster::{Cluster, Durability},
    config::Database,
    connect::{Connector, Environment},
    error::{Error, Result},
    schema,
};

/// The database the embedded cluster keeps piw's schema in.
pub const EMBEDDED_DBNAME: &str = "piw";

/// How to reach the configured database: a server as libpq would reach it (the `PG*` environment
/// and the password file filling what the DSN leaves out), or the embedded default, which this
/// creates, migrates and starts as needed.
pub async fn connector(database: &Database) -> Result<Connector> {
    match database {
        Database::Server { dsn, password_file } => Ok(Connector::from_dsn(dsn, &Environment::from_process(), password_file.as_deref())?),
        Database::Embedded { home } => Ok(Connector::unix_socket(ensure_embedded(home).await?)),
    }
}

/// Connect to the configured database as this program (its name is the session's application
/// name unless the DSN gives one); the connection is driven by a spawned task.
pub async fn connect(database: &Database) -> Result<Client> {
    let mut connector = connector(database).await?;
    connector.fallback_application_name(&program_name());
    connector.connect().await
}

/// This program's name (`piw-rebuild`), as pg_stat_activity should show it.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| Path::new(&arg0).file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "piw".into())
}

/// Connect over a Unix socket with these settings, without TLS (the embedded cluster, tests); the
/// connection is driven by a spawned task.
pub async fn connect_with(config: &Config) -> Result<Client> {
    Connector::unix_socket(config.clone()).connect().await
}

/// Make sure the embedded cluster under `home` exists, runs and holds a migrated `piw` database.
pub async fn ensure_embedded(home: &Path) -> Result<Config> {
    let home = home.to_owned();
    // Held until the database is created and migrated: two tools started at once on a new
    // PIW_HOME must not both run initdb, CREATE DATABASE or the first migration.
    let (cluster, _lock) = tokio::task::spawn_blocking(move || start_embedded_cluster(&home))
        .await
        .map_err(|e| Error::Cluster(format!("cluster start-up panicked: {e}")))??;
    let admin = connect_with(&cluster.config("postgres")).await?;
    let exists = admin.query_opt("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", &[&EMBEDDED_DBNAME]).await?.is_some();
    if !exists {
        admin.batch_execute(&format!("CREATE DATABASE {EMBEDDED_DBNAME}")).await?;
        tracing::info!("created database {EMBEDDED_DBNAME} in {}", cluster.root().display());
    }
    drop(admin);
    let config = cluster.config(EMBEDDED_DBNAME);
    let mut client = connect_with(&config).await?;
    let migrated = client.query_one("SELECT pg_catalog.to_regclass('piw.jobs') IS NOT NULL", &[]).await?.try_get::<_, bool>(0)?;
    if !migrated {
        schema::migrate(&mut client).await?;
    }
    Ok(config)
}

/// Where the embedded cluster of `home` lives: `home/pg`, unless the server could not use that
/// path (as root, when a parent directory such as /root is closed to others, or when the socket
/// path would be too long); then a directory under /var/tmp named after `home`.
pub fn embedded_cluster(home: &Path) -> Result<Cluster> {
    let home = std::path::absolute(home).map_err(|e| Error::io("cannot resolve PIW_HOME", e))?;
    if let Ok(cluster) = Cluster::new(home.join("pg")) {
        if cluster.is_initialized() || cluster.is_reachable_by_server() {
            return Ok(cluster);
        }
    }
    let fallback = PathBuf::from(format!("/var/tmp/piw-pg-{:016x}", fnv1a(home.as_os_str().as_encoded_bytes())));
    Cluster::new(fallback)
}

/// Create and start the cluster if needed; returns it with the start-up lock still held.
fn start_embedded_cluster(home: &Path) -> Result<(Cluster, File)> {
    std::fs::create_dir_all(home).map_err(|e| Error::io(format!("cannot create {}", home.display()), e))?;
    let lock_path = home.join(".cluster.lock");
    let lock = File::create(&lock_path).map_err(|e| Error::io(format!("cannot create {}", lock_path.display()), e))?;
    // SAFETY: flock on a file descriptor we own; released when `lock` is dropped.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::io("cannot lock the cluster", std::io::Error::last_os_error()));
    }
    let cluster = embedded_cluster(home)?;
    if !cluster.is_initialized() {
        if cluster.root() != home.join("pg") {
            tracing::warn!(
                "the postgres account cannot use {}; the embedded cluster lives in {}",
                home.join("pg").display(),
                cluster.root().display()
            );
        }
        tracing::info!("creating the embedded PostgreSQL cluster in {}", cluster.root().display());
        cluster.initialize(Durability::Durable)?;
    }
    if !cluster.is_running() {
        tracing::info!("starting the embedded PostgreSQL cluster in {}", cluster.root().display());
        cluster.start()?;
    }
    Ok((cluster, lock))
}

/// A stable 64-bit FNV-1a hash, for naming a directory after a path.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}
