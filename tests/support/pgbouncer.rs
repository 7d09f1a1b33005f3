//! PgBouncer in front of the TLS-only cluster: clients speak plaintext to it on the loopback
//! address, it speaks TLS (verify-full) and SCRAM to the server, as a pooler beside the database
//! would. Debian's pgbouncer is 1.18.
#![allow(dead_code)]

use std::{
    fs,
    net::TcpStream,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::secure::{free_port, SecureCluster, LOGIN_USER};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    Session,
    Transaction,
}

/// A running PgBouncer; stopped, waited for, and its files deleted when dropped.
pub struct PgBouncer {
    /// `sh`, which runs pgbouncer and stops it when our end of its stdin closes (see [`WRAPPER`]).
    wrapper: Child,
    port: u16,
    dbname: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// pgbouncer runs under a shell that ends it once its stdin reaches end of file: when the
/// `PgBouncer` is dropped, or when the test process exits by any means (a killed test leaves no
/// pooler behind). The shell exits with pgbouncer's status, so a pgbouncer that dies at start is
/// seen at once.
const WRAPPER: &str = r#"
    # A background job's stdin is /dev/null: the watcher reads our pipe through fd 3.
    exec 3<&0 </dev/null
    "$1" "$2" >"$3" 2>&1 3<&- &
    pooler=$!
    ( read -r _ <&3; kill -TERM "$pooler" 2>/dev/null ) &
    watcher=$!
    exec 3<&-
    wait "$pooler"
    status=$?
    kill "$watcher" 2>/dev/null
    exit "$status"
"#;

/// How long pgbouncer may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(30);
/// Attempts with a new port when another process took the one we picked.
const PORT_ATTEMPTS: usize = 5;

impl PgBouncer {
    /// Start pgbouncer for database `dbname` of `cluster`, and wait until it accepts connections.
    /// Panics when pgbouncer is not installed: tests that need it must not pass without it.
    pub fn start(cluster: &SecureCluster, dbname: &str, mode: PoolMode) -> PgBouncer {
        let program = pgbouncer_binary().unwrap_or_else(|| {
            panic!("pgbouncer is not installed: install it (apt-get install pgbouncer; .ci/run does) to run the PgBouncer tests")
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start(cluster, &program, dbname, mode) {
                Ok(bouncer) => return bouncer,
                // Someone took the port between our probe and pgbouncer's bind: pick another.
                Err(log) if log.contains("Address already in use") && attempt < PORT_ATTEMPTS => continue,
                Err(log) => panic!("pgbouncer did not start; its log:\n{log}"),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A libpq DSN for LOGIN_USER without a password. The client side is plaintext on loopback.
    pub fn dsn(&self) -> String {
        format!("host=127.0.0.1 port={} user={LOGIN_USER} dbname={} sslmode=disable", self.port, self.dbname)
    }

    /// What pgbouncer logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Start one pgbouncer; on failure, its log.
    fn try_start(cluster: &SecureCluster, program: &Path, dbname: &str, mode: PoolMode) -> Result<PgBouncer, String> {
        let port = free_port();
        // Below the cluster's root, so the cluster's reaper deletes it even if we are killed.
        let dir = tempfile::Builder::new().prefix("pgbouncer-").tempdir_in(cluster.scratch_root()).expect("pgbouncer dir");
        let ini = dir.path().join("pgbouncer.ini");
        let userlist = dir.path().join("userlist.txt");
        let log = dir.path().join("pgbouncer.log");
        // With the plaintext password, pgbouncer can check the client's SCRAM and do its own
        // SCRAM exchange with the server.
        fs::write(&userlist, format!("\"{LOGIN_USER}\" \"{}\"\n", cluster.password())).expect("write userlist");
        fs::write(&ini, config(cluster, dbname, mode, port, &userlist, &dir.path().join("pgbouncer.pid"))).expect("write pgbouncer.ini");
        if let Some((uid, gid)) = cluster.run_as() {
            // pgbouncer refuses to run as root; the server's account runs it and owns its files.
            for path in [dir.path(), &ini, &userlist] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("give pgbouncer its files");
            }
        }
        fs::set_permissions(&userlist, fs::Permissions::from_mode(0o600)).expect("chmod userlist");

        let mut command = Command::new("sh");
        command
            .args(["-c", WRAPPER, "piw-test-pgbouncer"])
            .arg(program)
            .arg(&ini)
            .arg(&log)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = cluster.run_as() {
            command.uid(uid).gid(gid);
        }
        // SAFETY: setsid is async-signal-safe; it keeps Ctrl-C in the terminal away from the
        // wrapper, which ends pgbouncer itself when we go.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let wrapper = command.spawn().expect("start pgbouncer");
        let mut bouncer = PgBouncer { wrapper, port, dbname: dbname.to_owned(), log, _dir: dir };
        bouncer.wait_until_listening()?;
        Ok(bouncer)
    }

    /// Poll until a TCP connection to our port succeeds while our pgbouncer still runs (it might
    /// be someone else listening there, and ours dying of it).
    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_LIMIT;
        let mut pause = Duration::from_millis(2);
        loop {
            let connected = TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if let Some(status) = self.wrapper.try_wait().expect("wait for pgbouncer") {
                return Err(format!("(exited: {status})\n{}", self.log()));
            }
            if connected {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("(not listening after {START_LIMIT:?})\n{}", self.log()));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        // Closing the wrapper's stdin makes it stop pgbouncer; it exits when pgbouncer has.
        drop(self.wrapper.stdin.take());
        let _ = self.wrapper.wait();
    }
}

/// pgbouncer.ini: one database, reached over TLS with the server's certificate checked against
/// the test CA, by IP address (the certificate names 127.0.0.1 and the server listens only there).
fn config(cluster: &SecureCluster, dbname: &str, mode: PoolMode, port: u16, userlist: &Path, pidfile: &Path) -> String {
    let pool_mode = match mode {
        PoolMode::Session => "session",
        PoolMode::Transaction => "transaction",
    };
    // Transaction mode: fewer server connections than clients, so that transactions do change
    // hands. Session mode: each client keeps its server connection for its life, and a listener
    // alone holds its workers + 4 (pool, LISTEN, presence), as the README says.
    let pool_size = match mode {
        PoolMode::Session => 24,
        PoolMode::Transaction => 4,
    };
    format!(
        "[databases]\n\
         {dbname} = host=127.0.0.1 port={server_port} dbname={dbname}\n\
         \n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         ; no Unix socket: only TCP clients, and no socket file to clash with\n\
         unix_socket_dir =\n\
         pidfile = {pidfile}\n\
         auth_type = scram-sha-256\n\
         auth_file = {userlist}\n\
         pool_mode = {pool_mode}\n\
         max_client_conn = 100\n\
         default_pool_size = {pool_size}\n\
         ; JDBC sends this; pgbouncer would refuse the client otherwise. (Not `options`: piw sends\n\
         ; no startup options, and the tests show it.)\n\
         ignore_startup_parameters = extra_float_digits\n\
         server_reset_query = DISCARD ALL\n\
         server_tls_sslmode = verify-full\n\
         server_tls_ca_file = {ca}\n",
        server_port = cluster.port(),
        pidfile = pidfile.display(),
        userlist = userlist.display(),
        ca = cluster.ca_cert().display(),
    )
}

/// `pgbouncer` from PATH, or where Debian puts it (/usr/sbin is not on every PATH).
fn pgbouncer_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("pgbouncer"))
        .find(|candidate| candidate.is_file())
}
