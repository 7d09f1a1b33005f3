//! Test harness: one private PostgreSQL cluster per test binary, started from the system's server
//! binaries (as the postgres account when we are root), a template database migrated once, and a
//! fresh database cloned from it for every test. The cluster and its directory are removed when the
//! test process exits, however it exits.
#![allow(dead_code)]

use std::{
    io::Write,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use piw::cluster::{Cluster, Durability};
use tokio_postgres::{Client, Config};

pub mod fixtures;

const TEMPLATE: &str = "piw_template";

pub struct TestCluster {
    pub cluster: Cluster,
    postmaster: Mutex<Child>,
    /// Held open for the life of the process: when it closes, the reaper stops the server and
    /// deletes the cluster's directory.
    _reaper_pipe: ChildStdin,
}

static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The cluster of this test binary, started on first use.
pub fn cluster() -> &'static TestCluster {
    CLUSTER.get_or_init(|| start_cluster().unwrap_or_else(|e| panic!("cannot start the test cluster: {e}")))
}

fn scratch_parent() -> PathBuf {
    // /dev/shm makes the cluster 2-3x faster; both it and /tmp are open to the postgres account.
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

fn start_cluster() -> Result<TestCluster, Box<dyn std::error::Error>> {
    let root = tempfile::Builder::new().prefix("piw-test-").tempdir_in(scratch_parent())?.keep();
    // tempdir is 0700: open it so the postgres account can reach its own subdirectories.
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let cluster = Cluster::new(root.join("pg"))?;
    cluster.initialize(Durability::Throwaway)?;
    let postmaster = cluster.spawn_postmaster()?;
    let reaper_pipe = spawn_reaper(postmaster.id(), &root)?;
    let test_cluster = TestCluster { cluster, postmaster: Mutex::new(postmaster), _reaper_pipe: reaper_pipe };
    let config = test_cluster.cluster.config("postgres");
    // The template is migrated on a runtime of its own: callers may be inside another runtime.
    std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let admin = piw::db::connect_with(&config).await.map_err(|e| e.to_string())?;
            admin.batch_execute(&format!("CREATE DATABASE {TEMPLATE}")).await.map_err(|e| e.to_string())?;
            let mut template_config = config.clone();
            template_config.dbname(TEMPLATE);
            let mut client = piw::db::connect_with(&template_config).await.map_err(|e| e.to_string())?;
            piw::schema::migrate(&mut client).await.map_err(|e| e.to_string())?;
            Ok(())
        })
    })
    .join()
    .map_err(|_| "template migration panicked")??;
    Ok(test_cluster)
}

/// A root shell in a session of its own waits for our end of its stdin to close (when this process
/// exits, by any means), then stops the server and deletes the directory.
fn spawn_reaper(postmaster_pid: u32, root: &Path) -> std::io::Result<ChildStdin> {
    let script = r#"
        read -r _
        kill -QUIT "$1" 2>/dev/null
        i=0
        while kill -0 "$1" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
        kill -KILL "$1" 2>/dev/null
        rm -rf "$2"
    "#;
    let mut command = Command::new("sh");
    command
        .args(["-c", script, "piw-test-reaper"])
        .arg(postmaster_pid.to_string())
        .arg(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; it keeps Ctrl-C in the terminal from killing the reaper.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    child.stdin.take().ok_or_else(|| std::io::Error::other("reaper has no stdin"))
}

impl TestCluster {
    /// Kill the postmaster with SIGKILL and start it again (an outage and crash recovery).
    pub fn crash_and_restart(&self) {
        let mut postmaster = self.postmaster.lock().unwrap_or_else(|p| p.into_inner());
        let _ = postmaster.kill();
        let _ = postmaster.wait();
        // Backends notice the postmaster's death and exit; a new postmaster waits for them.
        *postmaster = self.cluster.spawn_postmaster().expect("postmaster restarts");
    }

    /// Stop the postmaster with a fast shutdown (SIGINT: sessions are ended, nothing is lost) and
    /// start it again, as `pg_ctl -m fast restart` does.
    pub fn fast_restart(&self) {
        let mut postmaster = self.postmaster.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(postmaster.id() as libc::pid_t, libc::SIGINT);
        }
        let _ = postmaster.wait();
        *postmaster = self.cluster.spawn_postmaster().expect("postmaster restarts");
    }
}

/// A database of its own for one test, cloned from the migrated template.
pub struct TestDb {
    pub name: String,
    pub config: Config,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let cluster = cluster();
        let name = format!("t_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
        let admin = piw::db::connect_with(&cluster.cluster.config("postgres")).await.expect("connect to postgres");
        admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}")).await.expect("clone the template");
        let config = cluster.cluster.config(&name);
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

/// Rows of a query rendered as text, for before/after comparisons.
pub async fn snapshot(client: &Client, sql: &str) -> Vec<String> {
    let wrapped = format!("SELECT row_to_json(q)::text FROM ({sql}) AS q ORDER BY 1");
    client.query(&wrapped, &[]).await.expect("snapshot query").iter().map(|r| r.get(0)).collect()
}

/// Every row of every piw table (jobs included), to assert that a failed call changed nothing.
pub async fn snapshot_all(client: &Client) -> Vec<String> {
    let mut all = Vec::new();
    for table in ["packages", "versions", "build_abis", "builds", "files", "dependencies", "downloads", "requests", "jobs"] {
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
        other => panic!("no tool {other}"),
    }
}

pub fn write_stdin(stdin: &mut ChildStdin, text: &str) {
    let _ = stdin.write_all(text.as_bytes());
}

pub mod bulk;
pub mod daemon;
pub mod invariant;
pub mod pgbouncer;
pub mod process;
pub mod secure;
