//! The TLS harness itself, checked with psql as the client: the secure cluster accepts verified TLS
//! with SCRAM and refuses everything else, and PgBouncer in front of it passes queries through.
mod support;

use std::process::Output;

use support::{
    pgbouncer::{PgBouncer, PoolMode},
    secure::{secure_cluster, LOGIN_USER},
};

/// Run psql on `dsn` with LOGIN_USER's password, unaligned and tuples only, one `-c` per query.
/// Our own PG* variables (a PGSSLMODE, a PGPASSFILE) must not change what the test sees.
async fn psql(dsn: &str, queries: &[&str]) -> Output {
    let mut command = tokio::process::Command::new("psql");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
    command.env("PGPASSWORD", secure_cluster().password()).env("PGCONNECT_TIMEOUT", "30").args([
        "-X",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        dsn,
    ]);
    for query in queries {
        command.args(["-c", query]);
    }
    command.output().await.expect("run psql")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "psql failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    assert!(!output.status.success(), "psql succeeded: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn verified_tls_with_scram_is_accepted() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let output = psql(
        &cluster.dsn(&db),
        &["SELECT 1", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", "SELECT pg_has_role('piw_admin', 'MEMBER')"],
    )
    .await;
    assert_eq!(stdout(&output), "1\nt\nt\n");
}

#[tokio::test]
async fn client_certificate_is_verified_by_the_server() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let dsn = format!("{} sslcert={} sslkey={}", cluster.dsn(&db), cluster.client_cert().display(), cluster.client_key().display());
    let output = psql(&dsn, &["SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()"]).await;
    assert_eq!(stdout(&output), format!("/CN={LOGIN_USER}\n"));
}

#[tokio::test]
async fn plaintext_is_refused_by_the_server() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let dsn = format!("host=127.0.0.1 port={} user={LOGIN_USER} dbname={db} sslmode=disable", cluster.port());
    let error = stderr(&psql(&dsn, &["SELECT 1"]).await);
    assert!(error.contains("no pg_hba.conf entry") && error.contains("no encryption"), "{error}");
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let dsn = cluster.dsn(&db).replace(&cluster.ca_cert().display().to_string(), &cluster.other_ca_cert().display().to_string());
    assert!(dsn.contains("other-ca"), "{dsn}");
    let error = stderr(&psql(&dsn, &["SELECT 1"]).await);
    assert!(error.contains("certificate verify failed"), "{error}");
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    // A password in the DSN wins over PGPASSWORD.
    let dsn = format!("{} password=wrong", cluster.dsn(&db));
    let error = stderr(&psql(&dsn, &["SELECT 1"]).await);
    assert!(error.contains("password authentication failed"), "{error}");
}

#[tokio::test]
async fn queries_pass_through_pgbouncer_in_transaction_mode() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let bouncer = PgBouncer::start(cluster, &db, PoolMode::Transaction);
    // The server sees a TLS connection from pgbouncer, logged in as LOGIN_USER.
    let output =
        psql(&bouncer.dsn(), &["SELECT 1", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", "SELECT current_user"]).await;
    assert_eq!(stdout(&output), format!("1\nt\n{LOGIN_USER}\n"), "pgbouncer log:\n{}", bouncer.log());
}

#[tokio::test]
async fn queries_pass_through_pgbouncer_in_session_mode() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let bouncer = PgBouncer::start(cluster, &db, PoolMode::Session);
    let output = psql(&bouncer.dsn(), &["SELECT count(*) FROM piw.packages"]).await;
    assert_eq!(stdout(&output), "0\n", "pgbouncer log:\n{}", bouncer.log());
}

#[tokio::test]
async fn a_dropped_pgbouncer_is_gone() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let bouncer = PgBouncer::start(cluster, &db, PoolMode::Transaction);
    let port = bouncer.port();
    drop(bouncer);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "pgbouncer still listens on {port}");
}
