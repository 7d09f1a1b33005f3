//! The listener as a separate process (the built `piw-listener`), so a test can kill it with
//! SIGKILL at any moment, run it under resource limits, or read its memory from /proc. The
//! benchmark runs its listeners with this too (it includes the file by path).
#![allow(dead_code)]

use std::{
    fs,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

/// What a listener connects to: a test's database, the benchmark's.
pub trait Dsn {
    fn dsn(&self) -> String;
}

/// A running `piw-listener`; killed (SIGKILL) when dropped.
pub struct ListenerProcess {
    child: Child,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
    /// A copy of the binary another user can run (see [`ListenerProcess::start_with`]).
    _program_dir: Option<tempfile::TempDir>,
}

/// Settings for a listener process beyond the test defaults.
#[derive(Debug, Clone, Default)]
pub struct Spawn {
    /// Extra command-line arguments.
    pub args: Vec<String>,
    /// RLIMIT_FSIZE in bytes (SIGXFSZ ignored, so a write past it fails with EFBIG).
    pub file_size_limit: Option<u64>,
    /// Run as this (user id, group id) (as root, to make permission bits count).
    pub user: Option<(u32, u32)>,
    /// `--lease` in seconds (default one second).
    pub lease: Option<f64>,
    /// Run with the listener's own defaults, as deployed (the benchmark measures those), not
    /// the tests' short retry delay and lease.
    pub deployed_defaults: bool,
    /// Another build of the listener (the benchmark's `PIW_BENCH_LISTENER`: an A/B of two
    /// commits in one run).
    pub program: Option<PathBuf>,
}

impl ListenerProcess {
    /// Start a listener with test settings: retries after 20 ms, a one-second lease (a killed
    /// listener's jobs come back after it), four workers.
    pub fn start(db: &impl Dsn, output: &Path) -> ListenerProcess {
        Self::start_with(db, output, Spawn::default())
    }

    pub fn start_with(db: &impl Dsn, output: &Path, spawn: Spawn) -> ListenerProcess {
        let log_dir = tempfile::Builder::new().prefix("piw-listener-log-").tempdir().expect("log dir");
        let log = log_dir.path().join("stderr.log");
        let stderr = fs::File::create(&log).expect("log file");
        // Run as another user, the listener binary must be reachable by that user: a checkout
        // under a private directory (`mktemp -d` makes them 0700) is not. Such a listener runs
        // from a copy in a directory anyone can traverse.
        let program_dir = spawn.user.map(|_| {
            let dir = tempfile::Builder::new().prefix("piw-listener-bin-").tempdir().expect("program dir");
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod program dir");
            let copy = dir.path().join("piw-listener");
            fs::copy(env!("CARGO_BIN_EXE_piw-listener"), &copy).expect("copy piw-listener");
            fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).expect("chmod piw-listener");
            dir
        });
        let program = match (&program_dir, &spawn.program) {
            (Some(dir), _) => dir.path().join("piw-listener"),
            (None, Some(program)) => program.clone(),
            (None, None) => PathBuf::from(env!("CARGO_BIN_EXE_piw-listener")),
        };
        let mut command = Command::new(program);
        command.arg("--dsn").arg(db.dsn()).arg("--output-path").arg(output);
        if !spawn.deployed_defaults {
            command.args(["--retry-delay", "0.02", "--lease"]).arg(spawn.lease.unwrap_or(1.0).to_string());
        }
        command.args(&spawn.args).env_remove("PIW_DSN").stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
        if let Some((uid, gid)) = spawn.user {
            command.uid(uid).gid(gid).current_dir("/");
        }
        if let Some(limit) = spawn.file_size_limit {
            // SAFETY: signal and setrlimit are async-signal-safe.
            unsafe {
                command.pre_exec(move || {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        // A just-written copy can be busy (ETXTBSY) while a process another test forked at that
        // moment still holds its write descriptor; that child's exec closes it.
        let mut attempts = 0;
        let child = loop {
            match command.spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempts < 10_000 => {
                    attempts += 1;
                    std::thread::yield_now();
                }
                spawned => break spawned.expect("start piw-listener"),
            }
        };
        ListenerProcess { child, log, _log_dir: log_dir, _program_dir: program_dir }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// SIGKILL: no chance to finish anything or hand anything back.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and wait for a clean exit (status 0).
    pub fn stop(mut self) {
        self.stop_here();
    }

    /// [`Self::stop`], then what it printed on stderr, its last lines included.
    pub fn stop_and_read_log(mut self) -> String {
        self.stop_here();
        self.log()
    }

    fn stop_here(&mut self) {
        // A SIGTERM before the listener handles it (a process just started, whose queue was
        // drained already) would kill it, not stop it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !handles_sigterm(self.child.id()) {
            assert!(self.is_running(), "piw-listener exited before it was stopped; its log:\n{}", self.log());
            assert!(std::time::Instant::now() < deadline, "piw-listener does not handle SIGTERM; its log:\n{}", self.log());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let status = self.child.wait().expect("wait for piw-listener");
        assert_eq!(status.code(), Some(0), "piw-listener exited uncleanly; its log:\n{}", self.log());
    }

    /// Send `signal` (SIGSTOP, SIGCONT ...).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// SIGTERM, and wait for the exit status, whatever it is.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !handles_sigterm(self.child.id()) {
            assert!(self.is_running() && std::time::Instant::now() < deadline, "piw-listener does not handle SIGTERM:\n{}", self.log());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        self.signal(libc::SIGTERM);
        // The limit only keeps a listener that does not stop from hanging the test.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for piw-listener") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "piw-listener did not stop on SIGTERM:\n{}", self.log());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// A field of /proc/PID/status, in KiB.
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The most memory it has had resident since it started or [`Self::reset_peak_rss`].
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    /// Start measuring the peak RSS afresh (Linux: "5" to clear_refs resets VmHWM).
    pub fn reset_peak_rss(&self) {
        let _ = fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    /// What it printed on stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Whether process `pid` has a handler for SIGTERM (its bit in the `SigCgt` mask of
/// /proc/PID/status).
fn handles_sigterm(pid: u32) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

impl Drop for ListenerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
