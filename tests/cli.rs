//! The command-line tools as a user runs them: arguments, exit codes, one-line errors.
mod support;

use std::process::{Command, Output, Stdio};

use support::{
    daemon::{drained, output_dir, RunningListener},
    fixtures::*,
    snapshot_all, TestDb,
};

/// Run a tool with --dsn pointing at the test database and no terminal on stdin.
fn tool(name: &str, db: &TestDb, args: &[&str]) -> Output {
    let exe = support::tool_exe(name);
    Command::new(exe).args(args).arg("--dsn").arg(db.dsn()).env_remove("PIW_DSN").stdin(Stdio::null()).output().expect("run tool")
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr).lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn piw_remove_with_yes_removes_the_version() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;

    let output = tool("piw-remove", &db, &["-y", "-q", "Foo", "1.0"]);

    assert_eq!(output.status.code(), Some(0), "{:?}", stderr_lines(&output));
    let left: i64 = client.query_one("SELECT count(*) FROM piw.versions WHERE package = 'foo'", &[]).await.unwrap().get(0);
    assert_eq!(left, 1);
}

#[tokio::test]
async fn piw_remove_skip_keeps_the_version_marked() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;

    let output = tool("piw-remove", &db, &["--yes", "--skip", "foo", "1.0"]);

    assert_eq!(output.status.code(), Some(0), "{:?}", stderr_lines(&output));
    let skip: String =
        client.query_one("SELECT skip FROM piw.versions WHERE package = 'foo' AND version = '1.0'", &[]).await.unwrap().get(0);
    assert_ne!(skip, "");
}

#[tokio::test]
async fn piw_remove_unknown_version_exits_1_with_one_line_and_changes_nothing() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let before = snapshot_all(&client).await;

    let output = tool("piw-remove", &db, &["-y", "foo", "9.9"]);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr_lines(&output), ["piw-remove: version 9.9 of package foo does not exist"]);
    assert_eq!(snapshot_all(&client).await, before);
}

#[tokio::test]
async fn piw_remove_without_terminal_or_yes_declines_with_exit_2() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let before = snapshot_all(&client).await;

    let output = tool("piw-remove", &db, &["foo", "1.0"]);

    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr_lines(&output).len(), 1, "{:?}", stderr_lines(&output));
    assert_eq!(snapshot_all(&client).await, before);
}

#[tokio::test]
async fn piw_rebuild_parts_and_errors() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    clear_jobs(&client).await;

    assert_eq!(tool("piw-rebuild", &db, &["home"]).status.code(), Some(0));
    assert_eq!(tool("piw-rebuild", &db, &["index", "foo"]).status.code(), Some(0));
    let jobs = queued(&client).await;
    assert!(jobs.contains(&("home".into(), String::new(), String::new())), "{jobs:?}");
    assert!(jobs.contains(&("simple".into(), "foo".into(), String::new())), "{jobs:?}");

    // Every package: asks first, so without a terminal and --yes it declines.
    let before = snapshot_all(&client).await;
    let declined = tool("piw-rebuild", &db, &["index"]);
    assert_eq!(declined.status.code(), Some(2));
    assert_eq!(snapshot_all(&client).await, before);
    assert_eq!(tool("piw-rebuild", &db, &["--yes", "project"]).status.code(), Some(0));
    assert!(queued(&client).await.contains(&("project_all".into(), String::new(), String::new())));

    let before = snapshot_all(&client).await;
    let bad_part = tool("piw-rebuild", &db, &["everything"]);
    assert_eq!(bad_part.status.code(), Some(2), "usage error");
    let home_with_package = tool("piw-rebuild", &db, &["home", "foo"]);
    assert_eq!(home_with_package.status.code(), Some(1));
    assert_eq!(stderr_lines(&home_with_package), ["piw-rebuild: part home takes no package"]);
    let unknown = tool("piw-rebuild", &db, &["project", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(stderr_lines(&unknown), ["piw-rebuild: package nope does not exist"]);
    assert_eq!(snapshot_all(&client).await, before);
}

#[tokio::test]
async fn piw_skip_skips_and_unskips_packages_and_versions() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let skip_of = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, String>(0) }
    };

    assert_eq!(tool("piw-skip", &db, &["--reason", "no licence", "foo"]).status.code(), Some(0));
    assert_eq!(skip_of("SELECT skip FROM piw.packages WHERE package = 'foo'").await, "no licence");
    assert_eq!(tool("piw-skip", &db, &["--unskip", "foo"]).status.code(), Some(0));
    assert_eq!(skip_of("SELECT skip FROM piw.packages WHERE package = 'foo'").await, "");
    assert_eq!(tool("piw-skip", &db, &["foo", "2.0"]).status.code(), Some(0));
    assert_eq!(skip_of("SELECT skip FROM piw.versions WHERE package = 'foo' AND version = '2.0'").await, "skipped by admin");
    assert_eq!(tool("piw-skip", &db, &["--unskip", "foo", "2.0"]).status.code(), Some(0));
    assert_eq!(skip_of("SELECT skip FROM piw.versions WHERE package = 'foo' AND version = '2.0'").await, "");

    let before = snapshot_all(&client).await;
    let empty_reason = tool("piw-skip", &db, &["--reason", " ", "foo"]);
    assert_eq!(empty_reason.status.code(), Some(1));
    assert_eq!(stderr_lines(&empty_reason), ["piw-skip: skip reason must not be empty"]);
    assert_eq!(snapshot_all(&client).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_once_the_listener_has_done_the_work() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let listener = RunningListener::start(&db, out.path().to_owned());
    drained(&client).await;

    let exe = env!("CARGO_BIN_EXE_piw-remove");
    let dsn = db.dsn();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(exe).args(["-y", "--wait", "foo", "2.0", "--dsn", &dsn]).stdin(Stdio::null()).output().unwrap()
    })
    .await
    .unwrap();

    assert_eq!(output.status.code(), Some(0), "{:?}", stderr_lines(&output));
    let status = piw::queue::status(&client).await.unwrap();
    assert!(status.is_drained(), "{status:?}");
    let page = std::fs::read_to_string(out.path().join("simple/foo/index.html")).unwrap();
    assert!(!page.contains("foo-2.0"), "page rewritten before --wait returned");
    listener.stop().await;
}

#[tokio::test]
async fn every_tool_answers_help_and_version() {
    let db = TestDb::new().await;
    // Every tool the library lists, so that a new one is covered once it is in the list.
    for command in piw::cli::tools::commands() {
        let name = command.get_name();
        let help = tool(name, &db, &["--help"]);
        assert_eq!(help.status.code(), Some(0), "{name} --help");
        let text = String::from_utf8_lossy(&help.stdout);
        for option in ["--configuration", "--quiet", "--verbose", "--log-file", "--dsn"] {
            assert!(text.contains(option), "{name} --help mentions {option}");
        }
        let version = tool(name, &db, &["--version"]);
        assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")), "{name} --version");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piw_yank_with_a_reason_marks_the_page_and_undo_clears_it() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let listener = RunningListener::start(&db, out.path().to_owned());

    let output = tool("piw-yank", &db, &["-q", "--reason", "broken on \"3.12\"", "Foo", "1.0"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", stderr_lines(&output));
    drained(&client).await;
    let row =
        client.query_one("SELECT yanked, yank_reason FROM piw.versions WHERE package = 'foo' AND version = '1.0'", &[]).await.unwrap();
    assert_eq!((row.get::<_, bool>(0), row.get::<_, String>(1)), (true, "broken on \"3.12\"".to_owned()));
    let page = std::fs::read_to_string(out.path().join("simple/foo/index.html")).unwrap();
    let line = page.lines().find(|l| l.contains(">foo-1.0-py3-none-any.whl<")).unwrap_or_default().to_owned();
    assert!(line.contains("data-yanked=\"broken on &quot;3.12&quot;\""), "{page}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.path().join("simple/foo/index.json")).unwrap()).unwrap();
    let file = json["files"].as_array().unwrap().iter().find(|f| f["filename"] == "foo-1.0-py3-none-any.whl").cloned().unwrap_or_default();
    assert_eq!(file["yanked"], "broken on \"3.12\"");

    let output = tool("piw-yank", &db, &["-q", "--undo", "foo", "1.0"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", stderr_lines(&output));
    drained(&client).await;
    let row =
        client.query_one("SELECT yanked, yank_reason FROM piw.versions WHERE package = 'foo' AND version = '1.0'", &[]).await.unwrap();
    assert_eq!((row.get::<_, bool>(0), row.get::<_, String>(1)), (false, String::new()));
    let page = std::fs::read_to_string(out.path().join("simple/foo/index.html")).unwrap();
    assert!(!page.contains("data-yanked"), "{page}");

    // An unknown version: one line, exit 1, nothing changed.
    let before = snapshot_all(&client).await;
    let output = tool("piw-yank", &db, &["foo", "9.9"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr_lines(&output).len(), 1, "{:?}", stderr_lines(&output));
    assert_eq!(snapshot_all(&client).await, before);
    listener.stop().await;
}
