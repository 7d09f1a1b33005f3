//! `--log-format json`: what a log shipper reads from a tool's or the listener's stderr, and from
//! the log file, is one JSON object per line, every line, failures included.
mod support;

use std::process::{Command, Output, Stdio};

use support::{
    daemon::{drained, output_dir},
    fixtures::*,
    process::{ListenerProcess, Spawn},
    TestDb,
};

/// Every line of `text` as a JSON object with a level and a message; panics naming the first
/// line that is not one.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| {
            let object: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
            assert!(object["level"].is_string(), "no level: {line}");
            assert!(object["message"].is_string(), "no message: {line}");
            assert!(object["timestamp"].is_string(), "no timestamp: {line}");
            object
        })
        .collect()
}

fn messages(lines: &[serde_json::Value]) -> Vec<&str> {
    lines.iter().filter_map(|line| line["message"].as_str()).collect()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_logs_json_lines_on_stderr_and_in_its_log_file() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let logs = tempfile::tempdir().expect("log dir");
    let log_file = logs.path().join("listener.log");
    let args = ["--log-format", "json", "-v", "-l"].map(String::from).into_iter().chain([log_file.display().to_string()]).collect();
    let listener = ListenerProcess::start_with(&db, out.path(), Spawn { args, ..Spawn::default() });
    drained(&client).await;
    let stderr = listener.stop_and_read_log();

    let console = json_lines(&stderr);
    assert!(messages(&console).iter().any(|m| m.starts_with("listener ") && m.contains(" writing to ")), "{stderr}");
    assert!(messages(&console).contains(&"SIGTERM: finishing the jobs in hand"), "{stderr}");
    let file = json_lines(&std::fs::read_to_string(&log_file).expect("log file"));
    let file_messages = messages(&file);
    assert!(file_messages.iter().any(|m| m.starts_with("listener ") && m.ends_with(" stopped")), "{file_messages:?}");
    assert!(file.iter().any(|line| line["level"] == "DEBUG"), "-v logs debug to the file: {file_messages:?}");
}

#[tokio::test]
async fn a_failing_tool_reports_its_failure_as_a_json_line() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;

    let output = tool("piw-remove", &db, &["-y", "--log-format", "json", "foo", "9.9"]);

    assert_eq!(output.status.code(), Some(1));
    let lines = json_lines(&String::from_utf8_lossy(&output.stderr));
    let last = lines.last().expect("a failure line");
    assert_eq!(last["level"], "ERROR");
    assert_eq!(last["message"], "version 9.9 of package foo does not exist");
    assert_eq!(last["tool"], "piw-remove");
    assert_eq!(last["exit_code"], 1);
}

#[tokio::test]
async fn a_tool_logs_what_it_did_as_json_and_text_stays_text() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;

    let json = tool("piw-rebuild", &db, &["--log-format", "json", "home"]);
    assert_eq!(json.status.code(), Some(0));
    let lines = json_lines(&String::from_utf8_lossy(&json.stderr));
    assert!(lines.iter().any(|line| line["level"] == "INFO" && line["message"] == "queued a rebuild of home"), "{lines:?}");

    let text = tool("piw-rebuild", &db, &["home"]);
    assert_eq!(text.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&text.stderr).trim(), "INFO queued a rebuild of home");
}
