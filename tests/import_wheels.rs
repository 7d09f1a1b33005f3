//! piw-import reads each wheel before it imports it: a file that is not the wheel its name says
//! is refused with one line naming it and why, and changes nothing; what the wheel says of itself
//! (Requires-Python, Summary) is what gets published.
mod support;

use std::{
    path::Path,
    process::{Command, Output, Stdio},
};

use support::{daemon::output_dir, snapshot_all, wheels::Wheel, TestDb};

fn import(db: &TestDb, output: &Path, args: &[&str], wheels: &[&Path]) -> Output {
    Command::new(support::tool_exe("piw-import"))
        .arg("--dsn")
        .arg(db.dsn())
        .arg("--output-path")
        .arg(output)
        .args(args)
        .args(wheels)
        .env_remove("PIW_DSN")
        .stdin(Stdio::null())
        .output()
        .expect("run piw-import")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `root`, relative.
fn files_under(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path.strip_prefix(root).expect("under root").display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn files_that_are_not_the_wheel_they_name_are_refused_and_change_nothing() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let sources = tempfile::tempdir().unwrap();
    let before = snapshot_all(&client).await;

    let renamed = {
        // Another project's wheel under this project's name.
        let mut wheel = Wheel::new("other", "1.0");
        wheel.distribution = "victim".into();
        wheel.name = Some("other".into());
        wheel.dist_info = Some("other-1.0".into());
        wheel
    };
    let metadata_names_another = {
        let mut wheel = Wheel::new("victim", "1.0");
        wheel.name = Some("other".into());
        wheel
    };
    let wrong_version = {
        let mut wheel = Wheel::new("victim", "1.0");
        wheel.metadata_version = Some("2.0".into());
        wheel
    };
    let no_metadata = {
        let mut wheel = Wheel::new("victim", "1.0");
        wheel.no_metadata = true;
        wheel
    };
    let tampered = {
        let mut wheel = Wheel::new("victim", "1.0");
        wheel.tamper_after_record = true;
        wheel
    };
    // A file slipped in after RECORD was written.
    let unlisted = Wheel::new("victim", "1.0");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("corrupt_pkg-1.0-py3-none-any.whl", (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect(), "not a zip archive"),
        ("victim-1.0-py3-none-any.whl", renamed.bytes(), "is not for victim 1.0"),
        ("victim-1.0-py3-none-any.whl", metadata_names_another.bytes(), "METADATA names \"other\""),
        ("victim-1.0-py3-none-any.whl", wrong_version.bytes(), "METADATA says version \"2.0\""),
        ("victim-1.0-py3-none-any.whl", no_metadata.bytes(), "no victim-1.0.dist-info/METADATA"),
        ("victim-1.0-py3-none-any.whl", tampered.bytes(), "does not match its hash"),
        ("victim-1.0-py3-none-any.whl", with_unlisted_file(&unlisted), "not in RECORD"),
    ];
    for (filename, bytes, reason) in cases {
        let path = sources.path().join(filename);
        std::fs::write(&path, bytes).unwrap();
        let output = import(&db, out.path(), &[], &[&path]);
        assert_eq!(output.status.code(), Some(1), "{filename} ({reason}): {}", text(&output.stderr));
        let stdout = text(&output.stdout);
        let refusal = stdout.lines().next().unwrap_or_default();
        assert!(refusal.contains(filename) && refusal.contains(reason), "{reason}: {stdout}");
        let stderr = text(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
        assert!(stderr.contains("imported 0 of 1 wheel; 1 not imported"), "{stderr}");
        assert_eq!(snapshot_all(&client).await, before, "{reason}: no rows changed");
        assert_eq!(files_under(out.path()), Vec::<String>::new(), "{reason}: no files written");
    }
}

/// The wheel `wheel` describes, with one more file in the archive that RECORD does not list.
fn with_unlisted_file(wheel: &Wheel) -> Vec<u8> {
    use std::io::{Cursor, Write};
    let original = wheel.bytes();
    let mut archive = zip::ZipArchive::new(Cursor::new(original)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).unwrap();
        out.raw_copy_file(entry).unwrap();
    }
    out.start_file("victim/payload.py", zip::write::SimpleFileOptions::default()).unwrap();
    out.write_all(b"import os\n").unwrap();
    out.finish().unwrap().into_inner()
}

#[tokio::test]
async fn requires_python_and_summary_come_from_the_wheel() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let sources = tempfile::tempdir().unwrap();
    let mut wheel = Wheel::new("Needs_New", "2.0");
    wheel.requires_python = Some(">=3.99".into());
    wheel.summary = Some("Needs a Python from the future".into());
    wheel.name = Some("Needs.New".into());
    let path = wheel.write_into(sources.path());

    let output = import(&db, out.path(), &["-q"], &[&path]);

    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let row = client
        .query_one(
            "SELECT f.requires_python, p.description FROM piw.files f JOIN piw.builds b USING (build_id)
               JOIN piw.packages p USING (package) WHERE f.filename = $1",
            &[&wheel.filename()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(">=3.99"));
    assert_eq!(row.get::<_, String>(1), "Needs a Python from the future");
    let display: String = client.query_one("SELECT display_name FROM piw.packages WHERE package = 'needs-new'", &[]).await.unwrap().get(0);
    assert_eq!(display, "Needs.New", "METADATA's Name, as the project spells it");
    let project = piw::pages::project(&client, "needs-new").await.unwrap();
    let Some(piw::pages::Output::Write { bytes, .. }) = project.first() else { panic!("{project:?}") };
    let html = String::from_utf8_lossy(bytes);
    assert!(html.contains("<h1>Needs.New</h1>") && html.contains("<title>Needs.New</title>"), "{html}");
    let published = out.path().join("simple/needs-new").join(wheel.filename());
    assert_eq!(std::fs::read(published).unwrap(), std::fs::read(&path).unwrap(), "the wheel itself, byte for byte");

    // An admin's description stays: the next wheel's Summary does not replace it.
    client.execute("UPDATE piw.packages SET description = 'curated' WHERE package = 'needs-new'", &[]).await.unwrap();
    let mut next = Wheel::new("Needs_New", "2.1");
    next.summary = Some("something else".into());
    let path = next.write_into(sources.path());
    let output = import(&db, out.path(), &["-q"], &[&path]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let description: String =
        client.query_one("SELECT description FROM piw.packages WHERE package = 'needs-new'", &[]).await.unwrap().get(0);
    assert_eq!(description, "curated");
}

#[tokio::test]
async fn several_wheels_one_bad_each_outcome_on_its_own_line_exit_one() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let sources = tempfile::tempdir().unwrap();
    let good = Wheel::new("good", "1.0").write_into(sources.path());
    let missing = sources.path().join("missing-1.0-py3-none-any.whl");
    let bad = sources.path().join("bad-1.0-py3-none-any.whl");
    std::fs::write(&bad, b"not a zip").unwrap();
    let good2 = Wheel::new("good2", "1.0").write_into(sources.path());

    let output = import(&db, out.path(), &[], &[&good, &missing, &bad, &good2]);

    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("imported good-1.0-py3-none-any.whl"), "{stdout}");
    assert!(lines[1].starts_with("not imported") && lines[1].contains("missing-1.0-py3-none-any.whl"), "{stdout}");
    assert!(lines[2].starts_with("not imported") && lines[2].contains("not a zip archive"), "{stdout}");
    assert!(lines[3].starts_with("imported good2-1.0-py3-none-any.whl"), "good2 is tried after the failures: {stdout}");
    let stderr = text(&output.stderr);
    assert!(stderr.trim_end().ends_with("imported 2 of 4 wheels; 2 not imported"), "{stderr}");
    let imported: i64 = client.query_one("SELECT count(*) FROM piw.files", &[]).await.unwrap().get(0);
    assert_eq!(imported, 2);

    // The same for scripts.
    let again = Wheel::new("good3", "1.0").write_into(sources.path());
    let output = import(&db, out.path(), &["--json"], &[&again, &bad]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document on stdout");
    assert_eq!(report["imported"][0]["package"], "good3");
    assert_eq!(report["imported"][0]["filename"], "good3-1.0-py3-none-any.whl");
    assert_eq!(report["not_imported"][0]["wheel"], bad.display().to_string());
    assert!(report["not_imported"][0]["error"].as_str().unwrap_or_default().contains("not a zip archive"), "{report}");
}

/// PEP 658 / 714: the wheel's METADATA beside it, its hash on the simple page; it goes with its
/// wheel when the version is removed, and alone (its wheel gone) at the next reconciliation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_metadata_is_served_beside_its_wheel_and_goes_with_it() {
    use sha2::{Digest, Sha256};
    use support::daemon::{drained, RunningListener};

    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let root = out.path();
    let listener = RunningListener::start(&db, root.to_owned());
    let sources = tempfile::tempdir().unwrap();
    let mut wheel = Wheel::new("meta", "1.0");
    wheel.requires_python = Some(">=3.8".into());
    let path = wheel.write_into(sources.path());
    let second = Wheel::new("meta", "2.0").write_into(sources.path());

    let output = import(&db, root, &["-q"], &[&path, &second]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    drained(&client).await;

    let metadata_file = root.join("simple/meta/meta-1.0-py3-none-any.whl.metadata");
    let served = std::fs::read(&metadata_file).expect("the metadata file is there");
    assert_eq!(served, wheel.metadata().into_bytes(), "METADATA byte for byte");
    let hash = hex::encode(Sha256::digest(&served));
    let recorded: String = client
        .query_one("SELECT metadata_hash::text FROM piw.files WHERE filename = 'meta-1.0-py3-none-any.whl'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, hash);
    let page = std::fs::read_to_string(root.join("simple/meta/index.html")).unwrap();
    assert!(page.contains(&format!("data-core-metadata=\"sha256={hash}\"")), "{page}");
    assert!(page.contains(&format!("data-dist-info-metadata=\"sha256={hash}\"")), "{page}");

    client.batch_execute("CALL piw.remove_version('meta', '1.0')").await.unwrap();
    drained(&client).await;
    assert!(!root.join("simple/meta/meta-1.0-py3-none-any.whl").exists(), "the wheel is deleted");
    assert!(!metadata_file.exists(), "its metadata goes with it");
    assert!(root.join("simple/meta/meta-2.0-py3-none-any.whl.metadata").is_file(), "the other version's stays");

    // A metadata file whose wheel has no row (an importer killed after publishing it).
    std::fs::write(root.join("simple/meta/ghost-1.0-py3-none-any.whl.metadata"), b"Name: ghost\n").unwrap();
    client.batch_execute("CALL piw.rebuild('index')").await.unwrap();
    drained(&client).await;
    assert!(!root.join("simple/meta/ghost-1.0-py3-none-any.whl.metadata").exists(), "reconciliation removes an orphan");
    assert!(root.join("simple/meta/meta-2.0-py3-none-any.whl.metadata").is_file(), "and keeps what a row has");
    listener.stop().await;
}

/// Wheels imported before piw served core metadata get it from `piw-import --backfill-metadata`,
/// read from the wheel on disk; a wheel that is not there, or a link planted in its place, is
/// reported and never read through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_writes_the_metadata_of_wheels_imported_before() {
    use support::{
        daemon::{drained, RunningListener},
        fixtures::add_wheel,
    };

    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let root = out.path();
    let sources = tempfile::tempdir().unwrap();
    let old = Wheel::new("old", "1.0");
    let path = old.write_into(sources.path());
    assert_eq!(import(&db, root, &["-q"], &[&path]).status.code(), Some(0));
    // As before V014: no hash, no file.
    client.execute("UPDATE piw.files SET metadata_hash = NULL", &[]).await.unwrap();
    let metadata_file = root.join("simple/old/old-1.0-py3-none-any.whl.metadata");
    std::fs::remove_file(&metadata_file).unwrap();
    // A row whose wheel is missing, and one whose wheel is a link to a file outside the tree.
    add_wheel(&client, "gone", "1.0", "none").await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), Wheel::new("linked", "1.0").bytes()).unwrap();
    let linked = add_wheel(&client, "linked", "1.0", "none").await;
    std::fs::create_dir_all(root.join("simple/linked")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), root.join("simple/linked").join(&linked)).unwrap();

    let output = import(&db, root, &["--backfill-metadata"], &[]);

    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "two could not be read: {stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("metadata written for old-1.0-py3-none-any.whl (old)"), "{stdout}");
    assert!(stdout.contains("no metadata for gone-1.0-py3-none-any.whl (gone)"), "{stdout}");
    assert!(stdout.contains("no metadata for linked-1.0-py3-none-any.whl (linked)"), "{stdout}");
    assert!(
        text(&output.stderr).contains("metadata written for 1 of 3 wheel(s) without it; 2 could not be read"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(std::fs::read(&metadata_file).unwrap(), old.metadata().into_bytes());
    assert!(!root.join("simple/linked").join(format!("{linked}.metadata")).exists(), "nothing read through the link");
    let hashes: Vec<Option<String>> =
        client.query("SELECT metadata_hash::text FROM piw.files ORDER BY filename", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(hashes.iter().filter(|h| h.is_some()).count(), 1, "{hashes:?}");

    // The pages carry it once the listener has rebuilt them; a second run has nothing to do.
    let listener = RunningListener::start(&db, root.to_owned());
    drained(&client).await;
    let page = std::fs::read_to_string(root.join("simple/old/index.html")).unwrap();
    assert!(page.contains("data-core-metadata=\"sha256="), "{page}");
    listener.stop().await;
    client.execute("DELETE FROM piw.files WHERE metadata_hash IS NULL", &[]).await.unwrap();
    let again = import(&db, root, &["--backfill-metadata"], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(text(&again.stdout).is_empty(), "{}", text(&again.stdout));
}
