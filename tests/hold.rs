//! Hold and release (issue 18): a held version's wheels stay on disk but leave the served tree
//! (`.withheld/PACKAGE/`) and the pages until it is released; skipped packages and versions are
//! withheld the same way. The procedures in SQL, then the real tools and a real listener, nginx
//! with deploy/nginx/piw.conf, and pip.
mod support;

use std::{
    path::Path,
    process::{Command, Output, Stdio},
};

use support::{
    daemon::{drained, output_dir, RunningListener},
    fixtures::*,
    nginx::Nginx,
    TestDb,
};
use tokio_postgres::{error::SqlState, Client};

const HELLO_1: &str = "hello_world-1.0-py3-none-any.whl";
const HELLO_2: &str = "hello_world-2.0-py3-none-any.whl";

fn tool(name: &str, db: &TestDb, args: &[&str]) -> Output {
    Command::new(support::tool_exe(name))
        .args(args)
        .arg("--dsn")
        .arg(db.dsn())
        .env_remove("PIW_DSN")
        .stdin(Stdio::null())
        .output()
        .expect("run tool")
}

/// Run a tool off the runtime (the in-process listener must keep running meanwhile), assert
/// that it succeeded, and return what it said (its log is on stderr).
async fn run_ok(name: &'static str, db: &TestDb, args: &[&str]) -> String {
    let (dsn, args): (String, Vec<String>) = (db.dsn(), args.iter().map(|a| a.to_string()).collect());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(support::tool_exe(name))
            .args(&args)
            .arg("--dsn")
            .arg(dsn)
            .env_remove("PIW_DSN")
            .stdin(Stdio::null())
            .output()
            .expect("run tool")
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

async fn queued_wheels(client: &Client) -> Vec<(String, String, String)> {
    queued(client).await.into_iter().filter(|(kind, _, _)| kind == "place_wheel").collect()
}

async fn files_of(client: &Client, package: &str, version: &str) -> Vec<String> {
    client
        .query(
            "SELECT f.filename FROM piw.files f JOIN piw.builds b ON b.build_id = f.build_id
              WHERE b.package = $1 AND b.version = $2 ORDER BY 1",
            &[&package, &version],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn hold_and_release_mark_the_version_queue_the_moves_and_are_audited() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    clear_jobs(&client).await;
    let files = files_of(&client, "foo", "2.0").await;
    assert_eq!(files.len(), 2);
    let moves: Vec<_> = files.iter().map(|f| job("place_wheel", "foo", f)).collect();

    client.batch_execute("CALL piw.hold_version('Foo', '2.0', 'security review')").await.unwrap();
    assert_eq!(
        text(&client, "SELECT held FROM piw.versions WHERE package = 'foo' AND version = '2.0'").await.as_deref(),
        Some("security review")
    );
    assert_eq!(queued_wheels(&client).await, moves, "each wheel of the version is moved out");
    assert!(queued(&client).await.contains(&job("simple", "foo", "")), "the pages are rebuilt");
    let audit = client
        .query_one("SELECT action, package, version, reason, changed::text FROM piw.audit ORDER BY audit_id DESC LIMIT 1", &[])
        .await
        .unwrap();
    let (action, package, version, reason): (String, String, String, String) = (audit.get(0), audit.get(1), audit.get(2), audit.get(3));
    assert_eq!((action.as_str(), package.as_str(), version.as_str(), reason.as_str()), ("hold_version", "foo", "2.0", "security review"));
    assert_eq!(serde_json::from_str::<serde_json::Value>(audit.get(4)).unwrap(), serde_json::json!({"versions updated": 1}));

    // Holding what is held replaces the reason; nothing moves.
    clear_jobs(&client).await;
    client.batch_execute("CALL piw.hold_version('foo', '2.0', 'still reviewing')").await.unwrap();
    assert_eq!(
        text(&client, "SELECT held FROM piw.versions WHERE package = 'foo' AND version = '2.0'").await.as_deref(),
        Some("still reviewing")
    );
    assert_eq!(queued_wheels(&client).await, []);

    clear_jobs(&client).await;
    client.batch_execute("CALL piw.release_version('foo', '2.0')").await.unwrap();
    assert_eq!(text(&client, "SELECT held FROM piw.versions WHERE package = 'foo' AND version = '2.0'").await.as_deref(), Some(""));
    assert_eq!(queued_wheels(&client).await, moves, "each wheel is published again");
    assert_eq!(text(&client, "SELECT action FROM piw.audit ORDER BY audit_id DESC LIMIT 1").await.as_deref(), Some("release_version"));

    // Refusals change nothing, audit included.
    assert_fails_unchanged(
        &client,
        "CALL piw.release_version('foo', '2.0')",
        &SqlState::from_code("PW002"),
        Some("version 2.0 of package foo is not held"),
    )
    .await;
    assert_fails_unchanged(&client, "CALL piw.hold_version('foo', '2.0', ' ')", &SqlState::INVALID_PARAMETER_VALUE, None).await;
    assert_fails_unchanged(&client, "CALL piw.hold_version('foo', '2.0', NULL)", &SqlState::INVALID_PARAMETER_VALUE, None).await;
    assert_fails_unchanged(
        &client,
        "CALL piw.hold_version('foo', '9.9', 'why')",
        &SqlState::NO_DATA_FOUND,
        Some("version 9.9 of package foo does not exist"),
    )
    .await;
    assert_fails_unchanged(
        &client,
        "CALL piw.release_version('nope', '1.0')",
        &SqlState::NO_DATA_FOUND,
        Some("package nope does not exist"),
    )
    .await;
}

#[tokio::test]
async fn skipping_a_package_or_a_version_queues_the_moves_of_its_wheels() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    clear_jobs(&client).await;
    client.batch_execute("CALL piw.skip_package('foo', 'license')").await.unwrap();
    let mut all = files_of(&client, "foo", "1.0").await;
    all.extend(files_of(&client, "foo", "2.0").await);
    all.sort();
    let moves: Vec<_> = all.iter().map(|f| job("place_wheel", "foo", f)).collect();
    assert_eq!(queued_wheels(&client).await, moves);

    // A version held inside a skipped package stays withheld: nothing moves.
    clear_jobs(&client).await;
    client.batch_execute("CALL piw.hold_version('foo', '1.0', 'review')").await.unwrap();
    let held: Vec<_> = files_of(&client, "foo", "1.0").await.iter().map(|f| job("place_wheel", "foo", f)).collect();
    assert_eq!(queued_wheels(&client).await, held, "the listener looks at the whole row: moving is a no-op then");

    clear_jobs(&client).await;
    client.batch_execute("CALL piw.skip_version('bar', '0.1')").await.unwrap();
    let bar: Vec<_> = files_of(&client, "bar", "0.1").await.iter().map(|f| job("place_wheel", "bar", f)).collect();
    assert_eq!(queued_wheels(&client).await, bar);
    clear_jobs(&client).await;
    client.batch_execute("CALL piw.yank_version('bar', '0.1')").await.unwrap();
    assert_eq!(queued_wheels(&client).await, [], "a yank moves nothing");
}

fn page(out: &Path, relative: &str) -> String {
    std::fs::read_to_string(out.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Where a wheel is: (under simple/, under .withheld/), with its metadata file beside it.
fn placed(out: &Path, package: &str, filename: &str) -> (bool, bool) {
    let served = out.join("simple").join(package).join(filename);
    let withheld = out.join(".withheld").join(package).join(filename);
    let meta = |p: &Path| p.with_file_name(format!("{filename}.metadata")).is_file();
    assert_eq!(served.is_file(), meta(&served), "{filename}'s metadata goes with it");
    assert_eq!(withheld.is_file(), meta(&withheld), "{filename}'s metadata goes with it");
    (served.is_file(), withheld.is_file())
}

fn linked(out: &Path, package: &str, filename: &str) -> bool {
    let html = page(out, &format!("simple/{package}/index.html")).contains(filename);
    let json = page(out, &format!("simple/{package}/index.json")).contains(filename);
    let project = page(out, &format!("project/{package}/index.html")).contains(&format!("{filename}#sha256="));
    assert_eq!((html, json), (project, project), "{filename}: simple HTML, JSON and project page agree");
    html
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_version_is_kept_but_not_published_until_released() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let out = out.path();
    support::wheels::import_samples(&db.dsn(), out);
    let listener = RunningListener::start(&db, out.to_owned());
    drained(&client).await;
    assert_eq!(placed(out, "hello-world", HELLO_2), (true, false));
    assert!(linked(out, "hello-world", HELLO_2));

    // A dry run says what would move and moves nothing.
    let dry = tool("piw-hold", &db, &["--dry-run", "hello-world", "2.0"]);
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success() && said.contains("wheels to publish or withhold: 1"), "{said}");
    assert_eq!(text(&client, "SELECT held FROM piw.versions WHERE version = '2.0'").await.as_deref(), Some(""));

    let said = run_ok("piw-hold", &db, &["--reason", "security review", "--wait", "Hello_World", "2.0"]).await;
    assert!(said.contains("held version 2.0 of package Hello_World"), "{said}");
    assert_eq!(placed(out, "hello-world", HELLO_2), (false, true), "moved out of the served tree");
    assert!(!linked(out, "hello-world", HELLO_2));
    assert!(page(out, "project/hello-world/index.html").contains("held: security review"));
    assert_eq!(placed(out, "hello-world", HELLO_1), (true, false), "the other version stays");
    assert!(linked(out, "hello-world", HELLO_1));

    // A wheel imported into the held version lands withheld.
    let wheels = tempfile::tempdir().unwrap();
    let mut late = support::wheels::Wheel::new("hello_world", "2.0");
    late.tags = "py2.py3-none-any".into();
    let late_path = late.write_into(wheels.path());
    let out_arg = out.display().to_string();
    run_ok("piw-import", &db, &["-q", "--wait", "--output-path", &out_arg, &late_path.display().to_string()]).await;
    drained(&client).await;
    assert_eq!(placed(out, "hello-world", &late.filename()), (false, true));
    assert!(!linked(out, "hello-world", &late.filename()));

    let said = run_ok("piw-hold", &db, &["--release", "--wait", "hello-world", "2.0"]).await;
    assert!(said.contains("released version 2.0 of package hello-world"), "{said}");
    for filename in [HELLO_2, late.filename().as_str()] {
        assert_eq!(placed(out, "hello-world", filename), (true, false), "{filename}");
        assert!(linked(out, "hello-world", filename), "{filename}");
    }
    assert!(!page(out, "project/hello-world/index.html").contains("held:"));

    // Releasing again: PW002, one line, exit 1.
    let again = tool("piw-hold", &db, &["--release", "hello-world", "2.0"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("version 2.0 of package hello-world is not held"));
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_held_version_deletes_its_withheld_wheels() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let out = out.path();
    support::wheels::import_samples(&db.dsn(), out);
    let listener = RunningListener::start(&db, out.to_owned());
    drained(&client).await;
    run_ok("piw-hold", &db, &["--wait", "hello-world", "2.0"]).await;
    assert_eq!(placed(out, "hello-world", HELLO_2), (false, true));

    // A deletion whose row is still there keeps the wheel where the row says, and drops a copy
    // in the other place (as a hold or release while the wheel was gone would leave).
    let (simple, withheld) = (out.join("simple/hello-world"), out.join(".withheld/hello-world"));
    for name in [HELLO_2.to_owned(), format!("{HELLO_2}.metadata")] {
        std::fs::copy(withheld.join(&name), simple.join(&name)).unwrap();
    }
    client.execute("INSERT INTO piw.jobs (kind, package, filename) VALUES ('delete_wheel', 'hello-world', $1)", &[&HELLO_2]).await.unwrap();
    client.batch_execute("NOTIFY piw_jobs").await.unwrap();
    drained(&client).await;
    assert_eq!(placed(out, "hello-world", HELLO_2), (false, true));

    run_ok("piw-remove", &db, &["-y", "--wait", "hello-world", "2.0"]).await;
    assert_eq!(placed(out, "hello-world", HELLO_2), (false, false));
    assert!(!out.join(".withheld/hello-world").join(format!("{HELLO_2}.metadata")).exists());

    // The whole package, with a held version: its withheld directory goes too.
    run_ok("piw-hold", &db, &["--wait", "hello-world", "1.0"]).await;
    assert!(out.join(".withheld/hello-world").join(HELLO_1).is_file());
    run_ok("piw-remove", &db, &["-y", "--wait", "hello-world"]).await;
    assert!(!out.join(".withheld/hello-world").exists());
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_puts_wheels_where_their_rows_say() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let out = out.path();
    support::wheels::import_samples(&db.dsn(), out);
    let listener = RunningListener::start(&db, out.to_owned());
    drained(&client).await;
    run_ok("piw-hold", &db, &["--wait", "hello-world", "2.0"]).await;
    listener.stop().await;

    // Behind piw's back: the held wheel put back in the served tree, a published one withheld,
    // and an orphan in .withheld.
    let (simple, withheld) = (out.join("simple/hello-world"), out.join(".withheld/hello-world"));
    for name in [HELLO_2.to_owned(), format!("{HELLO_2}.metadata")] {
        std::fs::rename(withheld.join(&name), simple.join(&name)).unwrap();
    }
    for name in [HELLO_1.to_owned(), format!("{HELLO_1}.metadata")] {
        std::fs::rename(simple.join(&name), withheld.join(&name)).unwrap();
    }
    std::fs::write(withheld.join("hello_world-0.1-py3-none-any.whl"), b"orphan").unwrap();
    std::fs::write(withheld.join("index.html"), b"no page lives here").unwrap();
    std::fs::write(withheld.join(".hello_world-3.0-py3-none-any.whl.piw-tmp"), b"half a wheel").unwrap();
    std::fs::create_dir_all(out.join(".withheld/gone")).unwrap();
    std::fs::write(out.join(".withheld/gone/gone-1.0-py3-none-any.whl"), b"orphan").unwrap();

    let listener = RunningListener::start(&db, out.to_owned());
    client.batch_execute("CALL piw.rebuild('index')").await.unwrap();
    drained(&client).await;
    assert_eq!(placed(out, "hello-world", HELLO_2), (false, true));
    assert_eq!(placed(out, "hello-world", HELLO_1), (true, false));
    for gone in ["hello_world-0.1-py3-none-any.whl", "index.html", ".hello_world-3.0-py3-none-any.whl.piw-tmp"] {
        assert!(!withheld.join(gone).exists(), "{gone}");
    }
    assert!(!out.join(".withheld/gone").exists());
    let row = client
        .query_one(
            "SELECT moved_wheels, removed_wheels, missing_wheels FROM piw.reconciliations ORDER BY reconciliation_id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i32>(1), row.get::<_, i32>(2)), (2, 1, 0));
    listener.stop().await;
}

/// The HTTP status nginx answers for `url`.
fn status(url: &str) -> String {
    let answer = Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request as u, urllib.error as e\ntry: print(u.urlopen(sys.argv[1]).status)\nexcept e.HTTPError as x: print(x.code)",
        ])
        .arg(url)
        .output()
        .expect("python3");
    String::from_utf8_lossy(&answer.stdout).trim().to_owned()
}

/// `pip download` of `requirement` from `index`: the wheel files it got.
fn pip_download(index: &str, requirement: &str) -> Result<Vec<String>, String> {
    let dest = tempfile::tempdir().unwrap();
    let pip = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--index-url", index, "-d"])
        .arg(dest.path())
        .arg(requirement)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .output()
        .expect("python3 -m pip");
    if !pip.status.success() {
        return Err(String::from_utf8_lossy(&pip.stderr).into_owned());
    }
    let mut got: Vec<String> =
        std::fs::read_dir(dest.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    got.sort();
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withheld_wheels_answer_404_through_nginx_and_pip_sees_none_of_them() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let out = out.path();
    support::wheels::import_samples(&db.dsn(), out);
    let listener = RunningListener::start(&db, out.to_owned());
    drained(&client).await;
    // World-readable, as a deployed tree is for the web server's user.
    let readable = || {
        let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(out).status();
    };
    readable();
    let nginx = Nginx::serve(out);
    let wheel_1 = nginx.url(&format!("/simple/hello-world/{HELLO_1}"));
    let wheel_2 = nginx.url(&format!("/simple/hello-world/{HELLO_2}"));
    assert_eq!(status(&wheel_1), "200");

    // A skipped package: its wheels are not served, by URL either; unskipped, they are again.
    run_ok("piw-skip", &db, &["--wait", "hello-world"]).await;
    assert_eq!(status(&wheel_1), "404");
    assert_eq!(status(&nginx.url(&format!("/.withheld/hello-world/{HELLO_1}"))), "404", "the withheld tree is not served");
    run_ok("piw-skip", &db, &["--unskip", "--wait", "hello-world"]).await;
    readable();
    assert_eq!(status(&wheel_1), "200");

    // A held version: pip sees nothing of it, and gets it once released.
    run_ok("piw-hold", &db, &["--wait", "hello-world", "2.0"]).await;
    assert_eq!(status(&wheel_2), "404");
    assert_eq!(pip_download(&nginx.url("/simple/"), "hello-world"), Ok(vec![HELLO_1.to_owned()]));
    assert!(pip_download(&nginx.url("/simple/"), "hello-world==2.0").is_err(), "no 2.0 while it is held");
    run_ok("piw-hold", &db, &["--release", "--wait", "hello-world", "2.0"]).await;
    readable();
    assert_eq!(status(&wheel_2), "200");
    assert_eq!(pip_download(&nginx.url("/simple/"), "hello-world"), Ok(vec![HELLO_2.to_owned()]));
    listener.stop().await;
}
