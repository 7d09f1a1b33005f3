//! The operator's tools, run as processes against real PostgreSQL and a real listener: dry runs
//! that change nothing and say what the call then does, `--wait` for one's own request (while
//! another client keeps the queue busy; with a timeout; naming failed jobs), piw-status, piw-log
//! and piw-jobs.
mod support;

use std::{
    collections::BTreeMap,
    process::{Command, Output, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use support::{daemon::*, fixtures::*, snapshot_all, wait_until, TestDb};
use tokio_postgres::Client;

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

async fn tool_async(name: &'static str, db: &TestDb, args: &[&str]) -> Output {
    let (dsn, args): (String, Vec<String>) = (db.dsn(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        Command::new(support::tool_exe(name)).args(&args).arg("--dsn").arg(dsn).stdin(Stdio::null()).output().expect("run tool")
    })
    .await
    .expect("tool task")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file under `root` with its size: a tree listing to compare.
fn tree(root: &std::path::Path) -> Vec<(String, u64)> {
    let mut listing = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                dirs.push(entry.path());
            } else {
                listing.push((entry.path().strip_prefix(root).unwrap().display().to_string(), meta.len()));
            }
        }
    }
    listing.sort();
    listing
}

/// What `piw.plan()` says inside a transaction that makes `call`, rolled back.
async fn planned(client: &Client, call: &str) -> BTreeMap<String, i64> {
    client.batch_execute("BEGIN").await.unwrap();
    client.batch_execute(call).await.unwrap_or_else(|e| panic!("{call}: {e}"));
    let plan = client.query("SELECT change, count FROM piw.plan()", &[]).await.unwrap();
    client.batch_execute("ROLLBACK").await.unwrap();
    plan.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// What `call` then did: the counts of its audit entry and the disk work it queued.
async fn done(client: &Client, call: &str) -> BTreeMap<String, i64> {
    client.batch_execute("BEGIN").await.unwrap();
    client.batch_execute(call).await.unwrap();
    let request: String = client.query_one("SELECT pg_current_xact_id()::text", &[]).await.unwrap().get(0);
    client.batch_execute("COMMIT").await.unwrap();
    let mut did = BTreeMap::new();
    for row in client.query("SELECT changed::text FROM piw.audit WHERE request_id = $1::text::xid8", &[&request]).await.unwrap() {
        let changed: serde_json::Value = serde_json::from_str(row.get(0)).unwrap();
        for (key, value) in changed.as_object().unwrap() {
            if let Some(count) = value.as_i64() {
                *did.entry(key.clone()).or_insert(0) += count;
            }
        }
    }
    for row in client.query("SELECT kind, count(*) FROM piw.request_jobs($1::text::xid8) GROUP BY kind", &[&request]).await.unwrap() {
        did.insert(row.get(0), row.get(1));
    }
    did
}

#[tokio::test]
async fn a_plan_is_what_the_call_then_does() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    for call in [
        "CALL piw.yank_version('foo', '1.0', 'broken')",
        "CALL piw.skip_version('foo', '1.0')",
        "CALL piw.rebuild('index', 'bar')",
        "CALL piw.rebuild('index')",
        "CALL piw.remove_version('foo', '2.0', skip => true)",
        "CALL piw.skip_package('bar', 'license')",
        "CALL piw.remove_package('foo')",
    ] {
        clear_jobs(&client).await;
        let plan = planned(&client, call).await;
        assert!(!plan.is_empty(), "{call}");
        assert_eq!(plan, done(&client, call).await, "{call}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_change_no_row_and_no_file() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let listener = RunningListener::start(&db, out.path().to_owned());
    drained(&client).await;
    client.batch_execute("SELECT piw.fail_job(0, 'x', 'x', NULL)").await.unwrap();
    let (rows, files) = (snapshot_all(&client).await, tree(out.path()));

    let runs: [(&str, &[&str], &str); 8] = [
        ("piw-remove", &["--dry-run", "foo", "1.0"], "files deleted: 1"),
        ("piw-remove", &["--dry-run", "--skip", "foo"], "wheels to delete from disk: 3"),
        ("piw-skip", &["--dry-run", "bar"], "packages updated: 1"),
        ("piw-skip", &["--dry-run", "--reason", "broken", "foo", "2.0"], "versions updated: 1"),
        ("piw-yank", &["--dry-run", "--reason", "broken", "foo", "2.0"], "versions updated: 1"),
        ("piw-rebuild", &["--dry-run", "index"], "every simple page to write: 1"),
        ("piw-rebuild", &["--dry-run", "home"], "home page to write: 1"),
        ("piw-jobs", &["--dry-run", "--cancel", "--package", "foo"], "dry run, nothing changed"),
    ];
    for (name, args, says) in runs {
        let output = tool(name, &db, args);
        assert_eq!(output.status.code(), Some(0), "{name} {args:?}: {}", stderr(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.starts_with("dry run, nothing changed; would have "), "{name} {args:?}: {stdout}");
        assert!(stdout.contains(says), "{name} {args:?}: {stdout}");
    }
    // A dry run of what would fail fails as the call would, and changes nothing either.
    let refused = tool("piw-yank", &db, &["--dry-run", "--undo", "foo", "2.0"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(stderr(&refused).trim(), "piw-yank: version 2.0 of package foo is not yanked");

    drained(&client).await;
    assert_eq!(snapshot_all(&client).await, rows, "no row changed, the audit log included");
    assert_eq!(tree(out.path()), files, "no file changed");
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_for_its_own_request_while_the_queue_stays_busy() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    for n in 0..20 {
        add_wheel(&client, &format!("busy{n}"), "1.0", "none").await;
    }
    let out = output_dir();
    let listener = RunningListener::start(&db, out.path().to_owned());
    drained(&client).await;

    // Another client keeps asking for pages: the queue is never empty for long.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let (stop, client) = (stop.clone(), db.connect().await);
        tokio::spawn(async move {
            let mut calls = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for n in 0..20 {
                    client.batch_execute(&format!("CALL piw.rebuild('index', 'busy{n}'); CALL piw.rebuild('home')")).await.unwrap();
                }
                calls += 1;
            }
            calls
        })
    };
    wait_until("the other client's work to be queued", Duration::from_secs(60), || async {
        !piw::queue::status(&client).await.unwrap().is_drained()
    })
    .await;

    let output = tool_async("piw-remove", &db, &["-y", "--wait", "--timeout", "300", "foo", "2.0"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = std::fs::read_to_string(out.path().join("simple/foo/index.html")).unwrap();
    assert!(!page.contains("foo-2.0"), "the request's page was written before --wait returned");
    assert!(!out.path().join("simple/foo/foo-2.0-py3-none-any.whl").exists());
    // Without a terminal, --wait prints no progress bar: only the log line.
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));

    stop.store(true, Ordering::Relaxed);
    assert!(busy.await.unwrap() > 0);
    listener.stop().await;
}

#[tokio::test]
async fn wait_with_a_timeout_names_what_is_left() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    clear_jobs(&client).await;
    // No listener runs.
    let output = tool("piw-rebuild", &db, &["-q", "--wait", "--timeout", "1", "project", "foo"]);
    assert_eq!(output.status.code(), Some(1));
    let line = stderr(&output);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with("piw-rebuild: timed out after 1 s with 1 job(s) still to do: project foo"), "{line}");
    assert!(line.trim_end().ends_with("(is piw-listener running?)"), "{line}");
    // The request itself stands: it was committed before the wait.
    assert_eq!(queued(&client).await, [job("project", "foo", "")]);

    let usage = tool("piw-rebuild", &db, &["--timeout", "1", "home"]);
    assert_eq!(usage.status.code(), Some(2), "--timeout without --wait is a usage error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_names_the_jobs_that_failed_with_their_errors() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    clear_jobs(&client).await;
    let waiting = {
        let db_dsn = db.dsn();
        tokio::task::spawn_blocking(move || {
            Command::new(support::tool_exe("piw-rebuild"))
                .args(["-q", "--wait", "project", "foo", "--dsn", &db_dsn])
                .stdin(Stdio::null())
                .output()
                .expect("run tool")
        })
    };
    // Play the listener: take the job and fail it for good.
    wait_until("the request to be queued", Duration::from_secs(60), || async { !queued(&client).await.is_empty() }).await;
    let claimed = client.query("SELECT job_id FROM piw.claim_jobs('test-listener', 10)", &[]).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let job: i64 = claimed[0].get(0);
    client.execute("SELECT piw.fail_job($1, 'test-listener', 'disk on fire', NULL)", &[&job]).await.unwrap();

    let output = waiting.await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output).trim(), "piw-rebuild: 1 job(s) failed: project foo (disk on fire)");

    // piw-status shows it, piw-jobs retries it (then it is pending again).
    let status = tool("piw-status", &db, &["--json"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["failed"], 1);
    assert_eq!(json["failed_jobs"][0]["job_id"], job);
    assert_eq!(json["failed_jobs"][0]["last_error"], "disk on fire");
    assert_eq!(json["downloads"]["not_counted"], 5, "the repository's downloads, never counted: no listener ran");
    let text = tool("piw-status", &db, &[]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("#{job} project foo after 1 attempt(s): disk on fire")));
    assert!(String::from_utf8_lossy(&text.stdout).contains(", 5 logged since"));

    let retried = tool("piw-jobs", &db, &["-q", "--retry", &job.to_string()]);
    assert_eq!(retried.status.code(), Some(0), "{}", stderr(&retried));
    let state: String = client.query_one("SELECT state FROM piw.jobs WHERE job_id = $1", &[&job]).await.unwrap().get(0);
    assert_eq!(state, "pending");
    let again = tool("piw-jobs", &db, &["--retry", &job.to_string()]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(stderr(&again).trim(), format!("piw-jobs: job {job} is pending, not failed"));
    let cancelled = tool("piw-jobs", &db, &["-q", "--cancel", "--package", "foo"]);
    assert_eq!(cancelled.status.code(), Some(0), "{}", stderr(&cancelled));
    assert!(queued(&client).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_listeners_and_log_shows_who_did_what() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let listener = RunningListener::start(&db, out.path().to_owned());
    drained(&client).await;
    let removed = tool("piw-remove", &db, &["-y", "-q", "foo", "1.0"]);
    assert_eq!(removed.status.code(), Some(0), "{}", stderr(&removed));
    let yanked = tool("piw-yank", &db, &["-q", "--reason", "bad", "bar", "0.1"]);
    assert_eq!(yanked.status.code(), Some(0), "{}", stderr(&yanked));
    drained(&client).await;

    let status = tool("piw-status", &db, &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!((json["pending"].as_i64(), json["running"].as_i64(), json["failed"].as_i64()), (Some(0), Some(0), Some(0)));
    let listeners = json["listeners"].as_array().unwrap();
    assert_eq!(listeners.len(), 1, "{json}");
    assert_eq!(listeners[0]["alive"], true);
    let recent: Vec<&str> = json["recent"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(recent.ends_with(&["remove_version", "yank_version"]), "{recent:?}");

    let log = tool("piw-log", &db, &["--package", "Foo", "--json"]);
    assert_eq!(log.status.code(), Some(0), "{}", stderr(&log));
    let entries: serde_json::Value = serde_json::from_slice(&log.stdout).unwrap();
    let removal = entries.as_array().unwrap().iter().find(|e| e["action"] == "remove_version").cloned().unwrap();
    assert_eq!((removal["package"].as_str(), removal["version"].as_str()), (Some("foo"), Some("1.0")));
    assert_eq!(removal["application_name"], "piw-remove");
    assert_eq!(removal["changed"]["files deleted"], 1);
    assert!(entries.as_array().unwrap().iter().all(|e| e["package"] == "foo"), "{entries}");

    let lines = tool("piw-log", &db, &["--since", "1 hour"]);
    let text = String::from_utf8_lossy(&lines.stdout);
    assert!(text.lines().any(|l| l.contains("(piw-yank) yank_version bar 0.1 \"bad\": versions updated 1 [request ")), "{text}");
    let none = tool("piw-log", &db, &["--since", "tomorrow"]);
    assert_eq!((none.status.code(), none.stdout.len()), (Some(0), 0));
    let bad = tool("piw-log", &db, &["--since", "whenever"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    listener.stop().await;
}

#[tokio::test]
async fn remove_with_no_version_removes_the_package_after_asking() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let before = snapshot_all(&client).await;
    let declined = tool("piw-remove", &db, &["foo"]);
    assert_eq!(declined.status.code(), Some(2), "no terminal and no --yes: declined");
    assert_eq!(snapshot_all(&client).await, before);

    let removed = tool("piw-remove", &db, &["-y", "foo"]);
    assert_eq!(removed.status.code(), Some(0), "{}", stderr(&removed));
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.packages WHERE package = 'foo'").await, 0);
    assert!(queued(&client).await.contains(&job("delete_package", "foo", "")));
    let again = tool("piw-remove", &db, &["-y", "foo"]);
    assert_eq!(again.status.code(), Some(1));
    let line = stderr(&again);
    assert!(line.starts_with("piw-remove: package foo was removed at ") && line.trim_end().ends_with(" by postgres"), "{line}");
}

/// Run a tool on a terminal (a pseudo-terminal from util-linux's `script`), answering `answer`.
fn on_a_terminal(name: &str, db: &TestDb, args: &[&str], answer: &str) -> (Option<i32>, String) {
    use std::io::Write;
    let command = std::iter::once(support::tool_exe(name).to_owned())
        .chain(args.iter().map(|a| a.to_string()))
        .chain(["--dsn".to_owned(), format!("'{}'", db.dsn())])
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs the tool on a pseudo-terminal");
    child.stdin.take().expect("stdin").write_all(answer.as_bytes()).expect("answer");
    let output = child.wait_with_output().expect("script");
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_remove_shows_what_goes_before_asking_and_wait_shows_progress() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let before = snapshot_all(&client).await;

    let (code, screen) = on_a_terminal("piw-remove", &db, &["foo"], "n\n");
    assert_eq!(code, Some(2), "declined: {screen}");
    for says in ["This would change:", "files deleted: 3", "downloads deleted: 5", "wheels to delete from disk: 3", "Remove package foo"] {
        assert!(screen.contains(says), "{says:?} in {screen}");
    }
    assert_eq!(snapshot_all(&client).await, before, "the preview and the refusal changed nothing");

    let out = output_dir();
    let listener = RunningListener::start(&db, out.path().to_owned());
    let (code, screen) = on_a_terminal("piw-remove", &db, &["--wait", "foo", "1.0"], "y\n");
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains(" jobs "), "a progress bar on the terminal: {screen}");
    assert!(!out.path().join("simple/foo/foo-1.0-py3-none-any.whl").exists());
    listener.stop().await;
}
