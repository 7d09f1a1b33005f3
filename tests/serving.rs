//! The site as deployed: nginx with deploy/nginx/piw.conf in front of the output tree, and the
//! real clients against it: pip (the system's) asks for PEP 691 JSON and gets it and resolves
//! from the wheels' core metadata (PEP 658); uv (installed from PyPI into the test's own virtual
//! environment) honours Requires-Python read from the wheels and yanks with their reasons.
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
    support::wheels::import_samples(&db.dsn(), out.path());
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

/// uv, installed from PyPI into a virtual environment of the test's own, against nginx: it gets
/// the JSON pages (uv refuses JSON served with a wrong type), leaves out a version whose wheel's
/// METADATA asks for a Python from the future, leaves out a yanked version unless it is pinned,
/// and then shows the yank's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uv_honours_requires_python_and_yanks_from_the_json_pages() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let wheels = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for version in ["1.0", "2.0"] {
        paths.push(support::wheels::Wheel::new("hello_world", version).write_into(wheels.path()));
    }
    let mut future = support::wheels::Wheel::new("hello_world", "3.0");
    future.requires_python = Some(">=3.99".into());
    paths.push(future.write_into(wheels.path()));
    let import = Command::new(support::tool_exe("piw-import"))
        .args(["-q", "--output-path"])
        .arg(out.path())
        .arg("--dsn")
        .arg(db.dsn())
        .args(&paths)
        .env_remove("PIW_DSN")
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let listener = RunningListener::start(&db, out.path().to_owned());
    drained(&client).await;
    let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(out.path()).status();
    let nginx = Nginx::serve(out.path());

    let venv = tempfile::tempdir().unwrap();
    let made = Command::new("python3").args(["-m", "venv"]).arg(venv.path()).output().expect("python3 -m venv");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let python = venv.path().join("bin/python");
    let got_uv = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "uv"])
        .env("PIP_CONFIG_FILE", "/dev/null")
        .output()
        .expect("pip install uv");
    assert!(got_uv.status.success(), "uv from PyPI: {}", String::from_utf8_lossy(&got_uv.stderr));
    let uv = |requirement: &str| {
        Command::new(venv.path().join("bin/uv"))
            .args(["pip", "install", "--reinstall", "--no-cache", "--python"])
            .arg(&python)
            .arg("--index-url")
            .arg(nginx.url("/simple/"))
            .arg(requirement)
            .env_remove("UV_INDEX_URL")
            .output()
            .expect("uv pip install")
    };
    let installed = || {
        let version =
            Command::new(&python).args(["-c", "import importlib.metadata as m; print(m.version('hello-world'))"]).output().expect("python");
        String::from_utf8_lossy(&version.stdout).trim().to_owned()
    };

    let first = uv("hello-world");
    assert!(first.status.success(), "{}\n{}", String::from_utf8_lossy(&first.stderr), nginx.access_log());
    assert_eq!(installed(), "2.0", "3.0 asks for Python >=3.99 in its METADATA");
    let log = nginx.access_log();
    assert!(
        log.lines().any(|l| l.starts_with("200 GET /simple/hello-world/index.json ")
            && l.contains("type=\"application/vnd.pypi.simple.v1+json; charset=utf-8\"")),
        "uv got the JSON page:\n{log}"
    );

    client.batch_execute("CALL piw.yank_version('hello-world', '2.0', 'broken on Tuesdays')").await.unwrap();
    drained(&client).await;
    let unpinned = uv("hello-world");
    assert!(unpinned.status.success(), "{}", String::from_utf8_lossy(&unpinned.stderr));
    assert_eq!(installed(), "1.0", "a yanked version is left out unless pinned");
    let pinned = uv("hello-world==2.0");
    assert!(pinned.status.success(), "{}", String::from_utf8_lossy(&pinned.stderr));
    assert_eq!(installed(), "2.0");
    let said = String::from_utf8_lossy(&pinned.stderr);
    assert!(said.contains("broken on Tuesdays"), "uv shows the yank's reason: {said}");
    listener.stop().await;
}
