//! Escapes: job rows whose package or filename tries to leave the output path (or to hit a page
//! instead of a wheel), symlinks planted in the output path leading outside, and HTML/JS injection
//! through every text a page shows. Nothing outside the output path is read, written or deleted;
//! every page escapes what it shows.
mod support;

use std::{collections::BTreeMap, ffi::CString, fs, os::unix::fs::symlink, path::Path};

use support::{
    bulk,
    daemon::{drained, output_dir, RunningListener},
    fixtures::*,
    invariant::{self, Placed},
    TestDb,
};

/// Every file under `dir` (not following symlinks) with its bytes; FIFOs and symlinks by name.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let meta = fs::symlink_metadata(entry.path()).unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if meta.is_dir() {
            found.extend(contents(&entry.path()).into_iter().map(|(k, v)| (format!("{name}/{k}"), v)));
        } else if meta.is_file() {
            found.insert(name, fs::read(entry.path()).unwrap());
        } else {
            found.insert(name, b"(not a regular file)".to_vec());
        }
    }
    found
}

/// A directory outside the output path with things worth protecting: files, and a FIFO that
/// would block whoever opened it for reading.
fn outside() -> tempfile::TempDir {
    let dir = output_dir();
    fs::write(dir.path().join("secret.txt"), b"keep out").unwrap();
    fs::write(dir.path().join("index.html"), b"not yours").unwrap();
    fs::create_dir(dir.path().join("victim")).unwrap();
    fs::write(dir.path().join("victim/precious.whl"), b"precious").unwrap();
    let fifo = CString::new(dir.path().join("trap").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0, "mkfifo");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_rows_aimed_outside_or_at_pages_are_refused() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 3).await;
    let out = output_dir();
    let root = out.path().join("www");
    let away = outside();
    fs::create_dir(&root).unwrap();
    let placed: Placed = bulk::place_wheels(&client, &root).await;
    let listener = RunningListener::start(&db, root.clone());
    drained(&client).await;
    let before = contents(away.path());

    // piw_admin may write piw.jobs directly: rows the triggers never make.
    let hostile: &[(&str, &str, &str)] = &[
        ("delete_package", "", ""),
        ("delete_package", "..", ""),
        ("delete_package", "../..", ""),
        ("delete_package", "/", ""),
        ("delete_package", "/tmp", ""),
        ("delete_package", "pkg-1/pkg_1-1.0-cp311-cp311-linux_armv7l.whl", ""),
        ("delete_package", "pkg-1/../pkg-2", ""),
        ("delete_package", "PKG-1", ""),
        ("delete_wheel", "pkg-1", "index.html"),
        ("delete_wheel", "", "index.html"),
        ("delete_wheel", "pkg-1", ""),
        ("delete_wheel", "pkg-1", "."),
        ("delete_wheel", "pkg-1", ".."),
        ("delete_wheel", "pkg-1", "../../secret.txt"),
        ("delete_wheel", "..", "secret.txt"),
        ("delete_wheel", "../..", "etc/passwd"),
        ("delete_wheel", "/etc", "passwd"),
        ("delete_wheel", "pkg-1/..", "index.html"),
        ("delete_wheel", "pkg-2", "../pkg-1/pkg_1-2.0-cp311-cp311-linux_armv7l.whl"),
        ("delete_wheel", "pkg-1", "a\\b.whl"),
        ("delete_wheel", "pkg-1", "x\u{0}.whl"),
        ("simple", "../../tmp", ""),
        ("simple", "", ""),
        ("project", "/etc", ""),
        ("project", "..", ""),
        ("simple", "pkg-1/../..", ""),
    ];
    let mut inserted = 0;
    for (kind, package, filename) in hostile {
        // NUL cannot be stored in text at all.
        match client.execute("INSERT INTO piw.jobs (kind, package, filename) VALUES ($1, $2, $3)", &[kind, package, filename]).await {
            Ok(_) => inserted += 1,
            Err(e) => assert!(filename.contains('\0'), "{kind} {package:?} {filename:?}: {e}"),
        }
    }
    client.execute("SELECT pg_notify('piw_jobs', '')", &[]).await.unwrap();
    drained(&client).await;
    listener.stop().await;

    assert_eq!(contents(away.path()), before, "nothing outside changed");
    let failed = client.query("SELECT kind, package, filename, last_error FROM piw.jobs WHERE state = 'failed'", &[]).await.unwrap();
    for row in &failed {
        let error: String = row.get(3);
        assert!(
            error.starts_with("refusing"),
            "{:?} {:?} {:?}: {error}",
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            row.get::<_, String>(2)
        );
    }
    // Refused jobs are the admin's to look at; once they are gone, every page and wheel is intact.
    client.batch_execute("DELETE FROM piw.jobs WHERE state = 'failed'").await.unwrap();
    invariant::assert_holds(&client, &root, &placed).await;
    println!("escapes: {inserted} hostile job rows, {} refused, none did anything", failed.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_planted_in_the_output_path_are_never_followed_outside() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 4).await;
    let out = output_dir();
    let root = out.path();
    let away = outside();
    let placed: Placed = bulk::place_wheels(&client, root).await;
    let outside_path = |name: &str| away.path().join(name);
    // A package directory, a page, a wheel and a whole tree that lead outside; a page that leads
    // to a FIFO (reading it would hang the listener).
    fs::remove_dir_all(root.join("simple/pkg-1")).unwrap();
    symlink(outside_path("victim"), root.join("simple/pkg-1")).unwrap();
    fs::create_dir_all(root.join("project/pkg-2")).unwrap();
    symlink(outside_path("index.html"), root.join("project/pkg-2/index.html")).unwrap();
    symlink(outside_path("trap"), root.join("simple/pkg-2/index.html")).unwrap();
    fs::remove_file(root.join("simple/pkg-3/pkg_3-1.0-cp311-cp311-linux_armv7l.whl")).unwrap();
    symlink(outside_path("secret.txt"), root.join("simple/pkg-3/pkg_3-1.0-cp311-cp311-linux_armv7l.whl")).unwrap();
    fs::create_dir_all(root.join("project")).unwrap();
    symlink(away.path(), root.join("project/pkg-4")).unwrap();
    let before = contents(away.path());

    let listener = RunningListener::start(&db, root.to_owned());
    drained(&client).await;
    client
        .batch_execute(
            "CALL piw.remove_version('pkg-3', '1.0');
             CALL piw.remove_version('pkg-1', '2.0');
             CALL piw.rebuild('index');
             CALL piw.remove_package('pkg-4');",
        )
        .await
        .unwrap();
    drained(&client).await;

    assert_eq!(contents(away.path()), before, "nothing outside read, written or deleted");
    let errors: Vec<String> =
        client.query("SELECT last_error FROM piw.jobs WHERE state = 'failed'", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert!(!errors.is_empty() && errors.iter().all(|e| e.contains("a symbolic link is in the way")), "{errors:?}");
    assert!(
        fs::symlink_metadata(root.join("simple/pkg-3/pkg_3-1.0-cp311-cp311-linux_armv7l.whl")).is_err(),
        "the wheel's symlink itself went"
    );
    assert!(!root.join("project/pkg-4").exists(), "a removed package's symlinked directory went, not what it pointed to");

    // The admin replaces the planted links; retrying finishes the work.
    fs::remove_file(root.join("simple/pkg-1")).unwrap();
    client.batch_execute("CALL piw.retry_failed()").await.unwrap();
    drained(&client).await;
    listener.stop().await;
    let placed: Placed = placed.into_iter().filter(|(p, f)| p != "pkg-1" && !f.starts_with("pkg_3-1.0")).collect();
    invariant::assert_holds(&client, root, &placed).await;
}

/// Every string in a JSON document, keys included.
fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            collect_strings(v, out);
        }),
        _ => {}
    }
}

const PAYLOADS: [&str; 5] = [
    "<script>alert(\"x\")</script>",
    "\"><img src=x onerror=alert(1)>",
    "' onmouseover='alert(1)",
    "</textarea><svg/onload=alert(1)>",
    "{{ 7*191 }}",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_and_script_in_every_shown_text_are_escaped_on_every_page() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let nospace = |p: &str| p.replace(' ', "/");
    let (description, reason, version_reason, requires, dependency) = (PAYLOADS[0], PAYLOADS[1], PAYLOADS[2], PAYLOADS[3], PAYLOADS[4]);
    let version = nospace(PAYLOADS[1]);
    let build = add_build(&client, "foo", &version).await;
    let filename = "foo-\"><img src=x onerror=alert(1)>-py3-none-any.whl".to_owned();
    insert_file(&client, build, &filename).await.unwrap();
    client.execute("UPDATE piw.packages SET description = $1 WHERE package = 'foo'", &[&description]).await.unwrap();
    client.execute("CALL piw.skip_package('bar', $1)", &[&reason]).await.unwrap();
    client.execute("CALL piw.skip_version('foo', '1.0', $1)", &[&version_reason]).await.unwrap();
    client.execute("UPDATE piw.files SET requires_python = $1 WHERE filename = $2", &[&requires, &filename]).await.unwrap();
    client.execute("UPDATE piw.builds SET abi_tag = $1 WHERE build_id = $2", &[&nospace(PAYLOADS[3]), &build]).await.unwrap();
    client
        .execute("INSERT INTO piw.dependencies (filename, tool, dependency) VALUES ($1, 'apt', $2)", &[&filename, &dependency])
        .await
        .unwrap();
    let out = output_dir();
    let root = out.path();
    let listener = RunningListener::start(&db, root.to_owned());
    drained(&client).await;
    listener.stop().await;

    let pages = contents(root);
    // The last payload is harmless as text (braces are not markup): it must only not be evaluated.
    let shown: Vec<String> =
        PAYLOADS[..4].iter().map(|p| p.to_string()).chain([version.clone(), filename.clone(), nospace(PAYLOADS[3])]).collect();
    let mut checked = 0;
    for (path, bytes) in &pages {
        let text = String::from_utf8_lossy(bytes);
        if path.ends_with(".html") {
            for payload in &shown {
                assert!(!text.contains(payload.as_str()), "{path} shows {payload:?} unescaped:\n{text}");
            }
            assert!(!text.contains("1337"), "{path}: a template expression was evaluated");
            checked += 1;
        } else if path.ends_with(".json") {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            if path == "project/foo/json/index.json" {
                let mut strings = Vec::new();
                collect_strings(&value, &mut strings);
                for payload in [description, version_reason, &version, &filename] {
                    assert!(strings.iter().any(|s| s == payload), "{path} keeps {payload:?} as data: {strings:?}");
                }
            }
            checked += 1;
        }
    }
    let foo = String::from_utf8_lossy(&pages["project/foo/index.html"]).into_owned();
    assert!(foo.contains("&lt;script&gt;alert(&quot;x&quot;)"), "the description shown as text: {foo}");
    invariant::assert_holds(&client, root, &Placed::new()).await;
    println!("escapes: {} payloads checked on {checked} pages", shown.len());
}
