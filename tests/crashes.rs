//! kill -9 of the listener process at many points of full rebuilds, page rewrites and removals:
//! after a restart the queue drains, nothing is marked failed, no temporary file remains and the
//! output directory is a fresh render of the database.
mod support;

use std::{fs, time::Duration};

use support::{
    bulk,
    daemon::output_dir,
    fixtures::scalar,
    invariant::{self, Placed},
    process::ListenerProcess,
    TestDb,
};
use tokio_postgres::Client;

const PACKAGES: i32 = 300;

/// Wait until `listener` holds a job and `progress()` has reached `at_least` (or the queue drained
/// first), then SIGKILL it. Returns whether it died holding work.
async fn kill_when(client: &Client, listener: ListenerProcess, at_least: usize, progress: impl Fn() -> usize) -> bool {
    let busy = bulk::wait_busy(client, listener.pid(), at_least, progress, || listener.log()).await;
    listener.kill();
    busy
}

async fn wait_drained(client: &Client, listener: &ListenerProcess) {
    bulk::wait_drained(client, || listener.log()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_killed_at_many_points_of_rebuilds_and_removals_loses_nothing() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, PACKAGES).await;
    let out = output_dir();
    let root = out.path();
    let placed: Placed = bulk::place_wheels(&client, root).await;
    let (mut kills, mut mid_work) = (0usize, 0usize);

    // The first backlog (every package's pages) is the first thing to die in.
    let listener = ListenerProcess::start(&db, root);
    mid_work += usize::from(kill_when(&client, listener, 50, || bulk::pages_containing(root, "package number")).await);
    kills += 1;
    let mut listener = ListenerProcess::start(&db, root);
    wait_drained(&client, &listener).await;
    invariant::assert_holds(&client, root, &placed).await;

    let thresholds = [0, 1, 7, 40, 120, 250, 3, 80, 200];
    let mut removed_up_to = 0;
    for round in 0..12usize {
        let at_least = thresholds[round % thresholds.len()];
        let died_working = match round % 3 {
            // Every package's description: a rewrite of every per-package page, job by job.
            0 => {
                let marker = format!("description of round {round}");
                client.execute("UPDATE piw.packages SET description = $1", &[&marker]).await.unwrap();
                kill_when(&client, listener, at_least.min(250), || bulk::pages_containing(root, &marker)).await
            }
            // A full rebuild: two jobs that stream every package.
            1 => {
                bulk::deface(root);
                client.batch_execute("CALL piw.rebuild('index'); CALL piw.rebuild('project')").await.unwrap();
                kill_when(&client, listener, at_least.min(500), || bulk::pages_containing(root, "<!DOCTYPE")).await
            }
            // Removals: versions, versions kept as skipped, whole packages; half of them asked for
            // while no listener runs.
            _ => {
                let batch: Vec<i32> = (removed_up_to + 1..=removed_up_to + 24).collect();
                removed_up_to += 24;
                let wheels: Vec<(String, String)> = batch
                    .iter()
                    .flat_map(|i| ["1.0", "2.0"].map(|v| (format!("pkg-{i}"), format!("pkg_{i}-{v}-cp311-cp311-linux_armv7l.whl"))))
                    .collect();
                let remove = |i: i32| {
                    let client = &client;
                    async move {
                        let package = format!("pkg-{i}");
                        let sql = match i % 4 {
                            0 => "CALL piw.remove_package($1)",
                            1 => "CALL piw.remove_package($1, skip => true)",
                            2 => "CALL piw.remove_version($1, '1.0')",
                            _ => "CALL piw.remove_version($1, '2.0', skip => true)",
                        };
                        client.execute(sql, &[&package]).await.unwrap_or_else(|e| panic!("{sql} {package}: {e}"));
                    }
                };
                for &i in &batch[..12] {
                    remove(i).await;
                }
                let died = kill_when(&client, listener, at_least.min(12), || bulk::wheels_gone(root, &wheels)).await;
                for &i in &batch[12..] {
                    remove(i).await;
                }
                died
            }
        };
        kills += 1;
        mid_work += usize::from(died_working);
        listener = ListenerProcess::start(&db, root);
        if round % 2 == 1 {
            // And once more, as soon as the new listener has claimed something of the backlog.
            let died = kill_when(&client, listener, 0, || 0).await;
            kills += 1;
            mid_work += usize::from(died);
            listener = ListenerProcess::start(&db, root);
        }
        wait_drained(&client, &listener).await;
        let failed = scalar(&client, "SELECT count(*) FROM piw.jobs WHERE state = 'failed'").await;
        assert_eq!(failed, 0, "round {round}: jobs failed; log:\n{}", listener.log());
        invariant::assert_holds(&client, root, &placed).await;
    }
    listener.stop();
    assert!(mid_work >= kills / 2, "most kills should land mid-work ({mid_work} of {kills})");
    println!("crashes: {kills} kill -9 of the listener survived ({mid_work} while it held jobs)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_file_left_by_a_killed_listener_goes_even_when_the_page_is_unchanged() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 3).await;
    let out = output_dir();
    let root = out.path();
    let placed = bulk::place_wheels(&client, root).await;
    let listener = ListenerProcess::start(&db, root);
    wait_drained(&client, &listener).await;

    // A listener killed between writing a temporary file and renaming it leaves the old page in
    // place; if the next render is the same as the old page, the page is not rewritten.
    for page in ["simple/pkg-1/.index.html.piw-tmp", "project/pkg-2/.index.html.piw-tmp", ".index.html.piw-tmp", ".packages.json.piw-tmp"] {
        fs::write(root.join(page), "half a page").unwrap();
    }
    client.batch_execute("CALL piw.rebuild('index'); CALL piw.rebuild('home'); CALL piw.rebuild('search')").await.unwrap();
    wait_drained(&client, &listener).await;
    listener.stop();
    invariant::assert_holds(&client, root, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queued_while_another_listener_is_awake_and_then_killed_is_done_by_the_sleeping_one() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 2).await;
    let out = output_dir();
    let root = out.path();
    let mut options = piw::listener::ListenerOptions::new(root.to_owned());
    (options.lease, options.heartbeat_interval, options.poll_interval) =
        (Duration::from_secs(1), Duration::from_millis(300), Duration::from_secs(3600));
    let listener = support::daemon::RunningListener::start_with(&db, options);
    support::daemon::drained(&client).await;
    support::wait_until("the listener to sleep", Duration::from_secs(10), || async {
        scalar(&client, "SELECT count(*) FROM piw.listeners WHERE NOT awake").await == 1
    })
    .await;

    // Another listener, awake (present, not asleep), when a change is queued; then it dies. The
    // living listener sleeps and its fallback poll is an hour away: the change must not have
    // counted on the one that died.
    let ghost = db.connect().await;
    let ghost_pid = piw::queue::presence(&ghost).await.unwrap();
    let mut heard = support::fixtures::Listener::start(&db.config).await;
    client.execute("UPDATE piw.packages SET description = 'after the ghost' WHERE package = 'pkg-1'", &[]).await.unwrap();
    assert_eq!(heard.next().await.1, "", "a listener sleeps: the change sent NOTIFY");
    client.execute("SELECT pg_terminate_backend($1)", &[&ghost_pid]).await.unwrap();
    support::daemon::drained(&client).await;
    listener.stop().await;
    assert_eq!(bulk::pages_containing(root, "after the ghost"), 1);
    invariant::assert_holds(&client, root, &Placed::new()).await;
}
