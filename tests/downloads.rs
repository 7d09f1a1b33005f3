//! Download counts kept as the log grows (piw.count_downloads): logging costs an INSERT and queues
//! nothing, a count adds what finished transactions logged, and the pages always show the log as it
//! is (counts plus what was logged since), through open transactions, removals and corrections.
mod support;

use std::time::Duration;

use support::{daemon::*, downloads::*, fixtures::*, snapshot_all, wait_until, TestDb};
use tokio_postgres::error::SqlState;

#[tokio::test]
async fn logging_queues_nothing_and_a_count_queues_home_and_search_once_an_interval() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    count(&client, "0").await;
    clear_jobs(&client).await;

    add_downloads(&client, &wheel("bar", "0.1"), 10).await;
    assert_eq!(queued(&client).await, [], "a logged download queues nothing");
    assert_pages_match_the_log(&client, "before the count").await;

    assert_eq!(count(&client, "0").await, 10);
    assert_eq!(queued(&client).await, [job("home", "", ""), job("search", "", "")]);
    assert_eq!(counted_total(&client).await, 15, "the fixture's 5 and these 10");
    assert_pages_match_the_log(&client, "after the count").await;

    clear_jobs(&client).await;
    add_downloads(&client, &wheel("bar", "0.1"), 1).await;
    let due_in: f64 =
        client.query_one("SELECT extract(epoch FROM due_in)::float8 FROM piw.count_downloads('1 hour')", &[]).await.unwrap().get(0);
    assert!(due_in > 3000.0, "the next count is due in about an hour, not {due_in} s");
    assert_eq!(counted_total(&client).await, 15, "not due: nothing counted");
    assert_eq!(queued(&client).await, [], "not due: nothing queued");
    assert_eq!(count(&client, "0").await, 1);
    clear_jobs(&client).await;
    assert_eq!(count(&client, "0").await, 0);
    assert_eq!(queued(&client).await, [], "nothing new: nothing queued");
}

/// A log shipper paused inside its transaction, removals of versions whose downloads are partly
/// counted, corrections and deletions by hand, a file piw does not know: every count adds each
/// download once, and the pages always equal the log.
#[tokio::test]
async fn counts_follow_the_log_through_open_transactions_removals_and_corrections() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let mut shipper = db.connect().await;
    small_repository(&client).await;
    add_wheel(&client, "foo", "3.0", "none").await;
    assert_pages_match_the_log(&client, "before any count").await;
    count(&client, "0").await;

    let paused = shipper.transaction().await.unwrap();
    add_downloads(&paused, &wheel("foo", "3.0"), 7).await;
    add_downloads(&client, &wheel("foo", "3.0"), 2).await;
    add_downloads(&client, "unknown-1.0-py3-none-any.whl", 4).await;
    assert_eq!(count(&client, "0").await, 6, "the paused transaction's downloads wait");
    assert_pages_match_the_log(&client, "a shipper paused mid-transaction").await;
    paused.commit().await.unwrap();
    assert_pages_match_the_log(&client, "the shipper committed, not counted yet").await;
    assert_eq!(count(&client, "0").await, 7, "counted once it finished, not twice the others");
    assert_eq!(count(&client, "0").await, 0);

    // foo 3.0: 9 counted, 3 more logged since; the removal takes all 12.
    add_downloads(&client, &wheel("foo", "3.0"), 3).await;
    client.batch_execute("CALL piw.remove_version('foo', '3.0')").await.unwrap();
    assert_pages_match_the_log(&client, "a removal of counted and uncounted downloads").await;
    assert_eq!(count(&client, "0").await, 0, "the uncounted ones went with the removal");
    assert_pages_match_the_log(&client, "counted after the removal").await;

    // Corrections by hand: a day moved out of the last 30, a file renamed to another package's,
    // downloads deleted; counted and not counted alike.
    add_downloads(&client, &wheel("bar", "0.1"), 5).await;
    client
        .batch_execute(
            "UPDATE piw.downloads SET accessed_at = now() - interval '45 days'
              WHERE filename = 'foo-1.0-py3-none-any.whl';
             UPDATE piw.downloads SET filename = 'bar-0.1-py3-none-any.whl'
              WHERE filename = 'unknown-1.0-py3-none-any.whl';",
        )
        .await
        .unwrap();
    assert_pages_match_the_log(&client, "updates").await;
    client
        .batch_execute("DELETE FROM piw.downloads WHERE ctid IN (SELECT ctid FROM piw.downloads WHERE filename LIKE 'bar-%' LIMIT 6)")
        .await
        .unwrap();
    assert_pages_match_the_log(&client, "deletions").await;
    count(&client, "0").await;
    assert_pages_match_the_log(&client, "after the last count").await;
    assert_eq!(counted_total(&client).await, scalar(&client, "SELECT count(*) FROM piw.downloads").await);

    client.batch_execute("TRUNCATE piw.downloads").await.unwrap();
    assert_eq!(counted_total(&client).await, 0, "TRUNCATE empties the counts");
    assert_pages_match_the_log(&client, "truncated").await;
}

/// A count and a removal at once: the count waits for the removal's transaction (or the removal
/// for the count's), and no download is subtracted that was not counted or counted that is gone.
#[tokio::test]
async fn a_count_waits_for_a_removal_in_flight() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let mut remover = db.connect().await;
    small_repository(&client).await;
    add_wheel(&client, "foo", "3.0", "none").await;
    add_downloads(&client, &wheel("foo", "3.0"), 4).await;
    count(&client, "0").await;
    add_downloads(&client, &wheel("foo", "3.0"), 3).await;

    let removal = remover.transaction().await.unwrap();
    removal.batch_execute("CALL piw.remove_version('foo', '3.0')").await.unwrap();
    let counter_db = db.connect().await;
    let counter_pid: i32 = counter_db.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let counting = tokio::spawn(async move { count(&counter_db, "0").await });
    wait_until("the count to wait for the removal's lock", Duration::from_secs(30), || {
        let client = &client;
        async move {
            scalar(client, &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {counter_pid} AND wait_event_type = 'Lock'")).await
                == 1
        }
    })
    .await;
    removal.commit().await.unwrap();
    assert_eq!(counting.await.unwrap(), 0, "the 3 uncounted downloads went with the version");
    assert_pages_match_the_log(&client, "after both").await;
    assert_eq!(counted_total(&client).await, scalar(&client, "SELECT count(*) FROM piw.downloads").await);
}

#[tokio::test]
async fn counting_under_a_fixed_snapshot_is_refused_and_changes_nothing() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    small_repository(&client).await;
    let before = snapshot_all(&client).await;
    let transaction = client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).start().await.unwrap();
    let error = transaction.query("SELECT * FROM piw.count_downloads('0')", &[]).await.expect_err("refused");
    assert_eq!(error.code(), Some(&SqlState::INVALID_TRANSACTION_STATE), "{error:?}");
    drop(transaction);
    assert_eq!(snapshot_all(&client).await, before);
}

/// Another role beside us: an admin logs and corrects downloads but cannot forge which
/// transaction logged one, write the counts, or hold the counting lock; a reader reads counts.
#[tokio::test]
async fn only_piw_writes_the_counts_and_the_transaction_of_a_download() {
    let db = TestDb::new().await;
    let owner = db.connect().await;
    small_repository(&owner).await;
    let admin = db.connect_as("piw_test_dl_admin", Some("piw_admin")).await;
    let reader = db.connect_as("piw_test_dl_reader", Some("piw_reader")).await;
    admin.batch_execute("INSERT INTO piw.downloads (filename, accessed_at) VALUES ('bar-0.1-py3-none-any.whl', now())").await.unwrap();
    admin.batch_execute("UPDATE piw.downloads SET installer_name = 'pip'").await.unwrap();
    let before = snapshot_all(&owner).await;
    for sql in [
        "INSERT INTO piw.downloads (filename, accessed_at, logged_xid) VALUES ('x.whl', now(), 1)",
        "UPDATE piw.downloads SET logged_xid = 0",
        "INSERT INTO piw.download_counts VALUES ('foo', current_date, 1000000)",
        "UPDATE piw.download_counts SET downloads = 1000000",
        "DELETE FROM piw.download_counts",
        "UPDATE piw.download_totals SET total = 1000000",
        "INSERT INTO piw.download_totals VALUES ('foo', 1, 1)",
        "SELECT * FROM piw.download_counting FOR UPDATE",
        "SELECT * FROM piw.download_counting FOR SHARE",
        "UPDATE piw.download_counting SET counted_at = now()",
    ] {
        let error = admin.batch_execute(sql).await.expect_err(sql);
        assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error:?}");
    }
    for sql in ["SELECT * FROM piw.download_counting FOR SHARE", "SELECT * FROM piw.count_downloads('0')"] {
        let error = reader.batch_execute(sql).await.expect_err(sql);
        assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error:?}");
    }
    assert_eq!(snapshot_all(&owner).await, before);
    admin.batch_execute("SELECT * FROM piw.count_downloads('0')").await.unwrap();
    assert_eq!(scalar(&reader, "SELECT sum(downloads)::bigint FROM piw.download_counts").await, 6, "the fixture's 5 and the admin's 1");
}

/// The listener counts once an interval: with a long one, downloads alone leave the home page as
/// it is while a new package rewrites it at once (showing every download logged so far); with a
/// short one the downloads reach the pages by themselves.
#[tokio::test]
async fn the_listener_counts_once_an_interval_and_listing_changes_rewrite_at_once() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    let out = output_dir();
    let home = out.path().join("index.html");
    let mut options = RunningListener::options(out.path().to_owned());
    options.count_downloads_every = Duration::from_secs(3600);
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    let listener = RunningListener::start_with(&db, options);
    drained(&client).await;
    let shows = |n: i64| format!(r#"<tr><th>Downloads (all time)</th><td class="num">{n}</td></tr>"#);
    assert!(std::fs::read_to_string(&home).unwrap().contains(&shows(5)));
    wait_until("the listener's first count", Duration::from_secs(30), || {
        let client = &client;
        async move { scalar(client, "SELECT count(*) FROM piw.download_counting WHERE counted_at > now() - interval '10 minutes'").await == 1 }
    })
    .await;
    drained(&client).await;

    add_downloads(&client, &wheel("bar", "0.1"), 20).await;
    assert_eq!(queued(&client).await, [], "downloads alone wait for the next count, an hour away");
    assert!(std::fs::read_to_string(&home).unwrap().contains(&shows(5)));
    add_wheel(&client, "baz", "1.0", "none").await;
    drained(&client).await;
    let page = std::fs::read_to_string(&home).unwrap();
    assert!(page.contains(&shows(25)), "a new package rewrote the home page at once, with every download: {page}");
    listener.stop().await;

    let mut options = RunningListener::options(out.path().to_owned());
    options.count_downloads_every = Duration::from_millis(100);
    let listener = RunningListener::start_with(&db, options);
    add_downloads(&client, &wheel("bar", "0.1"), 5).await;
    wait_until("the downloads on the home page", Duration::from_secs(60), || {
        let home = &home;
        async move { std::fs::read_to_string(home).is_ok_and(|page| page.contains(&shows(30))) }
    })
    .await;
    listener.stop().await;
}
