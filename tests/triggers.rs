//! Direct DML, as an importer or psql would do it: the triggers turn every change that affects the
//! published site into queued work, once per target, and the filename constraint keeps paths safe.
mod support;

use support::{fixtures::*, TestDb};
use tokio_postgres::{error::SqlState, Client};

/// foo 1.0 with one build (no files yet), and an empty queue. Returns the build's id.
async fn one_build() -> (TestDb, Client, i64) {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let build = add_build(&client, "foo", "1.0").await;
    clear_jobs(&client).await;
    (db, client, build)
}

fn with(mut jobs: Vec<(String, String, String)>, extra: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    jobs.extend(extra.iter().map(|(k, p, f)| job(k, p, f)));
    jobs.sort();
    jobs
}

#[tokio::test]
async fn inserting_a_file_queues_its_package_pages_and_the_next_count_the_home_page() {
    let (_db, client, build) = one_build().await;
    client.batch_execute("SELECT piw.count_downloads('0')").await.unwrap();
    clear_jobs(&client).await;
    insert_file(&client, build, "foo-1.0-py3-none-any.whl").await.unwrap();
    assert_eq!(queued(&client).await, package_page_jobs(&["foo"]));
    client.batch_execute("SELECT piw.count_downloads('0')").await.unwrap();
    assert_eq!(queued(&client).await, with(package_page_jobs(&["foo"]), &[("home", "", "")]), "its file count changed");
}

#[tokio::test]
async fn deleting_a_file_queues_deletion_of_its_wheel() {
    let (_db, client, build) = one_build().await;
    insert_file(&client, build, "foo-1.0-py3-none-any.whl").await.unwrap();
    clear_jobs(&client).await;

    client.batch_execute("DELETE FROM piw.files WHERE filename = 'foo-1.0-py3-none-any.whl'").await.unwrap();
    let expected = with(page_jobs(&["foo"], false), &[("delete_wheel", "foo", "foo-1.0-py3-none-any.whl")]);
    assert_eq!(queued(&client).await, expected);
}

#[tokio::test]
async fn renaming_a_file_queues_deletion_of_the_old_wheel() {
    let (_db, client, build) = one_build().await;
    insert_file(&client, build, "foo-1.0-py3-none-any.whl").await.unwrap();
    clear_jobs(&client).await;

    client.batch_execute("UPDATE piw.files SET filename = 'foo-1.0-py2.py3-none-any.whl'").await.unwrap();
    let expected = with(page_jobs(&["foo"], false), &[("delete_wheel", "foo", "foo-1.0-py3-none-any.whl")]);
    assert_eq!(queued(&client).await, expected);
}

/// Every delete that reaches files (directly, or through builds, versions or packages) queues the
/// deletion of each wheel, with its package known.
#[tokio::test]
async fn deleting_builds_versions_or_packages_queues_every_wheel() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    for (statement, package_goes) in [
        ("DELETE FROM piw.builds WHERE package = 'foo'", false),
        ("DELETE FROM piw.versions WHERE package = 'foo'", false),
        ("DELETE FROM piw.packages WHERE package = 'foo'", true),
    ] {
        client.batch_execute("DELETE FROM piw.packages").await.unwrap();
        small_repository(&client).await;
        let wheels: Vec<String> = client
            .query("SELECT filename FROM piw.files WHERE filename LIKE 'foo-%' ORDER BY 1", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(wheels.len(), 3);
        clear_jobs(&client).await;

        client.batch_execute(statement).await.unwrap();

        let jobs = queued(&client).await;
        let deleted: Vec<_> = jobs.iter().filter(|j| j.0 == "delete_wheel").cloned().collect();
        let expected: Vec<_> = wheels.iter().map(|w| job("delete_wheel", "foo", w)).collect();
        assert_eq!(deleted, expected, "{statement}");
        assert_eq!(jobs.contains(&job("delete_package", "foo", "")), package_goes, "{statement}: {jobs:?}");
        assert!(jobs.contains(&job("home", "", "")) && jobs.contains(&job("search", "", "")), "{statement}: {jobs:?}");
        assert!(!jobs.iter().any(|j| j.1 == "bar"), "{statement}: bar untouched: {jobs:?}");
        assert_eq!(scalar(&client, "SELECT count(*) FROM piw.files WHERE filename LIKE 'foo-%'").await, 0);
        assert_eq!(scalar(&client, "SELECT count(*) FROM piw.files").await, 1, "bar's file stays");
    }
}

#[tokio::test]
async fn yanking_by_update_queues_the_package_pages() {
    let (_db, client, build) = one_build().await;
    insert_file(&client, build, "foo-1.0-py3-none-any.whl").await.unwrap();
    clear_jobs(&client).await;
    client.batch_execute("UPDATE piw.versions SET yanked = true WHERE package = 'foo'").await.unwrap();
    assert_eq!(queued(&client).await, package_page_jobs(&["foo"]));
    client.batch_execute("UPDATE piw.versions SET skip = 'broken' WHERE package = 'foo'").await.unwrap();
    assert_eq!(
        queued(&client).await,
        with(page_jobs(&["foo"], false), &[("place_wheel", "foo", "foo-1.0-py3-none-any.whl")]),
        "a skip changes the listing: home and search at once (and withholds the wheel)"
    );
}

#[tokio::test]
async fn description_update_queues_the_package_pages_and_a_skip_the_listing() {
    let (_db, client, _) = one_build().await;
    client.batch_execute("UPDATE piw.packages SET description = 'Foo does things'").await.unwrap();
    assert_eq!(queued(&client).await, package_page_jobs(&["foo"]), "what the home page, search and root do not show");
    clear_jobs(&client).await;
    client.batch_execute("UPDATE piw.packages SET skip = 'gone'").await.unwrap();
    assert_eq!(queued(&client).await, page_jobs(&["foo"], true), "a skip changes the listing");
}

#[tokio::test]
async fn bulk_insert_in_one_statement_queues_each_target_once() {
    let (_db, client, build) = one_build().await;
    let bar = add_build(&client, "bar", "0.1").await;
    clear_jobs(&client).await;
    let inserted = client
        .execute(
            "INSERT INTO piw.files (filename, build_id, filesize, filehash, package_tag, package_version_tag,
                                    py_version_tag, abi_tag, platform_tag)
             SELECT format('pkg-%s-py3-none-any.whl', i), CASE WHEN i % 2 = 0 THEN $1::bigint ELSE $2::bigint END,
                    i, repeat('b', 64), 'pkg', i::text, 'py3', 'none', 'any'
               FROM generate_series(1, 1000) AS i",
            &[&build, &bar],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1000);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.requests").await, 2, "one request per package (index)");
    assert_eq!(queued(&client).await, package_page_jobs(&["bar", "foo"]));
}

#[tokio::test]
async fn many_statements_in_one_transaction_queue_each_target_once() {
    let (_db, mut client, build) = one_build().await;
    let transaction = client.transaction().await.unwrap();
    for i in 0..50 {
        insert_file(&transaction, build, &format!("foo-1.0.{i}-py3-none-any.whl")).await.unwrap();
        transaction.batch_execute("UPDATE piw.versions SET released = now() WHERE package = 'foo'").await.unwrap();
    }
    add_downloads(&transaction, "foo-1.0.0-py3-none-any.whl", 5).await;
    transaction.commit().await.unwrap();
    // Every statement logs its requests; moving them into jobs folds each target's into one.
    assert!(scalar(&client, "SELECT count(*) FROM piw.requests").await > 2);
    client.batch_execute("SELECT count(*) FROM piw.claim_jobs('T', 0)").await.unwrap();
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs").await, 2, "rows in piw.jobs");
    assert_eq!(queued(&client).await, package_page_jobs(&["foo"]));
}

#[tokio::test]
async fn logging_downloads_queues_nothing_and_deleting_them_queues_home_and_search() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    clear_jobs(&client).await;
    // piw.count_downloads() counts them once a minute and queues the pages (tests/downloads.rs).
    add_downloads(&client, "bar-0.1-py3-none-any.whl", 10).await;
    assert_eq!(queued(&client).await, []);
    client.batch_execute("DELETE FROM piw.downloads WHERE filename = 'bar-0.1-py3-none-any.whl'").await.unwrap();
    assert_eq!(queued(&client).await, [job("home", "", ""), job("search", "", "")]);
}

#[tokio::test]
async fn dependencies_insert_queues_the_project_page() {
    let (_db, client, build) = one_build().await;
    insert_file(&client, build, "foo-1.0-py3-none-any.whl").await.unwrap();
    clear_jobs(&client).await;
    client
        .batch_execute(
            "INSERT INTO piw.dependencies (filename, tool, dependency)
             VALUES ('foo-1.0-py3-none-any.whl', 'apt', 'libfoo1'), ('foo-1.0-py3-none-any.whl', 'pip', 'bar')",
        )
        .await
        .unwrap();
    assert_eq!(queued(&client).await, [job("project", "foo", "")]);
}

#[tokio::test]
async fn unsafe_filenames_are_check_violations_and_change_nothing() {
    let (_db, client, build) = one_build().await;
    insert_file(&client, build, "foo-1.0-py3-none-any.whl").await.unwrap();
    let long = format!("{}.whl", "f".repeat(296));
    assert_eq!(long.len(), 300);
    let too_long_utf8 = format!("{}.whl", "é".repeat(126)); // 126 characters, 256 bytes
    for name in ["../x.whl", "a/b.whl", "a\\b.whl", ".hidden.whl", "", "x\ny.whl", "x\ty.whl", long.as_str(), too_long_utf8.as_str()] {
        let sql = format!(
            "INSERT INTO piw.files (filename, build_id, filesize, filehash, package_tag, package_version_tag,
                                    py_version_tag, abi_tag, platform_tag)
             VALUES ({}, {build}, 1, repeat('a', 64), 'foo', '1.0', 'py3', 'none', 'any')",
            literal(name)
        );
        assert_fails_unchanged(&client, &sql, &SqlState::CHECK_VIOLATION, None).await;
        let rename = format!("UPDATE piw.files SET filename = {}", literal(name));
        assert_fails_unchanged(&client, &rename, &SqlState::CHECK_VIOLATION, None).await;
    }
    insert_file(&client, build, &"f".repeat(255)).await.expect("255 bytes is allowed");
}

/// A SQL string literal for any text (E'' with backslashes and quotes escaped).
fn literal(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('\'', "\\'").replace('\n', "\\n").replace('\t', "\\t");
    format!("E'{escaped}'")
}

/// TRUNCATE skips the triggers that delete wheels, so it is refused (even for a superuser) on every
/// table whose rows publish wheels, directly or by CASCADE; downloads and the queue are not guarded.
#[tokio::test]
async fn truncate_of_a_publishing_table_is_refused_and_changes_nothing() {
    let (_db, client, build) = one_build().await;
    insert_file(&client, build, "foo-1.0-py3-none-any.whl").await.unwrap();
    for sql in
        ["TRUNCATE piw.files CASCADE", "TRUNCATE piw.builds CASCADE", "TRUNCATE piw.versions CASCADE", "TRUNCATE piw.packages CASCADE"]
    {
        assert_fails_unchanged(&client, sql, &SqlState::FEATURE_NOT_SUPPORTED, None).await;
    }
    let error = client.batch_execute("TRUNCATE piw.files CASCADE").await.unwrap_err();
    let message = error.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(message.starts_with("TRUNCATE of piw.files is refused"), "{message}");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.files").await, 1);
    client.batch_execute("TRUNCATE piw.jobs").await.unwrap();
}
