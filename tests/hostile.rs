//! Hostile input over every procedure and every command-line tool: NULL, empty, white space, very
//! long names, quotes and SQL, shell metacharacters, `../`, NUL, look-alike Unicode ... Each gets a
//! clear one-line error (or, for names that differ only by PEP 503 normalization, the normalized
//! action), nothing panics, and no row and no file changes.
mod support;

use std::{collections::BTreeMap, fs, path::Path, process::Command};

use support::{
    daemon::{drained, output_dir, RunningListener},
    fixtures::*,
    snapshot_all, TestDb,
};
use tokio_postgres::{types::ToSql, Client};

/// Package names no package can have. `None` is SQL NULL; NUL bytes cannot reach a CLI.
fn hostile_names() -> Vec<Option<String>> {
    let mut names: Vec<String> = [
        "",
        " ",
        "\t",
        "\n",
        " foo",
        "foo ",
        "fo o",
        "o'brien",
        "foo\"bar",
        "'; DROP TABLE piw.packages; --",
        "foo'); DELETE FROM piw.files; --",
        "$$; DROP SCHEMA piw CASCADE; $$",
        "foo;rm -rf /",
        "$(touch /tmp/piw-pwned)",
        "`touch /tmp/piw-pwned`",
        "foo|cat",
        "foo&&true",
        "foo>x",
        "../etc",
        "../../etc/passwd",
        "..",
        ".",
        "/etc/passwd",
        "foo/bar",
        "foo\\bar",
        "\\0",
        "foo%00bar",
        "fl\u{430}sk",
        "\u{ff46}\u{ff4f}\u{ff4f}",
        "foo\u{200b}",
        "\u{fb02}ask",
        "stra\u{df}e",
        "\u{202e}oof",
        "\u{1f4e6}",
        "<script>alert(1)</script>",
        "{{7*7}}",
        "%s%n",
        "-foo",
        "foo-",
        "_foo_",
        "*",
        "foo\r\nbar",
        "\u{7f}",
        "foo.bar.",
        "\u{130}stanbul",
        "no-such-package",
    ]
    .map(str::to_owned)
    .to_vec();
    names.push("a".repeat(10_000));
    names.push("b".repeat(201));
    let mut all: Vec<Option<String>> = names.into_iter().map(Some).collect();
    all.push(None);
    all.push(Some("foo\0bar".into()));
    all
}

/// Versions no version of foo has (or may have).
fn hostile_versions() -> Vec<Option<String>> {
    let mut versions: Vec<Option<String>> = [
        "",
        " ",
        "1.0 ",
        " 1.0",
        "1.0\n",
        "1.0\t",
        "1 .0",
        "1.0'; DROP TABLE piw.versions; --",
        "1.0';DROP--",
        "../1.0",
        "1.0/../../x",
        "1.\u{ff10}",
        "\\0",
        "$(id)",
        "1.0\u{202e}",
        "<b>1</b>",
        "1.0\0",
    ]
    .map(|v| Some(v.to_owned()))
    .to_vec();
    versions.push(Some("1".repeat(10_000)));
    versions.push(Some("9".repeat(201)));
    versions.push(None);
    versions
}

fn hostile_reasons() -> Vec<Option<String>> {
    vec![
        None,
        Some(String::new()),
        Some(" ".into()),
        Some("\n\t \r".into()),
        Some("x".repeat(1001)),
        Some("y".repeat(10_000)),
        Some("why\0".into()),
    ]
}

fn hostile_parts() -> Vec<Option<String>> {
    ["", " ", "HOME", "home ", "index;", "'; DROP TABLE piw.jobs; --", "all", "../home", "h\u{43e}me", "simple"]
        .map(|p| Some(p.to_owned()))
        .into_iter()
        .chain([None])
        .collect()
}

/// One short line that shows what it says: no control characters, and no invisible or
/// direction-changing ones that would make a terminal show something else.
fn readable(message: &str) -> bool {
    let invisible = |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
    message.chars().count() < 400 && !message.chars().any(|c| c.is_control() || invisible(c))
}

/// Every file under the output path with its bytes.
fn listing(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.insert(path.strip_prefix(root).unwrap().display().to_string(), fs::read(&path).unwrap());
            }
        }
    }
    files
}

struct Bench {
    db: TestDb,
    client: Client,
    out: tempfile::TempDir,
    cases: usize,
}

impl Bench {
    /// foo, bar (skipped) and foo-bar, their pages built and wheels in place; no listener runs.
    async fn new() -> Bench {
        let db = TestDb::new().await;
        let client = db.connect().await;
        small_repository(&client).await;
        add_wheel(&client, "foo-bar", "1.0", "none").await;
        client.batch_execute("CALL piw.skip_package('bar', 'not wanted')").await.unwrap();
        let out = output_dir();
        let listener = RunningListener::start(&db, out.path().to_owned());
        drained(&client).await;
        listener.stop().await;
        Bench { db, client, out, cases: 0 }
    }

    async fn state(&self) -> (Vec<String>, BTreeMap<String, Vec<u8>>) {
        (snapshot_all(&self.client).await, listing(self.out.path()))
    }

    /// Assert that no row and no file changed since `before`, and count the case.
    async fn assert_unchanged(&mut self, before: (Vec<String>, BTreeMap<String, Vec<u8>>), what: &str) {
        let what: String = what.chars().take(200).collect();
        let after = self.state().await;
        assert!(after.0 == before.0, "{what}: rows changed");
        assert!(after.1 == before.1, "{what}: files changed");
        assert!(!Path::new("/tmp/piw-pwned").exists(), "{what}: a shell ran");
        self.cases += 1;
    }

    /// A procedure or function call that must fail with a one-line data error (or, where
    /// `noop_ok`, do nothing).
    async fn call(&mut self, sql: &str, args: &[Option<String>], noop_ok: bool) {
        let what = format!("{sql} {args:?}");
        let before = self.state().await;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        match self.client.query(sql, &params).await {
            Ok(_) => assert!(noop_ok, "{what}: succeeded"),
            Err(e) => {
                let db = e.as_db_error().unwrap_or_else(|| panic!("{what}: {e:?}"));
                let code = db.code().code();
                assert!(code.starts_with("22") || code == "P0002" || code == "23502", "{what}: {code} {}", db.message());
                assert!(readable(db.message()), "{what}: {:?}", db.message());
            }
        }
        self.assert_unchanged(before, &what).await;
    }

    fn tool(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = support::tool_exe(tool);
        let mut command = Command::new(exe);
        command.arg("--dsn").arg(self.db.dsn()).env_remove("PIW_DSN").stdin(std::process::Stdio::null());
        if tool == "piw-import" {
            command.arg("--output-path").arg(self.out.path());
        }
        command.args(args).output().expect("run tool")
    }

    /// A tool run that must exit with `code` (1: one line on stderr naming the tool; 2: a usage
    /// error), without a panic and without changing anything.
    async fn cli(&mut self, tool: &str, args: &[&str], code: i32) {
        let what = format!("{tool} {args:?}");
        let before = self.state().await;
        let output = self.tool(tool, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{what}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{what}: {stderr}");
        if code == 1 {
            let lines: Vec<&str> = stderr.lines().collect();
            assert!(lines.len() == 1 && lines[0].starts_with(&format!("{tool}: ")) && readable(lines[0]), "{what}: {stderr:?}");
        }
        self.assert_unchanged(before, &what).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_arguments_to_every_procedure_fail_cleanly_and_change_nothing() {
    let mut b = Bench::new().await;
    let one = |s: &str| Some(s.to_owned());
    for name in hostile_names() {
        for sql in [
            "CALL piw.remove_version($1, '1.0')",
            "CALL piw.remove_package($1)",
            "CALL piw.remove_package($1, true)",
            "CALL piw.skip_package($1, 'why')",
            "CALL piw.unskip_package($1)",
            "CALL piw.skip_version($1, '1.0', 'why')",
            "CALL piw.unskip_version($1, '1.0')",
            "CALL piw.yank_version($1, '1.0')",
            "CALL piw.unyank_version($1, '1.0')",
            "CALL piw.hold_version($1, '1.0', 'why')",
            "CALL piw.release_version($1, '1.0')",
            "CALL piw.rebuild('index', $1)",
            "CALL piw.rebuild('project', $1)",
            "CALL piw.rebuild('home', $1)",
        ] {
            if name.is_none() && sql.contains("rebuild") {
                continue; // a null package means every package (home and search take none)
            }
            b.call(sql, std::slice::from_ref(&name), false).await;
        }
    }
    for version in hostile_versions() {
        for sql in [
            "CALL piw.remove_version('foo', $1)",
            "CALL piw.remove_version('foo', $1, true)",
            "CALL piw.skip_version('foo', $1, 'why')",
            "CALL piw.unskip_version('foo', $1)",
            "CALL piw.yank_version('foo', $1)",
            "CALL piw.unyank_version('foo', $1)",
            "CALL piw.hold_version('foo', $1, 'why')",
            "CALL piw.release_version('foo', $1)",
        ] {
            b.call(sql, std::slice::from_ref(&version), false).await;
        }
    }
    for reason in hostile_reasons() {
        b.call("CALL piw.skip_package('foo', $1)", std::slice::from_ref(&reason), false).await;
        b.call("CALL piw.skip_version('foo', '1.0', $1)", std::slice::from_ref(&reason), false).await;
        b.call("CALL piw.hold_version('foo', '1.0', $1)", &[reason], false).await;
    }
    for part in hostile_parts() {
        b.call("CALL piw.rebuild($1)", std::slice::from_ref(&part), false).await;
        b.call("CALL piw.rebuild($1, 'foo')", &[part], false).await;
    }
    // The listeners' API: nonsense is refused or does nothing.
    for (sql, args, noop_ok) in [
        ("SELECT * FROM piw.claim_jobs($1)", vec![None], false),
        ("SELECT * FROM piw.claim_jobs($1)", vec![one("")], false),
        ("SELECT * FROM piw.claim_jobs($1, -5)", vec![one("L")], true),
        ("SELECT * FROM piw.claim_jobs($1, NULL)", vec![one("L")], false),
        ("SELECT piw.complete_job(NULL, $1)", vec![None], true),
        ("SELECT piw.complete_job(-1, $1)", vec![one("'; DROP TABLE piw.jobs; --")], true),
        ("SELECT piw.fail_job(-1, $1, $1, NULL)", vec![one("x")], true),
        ("SELECT piw.listener_heartbeat($1, true)", vec![None], false),
        ("SELECT piw.listener_leave($1)", vec![None], true),
        ("SELECT piw.normalize_name($1)", vec![None], true),
    ] {
        b.call(sql, &args, noop_ok).await;
    }
    assert!(b.cases >= 100);
    println!("hostile input: {} procedure cases, each refused with nothing changed", b.cases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_arguments_to_every_tool_fail_with_one_line_and_change_nothing() {
    let mut b = Bench::new().await;
    let names: Vec<String> = hostile_names().into_iter().flatten().filter(|n| !n.contains('\0')).collect();
    for name in &names {
        b.cli("piw-remove", &["-y", "--", name, "1.0"], 1).await;
        b.cli("piw-skip", &["--", name], 1).await;
        b.cli("piw-rebuild", &["-y", "--", "index", name], 1).await;
        b.cli("piw-yank", &["--", name, "1.0"], 1).await;
        b.cli("piw-hold", &["--", name, "1.0"], 1).await;
    }
    for version in hostile_versions().into_iter().flatten().filter(|v| !v.contains('\0')) {
        b.cli("piw-remove", &["-y", "--", "foo", &version], 1).await;
        b.cli("piw-skip", &["--unskip", "--", "foo", &version], 1).await;
    }
    for reason in ["", " ", "\n\t", &"x".repeat(1001)] {
        b.cli("piw-skip", &[&format!("--reason={reason}"), "foo"], 1).await;
    }
    b.cli("piw-yank", &[&format!("--reason={}", "x".repeat(1001)), "foo", "1.0"], 1).await;
    // Options where arguments belong, unknown parts: usage errors (exit 2).
    for args in [&["-y", "-rf", "1.0"][..], &["-y", "--skip=yes", "foo", "1.0"], &["-y"], &["-y", "foo", "1.0", "extra"]] {
        b.cli("piw-remove", args, 2).await;
    }
    for part in ["everything", "", "HOME", "../home", "h\u{43e}me", "'; DROP TABLE piw.jobs; --"] {
        b.cli("piw-rebuild", &["-y", "--", part], 2).await;
    }
    b.cli("piw-rebuild", &["home", "foo"], 1).await;
    b.cli("piw-skip", &["--reason"], 2).await;

    // piw-import: wheels whose names cannot be imported, and paths that are no wheel at all.
    let sources = tempfile::tempdir().unwrap();
    let long = format!("{}-1.0-py3-none-any.whl", "a".repeat(230));
    for file in [
        "fl\u{430}sk-1.0-py3-none-any.whl",
        "foo;rm-1.0-py3-none-any.whl",
        "$(id)-1.0-py3-none-any.whl",
        ".hidden-1.0-py3-none-any.whl",
        &long,
        "foo-1.0 beta-py3-none-any.whl",
        "foo-1.0\tx-py3-none-any.whl",
        "evil.sh",
        "foo-1.0.tar.gz",
        "foo-1.0-py3-none-any.whl",
        "bar-9.9-py3-none-any.whl",
        "-x-1.0-py3-none-any.whl",
        "\u{1b}]0;pwned\u{7}-1.0-py3-none-any.whl",
        "\u{202e}lhw.foo-1.0-py3-none-any.whl",
        "foo-1.0\u{200b}-py3-none-any.whl",
    ] {
        let path = sources.path().join(file);
        fs::write(&path, b"not really a wheel").unwrap();
        b.cli("piw-import", &["--", path.to_str().unwrap()], 1).await;
    }
    let directory = sources.path().join("dir-1.0-py3-none-any.whl");
    fs::create_dir(&directory).unwrap();
    for path in [directory.to_str().unwrap(), "/nonexistent/foo-3.0-py3-none-any.whl", "../../../../etc/passwd"] {
        b.cli("piw-import", &["--", path], 1).await;
    }
    println!("hostile input: {} command-line cases, each refused with nothing changed", b.cases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_differ_only_by_normalization_act_on_the_same_row() {
    let mut b = Bench::new().await;
    let packages = scalar(&b.client, "SELECT count(*) FROM piw.packages").await;
    let spellings = ["Foo_Bar", "FOO.BAR", "foo__bar", "Foo-_.Bar", "foo.bar", "FoO-bAr", "foo-bar"];
    for (i, spelling) in spellings.iter().enumerate() {
        let reason = format!("reason {i}");
        b.client.execute("CALL piw.skip_package($1, $2)", &[spelling, &reason]).await.unwrap();
        assert_eq!(text(&b.client, "SELECT skip FROM piw.packages WHERE package = 'foo-bar'").await.as_deref(), Some(reason.as_str()));
        let by_cli = format!("cli reason {i}");
        let output = b.tool("piw-skip", &[&format!("--reason={by_cli}"), "--", spelling]);
        assert_eq!(output.status.code(), Some(0), "{spelling}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(text(&b.client, "SELECT skip FROM piw.packages WHERE package = 'foo-bar'").await, Some(by_cli));
        // (Unskipping refuses what is not skipped, PW001: skipped first, by the same spelling.)
        assert_eq!(b.tool("piw-skip", &["--", spelling, "1.0"]).status.code(), Some(0), "{spelling}");
        assert_eq!(b.tool("piw-skip", &["--unskip", "--", spelling, "1.0"]).status.code(), Some(0), "{spelling}");
        clear_jobs(&b.client).await;
        assert_eq!(b.tool("piw-rebuild", &["-y", "--", "index", spelling]).status.code(), Some(0), "{spelling}");
        assert_eq!(queued(&b.client).await, [job("project", "foo-bar", ""), job("simple", "foo-bar", "")], "{spelling}");
        b.cases += 4;
    }
    assert_eq!(scalar(&b.client, "SELECT count(*) FROM piw.packages").await, packages, "no new package row");
    println!("hostile input: {} spellings acted on foo-bar ({} cases)", spellings.len(), b.cases);
}
