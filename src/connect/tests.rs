//! How a DSN and the environment become connection settings (no server needed).

use std::{os::unix::fs::PermissionsExt, path::Path};

use tokio_postgres::config::{Host, SslMode as DriverSslMode};

use super::{tls::Verification, Connector, DsnError, Environment, SslMode};

fn resolve(dsn: &str, vars: &[(&str, &str)], home: Option<&Path>) -> Result<Connector, DsnError> {
    Connector::from_dsn(dsn, &Environment::with(vars, home), None)
}

fn nowhere() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp home")
}

#[test]
fn the_dsn_wins_over_the_environment_which_fills_the_rest() {
    let home = nowhere();
    let connector = resolve(
        "host=db.example.org dbname=piw",
        &[("PGHOST", "other.example.org"), ("PGUSER", "alice"), ("PGPORT", "5433"), ("PGDATABASE", "nope")],
        Some(home.path()),
    )
    .expect("resolves");
    let config = connector.config();
    assert_eq!(config.get_hosts(), &[Host::Tcp("db.example.org".into())]);
    assert_eq!(config.get_ports(), &[5433]);
    assert_eq!(config.get_user(), Some("alice"));
    assert_eq!(config.get_dbname(), Some("piw"));
    assert_eq!(connector.target(), "db.example.org:5433");
}

#[test]
fn an_empty_dsn_takes_everything_from_the_environment_and_libpq_defaults() {
    let home = nowhere();
    let connector = resolve("", &[("PGUSER", "bob")], Some(home.path())).expect("resolves");
    let config = connector.config();
    assert_eq!(config.get_hosts(), &[Host::Unix(super::DEFAULT_SOCKET_DIR.into())]);
    assert_eq!(config.get_user(), Some("bob"));
    assert_eq!(config.get_dbname(), Some("bob"), "dbname defaults to the user name, as in libpq");
    assert_eq!(config.get_ssl_mode(), DriverSslMode::Disable, "TLS does not apply to Unix sockets");
}

#[test]
fn sslmode_comes_from_pgsslmode_and_tcp_defaults_to_prefer() {
    let home = nowhere();
    let prefer = resolve("host=127.0.0.1 user=u", &[], Some(home.path())).expect("resolves");
    assert_eq!(prefer.config().get_ssl_mode(), DriverSslMode::Prefer);
    let required = resolve("host=127.0.0.1 user=u", &[("PGSSLMODE", "require")], Some(home.path())).expect("resolves");
    assert_eq!(required.config().get_ssl_mode(), DriverSslMode::Require);
    let settings = required.settings.as_ref().expect("TLS settings");
    assert_eq!(settings.verification, Verification::None, "require without a root certificate checks nothing, as libpq");
}

#[test]
fn verify_full_without_a_root_certificate_is_refused_before_connecting() {
    let home = nowhere();
    let error = resolve("host=db.example.org user=u sslmode=verify-full", &[], Some(home.path())).expect_err("no root.crt");
    assert!(error.to_string().contains("root certificate file"), "{error}");
    assert!(error.to_string().contains(".postgresql/root.crt"), "{error}");
}

#[test]
fn a_root_certificate_in_the_home_makes_require_check_the_chain() {
    let home = nowhere();
    let dir = home.path().join(".postgresql");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("root.crt"), "not used before connecting").expect("write");
    let connector = resolve("host=db.example.org user=u sslmode=require", &[], Some(home.path()));
    // The file is read when the TLS configuration is built: garbage is reported, not skipped.
    let error = connector.expect_err("garbage root.crt");
    assert!(error.to_string().contains("root.crt"), "{error}");
}

#[test]
fn unknown_and_unsupported_options_are_named() {
    let home = nowhere();
    let unknown = resolve("host=h user=u colour=blue", &[], Some(home.path())).expect_err("unknown option");
    assert_eq!(unknown.to_string(), "invalid connection option \"colour\"");
    let unsupported = resolve("service=mine", &[], Some(home.path())).expect_err("service files");
    assert!(unsupported.to_string().starts_with("connection option \"service\" is not supported"), "{unsupported}");
    let from_env = resolve("host=h user=u", &[("PGSSLCRL", "/crl.pem")], Some(home.path())).expect_err("crl from the env");
    assert!(from_env.to_string().contains("PGSSLCRL"), "{from_env}");
    let bad_mode = resolve("host=h user=u sslmode=sometimes", &[], Some(home.path())).expect_err("bad sslmode");
    assert!(bad_mode.to_string().contains("verify-full"), "{bad_mode}");
}

#[test]
fn the_password_file_is_read_only_when_no_password_is_given() {
    let home = nowhere();
    let pgpass = home.path().join(".pgpass");
    std::fs::write(&pgpass, "db.example.org:5432:piw:alice:from-pgpass\n*:*:*:*:wildcard\n").expect("write");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let found = resolve("host=db.example.org dbname=piw user=alice", &[], Some(home.path())).expect("resolves");
    assert_eq!(found.config().get_password(), Some(&b"from-pgpass"[..]));
    let other_db = resolve("host=db.example.org dbname=other user=alice", &[], Some(home.path())).expect("resolves");
    assert_eq!(other_db.config().get_password(), Some(&b"wildcard"[..]));
    let given = resolve("host=db.example.org dbname=piw user=alice", &[("PGPASSWORD", "from-env")], Some(home.path())).expect("resolves");
    assert_eq!(given.config().get_password(), Some(&b"from-env"[..]), "PGPASSWORD wins over the file");

    // As libpq: a file others may read is ignored (with a warning).
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let ignored = resolve("host=db.example.org dbname=piw user=alice", &[], Some(home.path())).expect("resolves");
    assert_eq!(ignored.config().get_password(), None);
}

#[test]
fn the_default_socket_is_localhost_in_the_password_file_and_another_socket_its_path() {
    let home = nowhere();
    let file = home.path().join("passwords");
    std::fs::write(&file, "localhost:5432:piw:alice:default-socket\n/run/pg:5432:piw:alice:other-socket\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let env = Environment::with(&[], Some(home.path()));
    let default = Connector::from_dsn("dbname=piw user=alice", &env, Some(&file)).expect("resolves");
    assert_eq!(default.config().get_password(), Some(&b"default-socket"[..]));
    let other = Connector::from_dsn("host=/run/pg dbname=piw user=alice", &env, Some(&file)).expect("resolves");
    assert_eq!(other.config().get_password(), Some(&b"other-socket"[..]));
}

#[test]
fn sslrootcert_system_implies_verify_full_and_refuses_weaker_modes() {
    let home = nowhere();
    let weak = resolve("host=h user=u sslrootcert=system sslmode=require", &[], Some(home.path())).expect_err("weak mode");
    assert!(weak.to_string().contains("verify-full"), "{weak}");
}

#[test]
fn ssl_modes_order_from_weakest() {
    assert!(SslMode::Disable < SslMode::Prefer && SslMode::Require < SslMode::VerifyCa && SslMode::VerifyCa < SslMode::VerifyFull);
    assert_eq!(SslMode::Allow.for_driver(), DriverSslMode::Prefer);
}
