//! A server whose default isolation is not READ COMMITTED: piw's claims, deletions and imports
//! look again after a lock to see what committed meanwhile, and the presence transaction must
//! hold no snapshot. They say READ COMMITTED themselves, so the database's default changes nothing.
mod support;
use support::wheels::Wheel;

use piw::site::OutputDir;
use support::{bulk, daemon::output_dir, fixtures::scalar, invariant, process::ListenerProcess, wait_until, TestDb};

#[tokio::test]
async fn a_repeatable_read_default_changes_nothing_and_presence_holds_no_snapshot() {
    let db = TestDb::new().await;
    let setup = db.connect().await;
    setup.batch_execute(&format!("ALTER DATABASE {} SET default_transaction_isolation = 'repeatable read'", db.name)).await.unwrap();
    // Sessions opened from now on start with the database's setting.
    let client = db.connect().await;
    assert_eq!(
        support::fixtures::text(&client, "SELECT current_setting('default_transaction_isolation')").await.as_deref(),
        Some("repeatable read")
    );
    bulk::repository(&client, 3).await;
    let out = output_dir();
    let root = out.path();
    let mut placed = bulk::place_wheels(&client, root).await;

    let listener = ListenerProcess::start(&db, root);
    client.batch_execute("CALL piw.remove_version('pkg-1', '1.0'); CALL piw.rebuild('index')").await.unwrap();
    placed.remove(&("pkg-1".into(), "pkg_1-1.0-cp311-cp311-linux_armv7l.whl".into()));
    let sources = tempfile::tempdir().unwrap();
    let wheel = sources.path().join("Fresh-1.0-py3-none-any.whl");
    std::fs::write(&wheel, Wheel::new("Fresh", "1.0").bytes()).unwrap();
    let output = OutputDir::open(root).unwrap();
    let mut importer = db.connect().await;
    let imported = piw::import::import_wheel(&mut importer, &output, &wheel).await.unwrap();
    placed.insert((imported.package, imported.filename));
    bulk::wait_drained(&client, || listener.log()).await;

    // The presence session sits in its transaction without a snapshot: it holds back no vacuum.
    wait_until("the presence session", std::time::Duration::from_secs(60), || async {
        scalar(&client, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'piw-listener (presence)'").await == 1
    })
    .await;
    let holding = scalar(
        &client,
        "SELECT count(*) FROM pg_stat_activity
          WHERE application_name = 'piw-listener (presence)' AND state = 'idle in transaction' AND backend_xmin IS NULL",
    )
    .await;
    assert_eq!(holding, 1, "the presence transaction holds no snapshot");
    listener.stop();
    invariant::assert_holds(&client, root, &placed).await;
}
