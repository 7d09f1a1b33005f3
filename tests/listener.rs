//! The listener end to end: requests made in SQL are carried out on a real output directory.
mod support;

use std::{fs, path::Path};

use piw::{listener::executor::Executor, pages::Output, site::OutputDir};
use support::{
    daemon::{drained, output_dir, RunningListener},
    fixtures::*,
    TestDb,
};

fn read(root: &Path, relative: &str) -> String {
    fs::read_to_string(root.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Put a wheel file where the importer would, for every file row.
async fn place_wheels(client: &tokio_postgres::Client, root: &Path) {
    for row in client.query("SELECT b.package, f.filename FROM piw.files f JOIN piw.builds b USING (build_id)", &[]).await.unwrap() {
        let (package, filename): (String, String) = (row.get(0), row.get(1));
        let dir = root.join("simple").join(package);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(filename), b"wheel bytes").unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_queued_before_start_is_published() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();

    let listener = RunningListener::start(&db, out.path().to_owned());
    drained(&client).await;
    listener.stop().await;

    let root = out.path();
    assert!(read(root, "simple/index.html").contains(r#"href="foo/""#));
    assert!(read(root, "simple/foo/index.html").contains("foo-1.0-py3-none-any.whl#sha256="));
    assert!(read(root, "project/foo/index.html").contains("foo"));
    assert!(root.join("project/foo/json/index.json").is_file());
    assert!(root.join("index.html").is_file());
    let search: serde_json::Value = serde_json::from_str(&read(root, "packages.json")).unwrap();
    assert_eq!(search.as_array().map(Vec::len), Some(2), "{search}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_version_deletes_wheels_and_rewrites_pages() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let root = out.path();
    place_wheels(&client, root).await;
    let listener = RunningListener::start(&db, root.to_owned());
    drained(&client).await;
    assert!(read(root, "simple/foo/index.html").contains("foo-1.0-py3-none-any.whl"));

    client.execute("CALL piw.remove_version('foo', '1.0')", &[]).await.unwrap();
    drained(&client).await;

    assert!(!root.join("simple/foo/foo-1.0-py3-none-any.whl").exists(), "wheel deleted");
    assert!(root.join("simple/foo/foo-2.0-py3-none-any.whl").exists(), "other version's wheel kept");
    assert!(!read(root, "simple/foo/index.html").contains("foo-1.0-"));
    assert!(read(root, "simple/foo/index.html").contains("foo-2.0-py3-none-any.whl"));
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sql_delete_of_a_file_row_deletes_the_wheel() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let root = out.path();
    place_wheels(&client, root).await;
    let listener = RunningListener::start(&db, root.to_owned());

    client.execute("DELETE FROM piw.files WHERE filename = 'bar-0.1-py3-none-any.whl'", &[]).await.unwrap();
    drained(&client).await;

    assert!(!root.join("simple/bar/bar-0.1-py3-none-any.whl").exists());
    assert!(!read(root, "simple/bar/index.html").contains("bar-0.1-py3-none-any.whl"));
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_package_deletes_its_directories_and_leaves_the_indexes() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let root = out.path();
    place_wheels(&client, root).await;
    let listener = RunningListener::start(&db, root.to_owned());
    drained(&client).await;
    assert!(root.join("project/bar/index.html").exists());

    client.execute("CALL piw.remove_package('bar')", &[]).await.unwrap();
    drained(&client).await;

    assert!(!root.join("simple/bar").exists(), "simple/bar removed");
    assert!(!root.join("project/bar").exists(), "project/bar removed");
    assert!(!read(root, "simple/index.html").contains("bar/"));
    assert!(root.join("simple/foo/foo-1.0-py3-none-any.whl").exists(), "other packages untouched");
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_yank_and_their_undoing_change_the_simple_page() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let root = out.path();
    let listener = RunningListener::start(&db, root.to_owned());
    let page = || read(root, "simple/foo/index.html");

    client.execute("CALL piw.yank_version('foo', '1.0')", &[]).await.unwrap();
    drained(&client).await;
    let yanked_line = page().lines().find(|l| l.contains("foo-1.0-py3-none-any.whl")).map(str::to_owned);
    assert!(yanked_line.is_some_and(|l| l.contains("data-yanked")), "{}", page());

    client.execute("CALL piw.unyank_version('foo', '1.0')", &[]).await.unwrap();
    client.execute("CALL piw.skip_version('foo', '1.0', 'broken')", &[]).await.unwrap();
    drained(&client).await;
    assert!(!page().contains("data-yanked"));
    assert!(!page().contains("foo-1.0-"), "skipped version absent");

    client.execute("CALL piw.unskip_version('foo', '1.0')", &[]).await.unwrap();
    drained(&client).await;
    assert!(page().contains("foo-1.0-py3-none-any.whl"));

    client.execute("CALL piw.skip_package('foo')", &[]).await.unwrap();
    drained(&client).await;
    assert!(!read(root, "simple/index.html").contains("foo/"), "skipped package leaves the root index");
    assert!(!page().contains(".whl"), "skipped package lists no files");
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_repairs_pages_changed_by_hand() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let root = out.path();
    let listener = RunningListener::start(&db, root.to_owned());
    drained(&client).await;
    let pages = [
        "index.html",
        "packages.json",
        "simple/index.html",
        "simple/foo/index.html",
        "project/foo/index.html",
        "project/bar/json/index.json",
    ];
    let originals: Vec<String> = pages.iter().map(|p| read(root, p)).collect();
    for page in pages {
        fs::write(root.join(page), "defaced").unwrap();
    }

    for part in ["home", "search"] {
        client.execute("CALL piw.rebuild($1)", &[&part]).await.unwrap();
    }
    client.execute("CALL piw.rebuild('index', 'foo')", &[]).await.unwrap();
    client.execute("CALL piw.rebuild('index')", &[]).await.unwrap();
    drained(&client).await;

    for (page, original) in pages.iter().zip(&originals) {
        let now = read(root, page);
        assert_ne!(now, "defaced", "{page} repaired");
        if *page != "index.html" {
            assert_eq!(&now, original, "{page} restored exactly");
        }
    }
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_description_is_escaped_on_the_project_page() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let root = out.path();
    let listener = RunningListener::start(&db, root.to_owned());
    client.execute("UPDATE piw.packages SET description = '<script>alert(\"x\")</script>' WHERE package = 'foo'", &[]).await.unwrap();
    drained(&client).await;
    let page = read(root, "project/foo/index.html");
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;script&gt;"), "{page}");
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_leading_outside_is_refused_and_other_work_flows() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let outside = output_dir();
    fs::write(outside.path().join("bar-0.1-py3-none-any.whl"), b"not yours").unwrap();
    let out = output_dir();
    let root = out.path();
    fs::create_dir_all(root.join("simple")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("simple/bar")).unwrap();
    let listener = RunningListener::start(&db, root.to_owned());
    drained(&client).await;
    // Everything about bar failed; everything else was done.
    let failed: i64 = client.query_one("SELECT count(*) FROM piw.jobs WHERE state = 'failed'", &[]).await.unwrap().get(0);
    assert!(failed >= 1, "bar's simple page refused");

    client.execute("DELETE FROM piw.files WHERE filename = 'bar-0.1-py3-none-any.whl'", &[]).await.unwrap();
    client.execute("CALL piw.rebuild('index', 'foo')", &[]).await.unwrap();
    drained(&client).await;

    assert_eq!(fs::read(outside.path().join("bar-0.1-py3-none-any.whl")).unwrap(), b"not yours");
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1, "nothing written outside");
    let error: String =
        client.query_one("SELECT last_error FROM piw.jobs WHERE state = 'failed' AND kind = 'delete_wheel'", &[]).await.unwrap().get(0);
    assert!(error.contains("symbolic link"), "{error}");
    assert!(read(root, "simple/foo/index.html").contains("foo-2.0"), "other work flows");
    listener.stop().await;
}

/// A full rebuild's `simple_all` and `project_all`, claimed together, run as one pass over the
/// project rows: it writes exactly the pages the two write apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_pages_in_one_pass_write_every_simple_and_project_page() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    client.batch_execute("UPDATE piw.packages SET skip = 'gone' WHERE package = 'bar'").await.unwrap();
    let out = output_dir();
    let executor = Executor::new(OutputDir::open(out.path()).unwrap());
    let effect = executor.all_pages(&client).await.unwrap();

    let (mut expected, project) = streamed_pages(&client).await;
    expected.extend(project);
    assert_eq!(expected.len(), 8, "two packages: two simple pages (HTML, PEP 691 JSON) and two project pages each");
    assert_eq!(effect.written, 8);
    for output in &expected {
        let Output::Write { path, bytes } = output else { panic!("{output:?}") };
        assert_eq!(&fs::read(out.path().join(path)).unwrap(), bytes, "{}", path.display());
    }
}

/// A package's `simple` and `project` jobs, claimed together, run as one query of its project
/// rows: the same four pages the two jobs write apart; and all four go when the package does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packages_simple_and_project_jobs_in_one_write_its_four_pages() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let executor = Executor::new(OutputDir::open(out.path()).unwrap());
    let manager = deadpool_postgres::Manager::new(db.config.clone(), tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager).max_size(1).build().unwrap();
    let pooled = pool.get().await.unwrap();
    for package in ["foo", "bar"] {
        let pages = executor.package_pages(&pooled, package).await.unwrap();
        assert_eq!((pages.simple.unwrap().written, pages.project.unwrap().written), (2, 2), "{package}");
        let mut apart = piw::pages::simple(&client, package).await.unwrap();
        apart.extend(piw::pages::project(&client, package).await.unwrap());
        assert_eq!(apart.len(), 4);
        for output in &apart {
            let Output::Write { path, bytes } = output else { panic!("{output:?}") };
            assert_eq!(&fs::read(out.path().join(path)).unwrap(), bytes, "{}", path.display());
        }
    }
    client.batch_execute("SET session_replication_role = replica; DELETE FROM piw.packages WHERE package = 'bar'").await.unwrap();
    let pages = executor.package_pages(&pooled, "bar").await.unwrap();
    assert_eq!((pages.simple.unwrap().removed, pages.project.unwrap().removed), (2, 2));
    for page in ["simple/bar/index.html", "simple/bar/index.json", "project/bar/index.html", "project/bar/json/index.json"] {
        assert!(!out.path().join(page).exists(), "{page}");
    }
    assert!(out.path().join("simple/foo/index.html").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_listener_hands_back_the_claimed_jobs_it_had_not_started() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(
            "INSERT INTO piw.packages (package) SELECT 'p' || i FROM generate_series(1, 400) i;
             DELETE FROM piw.requests; DELETE FROM piw.jobs;
             INSERT INTO piw.jobs (kind, package) SELECT 'project', 'p' || i FROM generate_series(1, 400) i;",
        )
        .await
        .unwrap();
    let out = output_dir();
    // One worker: a claim takes a batch of several jobs, and all but one wait their turn.
    let mut options = RunningListener::options(out.path().to_owned());
    options.workers = 1;
    let listener = RunningListener::start_with(&db, options);
    // Stopped once it has done a job (the first of its batch, when the claim was seen alone, was
    // sometimes not started yet: all 400 came back) and still holds others it has not started.
    support::wait_until("the listener to do a job and hold more", std::time::Duration::from_secs(60), || async {
        scalar(&client, "SELECT (count(*) FILTER (WHERE state = 'running') > 1 AND count(*) < 400)::int::bigint FROM piw.jobs").await == 1
    })
    .await;
    listener.stop().await;

    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs WHERE state <> 'pending' OR locked_by IS NOT NULL").await, 0);
    let left = scalar(&client, "SELECT count(*) FROM piw.jobs").await;
    assert!(left > 0 && left < 400, "stopped partway: {left} jobs left");
    let next = RunningListener::start(&db, out.path().to_owned());
    drained(&client).await;
    next.stop().await;
    let pages = fs::read_dir(out.path().join("project")).unwrap().count();
    assert_eq!(pages, 400, "every package's page, by one listener or the other");
}
