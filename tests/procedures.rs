//! The SQL procedures, called as an admin in psql would: their effects, their refusals (which change
//! nothing), name normalization, and two sessions racing on one version.
mod support;

use std::time::Duration;

use support::{fixtures::*, snapshot_all, wait_until, TestDb};
use tokio_postgres::{error::SqlState, Client};

async fn repository() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    clear_jobs(&client).await;
    (db, client)
}

async fn versions(client: &Client, package: &str) -> Vec<(String, String, bool)> {
    client
        .query("SELECT version, skip, yanked FROM piw.versions WHERE package = $1 ORDER BY 1", &[&package])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn package_skip(client: &Client, package: &str) -> Option<String> {
    client.query_opt("SELECT skip FROM piw.packages WHERE package = $1", &[&package]).await.unwrap().map(|r| r.get(0))
}

#[tokio::test]
async fn remove_version_forgets_builds_files_and_downloads() {
    let (_db, client) = repository().await;

    client.execute("CALL piw.remove_version('foo', '1.0')", &[]).await.unwrap();

    assert_eq!(versions(&client, "foo").await, [("2.0".into(), String::new(), false)]);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.files WHERE filename LIKE 'foo-1.0-%'").await, 0);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.builds WHERE version = '1.0'").await, 0);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.downloads").await, 2, "only foo 2.0's downloads remain");
    let mut expected = page_jobs(&["foo"], false);
    expected.push(job("delete_wheel", "foo", "foo-1.0-py3-none-any.whl"));
    expected.sort();
    assert_eq!(queued(&client).await, expected);
}

#[tokio::test]
async fn remove_version_with_skip_keeps_version_row() {
    let (_db, client) = repository().await;

    client.execute("CALL piw.remove_version('foo', '2.0', skip => true)", &[]).await.unwrap();

    let foo = versions(&client, "foo").await;
    assert_eq!(foo[0], ("1.0".into(), String::new(), false));
    assert_eq!(foo[1].0, "2.0");
    assert_ne!(foo[1].1, "", "2.0 is marked skipped");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.builds WHERE version = '2.0'").await, 0);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.dependencies").await, 0, "the cp311 wheel's dependency went");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.downloads").await, 3, "foo 1.0's downloads remain");
    let wheels = queued(&client).await.into_iter().filter(|j| j.0 == "delete_wheel").collect::<Vec<_>>();
    assert_eq!(
        wheels,
        [job("delete_wheel", "foo", "foo-2.0-cp311-cp311-linux_armv7l.whl"), job("delete_wheel", "foo", "foo-2.0-py3-none-any.whl")]
    );
}

#[tokio::test]
async fn remove_package_without_skip_deletes_package_and_queues_its_directories() {
    let (_db, client) = repository().await;

    client.execute("CALL piw.remove_package('foo')", &[]).await.unwrap();

    assert_eq!(package_skip(&client, "foo").await, None);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.versions WHERE package = 'foo'").await, 0);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.files").await, 1, "bar's wheel stays");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.downloads").await, 0);
    let jobs = queued(&client).await;
    assert!(jobs.contains(&job("delete_package", "foo", "")), "{jobs:?}");
    assert!(jobs.contains(&job("simple_root", "", "")), "{jobs:?}");
    assert_eq!(jobs.iter().filter(|j| j.0 == "delete_wheel" && j.1 == "foo").count(), 3, "{jobs:?}");
    assert!(!jobs.iter().any(|j| j.1 == "bar"), "bar untouched: {jobs:?}");
}

#[tokio::test]
async fn remove_package_with_skip_keeps_package_skipped_without_versions() {
    let (_db, client) = repository().await;

    client.execute("CALL piw.remove_package('foo', skip => true)", &[]).await.unwrap();

    assert!(package_skip(&client, "foo").await.is_some_and(|s| !s.is_empty()), "foo stays, skipped");
    assert_eq!(versions(&client, "foo").await, []);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.builds WHERE package = 'foo'").await, 0);
    let jobs = queued(&client).await;
    assert!(!jobs.iter().any(|j| j.0 == "delete_package"), "{jobs:?}");
    assert_eq!(jobs.iter().filter(|j| j.0 == "delete_wheel").count(), 3, "{jobs:?}");
    assert!(jobs.contains(&job("simple", "foo", "")), "{jobs:?}");
}

#[tokio::test]
async fn skip_and_unskip_package_store_the_reason_and_queue_pages() {
    let (_db, client) = repository().await;

    client.execute("CALL piw.skip_package('foo')", &[]).await.unwrap();
    assert_eq!(package_skip(&client, "foo").await.as_deref(), Some("skipped by admin"));
    assert_eq!(queued(&client).await, with_moves(page_jobs(&["foo"], true), &client, "foo", None).await);

    client.execute("CALL piw.skip_package('foo', 'license forbids it')", &[]).await.unwrap();
    assert_eq!(package_skip(&client, "foo").await.as_deref(), Some("license forbids it"));

    clear_jobs(&client).await;
    client.execute("CALL piw.unskip_package('foo')", &[]).await.unwrap();
    assert_eq!(package_skip(&client, "foo").await.as_deref(), Some(""));
    assert_eq!(queued(&client).await, with_moves(page_jobs(&["foo"], true), &client, "foo", None).await);
}

#[tokio::test]
async fn skip_and_unskip_version_store_the_reason_and_queue_pages() {
    let (_db, client) = repository().await;

    client.execute("CALL piw.skip_version('foo', '1.0')", &[]).await.unwrap();
    assert_eq!(versions(&client, "foo").await[0].1, "skipped by admin");
    assert_eq!(queued(&client).await, with_moves(page_jobs(&["foo"], false), &client, "foo", Some("1.0")).await);

    client.execute("CALL piw.skip_version('foo', '2.0', 'broken upstream')", &[]).await.unwrap();
    assert_eq!(versions(&client, "foo").await[1].1, "broken upstream");

    clear_jobs(&client).await;
    client.execute("CALL piw.unskip_version('foo', '1.0')", &[]).await.unwrap();
    let foo = versions(&client, "foo").await;
    assert_eq!((foo[0].1.as_str(), foo[1].1.as_str()), ("", "broken upstream"));
    assert_eq!(queued(&client).await, with_moves(page_jobs(&["foo"], false), &client, "foo", Some("1.0")).await);
}

/// `jobs` and the moves (`place_wheel`) of the wheels of `package` (of one version, or all):
/// skipping and unskipping withholds and publishes them.
async fn with_moves(
    mut jobs: Vec<(String, String, String)>,
    client: &Client,
    package: &str,
    version: Option<&str>,
) -> Vec<(String, String, String)> {
    let files = client
        .query(
            "SELECT f.filename FROM piw.files f JOIN piw.builds b ON b.build_id = f.build_id
              WHERE b.package = $1 AND ($2::text IS NULL OR b.version = $2)",
            &[&package, &version],
        )
        .await
        .unwrap();
    assert!(!files.is_empty());
    jobs.extend(files.iter().map(|r| job("place_wheel", package, r.get(0))));
    jobs.sort();
    jobs
}

#[tokio::test]
async fn yank_and_unyank_version_flip_yanked_and_queue_pages() {
    let (_db, client) = repository().await;

    client.execute("CALL piw.yank_version('foo', '1.0')", &[]).await.unwrap();
    assert_eq!(versions(&client, "foo").await, [("1.0".into(), String::new(), true), ("2.0".into(), String::new(), false)]);
    assert_eq!(queued(&client).await, package_page_jobs(&["foo"]));

    clear_jobs(&client).await;
    client.execute("CALL piw.unyank_version('foo', '1.0')", &[]).await.unwrap();
    assert!(versions(&client, "foo").await.iter().all(|v| !v.2));
    assert_eq!(queued(&client).await, package_page_jobs(&["foo"]));
}

#[tokio::test]
async fn rebuild_queues_the_jobs_of_each_part() {
    let (_db, client) = repository().await;
    let cases: [(&str, &[(&str, &str)]); 9] = [
        ("CALL piw.rebuild('home')", &[("home", "")]),
        ("CALL piw.rebuild('search')", &[("search", "")]),
        ("CALL piw.rebuild('project', 'foo')", &[("project", "foo")]),
        ("CALL piw.rebuild('index', 'foo')", &[("project", "foo"), ("simple", "foo")]),
        // Not the package's own name: normalized first (PEP 503), then the same jobs.
        ("CALL piw.rebuild('project', 'Foo')", &[("project", "foo")]),
        ("CALL piw.rebuild('index', 'FOO')", &[("project", "foo"), ("simple", "foo")]),
        ("CALL piw.rebuild('project')", &[("project_all", "")]),
        ("CALL piw.rebuild('project', NULL)", &[("project_all", "")]),
        ("CALL piw.rebuild('index')", &[("project_all", ""), ("reconcile", ""), ("simple_all", ""), ("simple_root", "")]),
    ];
    for (sql, expected) in cases {
        clear_jobs(&client).await;
        client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let expected: Vec<_> = expected.iter().map(|(kind, package)| job(kind, package, "")).collect();
        assert_eq!(queued(&client).await, expected, "{sql}");
    }
}

#[tokio::test]
async fn unknown_package_or_version_is_p0002_naming_it_and_changes_nothing() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    add_wheel(&client, "bar", "0.1", "none").await;
    let foo = Some("package foo does not exist");
    for sql in [
        "CALL piw.remove_version('foo', '1.0')",
        "CALL piw.remove_package('foo')",
        "CALL piw.remove_package('Foo', true)",
        "CALL piw.skip_package('foo')",
        "CALL piw.unskip_package('foo')",
        "CALL piw.skip_version('foo', '1.0')",
        "CALL piw.unskip_version('foo', '1.0')",
        "CALL piw.yank_version('foo', '1.0')",
        "CALL piw.unyank_version('foo', '1.0')",
        "CALL piw.rebuild('project', 'foo')",
        "CALL piw.rebuild('index', 'FOO')",
    ] {
        assert_fails_unchanged(&client, sql, &SqlState::NO_DATA_FOUND, foo).await;
    }
    let version = Some("version 9.9 of package bar does not exist");
    for sql in [
        "CALL piw.remove_version('bar', '9.9')",
        "CALL piw.remove_version('bar', '9.9', true)",
        "CALL piw.skip_version('bar', '9.9', 'why')",
        "CALL piw.unskip_version('bar', '9.9')",
        "CALL piw.yank_version('bar', '9.9')",
        "CALL piw.unyank_version('bar', '9.9')",
    ] {
        assert_fails_unchanged(&client, sql, &SqlState::NO_DATA_FOUND, version).await;
    }
}

#[tokio::test]
async fn unknown_version_of_foo_has_the_documented_message() {
    let (_db, client) = repository().await;
    let message = Some("version 9.9 of package foo does not exist");
    assert_fails_unchanged(&client, "CALL piw.remove_version('foo', '9.9')", &SqlState::NO_DATA_FOUND, message).await;
}

#[tokio::test]
async fn invalid_arguments_are_22023_and_change_nothing() {
    let (_db, client) = repository().await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap(); // a queue that must stay as it is
    let long = "a".repeat(10_000);
    let mut calls: Vec<String> = Vec::new();
    for name in ["", "../etc", "a b", "foo'bar", "\"foo\"", "foo/bar", "-foo", "foo.", "föo", long.as_str()] {
        let name = name.replace('\'', "''");
        calls.push(format!("CALL piw.remove_version('{name}', '1.0')"));
        calls.push(format!("CALL piw.remove_package('{name}')"));
        calls.push(format!("CALL piw.skip_package('{name}')"));
        calls.push(format!("CALL piw.rebuild('index', '{name}')"));
    }
    calls.extend(
        [
            "CALL piw.remove_version(NULL, '1.0')",
            "CALL piw.remove_package(NULL)",
            "CALL piw.unskip_package(NULL)",
            "CALL piw.yank_version(NULL, '1.0')",
            "CALL piw.remove_version('foo', '')",
            "CALL piw.remove_version('foo', NULL)",
            "CALL piw.remove_version('foo', '1.0 beta')",
            "CALL piw.unyank_version('foo', E'1.0\\n')",
            "CALL piw.rebuild('bad')",
            "CALL piw.rebuild('')",
            "CALL piw.rebuild(NULL)",
            "CALL piw.rebuild(NULL, 'foo')",
            "CALL piw.rebuild('HOME')",
            "CALL piw.rebuild('home', 'foo')",
            "CALL piw.rebuild('search', 'foo')",
            "CALL piw.rebuild('home', '')",
            "CALL piw.rebuild('project', '')",
            "CALL piw.skip_package('foo', '')",
            "CALL piw.skip_package('foo', '   ')",
            "CALL piw.skip_package('foo', NULL)",
            "CALL piw.skip_version('foo', '1.0', '')",
            "CALL piw.skip_version('foo', '1.0', E' \\t')",
            "CALL piw.skip_version('foo', '1.0', NULL)",
        ]
        .map(String::from),
    );
    calls.push(format!("CALL piw.skip_package('foo', '{}')", "r".repeat(1001)));
    calls.push(format!("CALL piw.yank_version('foo', '{}')", "1".repeat(201)));
    for sql in &calls {
        assert_fails_unchanged(&client, sql, &SqlState::INVALID_PARAMETER_VALUE, None).await;
    }
    // A hostile argument comes back short and on one line.
    let error = client.batch_execute(&format!("CALL piw.remove_package('{long}')")).await.unwrap_err();
    let message = error.as_db_error().unwrap().message();
    assert!(message.len() < 120 && !message.contains('\n'), "{message}");
}

#[tokio::test]
async fn package_arguments_are_normalized() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    add_wheel(&client, "foo-bar", "1.0", "none").await;
    add_wheel(&client, "foo-bar", "2.0", "none").await;
    clear_jobs(&client).await;

    client.execute("CALL piw.remove_version('Foo_Bar', '1.0')", &[]).await.unwrap();
    assert_eq!(versions(&client, "foo-bar").await, [("2.0".into(), String::new(), false)]);
    assert!(queued(&client).await.contains(&job("delete_wheel", "foo-bar", "foo_bar-1.0-py3-none-any.whl")));

    client.execute("CALL piw.skip_package('FOO.bar', 'why')", &[]).await.unwrap();
    assert_eq!(package_skip(&client, "foo-bar").await.as_deref(), Some("why"));
    client.execute("CALL piw.yank_version('foo__-.Bar', '2.0')", &[]).await.unwrap();
    assert!(versions(&client, "foo-bar").await[0].2);
    clear_jobs(&client).await;
    client.execute("CALL piw.rebuild('project', 'Foo.Bar')", &[]).await.unwrap();
    assert_eq!(queued(&client).await, [job("project", "foo-bar", "")]);
}

#[tokio::test]
async fn normalize_name_follows_pep_503() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    for (name, normalized) in [
        ("foo", Some("foo")),
        ("Foo_Bar", Some("foo-bar")),
        ("foo.bar", Some("foo-bar")),
        ("FOO--_.bar", Some("foo-bar")),
        ("Foo_Bar.baz", Some("foo-bar-baz")),
        ("a__b__c", Some("a-b-c")),
        ("Django", Some("django")),
    ] {
        let got: Option<String> = client.query_one("SELECT piw.normalize_name($1)", &[&name]).await.unwrap().get(0);
        assert_eq!(got.as_deref(), normalized, "{name}");
    }
    assert_eq!(text(&client, "SELECT piw.normalize_name(NULL)").await, None);
}

#[tokio::test]
async fn packages_check_rejects_names_that_are_not_normalized() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let long = "a".repeat(201);
    for name in ["Foo", "foo_bar", "foo.bar", "foo--bar", "-foo", "foo-", "", "a b", long.as_str()] {
        let sql = format!("INSERT INTO piw.packages (package) VALUES ('{name}')");
        assert_fails_unchanged(&client, &sql, &SqlState::CHECK_VIOLATION, None).await;
    }
    client.batch_execute("INSERT INTO piw.packages (package) VALUES ('foo-bar2')").await.unwrap();
}

#[tokio::test]
async fn racing_removals_of_one_version_second_waits_then_finds_it_gone() {
    let (db, mut a) = repository().await;
    let b = db.connect().await;
    let b_pid: i32 = b.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);

    let transaction = a.transaction().await.unwrap();
    transaction.execute("CALL piw.remove_version('foo', '1.0')", &[]).await.unwrap();
    let racer = tokio::spawn(async move { b.execute("CALL piw.remove_version('foo', '1.0')", &[]).await });

    let watcher = db.connect().await;
    wait_until("session B to wait for A's row lock", Duration::from_secs(60), || async {
        watcher.query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", &[&b_pid]).await.unwrap().is_some()
    })
    .await;
    assert!(!racer.is_finished(), "B is blocked while A's transaction is open");
    transaction.commit().await.unwrap();

    let error = racer.await.unwrap().unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::NO_DATA_FOUND));
    // Gone, and the audit log says who removed it (A, as the same role here) and when.
    let message = error.as_db_error().unwrap().message();
    assert!(message.starts_with("version 1.0 of package foo was removed at "), "{message}");
    assert!(message.ends_with(" UTC by postgres"), "{message}");
    assert_eq!(versions(&watcher, "foo").await.len(), 1);
    let wheel_jobs = snapshot_all(&watcher).await.iter().filter(|row| row.contains("\"delete_wheel\"")).count();
    assert_eq!(wheel_jobs, 1, "only A queued the wheel's deletion");
}
