//! Connecting the way PostgreSQL users do: a server that takes only TLS with SCRAM, passwords from
//! the password file, the PG* environment, PgBouncer in front, and an honest exit when the
//! connection drops after a request committed.
mod support;
use support::wheels::Wheel;

use std::{
    os::unix::fs::PermissionsExt,
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use support::{
    fixtures::scalar,
    pgbouncer::{PgBouncer, PoolMode},
    secure::{secure_cluster, LOGIN_USER},
    wait_until, TestDb,
};
use tokio_postgres::Client;

/// A tool run as a user would start it: only the environment given here (no PG* or PIW_DSN of
/// ours), a home directory of its own, and a PIW_HOME whose use would show as a `pg` directory.
struct Run {
    home: tempfile::TempDir,
    piw_home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Run {
    fn new() -> Run {
        let home = tempfile::Builder::new().prefix("piw-home-").tempdir().expect("home");
        let piw_home = tempfile::Builder::new().prefix("piw-data-").tempdir().expect("PIW_HOME");
        Run { home, piw_home, env: Vec::new() }
    }

    fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Run {
        self.env.push((name.into(), value.as_ref().to_string_lossy().into_owned()));
        self
    }

    /// `~/.pgpass` holding `line`, with `mode`.
    fn pgpass(self, line: &str, mode: u32) -> Run {
        let path = self.home.path().join(".pgpass");
        std::fs::write(&path, format!("{line}\n")).expect("write .pgpass");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod .pgpass");
        self
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let exe = support::tool_exe(tool);
        let mut command = Command::new(exe);
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        command.env("HOME", self.home.path()).env("PIW_HOME", self.piw_home.path());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command.args(args).stdin(Stdio::null());
        command
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        self.command(tool, args).output().expect("run the tool")
    }

    fn spawn(&self, tool: &str, args: &[&str]) -> Child {
        self.command(tool, args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start the tool")
    }

    /// Whether the embedded cluster was created (it must not be when a server was named).
    fn made_an_embedded_cluster(&self) -> bool {
        self.piw_home.path().join("pg").exists() || self.piw_home.path().join(".cluster.lock").exists()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The one line a failed tool prints (warnings before it are allowed).
fn last_line(output: &Output) -> String {
    stderr(output).lines().last().unwrap_or_default().to_owned()
}

/// A password file line for the secure cluster's login user.
fn pgpass_line() -> String {
    format!("localhost:{}:*:{LOGIN_USER}:{}", secure_cluster().port(), secure_cluster().password())
}

async fn requests(client: &Client) -> i64 {
    scalar(client, "SELECT (SELECT count(*) FROM piw.requests) + (SELECT count(*) FROM piw.jobs)").await
}

#[tokio::test]
async fn tools_and_the_listener_run_over_verified_tls_with_a_password_from_pgpass() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let admin = cluster.superuser(&db).await;
    let run = Run::new().pgpass(&pgpass_line(), 0o600);
    let dsn = cluster.dsn(&db);

    // A tool waiting for its work shows its own session: TLS, and the tool's name.
    let waiting = run.spawn("piw-rebuild", &["home", "--wait", "--dsn", &dsn]);
    wait_until("piw-rebuild to wait", Duration::from_secs(60), || async {
        scalar(&admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'piw-rebuild'").await == 1
    })
    .await;
    let ssl = scalar(
        &admin,
        "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
          WHERE a.application_name = 'piw-rebuild' AND s.ssl AND a.usename = 'piw_user'",
    )
    .await;
    assert_eq!(ssl, 1, "the tool's session is encrypted, as piw_user");

    // The listener, over TLS too, does the work the tool waits for.
    let www = tempfile::tempdir().expect("output");
    let mut listener = run.spawn("piw-listener", &["--dsn", &dsn, "--output-path", &www.path().display().to_string()]);
    let status = tokio::task::spawn_blocking(move || waiting.wait_with_output()).await.expect("join").expect("wait");
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert!(www.path().join("index.html").is_file(), "the listener wrote the home page");
    let plain = scalar(
        &admin,
        "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
          WHERE a.application_name LIKE 'piw-listener%' AND NOT s.ssl",
    )
    .await;
    let listener_sessions = scalar(&admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'piw-listener%'").await;
    assert!(listener_sessions >= 2, "LISTEN and presence sessions at least: {listener_sessions}");
    assert_eq!(plain, 0, "every listener session is encrypted");

    // Import and skip over the same route.
    let wheels = tempfile::tempdir().expect("wheels");
    let wheel = wheels.path().join("tlspkg-1.0-py3-none-any.whl");
    std::fs::write(&wheel, Wheel::new("tlspkg", "1.0").bytes()).expect("write wheel");
    let output = run.run("piw-import", &["--dsn", &dsn, "--output-path", &www.path().display().to_string(), &wheel.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = run.run("piw-skip", &["--dsn", &dsn, "tlspkg", "--reason", "over tls"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(scalar(&admin, "SELECT count(*) FROM piw.packages WHERE package = 'tlspkg' AND skip = 'over tls'").await, 1);
    assert!(!run.made_an_embedded_cluster());

    let _ = listener.kill();
    let _ = listener.wait();
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_in_one_line_naming_host_and_reason() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let admin = cluster.superuser(&db).await;
    let run = Run::new().pgpass(&pgpass_line(), 0o600);
    let dsn = format!(
        "host=localhost port={} user={LOGIN_USER} dbname={db} sslmode=verify-full sslrootcert={}",
        cluster.port(),
        cluster.other_ca_cert().display()
    );
    let output = run.run("piw-rebuild", &["home", "--dsn", &dsn]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    let line = last_line(&output);
    assert!(line.starts_with(&format!("piw-rebuild: cannot connect to localhost:{}: ", cluster.port())), "{line}");
    assert!(line.contains("certificate does not verify: it is not signed by a trusted CA"), "{line}");
    assert!(line.contains(&cluster.other_ca_cert().display().to_string()), "names the CA file: {line}");
    assert_eq!(requests(&admin).await, 0, "nothing queued");

    // verify-ca checks the chain as well: the wrong CA fails there too.
    let output = run.run("piw-rebuild", &["home", "--dsn", &dsn.replace("verify-full", "verify-ca")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(last_line(&output).contains("not signed by a trusted CA"), "{}", stderr(&output));

    // The right CA with a name the certificate does not carry: verify-full refuses, verify-ca
    // (chain only) accepts.
    let by_ip_name = format!(
        "host=127.0.0.2 hostaddr=127.0.0.1 port={} user={LOGIN_USER} dbname={db} sslmode=verify-full sslrootcert={}",
        cluster.port(),
        cluster.ca_cert().display()
    );
    let run = Run::new().env("PGPASSWORD", cluster.password());
    let output = run.run("piw-rebuild", &["home", "--dsn", &by_ip_name]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(last_line(&output).contains("not valid for this host name"), "{}", stderr(&output));
    let output = run.run("piw-rebuild", &["home", "--dsn", &by_ip_name.replace("verify-full", "verify-ca")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[tokio::test]
async fn plaintext_is_refused_by_the_server_in_one_line() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let admin = cluster.superuser(&db).await;
    let run = Run::new().pgpass(&pgpass_line(), 0o600);
    let dsn = format!("host=localhost port={} user={LOGIN_USER} dbname={db} sslmode=disable", cluster.port());
    let output = run.run("piw-rebuild", &["home", "--dsn", &dsn]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let line = last_line(&output);
    assert!(line.contains(&format!("cannot connect to localhost:{}", cluster.port())), "{line}");
    assert!(line.contains("no pg_hba.conf entry") && line.contains("no encryption"), "{line}");
    assert_eq!(requests(&admin).await, 0);
}

#[tokio::test]
async fn passwords_come_from_the_password_files_never_the_command_line() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let admin = cluster.superuser(&db).await;
    let dsn = cluster.dsn(&db);

    // No password anywhere: one line that says where one may come from.
    let run = Run::new();
    let output = run.run("piw-rebuild", &["home", "--dsn", &dsn]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(last_line(&output).contains("asks for a password and none was given"), "{}", stderr(&output));
    // The listener too: a password that is not there will not come by retrying, so it exits.
    let www = tempfile::tempdir().expect("output");
    let output = run.run("piw-listener", &["--dsn", &dsn, "--output-path", &www.path().display().to_string()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(last_line(&output).contains("asks for a password and none was given"), "{}", stderr(&output));

    // ~/.pgpass others can read is ignored, with libpq's warning.
    let run = Run::new().pgpass(&pgpass_line(), 0o644);
    let output = run.run("piw-rebuild", &["home", "--dsn", &dsn]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("has group or world access"), "{}", stderr(&output));
    assert_eq!(requests(&admin).await, 0);

    // PGPASSFILE names another file.
    let run = Run::new();
    let file = run.home.path().join("elsewhere");
    std::fs::write(&file, format!("{}\n", pgpass_line())).expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let run = run.env("PGPASSFILE", &file);
    let output = run.run("piw-rebuild", &["home", "--dsn", &dsn]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // The configuration file's password_file, with the DSN there too.
    let run = Run::new();
    let file = run.home.path().join("piw.pass");
    std::fs::write(&file, format!("{}\n", pgpass_line())).expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let config = run.home.path().join("piw.toml");
    std::fs::write(&config, format!("dsn = {dsn:?}\npassword_file = {:?}\n", file.display().to_string())).expect("write config");
    let output = run.run("piw-rebuild", &["home", "-c", &config.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(scalar(&admin, "SELECT count(*) FROM piw.requests").await, 2, "both requests queued");
}

#[tokio::test]
async fn the_pg_variables_name_the_server_when_no_dsn_is_given() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let admin = cluster.superuser(&db).await;
    let run = Run::new()
        .pgpass(&pgpass_line(), 0o600)
        .env("PGHOST", "localhost")
        .env("PGPORT", cluster.port().to_string())
        .env("PGUSER", LOGIN_USER)
        .env("PGDATABASE", &db)
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", cluster.ca_cert());
    let output = run.run("piw-rebuild", &["home"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(scalar(&admin, "SELECT count(*) FROM piw.requests").await, 1);
    assert!(!run.made_an_embedded_cluster(), "a server named by PG* variables is used, not the embedded cluster");

    // PGSSLMODE=disable from the environment is honoured too (and refused by this server).
    let run = Run::new()
        .pgpass(&pgpass_line(), 0o600)
        .env("PGSSLMODE", "disable")
        .env("PGSSLROOTCERT", cluster.ca_cert())
        .env("PGUSER", LOGIN_USER);
    let dsn = format!("host=localhost port={} dbname={db}", cluster.port());
    let output = run.run("piw-rebuild", &["home", "--dsn", &dsn]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(last_line(&output).contains("no encryption"), "{}", stderr(&output));
}

#[tokio::test]
async fn an_empty_dsn_is_a_usage_error_not_the_embedded_cluster() {
    let run = Run::new();
    let output = run.run("piw-rebuild", &["home", "--dsn", ""]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(last_line(&output).contains("is empty"), "{}", stderr(&output));
    let config = run.home.path().join("piw.toml");
    std::fs::write(&config, "dsn = \"  \"\n").expect("write config");
    let output = run.run("piw-rebuild", &["home", "-c", &config.display().to_string()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(last_line(&output).contains("configuration file's dsn is empty"), "{}", stderr(&output));
    assert!(!run.made_an_embedded_cluster());
}

#[tokio::test]
async fn tools_work_through_pgbouncer_in_transaction_mode() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let admin = cluster.superuser(&db).await;
    admin.batch_execute("INSERT INTO piw.packages (package) SELECT 'p' || i FROM generate_series(1, 8) i").await.expect("packages");
    let bouncer = PgBouncer::start(cluster, &db, PoolMode::Transaction);
    let run = Run::new().env("PGPASSWORD", cluster.password());
    let dsn = bouncer.dsn();

    // More clients at once than the pool has server connections: each transaction may land on
    // another server session, which a prepared statement would not survive.
    let children: Vec<Child> = (1..=8)
        .flat_map(|i| {
            let package = format!("p{i}");
            [
                run.spawn("piw-skip", &["--dsn", &dsn, &package, "--reason", "bounced"]),
                run.spawn("piw-rebuild", &["index", &package, "--dsn", &dsn]),
                run.spawn("piw-rebuild", &["project", &package, "--dsn", &dsn]),
            ]
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("wait");
        assert_eq!(output.status.code(), Some(0), "{}\n{}", stderr(&output), bouncer.log());
    }
    assert_eq!(scalar(&admin, "SELECT count(*) FROM piw.packages WHERE skip = 'bounced'").await, 8);

    // An import: one transaction with its rows and its file.
    let www = tempfile::tempdir().expect("output");
    let wheels = tempfile::tempdir().expect("wheels");
    let wheel = wheels.path().join("bounced-1.0-py3-none-any.whl");
    std::fs::write(&wheel, Wheel::new("bounced", "1.0").bytes()).expect("write wheel");
    let output = run.run("piw-import", &["--dsn", &dsn, "--output-path", &www.path().display().to_string(), &wheel.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", stderr(&output), bouncer.log());
    assert!(www.path().join("simple/bounced/bounced-1.0-py3-none-any.whl").is_file());

    // --wait through the pooler, with a listener connected to the server itself.
    // The run (its home, with the password file) lives as long as the listener.
    let listener_run = Run::new().pgpass(&pgpass_line(), 0o600);
    let mut listener =
        listener_run.spawn("piw-listener", &["--dsn", &cluster.dsn(&db), "--output-path", &www.path().display().to_string()]);
    let output = run.run("piw-rebuild", &["home", "--wait", "--dsn", &dsn]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", stderr(&output), bouncer.log());
    assert!(www.path().join("index.html").is_file());
    let _ = listener.kill();
    let _ = listener.wait();
}

#[tokio::test]
async fn the_listener_runs_through_session_pooling_and_refuses_transaction_pooling() {
    let cluster = secure_cluster();
    let db = cluster.new_database().await;
    let www = tempfile::tempdir().expect("output");
    let www_arg = www.path().display().to_string();
    let run = Run::new().env("PGPASSWORD", cluster.password());

    let transaction = PgBouncer::start(cluster, &db, PoolMode::Transaction);
    let output = run.run("piw-listener", &["--dsn", &transaction.dsn(), "--output-path", &www_arg]);
    assert_eq!(output.status.code(), Some(2), "{}\n{}", stderr(&output), transaction.log());
    let line = last_line(&output);
    assert!(line.contains("does not keep a session on one server connection"), "{line}");
    assert!(line.contains("session-mode pool"), "{line}");

    let session = PgBouncer::start(cluster, &db, PoolMode::Session);
    let mut listener = run.spawn("piw-listener", &["--dsn", &session.dsn(), "--output-path", &www_arg]);
    let output = run.run("piw-rebuild", &["home", "--wait", "--dsn", &session.dsn()]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", stderr(&output), session.log());
    assert!(www.path().join("index.html").is_file(), "the listener behind the session pool wrote the page");
    assert!(listener.try_wait().expect("poll").is_none(), "the listener still runs");
    let _ = listener.kill();
    let _ = listener.wait();
}

#[tokio::test]
async fn a_wait_cut_off_after_the_request_committed_says_so_with_exit_3() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let run = Run::new();
    let waiting = run.spawn("piw-rebuild", &["home", "--wait", "--dsn", &db.dsn()]);
    wait_until("piw-rebuild to wait", Duration::from_secs(60), || async {
        scalar(&client, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'piw-rebuild'").await == 1
            && scalar(&client, "SELECT count(*) FROM piw.requests").await == 1
    })
    .await;
    client
        .batch_execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'piw-rebuild'")
        .await
        .expect("terminate the tool's session");
    let output = tokio::task::spawn_blocking(move || waiting.wait_with_output()).await.expect("join").expect("wait");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(last_line(&output).starts_with("piw-rebuild: queued; lost the connection while waiting"), "{}", stderr(&output));
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.requests").await, 1, "the request stays queued");
}
