//! A private PostgreSQL cluster for tests and the benchmark: started from the system's server
//! binaries (as the postgres account when we are root), its postmaster our child, its directory
//! removed when this process exits, however it exits. `tests/support` and `benches/piw.rs` both
//! use this one (the benchmark includes the file by path).
#![allow(dead_code)]

use std::{
    fmt::Write as _,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::Mutex,
};

use piw::cluster::{Cluster, Durability};
use tokio_postgres::Config;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct ScratchCluster {
    pub cluster: Cluster,
    postmaster: Mutex<Child>,
    root: PathBuf,
    also_remove: Vec<PathBuf>,
    /// Held open for the life of the process: when it closes, the reaper stops the server and
    /// deletes the directories.
    _reaper_pipe: ChildStdin,
}

/// Where scratch clusters go: /dev/shm makes them 2-3x faster; both it and /tmp are open to the
/// postgres account.
pub fn scratch_parent() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

impl ScratchCluster {
    /// Initialize and start a throwaway cluster in a new directory under `parent` named
    /// `prefix...`. The directories in `also_remove` are deleted with it.
    pub fn start(parent: &Path, prefix: &str, also_remove: &[PathBuf]) -> Result<ScratchCluster, BoxError> {
        Self::start_prepared(parent, prefix, also_remove, |_, _| Ok(())).map(|(cluster, ())| cluster)
    }

    /// [`Self::start`], with `prepare` run on the initialized cluster and its directory before the
    /// server starts (settings, certificates ...); what it returns is returned beside the cluster.
    pub fn start_prepared<T>(
        parent: &Path,
        prefix: &str,
        also_remove: &[PathBuf],
        prepare: impl FnOnce(&Cluster, &Path) -> Result<T, BoxError>,
    ) -> Result<(ScratchCluster, T), BoxError> {
        let root = tempfile::Builder::new().prefix(prefix).tempdir_in(parent)?.keep();
        // tempdir is 0700: open it so the postgres account can reach its own subdirectories.
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let cluster = Cluster::new(root.join("pg"))?;
        cluster.initialize(Durability::Throwaway)?;
        let prepared = prepare(&cluster, &root)?;
        let postmaster = cluster.spawn_postmaster()?;
        let mut removed = vec![root.clone()];
        removed.extend(also_remove.iter().cloned());
        let reaper_pipe = spawn_reaper(postmaster.id(), &removed)?;
        let scratch = ScratchCluster {
            cluster,
            postmaster: Mutex::new(postmaster),
            root,
            also_remove: also_remove.to_vec(),
            _reaper_pipe: reaper_pipe,
        };
        Ok((scratch, prepared))
    }

    /// Everything of this cluster lives below this directory; the reaper deletes it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Create database `name` (a copy of `template` when given) and return its settings.
    pub async fn create_database(&self, name: &str, template: Option<&str>) -> Result<Config, BoxError> {
        let admin = piw::db::connect_with(&self.cluster.config("postgres")).await?;
        let template = template.map(|t| format!(" TEMPLATE {t}")).unwrap_or_default();
        admin.batch_execute(&format!("CREATE DATABASE {name}{template}")).await?;
        Ok(self.cluster.config(name))
    }

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

/// Append `settings` to the cluster's postgresql.conf (later settings win), under a comment.
pub fn append_settings(cluster: &Cluster, comment: &str, settings: &str) -> std::io::Result<()> {
    let conf = cluster.data_dir().join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf)?;
    let _ = write!(text, "\n# {comment}\n{settings}\n");
    std::fs::write(&conf, text)
}

impl Drop for ScratchCluster {
    /// A cluster that is dropped (the benchmark's) goes at once; one that lives as long as the
    /// process (a test binary's) is left to the reaper.
    fn drop(&mut self) {
        let mut postmaster = self.postmaster.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: plain kill(2) on our own child (SIGQUIT: immediate shutdown, nothing to keep).
        unsafe {
            libc::kill(postmaster.id() as libc::pid_t, libc::SIGQUIT);
        }
        let _ = postmaster.wait();
        let _ = std::fs::remove_dir_all(&self.root);
        for dir in &self.also_remove {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A root shell in a session of its own waits for our end of its stdin to close (when this process
/// exits, by any means), then stops the server and deletes the directories.
fn spawn_reaper(postmaster_pid: u32, remove: &[PathBuf]) -> std::io::Result<ChildStdin> {
    let script = r#"
        read -r _
        pid="$1"; shift
        kill -QUIT "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
        kill -KILL "$pid" 2>/dev/null
        rm -rf "$@"
    "#;
    let mut command = Command::new("sh");
    command
        .args(["-c", script, "piw-scratch-reaper"])
        .arg(postmaster_pid.to_string())
        .args(remove)
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
