//! Test harness: one private PostgreSQL cluster per test binary, started from the system's server
//! binaries (as the postgres account when we are root), a template database migrated once, and a
//! fresh database cloned from it for every test. The cluster and its directory are removed when the
//! test process exits, however it exits.
#![allow(dead_code)]

use std::{
    io::Write,
    process::ChildStdin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        OnceLock,
    },
    time::{Duration, Instant},
};

use tokio_postgres::{Client, Config};

pub mod fixtures;

pub use scratch::ScratchCluster as TestCluster;

const TEMPLATE: &str = "piw_template";

static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The cluster of this test binary, started on first use, with a template database migrated once.
pub fn cluster() -> &'static TestCluster {
    CLUSTER.get_or_init(|| start_cluster().unwrap_or_else(|e| panic!("cannot start the test cluster: {e}")))
}

fn start_cluster() -> Result<TestCluster, scratch::BoxError> {
    let test_cluster = TestCluster::start(&scratch::scratch_parent(), "piw-test-", &[])?;
    // The template is migrated on a runtime of its own: callers may be inside another runtime.
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<(), scratch::BoxError> {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(async {
                    let config = test_cluster.create_database(TEMPLATE, None).await?;
                    let mut client = piw::db::connect_with(&config).await?;
                    piw::schema::migrate(&mut client).await?;
                    Ok(())
                })
            })
            .join()
            .map_err(|_| "template migration panicked")?
    })?;
    Ok(test_cluster)
}

/// A database of its own for one test, cloned from the migrated template.
pub struct TestDb {
    pub name: String,
    pub config: Config,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let name = format!("t_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
        let config = cluster().create_database(&name, Some(TEMPLATE)).await.expect("clone the template");
        TestDb { name, config }
    }

    /// A new superuser connection to this database.
    pub async fn connect(&self) -> Client {
        piw::db::connect_with(&self.config).await.expect("connect to the test database")
    }

    /// A new connection as `role` (created as a LOGIN role if missing, then granted `member_of`).
    pub async fn connect_as(&self, role: &str, member_of: Option<&str>) -> Client {
        let admin = self.connect().await;
        admin
            .batch_execute(&format!(
                "DO $$ BEGIN
                     IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                         CREATE ROLE {role} LOGIN;
                     END IF;
                 END $$;"
            ))
            .await
            .expect("create login role");
        if let Some(group) = member_of {
            admin.batch_execute(&format!("GRANT {group} TO {role}")).await.expect("grant role");
        }
        let mut config = self.config.clone();
        config.user(role);
        piw::db::connect_with(&config).await.expect("connect as role")
    }

    /// The DSN of this database, for the command-line tools.
    pub fn dsn(&self) -> String {
        cluster().cluster.dsn(&self.name)
    }
}

/// Wait until `check` holds, polling; panic with `what` after `limit`. Tests wait for events
/// this way rather than sleeping for a fixed time.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(2);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// What a listener's next count (once a minute) would do, now: logged downloads and the home
/// page's figures of new versions and wheels. In READ COMMITTED, which the count requires,
/// whatever the session's default.
pub async fn count_downloads_now(client: &Client) {
    client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT piw.count_downloads('0'); COMMIT").await.expect("count downloads");
}

/// Rows of a query rendered as text, for before/after comparisons.
pub async fn snapshot(client: &Client, sql: &str) -> Vec<String> {
    let wrapped = format!("SELECT row_to_json(q)::text FROM ({sql}) AS q ORDER BY 1");
    client.query(&wrapped, &[]).await.expect("snapshot query").iter().map(|r| r.get(0)).collect()
}

/// Every row of every piw table (jobs included), to assert that a failed call changed nothing.
pub async fn snapshot_all(client: &Client) -> Vec<String> {
    let mut all = Vec::new();
    for table in [
        "packages",
        "versions",
        "build_abis",
        "builds",
        "files",
        "dependencies",
        "downloads",
        "download_counts",
        "download_totals",
        "download_counting",
        "requests",
        "jobs",
        "audit",
    ] {
        all.push(format!("-- {table}"));
        all.extend(snapshot(client, &format!("SELECT * FROM piw.{table}")).await);
    }
    all
}

/// The built binary of one of piw's tools.
pub fn tool_exe(tool: &str) -> &'static str {
    match tool {
        "piw-initdb" => env!("CARGO_BIN_EXE_piw-initdb"),
        "piw-listener" => env!("CARGO_BIN_EXE_piw-listener"),
        "piw-remove" => env!("CARGO_BIN_EXE_piw-remove"),
        "piw-rebuild" => env!("CARGO_BIN_EXE_piw-rebuild"),
        "piw-skip" => env!("CARGO_BIN_EXE_piw-skip"),
        "piw-import" => env!("CARGO_BIN_EXE_piw-import"),
        "piw-yank" => env!("CARGO_BIN_EXE_piw-yank"),
        "piw-hold" => env!("CARGO_BIN_EXE_piw-hold"),
        "piw-log" => env!("CARGO_BIN_EXE_piw-log"),
        "piw-status" => env!("CARGO_BIN_EXE_piw-status"),
        "piw-jobs" => env!("CARGO_BIN_EXE_piw-jobs"),
        other => panic!("no tool {other}"),
    }
}

pub fn write_stdin(stdin: &mut ChildStdin, text: &str) {
    let _ = stdin.write_all(text.as_bytes());
}

pub mod bulk;
pub mod daemon;
pub mod downloads;
pub mod drain;
pub mod invariant;
pub mod nginx;
pub mod pgbouncer;
pub mod process;
pub mod scratch;
pub mod secure;
pub mod venv;
pub mod wheels;

impl process::Dsn for TestDb {
    fn dsn(&self) -> String {
        TestDb::dsn(self)
    }
}
