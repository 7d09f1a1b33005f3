//! What keeps the download counts right as days pass and rows change under them: the day's fold,
//! the per-package totals the pages read (kept by a trigger on the counts, whoever writes them),
//! and a recount of the whole log.
mod support;

use support::{downloads::*, fixtures::*, snapshot_all, TestDb};
use tokio_postgres::error::SqlState;

#[tokio::test]
async fn days_leaving_the_last_30_are_folded_into_the_total() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    add_downloads(&client, &wheel("bar", "0.1"), 4).await;
    count(&client, "0").await;
    // Forty days pass for bar's downloads and their counts, as time passes: no trigger sees it
    // (as the owner: nobody else may write the counts).
    client
        .batch_execute(
            "ALTER TABLE piw.downloads DISABLE TRIGGER USER;
             UPDATE piw.downloads SET accessed_at = accessed_at - interval '40 days' WHERE filename LIKE 'bar-%';
             ALTER TABLE piw.downloads ENABLE TRIGGER USER;
             UPDATE piw.download_counts SET day = day - 40 WHERE package = 'bar' AND day > '-infinity';
             UPDATE piw.download_counting SET folded_before = folded_before - 40;",
        )
        .await
        .unwrap();
    let before = scalar(&client, "SELECT count(*) FROM piw.download_counts WHERE package = 'bar'").await;
    assert!(before >= 1);
    clear_jobs(&client).await;
    // The totals still count bar's 4 as recent until the count folds them: the pages do not.
    assert_eq!(scalar(&client, "SELECT recent FROM piw.download_totals WHERE package = 'bar'").await, 4);
    assert_pages_match_the_log(&client, "a fold due").await;

    assert_eq!(count(&client, "0").await, 0);
    assert_eq!(queued(&client).await, [job("home", "", ""), job("search", "", "")], "the last 30 days changed");
    assert_eq!(
        text(&client, "SELECT string_agg(day::text || '=' || downloads, ',') FROM piw.download_counts WHERE package = 'bar'")
            .await
            .as_deref(),
        Some("-infinity=4")
    );
    assert_eq!(scalar(&client, "SELECT recent FROM piw.download_totals WHERE package = 'bar'").await, 0);
    assert_pages_match_the_log(&client, "folded").await;
}

/// A count attributes a download to its file's package as the file's row says then: downloads
/// logged before their file's row arrived stay under '' and the pages do not show them for the
/// package. A recount takes the whole log again as the rows are now, leaves a shipper's open
/// transaction to the next count (once), and is audited.
#[tokio::test]
async fn a_recount_gives_downloads_to_files_that_arrived_after_them() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    let mut shipper = db.connect().await;
    small_repository(&client).await;
    add_downloads(&client, &wheel("late", "1.0"), 3).await;
    count(&client, "0").await;
    add_wheel(&client, "late", "1.0", "none").await;
    count(&client, "0").await;
    assert_ne!(on_the_pages(&client).await, from_the_log(&client).await, "counted under '' before the file's row came");

    let paused = shipper.transaction().await.unwrap();
    add_downloads(&paused, &wheel("late", "1.0"), 4).await;
    clear_jobs(&client).await;
    client.batch_execute("CALL piw.recount_downloads()").await.unwrap();
    assert_eq!(queued(&client).await, [job("home", "", ""), job("search", "", "")]);
    assert_pages_match_the_log(&client, "recounted").await;
    assert_eq!(scalar(&client, "SELECT total FROM piw.download_totals WHERE package = 'late'").await, 3);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.download_counts WHERE package = ''").await, 0);
    assert_eq!(
        text(&client, "SELECT changed::text FROM piw.audit WHERE action = 'recount_downloads'").await.as_deref(),
        Some(r#"{"downloads counted": 8}"#),
        "the fixture's 5 and late's 3"
    );

    paused.commit().await.unwrap();
    assert_pages_match_the_log(&client, "the shipper committed after the recount").await;
    assert_eq!(count(&client, "0").await, 4, "the open transaction's downloads, counted once");
    assert_pages_match_the_log(&client, "counted after the recount").await;
    assert_eq!(counted_total(&client).await, scalar(&client, "SELECT count(*) FROM piw.downloads").await);

    let before = snapshot_all(&client).await;
    let transaction = client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).start().await.unwrap();
    let error = transaction.batch_execute("CALL piw.recount_downloads()").await.expect_err("refused");
    assert_eq!(error.code(), Some(&SqlState::INVALID_TRANSACTION_STATE), "{error:?}");
    drop(transaction);
    assert_eq!(snapshot_all(&client).await, before);
}

/// The totals follow the counts whoever writes them: the owner by hand, a replica's apply
/// (session_replication_role = replica), a TRUNCATE.
#[tokio::test]
async fn totals_follow_every_write_of_the_counts() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    count(&client, "0").await;
    for (sql, total) in [
        ("INSERT INTO piw.download_counts VALUES ('bar', '-infinity', 7), ('new', current_date, 2)", 14),
        ("UPDATE piw.download_counts SET downloads = downloads * 10 WHERE package = 'foo'", 59),
        ("UPDATE piw.download_counts SET package = 'bar' WHERE package = 'new'", 59),
        ("DELETE FROM piw.download_counts WHERE day = '-infinity'", 52),
        (
            "BEGIN; SET LOCAL session_replication_role = replica;
             INSERT INTO piw.download_counts VALUES ('bar', current_date - 1, 1) ON CONFLICT (package, day) DO UPDATE SET downloads = 100;
             COMMIT",
            53,
        ),
        (
            "BEGIN; SET LOCAL session_replication_role = replica;
             INSERT INTO piw.download_counts VALUES ('bar', current_date - 1, 1) ON CONFLICT (package, day) DO UPDATE SET downloads = 100;
             COMMIT",
            152,
        ),
        ("TRUNCATE piw.download_counts", 0),
    ] {
        client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(support::invariant::download_count_violations(&client).await, Vec::<String>::new(), "{sql}");
        assert_eq!(scalar(&client, "SELECT coalesce(sum(total), 0)::bigint FROM piw.download_totals").await, total, "{sql}");
    }
}

/// A count that waited for the lock across midnight (UTC) while another folded the day: it
/// counts with the fold's window, so no day the fold folded comes back as a day of its own
/// (the pages read the totals' recent figure as the last 30 days once the day is folded).
#[tokio::test]
async fn a_count_behind_the_last_fold_folds_as_it_did() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    count(&client, "0").await;
    // Tomorrow's fold, as the count that waited finds it: the first day kept apart is one later.
    client.batch_execute("UPDATE piw.download_counting SET folded_before = folded_before + 1").await.unwrap();
    client
        .execute(
            "INSERT INTO piw.downloads (filename, accessed_at)
             VALUES ($1, ((now() AT TIME ZONE 'UTC')::date - 29)::timestamp AT TIME ZONE 'UTC')",
            &[&wheel("bar", "0.1")],
        )
        .await
        .unwrap();
    assert_eq!(count(&client, "0").await, 1);
    assert_eq!(support::invariant::download_count_violations(&client).await, Vec::<String>::new());
    assert_eq!(scalar(&client, "SELECT downloads FROM piw.download_counts WHERE package = 'bar' AND day = '-infinity'").await, 1);
}
