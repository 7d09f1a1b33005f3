//! The site as deployed: nginx with deploy/nginx/piw.conf in front of the output tree, and pip,
//! the real client, against it. pip asks for PEP 691 JSON and gets it, resolves from the wheels'
//! core metadata (PEP 658), and installs what the HTML would have offered.
mod support;

use std::process::Command;

use support::{
    daemon::{drained, output_dir, RunningListener},
    nginx::Nginx,
    TestDb,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_gets_json_and_core_metadata_from_nginx() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let wheels = tempfile::tempdir().unwrap();
    let made = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample_wheels.py"))
        .arg(wheels.path())
        .output()
        .expect("python3 examples/sample_wheels.py");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let import = Command::new(support::tool_exe("piw-import"))
        .args(["-q", "--output-path"])
        .arg(out.path())
        .arg("--dsn")
        .arg(db.dsn())
        .args(std::fs::read_dir(wheels.path()).unwrap().map(|e| e.unwrap().path()))
        .env_remove("PIW_DSN")
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let listener = RunningListener::start(&db, out.path().to_owned());
    client.batch_execute("CALL piw.rebuild('index')").await.unwrap();
    drained(&client).await;
    // World-readable, as a deployed tree is for the web server's user.
    let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(out.path()).status();

    let nginx = Nginx::serve(out.path());
    let dest = tempfile::tempdir().unwrap();
    let pip = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--index-url"])
        .arg(nginx.url("/simple/"))
        .arg("-d")
        .arg(dest.path())
        .arg("hello-world")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .output()
        .expect("python3 -m pip");
    let log = nginx.access_log();
    assert!(pip.status.success(), "{}\n{log}", String::from_utf8_lossy(&pip.stderr));
    assert!(dest.path().join("hello_world-2.0-py3-none-any.whl").is_file(), "the newest version");

    let json_page = log.lines().find(|line| line.contains(" /simple/hello-world/index.json "));
    let json_page = json_page.unwrap_or_else(|| panic!("pip was served the JSON page:\n{log}"));
    assert!(json_page.starts_with("200 GET"), "{json_page}");
    assert!(json_page.contains("type=\"application/vnd.pypi.simple.v1+json; charset=utf-8\""), "{json_page}");
    assert!(
        log.lines().any(|line| line.starts_with("200 GET /simple/hello-world/hello_world-2.0-py3-none-any.whl.metadata ")),
        "pip read the core metadata:\n{log}"
    );
    assert!(!log.lines().any(|line| line.contains("hello_world-1.0-py3-none-any.whl ")), "no other wheel was downloaded:\n{log}");

    // A browser (no JSON in its Accept) gets the HTML; dot files are never served.
    let browser = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request as u; r = u.urlopen(sys.argv[1]); print(r.headers['Content-Type']); print(r.read().decode()[:15])",
        ])
        .arg(nginx.url("/simple/hello-world/"))
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&browser.stdout);
    assert!(answer.starts_with("text/html; charset=utf-8\n<!DOCTYPE html>"), "{answer}");
    std::fs::write(out.path().join("simple/hello-world/.half.piw-tmp"), b"x").unwrap();
    let hidden = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request as u, urllib.error as e\ntry: u.urlopen(sys.argv[1])\nexcept e.HTTPError as x: print(x.code)",
        ])
        .arg(nginx.url("/simple/hello-world/.half.piw-tmp"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&hidden.stdout).trim(), "404");
    listener.stop().await;
}
