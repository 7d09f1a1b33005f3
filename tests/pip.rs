//! pip, the real client, installs from the generated simple index served by a static web server,
//! before and after a removal, with hashes checked.
mod support;

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use support::{
    daemon::{drained, output_dir, RunningListener},
    TestDb,
};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `python3 -m http.server` on a free loopback port; returns the server and its port.
fn serve(root: &Path) -> (Server, u16) {
    let mut child = Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let stdout = child.stdout.take().expect("server stdout");
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).expect("server says its port");
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    let port = first
        .split_whitespace()
        .skip_while(|word| *word != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    (Server(child), port)
}

fn pip_download(port: u16, requirement: &str, dest: &Path) -> std::process::Output {
    Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--index-url"])
        .arg(format!("http://127.0.0.1:{port}/simple/"))
        .arg("-d")
        .arg(dest)
        .arg(requirement)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .output()
        .expect("python3 -m pip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_downloads_from_the_simple_index_before_and_after_a_removal() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    support::wheels::import_samples(&db.dsn(), out.path());
    let listener = RunningListener::start(&db, out.path().to_owned());
    drained(&client).await;
    let page = std::fs::read_to_string(out.path().join("simple/hello-world/index.html")).unwrap();
    assert!(page.contains(r#"data-requires-python="&gt;=3.7""#), "{page}");

    let (_server, port) = serve(out.path());
    let first = tempfile::tempdir().unwrap();
    let latest = pip_download(port, "hello-world", first.path());
    assert!(latest.status.success(), "{}", String::from_utf8_lossy(&latest.stderr));
    assert!(first.path().join("hello_world-2.0-py3-none-any.whl").exists(), "newest version chosen");

    client.execute("CALL piw.remove_version('hello-world', '2.0')", &[]).await.unwrap();
    drained(&client).await;

    let second = tempfile::tempdir().unwrap();
    let gone = pip_download(port, "hello-world==2.0", second.path());
    assert!(!gone.status.success(), "2.0 is no longer offered");
    let fallback = pip_download(port, "hello-world", second.path());
    assert!(fallback.status.success(), "{}", String::from_utf8_lossy(&fallback.stderr));
    assert!(second.path().join("hello_world-1.0-py3-none-any.whl").exists());

    // A wheel whose bytes do not match the published hash is refused.
    std::fs::write(out.path().join("simple/piw-demo/piw_demo-0.1-py3-none-any.whl"), b"tampered").unwrap();
    let third = tempfile::tempdir().unwrap();
    let tampered = pip_download(port, "piw-demo", third.path());
    assert!(!tampered.status.success(), "hash mismatch detected");
    assert!(String::from_utf8_lossy(&tampered.stderr).to_lowercase().contains("hash"));
    listener.stop().await;
}
