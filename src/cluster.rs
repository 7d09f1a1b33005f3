//! A private PostgreSQL cluster run from the system's server binaries: the embedded default of the
//! tools and the throwaway server of the tests.
//!
//! PostgreSQL refuses to run as root. When we are root, the cluster's directories belong to the
//! `postgres` account and every server binary runs under its uid and gid.

use std::{
    ffi::CString,
    fs,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::error::{Error, Result};

/// The superuser that `initdb` creates; the tools connect as it over the private socket.
pub const SUPERUSER: &str = "postgres";
/// The port number only names the socket file: the cluster listens on no TCP address.
pub const PORT: u16 = 5432;
/// Longest path a Unix-domain socket may have on Linux (sun_path less the terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The uid and gid the server runs as when we are root.
#[derive(Debug, Clone, Copy)]
struct Account {
    uid: u32,
    gid: u32,
}

/// A cluster in `root/data`, with its socket in `root/run` and its log in `root/log`.
#[derive(Debug, Clone)]
pub struct Cluster {
    bindir: PathBuf,
    root: PathBuf,
    run_as: Option<Account>,
}

/// How the cluster trades safety for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on: the embedded default keeps real data.
    Durable,
    /// fsync, synchronous_commit and full_page_writes off: for throwaway test clusters.
    Throwaway,
}

impl Cluster {
    /// A cluster rooted at `root` (which need not exist yet), using the system's server binaries.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?.join(root)
        };
        let run_as = if is_root() { Some(postgres_account()?) } else { None };
        let cluster = Cluster { bindir: server_bindir()?, root, run_as };
        let socket = cluster.socket_dir().join(format!(".s.PGSQL.{PORT}"));
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::Cluster(format!(
                "the socket path {} is longer than {MAX_SOCKET_PATH} bytes; choose a shorter PIW_HOME",
                socket.display()
            )));
        }
        Ok(cluster)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub fn log_file(&self) -> PathBuf {
        self.root.join("log").join("postgresql.log")
    }

    /// Whether the server, when run as `postgres`, can reach the cluster's root directory.
    pub fn is_reachable_by_server(&self) -> bool {
        self.run_as.is_none_or(|_| ancestors_traversable_by_others(&self.root))
    }

    pub fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").exists()
    }

    /// Create the directories and run `initdb`, unless the cluster exists already.
    pub fn initialize(&self, durability: Durability) -> Result<()> {
        if self.is_initialized() {
            return Ok(());
        }
        if !self.is_reachable_by_server() {
            return Err(Error::Cluster(format!(
                "the postgres account cannot reach {}: a parent directory is not searchable by others",
                self.root.display()
            )));
        }
        for dir in [self.root.clone(), self.socket_dir(), self.root.join("log")] {
            fs::create_dir_all(&dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            self.hand_over(&dir)?;
        }
        fs::set_permissions(self.socket_dir(), fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("cannot restrict the socket directory", e))?;
        let data = self.data_dir();
        self.run_tool(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let mut conf = format!(
            "\n# piw: a private cluster reached only through its own socket directory\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{}'\n\
             port = {PORT}\n\
             max_connections = 300\n",
            self.socket_dir().display()
        );
        if durability == Durability::Throwaway {
            // mmap keeps dynamic shared memory inside the data directory, so deleting it leaves nothing.
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\ndynamic_shared_memory_type = mmap\n");
        }
        let conf_path = data.join("postgresql.conf");
        let mut text = fs::read_to_string(&conf_path).map_err(|e| Error::io("cannot read postgresql.conf", e))?;
        text.push_str(&conf);
        fs::write(&conf_path, text).map_err(|e| Error::io("cannot write postgresql.conf", e))?;
        Ok(())
    }

    /// Whether a server is running on this cluster's data directory.
    pub fn is_running(&self) -> bool {
        let data = self.data_dir();
        self.command("pg_ctl")
            .args(["status", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Start the server in the background (it outlives this process) and wait until it accepts
    /// connections.
    pub fn start(&self) -> Result<()> {
        let data = self.data_dir();
        let log = self.log_file();
        self.run_tool(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
            ],
        )
        .map_err(|e| Error::Cluster(format!("{e} (server log: {})", log.display())))
    }

    /// Stop the server (fast shutdown: running transactions are rolled back).
    pub fn stop(&self) -> Result<()> {
        let data = self.data_dir();
        self.run_tool("pg_ctl", &["stop".as_ref(), "-w".as_ref(), "-m".as_ref(), "fast".as_ref(), "-D".as_ref(), data.as_os_str()])
    }

    /// Run the postmaster as a child of this process (tests: it can be killed and waited for) and
    /// wait until it accepts connections. After a crash, the old postmaster's backends may hold its
    /// shared memory and lock file for a moment, and a new postmaster exits at once: that is retried
    /// until the deadline.
    pub fn spawn_postmaster(&self) -> Result<Child> {
        let data = self.data_dir();
        let deadline = Instant::now() + Duration::from_secs(60);
        'attempt: loop {
            let mut child = self
                .command("postgres")
                .arg("-D")
                .arg(&data)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| Error::io("cannot start postgres", e))?;
            loop {
                if let Some(status) = child.try_wait().map_err(|e| Error::io("cannot wait for postgres", e))? {
                    if Instant::now() > deadline {
                        return Err(Error::Cluster(format!("postgres exited at start ({status})")));
                    }
                    thread::sleep(Duration::from_millis(100));
                    continue 'attempt;
                }
                if self.accepts_connections(child.id()) {
                    return Ok(child);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    return Err(Error::Cluster("postgres did not start within 60 s".into()));
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The postmaster writes its pid on the first line of postmaster.pid and "ready" on the eighth
    /// once it accepts connections (a file left by a killed postmaster names another pid).
    fn accepts_connections(&self, pid: u32) -> bool {
        fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .map(|pid_file| {
                let mut lines = pid_file.lines();
                lines.next().is_some_and(|first| first.trim() == pid.to_string())
                    && lines.nth(6).is_some_and(|status| status.trim() == "ready")
            })
            .unwrap_or(false)
    }

    /// Connection settings for a database of this cluster.
    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config.host_path(self.socket_dir()).port(PORT).user(SUPERUSER).dbname(dbname);
        config
    }

    /// A libpq connection string for a database of this cluster (for psql and --dsn).
    pub fn dsn(&self, dbname: &str) -> String {
        format!("host={} port={PORT} user={SUPERUSER} dbname={dbname}", self.socket_dir().display())
    }

    /// A command for one of the server binaries, run as `postgres` when we are root.
    pub fn command(&self, tool: &str) -> Command {
        let mut command = Command::new(self.bindir.join(tool));
        // The server cannot read root's working directory.
        command.current_dir("/");
        if let Some(account) = self.run_as {
            command.uid(account.uid).gid(account.gid);
        }
        command
    }

    fn run_tool(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
        let output = self.command(tool).args(args).stdin(Stdio::null()).output().map_err(|e| Error::io(format!("cannot run {tool}"), e))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        Err(Error::Cluster(format!("{tool} failed ({}): {}", output.status, last.trim())))
    }

    /// Give a directory to the account the server runs as.
    fn hand_over(&self, dir: &Path) -> Result<()> {
        if let Some(account) = self.run_as {
            std::os::unix::fs::chown(dir, Some(account.uid), Some(account.gid))
                .map_err(|e| Error::io(format!("cannot give {} to postgres", dir.display()), e))?;
        }
        Ok(())
    }
}

/// The directory of `initdb`, `pg_ctl` and `postgres`: `PIW_PG_BINDIR`, or the newest
/// `/usr/lib/postgresql/*/bin` (Debian keeps them off PATH).
pub fn server_bindir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PIW_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").exists() {
            Ok(dir)
        } else {
            Err(Error::Cluster(format!("PIW_PG_BINDIR={} holds no initdb", dir.display())))
        };
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin).ok_or_else(|| {
        Error::Cluster(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: \
             install them (apt-get install postgresql) or set PIW_PG_BINDIR"
                .into(),
        )
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn postgres_account() -> Result<Account> {
    let name = CString::new(SUPERUSER).map_err(|_| Error::Cluster("bad account name".into()))?;
    // SAFETY: getpwnam returns null or a pointer to a static record that we copy at once; nothing
    // else in this process calls getpwnam concurrently with cluster setup.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(Error::Cluster(
            "running as root, but there is no postgres account to run the server as (it comes with apt-get install postgresql)".into(),
        ));
    }
    // SAFETY: entry is non-null and points to a valid passwd record.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Account { uid, gid })
}

/// Whether every existing ancestor of `path` lets others search it (mode o+x), so that the
/// `postgres` account can reach a directory created below it.
fn ancestors_traversable_by_others(path: &Path) -> bool {
    path.ancestors().skip(1).filter_map(|dir| fs::metadata(dir).ok()).all(|meta| meta.permissions().mode() & 0o001 != 0)
}
