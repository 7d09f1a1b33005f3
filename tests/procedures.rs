//! The SQL procedures, called as an admin in psql would.
mod support;

use support::{fixtures::*, snapshot_all, TestDb};
use tokio_postgres::error::SqlState;

#[tokio::test]
async fn remove_version_forgets_builds_files_and_downloads() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    clear_jobs(&client).await;

    client.execute("CALL piw.remove_version('foo', '1.0')", &[]).await.unwrap();

    let versions: Vec<String> = client
        .query("SELECT version FROM piw.versions WHERE package = 'foo' ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, ["2.0"]);
    let files: i64 = client.query_one("SELECT count(*) FROM piw.files WHERE filename LIKE 'foo-1.0-%'", &[]).await.unwrap().get(0);
    assert_eq!(files, 0);
    let downloads: i64 = client.query_one("SELECT count(*) FROM piw.downloads", &[]).await.unwrap().get(0);
    assert_eq!(downloads, 2, "only foo 2.0's downloads remain");
    let jobs = queued(&client).await;
    assert!(jobs.contains(&("delete_wheel".into(), "foo".into(), "foo-1.0-py3-none-any.whl".into())), "{jobs:?}");
    for kind in ["simple", "project"] {
        assert!(jobs.contains(&(kind.into(), "foo".into(), String::new())), "{kind} page queued: {jobs:?}");
    }
    for kind in ["home", "search"] {
        assert!(jobs.contains(&(kind.into(), String::new(), String::new())), "{kind} queued: {jobs:?}");
    }
}

#[tokio::test]
async fn unknown_version_is_p0002_and_changes_nothing() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let before = snapshot_all(&client).await;

    let error = client.execute("CALL piw.remove_version('foo', '9.9')", &[]).await.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::NO_DATA_FOUND));
    assert_eq!(error.as_db_error().unwrap().message(), "version 9.9 of package foo does not exist");

    assert_eq!(snapshot_all(&client).await, before);
}
