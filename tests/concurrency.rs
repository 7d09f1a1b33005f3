//! Several listeners on one queue, several clients at once: the invariant holds, and an older
//! render of a page can never land after a newer one.
mod support;
use support::wheels::Wheel;

use std::time::Duration;

use piw::{pages::Output, site::OutputDir};
use support::{
    bulk,
    daemon::{drained, output_dir, RunningListener},
    fixtures::{hold_file_commits, release_file_commits, scalar},
    invariant::{self, Placed},
    process::{ListenerProcess, Spawn},
    wait_until, TestDb,
};
use tokio_postgres::{error::SqlState, Client};

const LISTENERS: usize = 3;
const CLIENTS: usize = 4;
const REQUESTS_PER_CLIENT: usize = 100;

/// One random admin request against packages pkg-1 ... pkg-N (some of which are gone by then).
fn random_request(rng: &mut fastrand::Rng, packages: i32) -> (String, Vec<String>) {
    let package = format!("pkg-{}", rng.i32(1..=packages));
    let version = if rng.bool() { "1.0" } else { "2.0" }.to_owned();
    let p = |sql: &str| (sql.to_owned(), vec![package.clone()]);
    let pv = |sql: &str| (sql.to_owned(), vec![package.clone(), version.clone()]);
    match rng.u8(0..16) {
        0 => pv("CALL piw.remove_version($1, $2)"),
        1 => pv("CALL piw.remove_version($1, $2, skip => true)"),
        2 => p("CALL piw.remove_package($1)"),
        3 => p("CALL piw.remove_package($1, skip => true)"),
        4 => p("CALL piw.skip_package($1, 'busy')"),
        5 => p("CALL piw.unskip_package($1)"),
        6 => pv("CALL piw.skip_version($1, $2, 'flaky')"),
        7 => pv("CALL piw.unskip_version($1, $2)"),
        8 => pv("CALL piw.yank_version($1, $2)"),
        9 => pv("CALL piw.unyank_version($1, $2)"),
        10 => ("CALL piw.rebuild('index')".into(), vec![]),
        11 => ("CALL piw.rebuild('project')".into(), vec![]),
        12 => (format!("UPDATE piw.packages SET description = 'edited {}' WHERE package = $1", rng.u32(..)), vec![package]),
        13 => pv("CALL piw.hold_version($1, $2, 'in review')"),
        14 => pv("CALL piw.release_version($1, $2)"),
        _ => (
            "DELETE FROM piw.files f USING piw.builds b WHERE f.build_id = b.build_id AND b.package = $1 AND b.version = $2".into(),
            vec![package, version],
        ),
    }
}

async fn run_requests(client: Client, seed: u64, packages: i32) -> (usize, usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let (mut done, mut not_found) = (0, 0);
    for _ in 0..REQUESTS_PER_CLIENT {
        let (sql, args) = random_request(&mut rng, packages);
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        match client.execute(sql.as_str(), &params).await {
            Ok(_) => done += 1,
            // Another client removed it first.
            Err(e) if e.code() == Some(&SqlState::NO_DATA_FOUND) => not_found += 1,
            // Refused by state (SQLSTATE class PW: unskipping what is not skipped, releasing
            // what is not held): nothing changed.
            Err(e) if e.code().is_some_and(|code| code.code().starts_with("PW")) => not_found += 1,
            Err(e) => panic!("{sql} {args:?}: {e:?}"),
        }
    }
    (done, not_found)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_listeners_under_requests_from_several_clients_keep_the_invariant() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let packages = 120;
    bulk::repository(&client, packages).await;
    let out = output_dir();
    let root = out.path();
    let placed: Placed = bulk::place_wheels(&client, root).await;
    let verbose = || Spawn { args: vec!["--verbose".into()], ..Spawn::default() };
    let listeners: Vec<ListenerProcess> = (0..LISTENERS).map(|_| ListenerProcess::start_with(&db, root, verbose())).collect();

    let mut clients = Vec::new();
    for n in 0..CLIENTS {
        let requester = db.connect().await;
        clients.push(tokio::spawn(run_requests(requester, 0x5eed + n as u64, packages)));
    }
    let (mut done, mut not_found) = (0, 0);
    for c in clients {
        let (d, n) = c.await.expect("client task");
        (done, not_found) = (done + d, not_found + n);
    }
    bulk::wait_drained(&client, || listeners.iter().map(ListenerProcess::log).collect::<Vec<_>>().join("\n----\n")).await;

    let busy = scalar(&client, "SELECT count(*) FROM piw.listeners").await;
    assert_eq!(busy, LISTENERS as i64, "every listener registered");
    invariant::assert_holds(&client, root, &placed).await;
    for listener in listeners {
        let jobs = listener.log().lines().filter(|l| l.contains(" done")).count();
        assert!(jobs > 0, "every listener did some of the work:\n{}", listener.log());
        listener.stop();
    }
    println!("concurrency: {LISTENERS} listeners, {CLIENTS} clients, {done} requests done, {not_found} found their target gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_page_never_lands_beside_a_full_rebuild_so_an_older_render_cannot_land_last() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 3).await;
    let out = output_dir();
    let root = out.path();
    let first = RunningListener::start(&db, root.to_owned());
    drained(&client).await;
    first.stop().await;

    // A slow listener claims a full rebuild of the project pages and renders them from the rows as
    // they are now ...
    client.execute("CALL piw.rebuild('project')", &[]).await.unwrap();
    let options = piw::queue::ClaimOptions { max_jobs: 1, ..Default::default() };
    let claimed = piw::queue::claim(&client, "slow-1-0000", options).await.unwrap();
    assert_eq!(claimed.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(), ["project_all"]);
    let mut old_render = Vec::new();
    piw::pages::all_project(&client, &mut |o: Output| {
        old_render.push(o);
        Ok(())
    })
    .await
    .unwrap();

    // ... then a package changes and a fast listener runs beside it.
    client.execute("UPDATE piw.packages SET description = 'the newer text' WHERE package = 'pkg-2'", &[]).await.unwrap();
    let fast = RunningListener::start(&db, root.to_owned());
    wait_until("the fast listener to do what it may", Duration::from_secs(30), || async {
        scalar(&client, "SELECT (SELECT count(*) FROM piw.requests) + (SELECT count(*) FROM piw.jobs WHERE state = 'pending' AND kind NOT IN ('simple', 'project'))").await == 0
    })
    .await;
    let blocked = scalar(&client, "SELECT count(*) FROM piw.jobs WHERE state = 'pending' AND package = 'pkg-2'").await;
    assert_eq!(blocked, 2, "pkg-2's simple and project pages wait for the full rebuild");
    assert_eq!(bulk::pages_containing(root, "the newer text"), 0, "not written beside the full rebuild");

    // The slow listener's older render lands; only then is the newer page written, over it.
    let output = OutputDir::open(root).unwrap();
    for o in &old_render {
        if let Output::Write { path, bytes } = o {
            output.write(path, bytes).unwrap();
        }
    }
    assert!(piw::queue::complete(&client, "slow-1-0000", &claimed[0]).await.unwrap());
    drained(&client).await;
    fast.stop().await;
    assert_eq!(bulk::pages_containing(root, "the newer text"), 1);
    invariant::assert_holds(&client, root, &Placed::new()).await;
}

/// Sessions of this database waiting for a lock (an advisory one, a row's, a transaction's).
const WAITING_SESSIONS: &str = "SELECT count(DISTINCT l.pid) FROM pg_locks l \
     WHERE NOT l.granted AND l.pid IN (SELECT a.pid FROM pg_stat_activity a WHERE a.datname = current_database())";

/// Import a wheel again while the deletion of its earlier copy is queued, and let the listener
/// try that deletion between the importer's writing the file and its commit (a deferred trigger
/// holds the commit until the test says go).
async fn reimport_during_queued_deletion(removal: &str) {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let root = out.path();
    let output = OutputDir::open(root).unwrap();
    let sources = tempfile::tempdir().unwrap();
    let wheel = sources.path().join("Again-1.0-py3-none-any.whl");
    std::fs::write(&wheel, Wheel::new("Again", "1.0").bytes()).unwrap();
    let mut importer = db.connect().await;
    piw::import::import_wheel(&mut importer, &output, &wheel).await.unwrap();
    client.batch_execute(removal).await.unwrap();
    hold_file_commits(&client).await;

    let mut second = Wheel::new("Again", "1.0");
    second.extra.push(("again/second.py".into(), b"second = True\n".to_vec()));
    std::fs::write(&wheel, second.bytes()).unwrap();
    let import = tokio::spawn(async move {
        let imported = piw::import::import_wheel(&mut importer, &output, &wheel).await;
        imported.map(|i| (i.package, i.filename))
    });
    wait_until("the importer to reach its commit", Duration::from_secs(30), || async { scalar(&client, WAITING_SESSIONS).await == 1 })
        .await;
    let listener = RunningListener::start(&db, root.to_owned());
    // The deletion is done, or waits for the importer (one more lock waiting).
    wait_until("the listener to try the deletion", Duration::from_secs(30), || async {
        scalar(&client, "SELECT (SELECT count(*) FROM piw.requests WHERE kind LIKE 'delete%') + (SELECT count(*) FROM piw.jobs WHERE kind LIKE 'delete%')").await == 0
            || scalar(&client, WAITING_SESSIONS).await >= 2
    })
    .await;
    release_file_commits(&client).await;
    let placed: Placed = [import.await.unwrap().expect("import")].into_iter().collect();
    drained(&client).await;
    listener.stop().await;
    invariant::assert_holds(&client, root, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wheel_imported_again_while_its_deletion_is_queued_stays() {
    reimport_during_queued_deletion("CALL piw.remove_version('again', '1.0')").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_imported_again_while_its_directories_deletion_is_queued_keeps_its_wheel() {
    reimport_during_queued_deletion("CALL piw.remove_package('again')").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_are_kept_while_a_long_transaction_counts_on_the_awake_listener() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 1).await;
    let out = output_dir();
    let root = out.path();
    let placed: Placed = bulk::place_wheels(&client, root).await;
    let mut options = piw::listener::ListenerOptions::new(root.to_owned());
    (options.lease, options.heartbeat_interval) = (Duration::from_secs(3), Duration::from_millis(200));
    let listener = RunningListener::start_with(&db, options);
    drained(&client).await;

    // A wheel deletion that cannot finish yet (its package's wheels lock is ours) keeps the
    // listener awake and holding a job ...
    let holder = db.connect().await;
    holder.batch_execute("BEGIN; SELECT piw.lock_wheels('pkg-1', true)").await.unwrap();
    client.execute("CALL piw.remove_version('pkg-1', '1.0')", &[]).await.unwrap();
    wait_until("the deletion to be claimed", Duration::from_secs(30), || async {
        scalar(&client, "SELECT count(*) FROM piw.jobs WHERE kind = 'delete_wheel' AND state = 'running'").await == 1
    })
    .await;
    // (The listener says it is awake once its jobs have started.)
    wait_until("the listener to say it is awake", Duration::from_secs(30), || async {
        scalar(&client, "SELECT count(*) FROM piw.listeners WHERE awake").await == 1
    })
    .await;
    // ... while a long transaction queues work counting on it (and so holds the wake lock: the
    // listener cannot sleep until it ends).
    let mut importer = db.connect().await;
    let long = importer.transaction().await.unwrap();
    long.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    let held = scalar(
        &client,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND relation = 'piw.wake_lock'::regclass \
         AND mode = 'RowExclusiveLock' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await;
    assert_eq!(held, 1, "the transaction counting on the awake listener holds the wake lock");

    // More than two leases later the job is still the listener's: its heartbeats went through.
    let until: f64 = client.query_one("SELECT extract(epoch FROM now())::float8 + 7", &[]).await.unwrap().get(0);
    wait_until("two leases and more to pass", Duration::from_secs(30), || async {
        client.query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[]).await.unwrap().get::<_, f64>(0) > until
    })
    .await;
    let live = scalar(
        &client,
        "SELECT count(*) FROM piw.jobs WHERE kind = 'delete_wheel' AND state = 'running' AND locked_until > clock_timestamp()",
    )
    .await;
    assert_eq!(live, 1, "the lease of the job in hand was extended");

    long.commit().await.unwrap();
    holder.batch_execute("COMMIT").await.unwrap();
    drained(&client).await;
    listener.stop().await;
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs").await, 0);
    invariant::assert_holds(&client, root, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_package_and_remove_version_of_one_of_its_versions_do_not_deadlock() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 1).await;
    // remove_version's first step (locking its version row), held open ...
    let mut first = db.connect().await;
    let version = first.transaction().await.unwrap();
    version.batch_execute("SELECT 1 FROM piw.versions WHERE package = 'pkg-1' AND version = '1.0' FOR UPDATE").await.unwrap();
    // ... while remove_package runs until it has to wait ...
    let second = db.connect().await;
    let package = tokio::spawn(async move { second.batch_execute("CALL piw.remove_package('pkg-1')").await });
    wait_until("remove_package to wait", Duration::from_secs(30), || async {
        scalar(&client, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").await > 0
    })
    .await;
    // ... then the rest of remove_version: both must succeed, in some order.
    version.batch_execute("CALL piw.remove_version('pkg-1', '1.0')").await.expect("remove_version, not a deadlock");
    version.commit().await.unwrap();
    package.await.unwrap().expect("remove_package, not a deadlock");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.packages").await, 0);
}
