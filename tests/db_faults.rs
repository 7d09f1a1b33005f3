//! Database faults under a running listener process: the postmaster killed with SIGKILL (crash
//! recovery), a fast restart, the listener's connections terminated, no listener at all. Each time
//! the listener reconnects with backoff, work queued meanwhile is done, and the output directory is
//! a fresh render of the database.
//!
//! The faults hit the cluster every test of this binary shares, so the tests here run one at a time.
mod support;

use support::{
    bulk, cluster,
    daemon::output_dir,
    invariant::{self, Placed},
    process::{ListenerProcess, Spawn},
    TestDb,
};
use tokio::sync::Mutex;
use tokio_postgres::Client;

static SERIAL: Mutex<()> = Mutex::const_new(());

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGKILL of the postmaster, then a restart with crash recovery.
    Crash,
    /// `pg_ctl -m fast restart`.
    FastRestart,
    /// pg_terminate_backend of every connection of the listener.
    Terminate,
}

/// A test database whose commits are durable across a postmaster crash: the test cluster runs with
/// synchronous_commit off, which could lose the last commits when its shared memory dies, and a
/// request the listener carried out would then be forgotten by the database.
async fn durable_db() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let admin = db.connect().await;
    admin.batch_execute(&format!("ALTER DATABASE {} SET synchronous_commit = on", db.name)).await.unwrap();
    let client = db.connect().await;
    (db, client)
}

/// Inject `fault`; returns a new client (the old one may have died with the server).
async fn inject(db: &TestDb, fault: Fault, client: Client) -> Client {
    match fault {
        Fault::Crash => tokio::task::spawn_blocking(|| cluster().crash_and_restart()).await.unwrap(),
        Fault::FastRestart => tokio::task::spawn_blocking(|| cluster().fast_restart()).await.unwrap(),
        Fault::Terminate => {
            // Wait for the LISTEN connection (it may still be coming back from the last fault).
            support::wait_until("the listener's LISTEN connection", std::time::Duration::from_secs(30), || async {
                listen_connections(&client).await > 0
            })
            .await;
            let terminated: i64 = client
                .query_one(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                      WHERE datname = current_database() AND application_name LIKE 'piw-listener%'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            assert!(terminated >= 2, "the listener's LISTEN connection and a pooled one terminated ({terminated})");
        }
    }
    drop(client);
    db.connect().await
}

async fn listen_connections(client: &Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'piw-listener (LISTEN)'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

fn listener(db: &TestDb, root: &std::path::Path) -> ListenerProcess {
    // No fallback poll: what the listener does after a fault, it does because it reconnected.
    ListenerProcess::start_with(db, root, Spawn { args: vec!["--poll-interval".into(), "3600".into()], ..Spawn::default() })
}

/// Queue work that takes the listener a while: rewrites of every page, a full rebuild, removals.
async fn make_work(client: &Client, root: &std::path::Path, round: usize) -> Box<dyn Fn() -> usize + Send> {
    let root = root.to_owned();
    match round % 3 {
        0 => {
            let marker = format!("description of round {round}");
            client.execute("UPDATE piw.packages SET description = $1", &[&marker]).await.unwrap();
            Box::new(move || bulk::pages_containing(&root, &marker))
        }
        1 => {
            bulk::deface(&root);
            client.batch_execute("CALL piw.rebuild('index'); CALL piw.rebuild('project')").await.unwrap();
            Box::new(move || bulk::pages_containing(&root, "<!DOCTYPE"))
        }
        _ => {
            let first = 1 + 20 * i32::try_from(round).unwrap();
            for i in first..first + 20 {
                let sql = if i % 2 == 0 { "CALL piw.remove_version($1, '1.0')" } else { "CALL piw.remove_package($1)" };
                client.execute(sql, &[&format!("pkg-{i}")]).await.unwrap();
            }
            let wheels: Vec<(String, String)> =
                (first..first + 20).map(|i| (format!("pkg-{i}"), format!("pkg_{i}-1.0-cp311-cp311-linux_armv7l.whl"))).collect();
            Box::new(move || bulk::wheels_gone(&root, &wheels))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_survives_server_crashes_restarts_and_dropped_connections_while_busy() {
    let _serial = SERIAL.lock().await;
    let (db, mut client) = durable_db().await;
    bulk::repository(&client, 300).await;
    let out = output_dir();
    let root = out.path();
    let placed: Placed = bulk::place_wheels(&client, root).await;
    let listener = listener(&db, root);
    bulk::wait_drained(&client, || listener.log()).await;

    let faults = [Fault::Crash, Fault::Terminate, Fault::FastRestart, Fault::Terminate, Fault::Crash, Fault::FastRestart];
    let thresholds = [20, 100, 5, 200, 1, 60];
    let mut mid_work = 0;
    for (round, fault) in faults.into_iter().enumerate() {
        let progress = make_work(&client, root, round).await;
        let busy = bulk::wait_busy(&client, listener.pid(), thresholds[round].min(15), progress, || listener.log()).await;
        mid_work += usize::from(busy);
        client = inject(&db, fault, client).await;
        bulk::wait_drained(&client, || listener.log()).await;
        invariant::assert_holds(&client, root, &placed).await;
    }
    let mut listener = listener;
    assert!(listener.is_running(), "the listener kept running");
    let log = listener.log();
    assert!(log.contains("reconnecting in"), "the LISTEN connection was lost and made again:\n{log}");
    listener.stop();
    assert!(mid_work >= 4, "faults should hit the listener while it works ({mid_work} of {})", faults.len());
    println!("db faults while busy: {} survived ({mid_work} mid-work): {faults:?}", faults.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queued_after_a_fault_hit_an_idle_listener_is_done() {
    let _serial = SERIAL.lock().await;
    let (db, mut client) = durable_db().await;
    bulk::repository(&client, 20).await;
    let out = output_dir();
    let root = out.path();
    let placed: Placed = bulk::place_wheels(&client, root).await;
    let mut listener = listener(&db, root);
    bulk::wait_drained(&client, || listener.log()).await;

    let faults = [Fault::Crash, Fault::FastRestart, Fault::Terminate, Fault::Crash, Fault::Terminate];
    for (round, fault) in faults.into_iter().enumerate() {
        client = inject(&db, fault, client).await;
        // Queued at once: the listener is most likely still waiting to reconnect.
        let marker = format!("queued after fault {round}");
        client.execute("UPDATE piw.packages SET description = $1 WHERE package = 'pkg-1'", &[&marker]).await.unwrap();
        client.execute("CALL piw.remove_version($1, '2.0')", &[&format!("pkg-{}", round + 2)]).await.unwrap();
        bulk::wait_drained(&client, || listener.log()).await;
        assert_eq!(bulk::pages_containing(root, &marker), 1, "after {fault:?}");
        support::wait_until("the LISTEN connection to come back", std::time::Duration::from_secs(30), || async {
            listen_connections(&client).await == 1
        })
        .await;
        invariant::assert_holds(&client, root, &placed).await;
    }
    assert!(listener.is_running());
    listener.stop();
    println!("db faults while idle: {} survived: {faults:?}", faults.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_made_while_no_listener_runs_are_done_at_its_next_start() {
    let _serial = SERIAL.lock().await;
    let (db, client) = durable_db().await;
    bulk::repository(&client, 20).await;
    let out = output_dir();
    let root = out.path();
    let placed: Placed = bulk::place_wheels(&client, root).await;
    let listener = listener(&db, root);
    bulk::wait_drained(&client, || listener.log()).await;
    listener.stop();

    client
        .batch_execute(
            "CALL piw.remove_version('pkg-1', '1.0');
             CALL piw.remove_package('pkg-2');
             CALL piw.skip_package('pkg-3', 'gone fishing');
             CALL piw.yank_version('pkg-4', '2.0');
             DELETE FROM piw.files WHERE filename = 'pkg_5-2.0-cp311-cp311-linux_armv7l.whl';
             CALL piw.rebuild('index');",
        )
        .await
        .unwrap();
    assert!(!bulk::is_drained(&client).await);
    tokio::task::spawn_blocking(|| cluster().fast_restart()).await.unwrap();
    let client = db.connect().await;

    let listener = self::listener(&db, root);
    bulk::wait_drained(&client, || listener.log()).await;
    listener.stop();
    assert!(!root.join("simple/pkg-2").exists());
    assert!(!root.join("simple/pkg-1/pkg_1-1.0-cp311-cp311-linux_armv7l.whl").exists());
    invariant::assert_holds(&client, root, &placed).await;
}
