//! Listeners that stop without saying so: paused (SIGSTOP) past their lease while another takes
//! their work over, killed (SIGKILL) mid-rebuild, or asked to stop while a job cannot finish.
//! A paused listener's late writes do not survive; a killed one's jobs are taken at once, not
//! when its lease runs out; SIGTERM ends a listener within its shutdown timeout.
mod support;

use std::time::Duration;

use support::{
    bulk,
    daemon::output_dir,
    invariant,
    process::{ListenerProcess, Spawn},
    TestDb,
};

/// Pages under `root` that contain `needle`, of the `project/*/index.html` kind.
fn project_pages_with(root: &std::path::Path, needle: &str) -> usize {
    bulk::pages_containing(root, needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_paused_past_its_lease_does_not_leave_pages_older_than_the_rows() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let packages = 400;
    bulk::repository(&client, packages).await;
    let out = output_dir();
    let root = out.path();
    let placed = bulk::place_wheels(&client, root).await;
    let slow = || Spawn { args: vec!["--workers".into(), "1".into()], lease: Some(2.0), ..Spawn::default() };
    let paused = ListenerProcess::start_with(&db, root, slow());
    bulk::wait_drained(&client, || paused.log()).await;

    // A full rebuild of defaced pages: the paused listener is stopped part of the way through,
    // holding pages rendered from the rows as they were.
    bulk::deface(root);
    client.batch_execute("CALL piw.rebuild('index')").await.unwrap();
    let started = bulk::wait_busy(&client, paused.pid(), 1, || project_pages_with(root, "package number"), || paused.log()).await;
    assert!(started, "the rebuild ran");
    paused.signal(libc::SIGSTOP);
    let before_pause = project_pages_with(root, "package number");

    // Every description changes; another listener takes the work over once the lease passes,
    // and finishes it.
    client.batch_execute("UPDATE piw.packages SET description = 'the newer text'").await.unwrap();
    let other = ListenerProcess::start(&db, root);
    bulk::wait_drained(&client, || other.log()).await;
    assert_eq!(project_pages_with(root, "the newer text"), packages as usize, "all new while the first is paused");

    // Thawed, the first listener finishes its pass from its old rows; its late report puts the
    // target back in the queue, and the pages are rewritten from the rows as they are.
    paused.signal(libc::SIGCONT);
    support::wait_until("the thawed listener to report its pass", Duration::from_secs(120), || async {
        paused.log().contains("queued again")
    })
    .await;
    bulk::wait_drained(&client, || paused.log()).await;
    other.stop();
    paused.stop();
    assert!(before_pause < packages as usize, "paused part of the way through ({before_pause} pages)");
    assert_eq!(project_pages_with(root, "the newer text"), packages as usize);
    invariant::assert_holds(&client, root, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_of_a_killed_listener_are_taken_at_once_not_when_its_lease_runs_out() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 600).await;
    let out = output_dir();
    let root = out.path();
    let placed = bulk::place_wheels(&client, root).await;
    let patient = || Spawn { args: vec!["--workers".into(), "1".into()], lease: Some(300.0), ..Spawn::default() };
    let killed = ListenerProcess::start_with(&db, root, patient());
    bulk::wait_drained(&client, || killed.log()).await;

    bulk::deface(root);
    client.batch_execute("CALL piw.rebuild('index')").await.unwrap();
    assert!(bulk::wait_busy(&client, killed.pid(), 1, || project_pages_with(root, "package number"), || killed.log()).await);
    killed.kill();
    // The killed listener's jobs are leased for five minutes ...
    let leased_until: f64 = client
        .query_one("SELECT extract(epoch FROM max(locked_until))::float8 FROM piw.jobs WHERE state = 'running'", &[])
        .await
        .unwrap()
        .get(0);
    let next = ListenerProcess::start_with(&db, root, patient());
    bulk::wait_drained(&client, || next.log()).await;
    // ... and were done long before that, by the next listener.
    let now: f64 = client.query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[]).await.unwrap().get(0);
    assert!(now < leased_until - 240.0, "done {:.0} s before the lease would have run out", leased_until - now);
    next.stop();
    invariant::assert_holds(&client, root, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_back_a_job_that_cannot_finish_within_the_shutdown_timeout() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 2).await;
    let out = output_dir();
    let root = out.path();
    let placed = bulk::place_wheels(&client, root).await;
    let spawn = Spawn { args: vec!["--shutdown-timeout".into(), "1".into()], lease: Some(300.0), ..Spawn::default() };
    let listener = ListenerProcess::start_with(&db, root, spawn);
    bulk::wait_drained(&client, || listener.log()).await;

    // A wheel's deletion waits for the package's wheels lock, which an importer holds.
    let importer = db.connect().await;
    importer.batch_execute("BEGIN; SELECT piw.lock_wheels('pkg-1')").await.unwrap();
    client.batch_execute("CALL piw.remove_version('pkg-1', '1.0')").await.unwrap();
    support::wait_until("the deletion to wait for the lock", Duration::from_secs(60), || async {
        support::fixtures::scalar(&client, "SELECT count(*) FROM piw.jobs WHERE kind = 'delete_wheel' AND state = 'running'").await == 1
            && support::fixtures::scalar(&client, "SELECT count(*) FROM pg_locks WHERE NOT granted").await > 0
    })
    .await;
    let status = listener.terminate();
    assert_eq!(status.code(), Some(0), "a clean exit");
    assert_eq!(
        support::fixtures::scalar(&client, "SELECT count(*) FROM piw.jobs WHERE kind = 'delete_wheel' AND state = 'pending'").await,
        1,
        "the deletion went back to the queue"
    );
    importer.batch_execute("COMMIT").await.unwrap();
    let next = ListenerProcess::start(&db, root);
    bulk::wait_drained(&client, || next.log()).await;
    next.stop();
    let placed: invariant::Placed = placed.into_iter().filter(|(_, f)| !f.starts_with("pkg_1-1.0")).collect();
    invariant::assert_holds(&client, root, &placed).await;
}
