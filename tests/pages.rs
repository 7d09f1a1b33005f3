//! The published website rendered from a real database.
mod support;

use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use piw::pages::{self, Output};
use support::{fixtures::*, TestDb};
use tokio_postgres::Client;

async fn repository() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    (db, client)
}

fn written<'a>(outputs: &'a [Output], path: &str) -> &'a [u8] {
    outputs
        .iter()
        .find_map(|o| match o {
            Output::Write { path: p, bytes } if p == Path::new(path) => Some(bytes.as_slice()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no write of {path} in {outputs:?}"))
}

fn written_text(outputs: &[Output], path: &str) -> String {
    String::from_utf8(written(outputs, path).to_vec()).expect("UTF-8 page")
}

async fn simple_page(client: &Client, package: &str) -> String {
    written_text(&pages::simple(client, package).await.unwrap(), &format!("simple/{package}/index.html"))
}

async fn hash_of(client: &Client, filename: &str) -> String {
    client.query_one("SELECT filehash::text FROM piw.files WHERE filename = $1", &[&filename]).await.unwrap().get(0)
}

async fn packages(client: &Client) -> Vec<String> {
    client.query("SELECT package FROM piw.packages ORDER BY 1", &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn simple_page_links_every_file_with_its_hash() {
    let (_db, client) = repository().await;

    let html = simple_page(&client, "foo").await;

    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains(r#"<meta name="pypi:repository-version" content="1.1">"#), "{html}");
    for filename in ["foo-1.0-py3-none-any.whl", "foo-2.0-py3-none-any.whl", "foo-2.0-cp311-cp311-linux_armv7l.whl"] {
        let hash = hash_of(&client, filename).await;
        let anchor = format!(r#"<a href="{filename}#sha256={hash}">{filename}</a>"#);
        assert!(html.contains(&anchor), "{anchor} missing from {html}");
    }
    assert_eq!(html.matches("<a ").count(), 3, "{html}");
    assert!(!html.contains("data-yanked"), "{html}");
    assert!(!html.contains("bar-0.1"), "{html}");
}

#[tokio::test]
async fn simple_page_escapes_requires_python() {
    let (_db, client) = repository().await;
    client.execute("UPDATE piw.files SET requires_python = '>=3.7' WHERE filename = 'bar-0.1-py3-none-any.whl'", &[]).await.unwrap();

    let html = simple_page(&client, "bar").await;

    assert!(html.contains(r#"data-requires-python="&gt;=3.7""#), "{html}");
}

#[tokio::test]
async fn yanked_version_files_are_marked_data_yanked() {
    let (_db, client) = repository().await;
    client.execute("UPDATE piw.versions SET yanked = true WHERE package = 'foo' AND version = '1.0'", &[]).await.unwrap();

    let html = simple_page(&client, "foo").await;

    let line = html.lines().find(|l| l.contains("foo-1.0-py3-none-any.whl")).unwrap();
    assert!(line.contains(r#" data-yanked="""#), "{line}");
    let others: Vec<&str> = html.lines().filter(|l| l.contains("foo-2.0")).collect();
    assert_eq!(others.len(), 2);
    assert!(others.iter().all(|l| !l.contains("data-yanked")), "{html}");
}

#[tokio::test]
async fn skipped_version_and_failed_builds_are_absent() {
    let (_db, client) = repository().await;
    client.execute("UPDATE piw.versions SET skip = 'broken' WHERE package = 'foo' AND version = '2.0'", &[]).await.unwrap();
    client.execute("UPDATE piw.builds SET status = false WHERE package = 'bar'", &[]).await.unwrap();

    let foo = simple_page(&client, "foo").await;
    assert!(foo.contains("foo-1.0-py3-none-any.whl"), "{foo}");
    assert!(!foo.contains("foo-2.0"), "{foo}");
    let bar = simple_page(&client, "bar").await;
    assert!(!bar.contains("<a "), "{bar}");

    let outputs = pages::project(&client, "foo").await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(written(&outputs, "project/foo/json/index.json")).unwrap();
    assert_eq!(json["releases"]["2.0"]["skip"], "broken");
    assert_eq!(json["releases"]["2.0"]["files"], serde_json::json!({}));
}

#[tokio::test]
async fn skipped_package_lists_no_files_and_leaves_the_indexes() {
    let (_db, client) = repository().await;
    client.execute("UPDATE piw.packages SET skip = 'no <thanks>' WHERE package = 'foo'", &[]).await.unwrap();

    let html = simple_page(&client, "foo").await;
    assert!(!html.contains("<a "), "{html}");

    let root = written_text(&pages::simple_root(&client).await.unwrap(), "simple/index.html");
    assert!(!root.contains("foo"), "{root}");
    assert!(root.contains(r#"<a href="bar/">bar</a>"#), "{root}");

    let search = written(&pages::search(&client).await.unwrap(), "packages.json").to_vec();
    let search: serde_json::Value = serde_json::from_slice(&search).unwrap();
    assert_eq!(search, serde_json::json!([["bar", 0, 0]]));

    let project = written_text(&pages::project(&client, "foo").await.unwrap(), "project/foo/index.html");
    assert!(project.contains("no &lt;thanks&gt;"), "{project}");
}

#[tokio::test]
async fn removed_package_removes_its_pages() {
    let (_db, client) = repository().await;
    client.execute("DELETE FROM piw.packages WHERE package = 'bar'", &[]).await.unwrap();

    assert_eq!(
        pages::simple(&client, "bar").await.unwrap(),
        [Output::Remove { path: PathBuf::from("simple/bar/index.html") }, Output::Remove { path: PathBuf::from("simple/bar/index.json") }]
    );
    assert_eq!(
        pages::project(&client, "bar").await.unwrap(),
        [
            Output::Remove { path: PathBuf::from("project/bar/index.html") },
            Output::Remove { path: PathBuf::from("project/bar/json/index.json") },
        ]
    );
}

#[tokio::test]
async fn malformed_package_name_yields_nothing() {
    let (_db, client) = repository().await;

    assert_eq!(pages::simple(&client, "../etc").await.unwrap(), []);
    assert_eq!(pages::project(&client, "../etc").await.unwrap(), []);
}

#[tokio::test]
async fn simple_root_lists_packages_in_order() {
    let (_db, client) = repository().await;
    add_wheel(&client, "foo-bar", "1.0", "none").await;

    let root = written_text(&pages::simple_root(&client).await.unwrap(), "simple/index.html");

    assert!(root.contains(r#"<meta name="pypi:repository-version" content="1.1">"#), "{root}");
    let order: Vec<usize> = ["bar", "foo", "foo-bar"]
        .iter()
        .map(|p| root.find(&format!(r#"<a href="{p}/">{p}</a>"#)).unwrap_or_else(|| panic!("{p} in {root}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{root}");
}

#[tokio::test]
async fn search_index_counts_downloads_per_package() {
    let (_db, client) = repository().await;
    client
        .execute("INSERT INTO piw.downloads (filename, accessed_at) VALUES ('foo-1.0-py3-none-any.whl', now() - interval '60 days')", &[])
        .await
        .unwrap();

    let outputs = pages::search(&client).await.unwrap();

    let json: serde_json::Value = serde_json::from_slice(written(&outputs, "packages.json")).unwrap();
    assert_eq!(json, serde_json::json!([["bar", 0, 0], ["foo", 5, 6]]));
}

#[tokio::test]
async fn home_page_shows_the_counts() {
    let (_db, client) = repository().await;

    let html = written_text(&pages::home(&client).await.unwrap(), "index.html");

    for (label, count) in [("Packages", 2), ("Versions", 3), ("Files", 4), ("Downloads (all time)", 5), ("Downloads (last 30 days)", 5)] {
        let row = format!(r#"<tr><th>{label}</th><td class="num">{count}</td></tr>"#);
        assert!(html.contains(&row), "{row} missing from {html}");
    }
    assert_eq!(html.lines().filter(|l| l.trim_start().starts_with(pages::HOME_BUILT_LINE_PREFIX)).count(), 1, "{html}");
}

#[tokio::test]
async fn project_page_escapes_a_hostile_description() {
    let (_db, client) = repository().await;
    client.execute("UPDATE piw.packages SET description = '<script>alert(1)</script>' WHERE package = 'foo'", &[]).await.unwrap();

    let outputs = pages::project(&client, "foo").await.unwrap();

    let html = written_text(&outputs, "project/foo/index.html");
    assert!(!html.contains("<script>alert(1)</script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
    assert!(html.contains("pip install --index-url ") && html.contains("/simple/ foo</pre>"), "the install line: {html}");
    let json: serde_json::Value = serde_json::from_slice(written(&outputs, "project/foo/json/index.json")).unwrap();
    assert_eq!(json["description"], "<script>alert(1)</script>");
}

#[tokio::test]
async fn project_json_describes_releases_files_and_builds() {
    let (_db, client) = repository().await;
    client.execute("UPDATE piw.versions SET released = '2024-03-04 05:06:07+00', yanked = true WHERE version = '1.0'", &[]).await.unwrap();

    let outputs = pages::project(&client, "foo").await.unwrap();

    let json: serde_json::Value = serde_json::from_slice(written(&outputs, "project/foo/json/index.json")).unwrap();
    assert_eq!(json["package"], "foo");
    assert_eq!(json["skip"], "");
    let releases = json["releases"].as_object().unwrap();
    assert_eq!(releases.keys().collect::<Vec<_>>(), ["1.0", "2.0"]);
    let one = &releases["1.0"];
    assert_eq!(one["released"], "2024-03-04T05:06:07Z");
    assert_eq!(one["yanked"], true);
    let two = &releases["2.0"];
    assert_eq!(two["released"], serde_json::Value::Null);
    let compiled = &two["files"]["foo-2.0-cp311-cp311-linux_armv7l.whl"];
    assert_eq!(compiled["filesize"], 1234);
    assert_eq!(compiled["filehash"], hash_of(&client, "foo-2.0-cp311-cp311-linux_armv7l.whl").await);
    assert_eq!(compiled["abi_tag"], "cp311");
    assert_eq!(compiled["platform_tag"], "linux_armv7l");
    assert_eq!(compiled["requires_python"], serde_json::Value::Null);
    assert_eq!(compiled["apt_dependencies"], serde_json::json!(["libfoo1"]));
    let builds = two["builds"].as_array().unwrap();
    assert_eq!(builds.iter().map(|b| b["abi_tag"].as_str().unwrap()).collect::<Vec<_>>(), ["cp311", "none"]);
    assert!(builds.iter().all(|b| b["status"] == true && b["duration_seconds"] == 0.0), "{builds:?}");

    // Newest first on the page, by version (not by release date: 2.0 has none).
    let html = written_text(&outputs, "project/foo/index.html");
    let one_at = html.find("id=\"v1.0\"").unwrap();
    let two_at = html.find("id=\"v2.0\"").unwrap();
    assert!(two_at < one_at, "{html}");
    assert!(html.contains("1.2 KiB") && html.contains("libfoo1") && html.contains("yanked"), "{html}");
}

/// A messier repository than the fixture: skips, yanks, failed builds, several dependencies,
/// a package without versions, names that sort differently under a locale than by byte.
async fn varied_repository(client: &Client) {
    small_repository(client).await;
    add_wheel(client, "foo-bar", "1.0", "none").await;
    add_wheel(client, "foobar", "1.0", "cp39").await;
    add_wheel(client, "zed", "0.1", "none").await;
    add_wheel(client, "zed", "0.2", "none").await;
    client
        .batch_execute(
            "INSERT INTO piw.packages (package, description) VALUES ('empty', 'nothing <here>');
             INSERT INTO piw.versions (package, version) VALUES ('empty', '1.0');
             INSERT INTO piw.builds (package, version, status, abi_tag, duration) VALUES ('empty', '1.0', false, 'cp311', '95 seconds');
             UPDATE piw.packages SET skip = 'gone' WHERE package = 'zed';
             UPDATE piw.versions SET skip = 'bad', released = '2020-01-01' WHERE package = 'foo' AND version = '1.0';
             UPDATE piw.versions SET yanked = true WHERE package = 'foobar';
             UPDATE piw.files SET requires_python = '>=3.7,<4' WHERE filename LIKE 'foobar%';
             INSERT INTO piw.dependencies (filename, tool, dependency)
                  SELECT filename, 'apt', d FROM piw.files, unnest(ARRAY['libz', 'liba']) AS d
                   WHERE filename LIKE 'foobar%';",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn streamed_rebuilds_match_per_package_pages_byte_for_byte() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    varied_repository(&client).await;
    let packages = packages(&client).await;

    let (streamed_simple, streamed_project) = streamed_pages(&client).await;

    // A full rebuild writes both kinds of page from the project rows alone.
    let mut simple_of_projects = Vec::new();
    let mut projects = std::pin::pin!(pages::all_project_data(&client).await.unwrap());
    while let Some(project) = projects.try_next().await.unwrap() {
        simple_of_projects.extend(pages::render_simple_of_project(&project).unwrap());
    }

    let mut single_simple = Vec::new();
    let mut single_project = Vec::new();
    let mut sorted = packages.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for package in &sorted {
        single_simple.extend(pages::simple(&client, package).await.unwrap());
        single_project.extend(pages::project(&client, package).await.unwrap());
    }
    assert_eq!(streamed_simple.len(), 2 * packages.len(), "HTML and PEP 691 JSON");
    assert_eq!(streamed_project.len(), 2 * packages.len());
    assert!(streamed_simple.iter().chain(&streamed_project).all(|o| matches!(o, Output::Write { .. })));
    assert_eq!(streamed_simple, single_simple);
    assert_eq!(simple_of_projects, single_simple);
    assert_eq!(streamed_project, single_project);

    let foobar: serde_json::Value = serde_json::from_slice(written(&streamed_project, "project/foobar/json/index.json")).unwrap();
    let file = &foobar["releases"]["1.0"]["files"]["foobar-1.0-cp39-cp39-linux_armv7l.whl"];
    assert_eq!(file["apt_dependencies"], serde_json::json!(["liba", "libz"]));
    assert_eq!(file["requires_python"], ">=3.7,<4");
    let empty: serde_json::Value = serde_json::from_slice(written(&streamed_project, "project/empty/json/index.json")).unwrap();
    assert_eq!(empty["releases"]["1.0"]["builds"][0]["status"], false);
    assert_eq!(empty["releases"]["1.0"]["builds"][0]["duration_seconds"], 95.0);
    let zed = written_text(&streamed_simple, "simple/zed/index.html");
    assert!(!zed.contains("<a "), "{zed}");
}

#[tokio::test]
async fn same_rows_render_the_same_bytes() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    varied_repository(&client).await;

    for package in packages(&client).await {
        assert_eq!(pages::simple(&client, &package).await.unwrap(), pages::simple(&client, &package).await.unwrap());
        assert_eq!(pages::project(&client, &package).await.unwrap(), pages::project(&client, &package).await.unwrap());
    }
    assert_eq!(pages::search(&client).await.unwrap(), pages::search(&client).await.unwrap());
    assert_eq!(pages::simple_root(&client).await.unwrap(), pages::simple_root(&client).await.unwrap());
}

#[tokio::test]
async fn streamed_rebuild_stops_at_the_first_sink_error() {
    let (_db, client) = repository().await;
    let mut calls = 0;

    let result = pages::all_simple(&client, &mut |_| {
        calls += 1;
        Err(piw::Error::Cluster("disk full".into()))
    })
    .await;

    assert!(result.is_err());
    assert_eq!(calls, 1);
}

/// The listener runs renders on spawned tasks: every future must be `Send`, over a plain client
/// and over a transaction alike.
#[allow(dead_code)]
fn renders_are_send(client: &'static Client, transaction: &'static tokio_postgres::Transaction<'static>) {
    fn send<T: Send>(_: T) {}
    let sink: &'static mut (dyn FnMut(Output) -> piw::Result<()> + Send) = Box::leak(Box::new(|_| Ok(())));
    send(pages::home(client));
    send(pages::search(client));
    send(pages::simple_root(client));
    send(pages::simple(client, "foo"));
    send(pages::project(transaction, "foo"));
    send(pages::all_simple(transaction, sink));
    let sink: &'static mut (dyn FnMut(Output) -> piw::Result<()> + Send) = Box::leak(Box::new(|_| Ok(())));
    send(pages::all_project(client, sink));
}

/// Rendering speed over the benchmark dataset (`benches/dataset.sql`, shaped like its "large"
/// preset): `cargo test --release --test pages render_speed -- --ignored --nocapture`, sized with
/// `PIW_BENCH_PACKAGES`, `PIW_BENCH_VERSIONS` and `PIW_BENCH_COMPILED` (the compiled share).
#[tokio::test]
#[ignore]
async fn render_speed() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let setting = |name: &str, default: i32| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let count = setting("PIW_BENCH_PACKAGES", 20_000);
    let versions = setting("PIW_BENCH_VERSIONS", 5);
    let compiled_share = std::env::var("PIW_BENCH_COMPILED").ok().and_then(|v| v.parse().ok()).unwrap_or(0.01);
    client.batch_execute(include_str!("../benches/dataset.sql")).await.unwrap();
    client
        .execute(
            "CALL piw_bench.generate(packages => $1, versions => $2, compiled_share => $3, compiled_versions => 1)",
            &[&count, &versions, &compiled_share],
        )
        .await
        .unwrap();
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let mut bytes = 0usize;
        let mut count_bytes = |output: Output| {
            if let Output::Write { bytes: written, .. } = output {
                bytes += written.len();
            }
            Ok(())
        };
        let start = std::time::Instant::now();
        pages::all_simple(&client, &mut count_bytes).await.unwrap();
        let simple = start.elapsed();
        let start = std::time::Instant::now();
        pages::all_project(&client, &mut count_bytes).await.unwrap();
        let project = start.elapsed();
        let start = std::time::Instant::now();
        for outputs in [pages::home(&client).await, pages::search(&client).await, pages::simple_root(&client).await] {
            outputs.unwrap().into_iter().try_for_each(&mut count_bytes).unwrap();
        }
        let others = start.elapsed();
        let total = started.elapsed();
        println!(
            "{count} packages, {bytes} bytes: {:.3} ms/package (all_simple {simple:?}, all_project {project:?}, \
             home + search + simple root {others:?})",
            total.as_secs_f64() * 1000.0 / f64::from(count),
        );
    }
}

#[tokio::test]
async fn timestamps_are_formatted_as_the_servers_to_char_formats_them() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    // The session's time zone must not matter: pages are in UTC.
    client.batch_execute("SET TIME ZONE 'America/St_Johns'; SELECT setseed(0.25)").await.unwrap();
    let rows = client
        .query(
            "WITH t(t) AS (
                 SELECT timestamptz '0300-01-01 00:00:00+00 BC' + random() * interval '10500 years'
                   FROM generate_series(1, 5000)
                 UNION ALL
                 SELECT timestamptz '2000-01-01 00:00:00+00' + n * interval '1 microsecond' FROM generate_series(-2, 2) AS n
                 UNION ALL
                 SELECT v::timestamptz FROM unnest(ARRAY[
                     'infinity', '-infinity', '0001-01-01 00:00:00+00 BC', '0001-12-31 23:59:59.999999+00 BC',
                     '0001-01-01 00:00:00+00', '1900-02-28 23:59:59+00', '1970-01-01 00:00:00+00',
                     '2000-02-29 12:00:00+00', '2100-03-01 00:00:00+00', '9999-12-31 23:59:59.999999+00',
                     '10000-01-01 00:00:00+00', '4713-11-24 00:00:00+00 BC']) AS v)
             SELECT t, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM t",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 5017);
    for row in &rows {
        let (raw, expected): (pages::Timestamp, Option<String>) = (row.get(0), row.get(1));
        assert_eq!(raw.utc_text(), expected, "microseconds {}", raw.0);
    }
}

/// PEP 691: the root and every package's page as JSON beside the HTML, listing the same.
#[tokio::test]
async fn simple_json_lists_what_the_html_lists() {
    let (_db, client) = repository().await;

    let root_outputs = pages::simple_root(&client).await.unwrap();
    let root: serde_json::Value = serde_json::from_slice(written(&root_outputs, "simple/index.json")).unwrap();
    assert_eq!(root["meta"]["api-version"], "1.1");
    let names: Vec<&str> = root["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    let html = written_text(&root_outputs, "simple/index.html");
    assert_eq!(names.len(), html.matches("<a href=").count(), "{html}");
    for name in &names {
        assert!(html.contains(&format!(r#"<a href="{name}/">"#)), "{name} in {html}");
    }

    let outputs = pages::simple(&client, "foo").await.unwrap();
    let page: serde_json::Value = serde_json::from_slice(written(&outputs, "simple/foo/index.json")).unwrap();
    let html = written_text(&outputs, "simple/foo/index.html");
    let files = page["files"].as_array().unwrap();
    assert_eq!(files.len(), html.matches("<a href=").count());
    for file in files {
        let filename = file["filename"].as_str().unwrap();
        let hash = hash_of(&client, filename).await;
        assert_eq!(file["hashes"]["sha256"], hash);
        assert!(html.contains(&format!("#sha256={hash}")), "{html}");
        assert!(file["size"].as_i64().unwrap() > 0);
        assert!(file["upload-time"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(page["versions"], serde_json::json!(["1.0", "2.0"]));
}

/// The site's address, set once in the database, is in the install lines of the home page and
/// every project page; setting it queues them; anything but an http(s) address changes nothing.
#[tokio::test]
async fn the_site_url_is_in_the_install_lines_and_setting_it_rebuilds_them() {
    let (db, client) = repository().await;
    clear_jobs(&client).await;

    client.batch_execute("CALL piw.set_site_url('https://wheels.example.org/')").await.unwrap();
    let url: String = client.query_one("SELECT url FROM piw.site", &[]).await.unwrap().get(0);
    assert_eq!(url, "https://wheels.example.org", "the trailing slash dropped");
    let queued = queued(&client).await;
    assert!(queued.contains(&job("home", "", "")), "{queued:?}");
    assert!(queued.contains(&job("project_all", "", "")), "{queued:?}");
    let home = written_text(&pages::home(&client).await.unwrap(), "index.html");
    assert!(home.contains("pip install --index-url https:&#x2f;&#x2f;wheels.example.org/simple/ PACKAGE"), "{home}");
    let project = written_text(&pages::project(&client, "foo").await.unwrap(), "project/foo/index.html");
    assert!(project.contains("<pre>pip install --index-url https:&#x2f;&#x2f;wheels.example.org/simple/ foo</pre>"), "{project}");
    assert!(!project.contains("site-url"), "no script needed: {project}");

    for bad in ["javascript:alert(1)", "https://x\" onload=\"y", "ftp://x", "https://x y"] {
        let before = support::snapshot(&client, "SELECT * FROM piw.site").await;
        let error = client.execute("CALL piw.set_site_url($1)", &[&bad]).await.expect_err(bad);
        assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::INVALID_PARAMETER_VALUE), "{bad}: {error}");
        assert_eq!(support::snapshot(&client, "SELECT * FROM piw.site").await, before, "{bad}");
    }

    // The configuration file's site_url, applied by piw-initdb.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("piw.toml");
    std::fs::write(&config, format!("dsn = {:?}\nsite_url = \"http://localhost:8000\"\n", db.dsn())).unwrap();
    let initdb = std::process::Command::new(support::tool_exe("piw-initdb"))
        .arg("-q")
        .arg("-c")
        .arg(&config)
        .env_remove("PIW_DSN")
        .output()
        .unwrap();
    assert!(initdb.status.success(), "{}", String::from_utf8_lossy(&initdb.stderr));
    let url: String = client.query_one("SELECT url FROM piw.site", &[]).await.unwrap().get(0);
    assert_eq!(url, "http://localhost:8000");
}
