//! The README's first command: piw-listener with no DSN anywhere runs on a private cluster under
//! PIW_HOME, the other tools find the same cluster, and SIGTERM stops the daemon with exit 0.
mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use support::wait_until;

/// Stops the embedded cluster however the test ends.
struct StopCluster(PathBuf);

impl Drop for StopCluster {
    fn drop(&mut self) {
        if let Ok(cluster) = piw::db::embedded_cluster(&self.0) {
            let _ = cluster.command("pg_ctl").args(["stop", "-m", "immediate", "-D"]).arg(cluster.data_dir()).output();
            let _ = std::fs::remove_dir_all(cluster.root());
        }
    }
}

fn piw_command(exe: &str, home: &Path) -> Command {
    let mut command = Command::new(exe);
    command.env("PIW_HOME", home).env_remove("PIW_DSN").current_dir(home).stdin(Stdio::null());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_runs_on_the_embedded_default_and_stops_on_sigterm() {
    let home_dir = tempfile::Builder::new().prefix("piw-home-").tempdir_in("/tmp").unwrap();
    std::fs::set_permissions(home_dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let home = home_dir.path().to_owned();
    let _stop = StopCluster(home.clone());

    let mut listener = piw_command(env!("CARGO_BIN_EXE_piw-listener"), &home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start piw-listener");

    // The first tool to need the cluster creates it; the other waits for it (a lock in PIW_HOME).
    let rebuild = piw_command(env!("CARGO_BIN_EXE_piw-rebuild"), &home).args(["-q", "home"]).output().unwrap();
    assert!(rebuild.status.success(), "{}", String::from_utf8_lossy(&rebuild.stderr));

    let page = home.join("www/index.html");
    wait_until("the home page on the embedded default", Duration::from_secs(120), || {
        let exists = page.is_file();
        async move { exists }
    })
    .await;
    assert!(std::fs::read_to_string(&page).unwrap().contains("<html"));

    // SAFETY: kill with a pid of our own child.
    assert_eq!(unsafe { libc::kill(listener.id() as i32, libc::SIGTERM) }, 0);
    let status = tokio::task::spawn_blocking(move || listener.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM ends the listener with exit 0");

    let listeners = piw_command(env!("CARGO_BIN_EXE_piw-initdb"), &home).arg("-q").output().unwrap();
    assert!(listeners.status.success(), "piw-initdb on the embedded default: {}", String::from_utf8_lossy(&listeners.stderr));
}
