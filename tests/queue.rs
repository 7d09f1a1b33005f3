//! The durable queue in SQL: coalescing, leases, failures and retries, the NOTIFY that wakes
//! listeners (sent only while one sleeps: holds piw.wake_lock on its presence session), and the
//! presence that says a listener is alive.
mod support;

use support::{fixtures::*, wait_until, TestDb};
use tokio_postgres::Client;

async fn empty_queue() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let client = db.connect().await;
    (db, client)
}

/// `piw.claim_jobs` as (job_id, kind, attempts).
async fn claim(client: &Client, sql: &str) -> Vec<(i64, String, i32)> {
    client
        .query(&format!("SELECT job_id, kind, attempts FROM {sql}"), &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn status(client: &Client) -> (i64, i64, i64, bool) {
    let row = client.query_one("SELECT * FROM piw.queue_status()", &[]).await.unwrap();
    let oldest: Option<String> = client.query_one("SELECT oldest_pending::text FROM piw.queue_status()", &[]).await.unwrap().get(0);
    (row.get("pending"), row.get("running"), row.get("failed"), oldest.is_some())
}

async fn call(client: &Client, sql: &str) -> bool {
    client.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

#[tokio::test]
async fn requests_from_separate_transactions_coalesce_into_one_claim() {
    let (_db, client) = empty_queue().await;
    for _ in 0..3 {
        client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    }
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.requests").await, 3, "one row per request");
    assert_eq!(status(&client).await, (1, 0, 0, true), "pending counts targets");

    let claimed = claim(&client, "piw.claim_jobs('L1')").await;
    assert_eq!(claimed.iter().map(|c| (c.1.as_str(), c.2)).collect::<Vec<_>>(), [("home", 1)]);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs").await, 1, "the claim deleted the covered rows");
    assert_eq!(status(&client).await, (0, 1, 0, false));
}

#[tokio::test]
async fn a_packages_index_request_is_one_row_and_becomes_its_simple_and_project_jobs() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("INSERT INTO piw.packages (package) VALUES ('foo')").await.unwrap();
    clear_jobs(&client).await;
    client.batch_execute("CALL piw.rebuild('index', 'foo'); CALL piw.rebuild('project', 'foo')").await.unwrap();
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.requests").await, 2, "one row per call");
    assert_eq!(status(&client).await, (2, 0, 0, true), "pending counts the pages: foo's simple and project");

    let mut kinds: Vec<String> = claim(&client, "piw.claim_jobs('L1')").await.into_iter().map(|c| c.1).collect();
    kinds.sort();
    assert_eq!(kinds, ["project", "simple"], "the project page requested twice is one job");
    assert_eq!(status(&client).await, (0, 2, 0, false));
}

#[tokio::test]
async fn requests_in_one_transaction_become_one_job_per_target() {
    let (_db, mut client) = empty_queue().await;
    let transaction = client.transaction().await.unwrap();
    for _ in 0..3 {
        transaction.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    }
    transaction.batch_execute("CALL piw.rebuild('search'); CALL piw.rebuild('search')").await.unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(queued(&client).await, [job("home", "", ""), job("search", "", "")]);
    assert_eq!(status(&client).await, (2, 0, 0, true));

    assert_eq!(claim(&client, "piw.claim_jobs('L1', 0)").await, [], "max_jobs 0 only moves the requests");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.requests").await, 0);
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs").await, 2, "one job per target");
    assert_eq!(status(&client).await, (2, 0, 0, true));
}

/// A request for a target whose job is pending and due joins that job (keeping the older
/// created_at, which `--wait` counts by); one for a target whose job waits out a retry's backoff
/// becomes a job of its own, due now.
#[tokio::test]
async fn a_request_joins_a_due_job_of_its_target_but_not_one_in_backoff() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    claim(&client, "piw.claim_jobs('L1', 0)").await;
    let first_created = text(&client, "SELECT created_at::text FROM piw.jobs").await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    claim(&client, "piw.claim_jobs('L1', 0)").await;
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs").await, 1, "joined the due job");
    assert_eq!(text(&client, "SELECT created_at::text FROM piw.jobs").await, first_created, "the older stamp stays");

    let id = claim(&client, "piw.claim_jobs('L1')").await[0].0;
    assert!(call(&client, &format!("SELECT piw.fail_job({id}, 'L1', 'disk full', interval '1 hour')")).await);
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    claim(&client, "piw.claim_jobs('L1', 0)").await;
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs WHERE run_after <= now()").await, 1, "a new job, due now");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs").await, 2);
    let claimed = claim(&client, "piw.claim_jobs('L1')").await;
    assert_eq!(claimed.iter().map(|c| (c.1.as_str(), c.2)).collect::<Vec<_>>(), [("home", 2)], "covers the one in backoff");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs").await, 1);
    assert_eq!(text(&client, "SELECT created_at::text FROM piw.jobs").await, first_created, "and keeps its stamp");
}

#[tokio::test]
async fn request_arriving_while_target_runs_is_not_lost() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    let first = claim(&client, "piw.claim_jobs('L1')").await;
    assert_eq!(first.len(), 1);

    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    assert_eq!(status(&client).await, (1, 1, 0, true));
    assert!(call(&client, &format!("SELECT piw.complete_job({}, 'L1')", first[0].0)).await);

    assert_eq!(queued(&client).await, [job("home", "", "")], "the later request is still pending");
    let second = claim(&client, "piw.claim_jobs('L1')").await;
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].0, first[0].0);
}

#[tokio::test]
async fn claim_never_hands_out_a_target_that_is_running() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    let first = claim(&client, "piw.claim_jobs('L1')").await;
    client.batch_execute("CALL piw.rebuild('home'); CALL piw.rebuild('search')").await.unwrap();

    let other = claim(&client, "piw.claim_jobs('L2')").await;
    assert_eq!(other.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(), ["search"], "home waits");
    assert_eq!(claim(&client, "piw.claim_jobs('L1')").await, [], "not even to its own listener");
    let running = scalar(&client, "SELECT count(*) FROM piw.jobs WHERE state = 'running' AND kind = 'home'").await;
    assert_eq!(running, 1);
    assert!(call(&client, &format!("SELECT piw.complete_job({}, 'L1')", first[0].0)).await);
    assert_eq!(claim(&client, "piw.claim_jobs('L2')").await.len(), 1, "home is claimable once done");
}

#[tokio::test]
async fn expired_lease_is_claimed_again_by_another_listener() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    let first = claim(&client, "piw.claim_jobs('L1', 16, interval '0')").await;
    assert_eq!(first[0].2, 1);

    let second = claim(&client, "piw.claim_jobs('L2', 16, interval '5 minutes')").await;
    assert_eq!(second, [(first[0].0, "home".into(), 2)]);
    assert_eq!(text(&client, "SELECT locked_by FROM piw.jobs").await.as_deref(), Some("L2"));
    assert!(!call(&client, &format!("SELECT piw.complete_job({}, 'L1')", first[0].0)).await, "L1 lost it");
    assert!(!call(&client, &format!("SELECT piw.fail_job({}, 'L1', 'late', NULL)", first[0].0)).await);
    assert_eq!(status(&client).await, (0, 1, 0, false), "the wrong listener changed nothing");
    assert!(call(&client, &format!("SELECT piw.complete_job({}, 'L2')", first[0].0)).await);
    assert_eq!(status(&client).await, (0, 0, 0, false));
}

#[tokio::test]
async fn a_job_done_or_failed_after_its_lease_passed_is_queued_again() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('search'); CALL piw.rebuild('home')").await.unwrap();
    let first = claim(&client, "piw.claim_jobs('L1', 16, interval '0')").await;
    assert_eq!(first.len(), 2);
    // L1 stalled past its lease; L2 took both jobs and did them.
    let second = claim(&client, "piw.claim_jobs('L2')").await;
    for (id, ..) in &second {
        assert!(call(&client, &format!("SELECT piw.complete_job({id}, 'L2')")).await);
    }
    // L1 wakes and reports: what it wrote may be older than what L2 wrote, so both targets are
    // queued again, to be redone from the rows as they are then.
    let [(a, kind_a, _), (b, kind_b, _)] = [first[0].clone(), first[1].clone()];
    assert!(!call(&client, &format!("SELECT piw.complete_job({a}, 'L1', '{kind_a}', '', '')")).await);
    assert!(!call(&client, &format!("SELECT piw.fail_job({b}, 'L1', 'late', NULL, '{kind_b}', '', '')")).await);
    assert_eq!(queued(&client).await, [job("home", "", ""), job("search", "", "")]);
}

#[tokio::test]
async fn expired_leases_beyond_max_attempts_fail() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('search')").await.unwrap();
    assert_eq!(claim(&client, "piw.claim_jobs('L1', 16, interval '0', 2)").await[0].2, 1);
    assert_eq!(claim(&client, "piw.claim_jobs('L2', 16, interval '0', 2)").await[0].2, 2);

    assert_eq!(claim(&client, "piw.claim_jobs('L3', 16, interval '0', 2)").await, []);
    assert_eq!(status(&client).await, (0, 0, 1, false));
    let error = text(&client, "SELECT last_error FROM piw.jobs WHERE state = 'failed'").await.unwrap();
    assert!(error.contains("lease lost 2 times") && error.contains("L2"), "{error}");
}

#[tokio::test]
async fn fail_job_with_retry_in_waits_then_without_gives_up() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    let id = claim(&client, "piw.claim_jobs('L1')").await[0].0;

    assert!(call(&client, &format!("SELECT piw.fail_job({id}, 'L1', 'disk full', interval '1 hour')")).await);
    let later =
        scalar(&client, "SELECT count(*) FROM piw.jobs WHERE state = 'pending' AND run_after > now() + interval '59 minutes'").await;
    assert_eq!(later, 1);
    assert_eq!(text(&client, "SELECT last_error FROM piw.jobs").await.as_deref(), Some("disk full"));
    assert_eq!(status(&client).await, (1, 0, 0, true));
    assert_eq!(claim(&client, "piw.claim_jobs('L1')").await, [], "not before run_after");

    client.batch_execute("UPDATE piw.jobs SET run_after = now()").await.unwrap();
    let again = claim(&client, "piw.claim_jobs('L1')").await;
    assert_eq!(again, [(id, "home".into(), 2)]);
    assert!(call(&client, &format!("SELECT piw.fail_job({id}, 'L1', 'still full', NULL)")).await);
    assert_eq!(status(&client).await, (0, 0, 1, false));
    assert_eq!(text(&client, "SELECT last_error FROM piw.jobs WHERE state = 'failed'").await.as_deref(), Some("still full"));
    assert_eq!(claim(&client, "piw.claim_jobs('L1')").await, [], "failed jobs stay failed");
}

/// A retry that falls due between a claim that found nothing and the listener's question "when is
/// something next due?" is due now, not at the fallback poll (CI once waited an hour-long poll out
/// this way); one that was already due when the claim looked (so a conflict held it) is not.
#[tokio::test]
async fn a_retry_due_since_the_last_claim_is_due_now() {
    use std::time::Duration;
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    let id = claim(&client, "piw.claim_jobs('L1')").await[0].0;
    assert!(call(&client, &format!("SELECT piw.fail_job({id}, 'L1', 'disk full', interval '1 hour')")).await);
    let in_an_hour = piw::queue::next_due_in(&client, Duration::ZERO).await.unwrap().expect("a retry waits");
    assert!(in_an_hour > Duration::from_secs(3500), "{in_an_hour:?}");

    client.batch_execute("UPDATE piw.jobs SET run_after = now() - interval '2 seconds'").await.unwrap();
    let since_claim = Duration::from_secs(10);
    assert_eq!(piw::queue::next_due_in(&client, since_claim).await.unwrap(), Some(Duration::ZERO), "fell due after the claim");
    assert_eq!(piw::queue::next_due_in(&client, Duration::from_secs(1)).await.unwrap(), None, "was due when the claim looked");
}

#[tokio::test]
async fn retry_failed_puts_failed_jobs_back_with_fresh_attempts() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('home'); CALL piw.rebuild('search')").await.unwrap();
    for (id, _, _) in claim(&client, "piw.claim_jobs('L1')").await {
        assert!(call(&client, &format!("SELECT piw.fail_job({id}, 'L1', 'boom', NULL)")).await);
    }
    assert_eq!(status(&client).await, (0, 0, 2, false));

    client.batch_execute("CALL piw.retry_failed()").await.unwrap();
    assert_eq!(status(&client).await, (2, 0, 0, true));
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs WHERE state = 'pending' AND attempts = 0").await, 2);
    let claimed = claim(&client, "piw.claim_jobs('L2')").await;
    assert_eq!(claimed.iter().map(|c| c.2).collect::<Vec<_>>(), [1, 1]);
}

#[tokio::test]
async fn queue_status_counts_each_state() {
    let (_db, client) = empty_queue().await;
    assert_eq!(status(&client).await, (0, 0, 0, false), "empty: oldest_pending is null");
    client.batch_execute("CALL piw.rebuild('home'); CALL piw.rebuild('search')").await.unwrap();
    client.batch_execute("CALL piw.rebuild('index')").await.unwrap();
    assert_eq!(status(&client).await, (6, 0, 0, true), "home, search, simple_all, project_all, simple_root, reconcile");
    let positive = scalar(&client, "SELECT count(*) FROM piw.queue_status() WHERE oldest_pending >= interval '0'").await;
    assert_eq!(positive, 1);

    let claimed = claim(&client, "piw.claim_jobs('L1', 2)").await;
    assert_eq!(claimed.len(), 2);
    assert!(call(&client, &format!("SELECT piw.fail_job({}, 'L1', 'x', NULL)", claimed[0].0)).await);
    assert_eq!(status(&client).await, (4, 1, 1, true));
}

/// A session asleep as a listener's presence session is (see `piw::queue::presence`), and its
/// process id.
async fn sleeper(db: &TestDb) -> (Client, i32) {
    let session = db.connect().await;
    let pid = piw::queue::presence(&session).await.unwrap();
    assert!(piw::queue::try_sleep(&session).await.unwrap(), "nothing counts on an awake listener");
    (session, pid)
}

#[tokio::test]
async fn enqueue_notifies_a_sleeping_listener_once_per_transaction() {
    let (db, client) = empty_queue().await;
    let mut listener = Listener::start(&db.config).await;
    let _asleep = sleeper(&db).await;

    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    assert_eq!(listener.next().await, ("piw_jobs".into(), String::new()));

    // One transaction queueing several targets wakes listeners once.
    client.batch_execute("BEGIN; CALL piw.rebuild('home'); CALL piw.rebuild('search'); CALL piw.rebuild('index'); COMMIT").await.unwrap();
    client.batch_execute("SELECT pg_notify('piw_jobs', 'marker')").await.unwrap();
    assert_eq!(listener.next().await.1, "");
    assert_eq!(listener.next().await.1, "marker", "exactly one wake-up for the transaction");
}

/// A savepoint rolled back takes its requests and its NOTIFY with it; the requests after it queue
/// and wake afresh, once for the transaction.
#[tokio::test]
async fn a_request_after_a_rolled_back_savepoint_queues_and_wakes() {
    let (db, client) = empty_queue().await;
    let mut listener = Listener::start(&db.config).await;
    let _asleep = sleeper(&db).await;
    client
        .batch_execute(
            "BEGIN; SAVEPOINT a; CALL piw.rebuild('home'); ROLLBACK TO SAVEPOINT a;
             CALL piw.rebuild('home'); CALL piw.rebuild('home'); COMMIT",
        )
        .await
        .unwrap();
    assert_eq!(queued(&client).await, [job("home", "", "")]);
    client.batch_execute("SELECT pg_notify('piw_jobs', 'marker')").await.unwrap();
    assert_eq!(listener.next().await.1, "", "woken");
    assert_eq!(listener.next().await.1, "marker");

    client.batch_execute("BEGIN; CALL piw.rebuild('home'); COMMIT").await.unwrap();
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.requests").await, 3, "every request is logged");
    assert_eq!(listener.next().await.1, "", "a new transaction wakes again");
}

#[tokio::test]
async fn enqueue_skips_notify_unless_a_listener_sleeps() {
    let (db, client) = empty_queue().await;
    let mut listener = Listener::start(&db.config).await;
    let other = db.connect().await;

    // Nobody asleep (listeners awake, or none at all): no NOTIFY, at any isolation level, from
    // procedures and triggers alike.
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; CALL piw.rebuild('search'); COMMIT").await.unwrap();
    client.batch_execute("INSERT INTO piw.packages (package) VALUES ('foo')").await.unwrap();
    other.batch_execute("SELECT pg_notify('piw_jobs', 'marker 1')").await.unwrap();
    assert_eq!(listener.next().await.1, "marker 1", "no wake-up while nobody sleeps");
    assert_eq!(queued(&client).await.len(), 5, "the work was queued all the same");

    // A listener asleep: woken.
    let (asleep, pid) = sleeper(&db).await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    assert_eq!(listener.next().await.1, "", "asleep: woken");
    // Awake again (it let go of the lock): no NOTIFY.
    piw::queue::wake(&asleep).await.unwrap();
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    other.batch_execute("SELECT pg_notify('piw_jobs', 'marker 2')").await.unwrap();
    assert_eq!(listener.next().await.1, "marker 2");
    // Asleep, then its session killed: its sleep ended with it.
    assert!(piw::queue::try_sleep(&asleep).await.unwrap());
    client.execute("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
    wait_until("the session to end", std::time::Duration::from_secs(30), || async {
        scalar(&client, &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}")).await == 0
    })
    .await;
    client.batch_execute("CALL piw.rebuild('search')").await.unwrap();
    other.batch_execute("SELECT pg_notify('piw_jobs', 'marker 3')").await.unwrap();
    assert_eq!(listener.next().await.1, "marker 3");
}

#[tokio::test]
async fn a_listener_cannot_sleep_while_a_transaction_that_counted_on_it_is_open() {
    let (db, client) = empty_queue().await;
    let mut heard = Listener::start(&db.config).await;
    let awake = db.connect().await;
    piw::queue::presence(&awake).await.unwrap();
    let open = db.connect().await;
    open.batch_execute("BEGIN; CALL piw.rebuild('home')").await.unwrap();

    // Asleep now, the listener would never see that work: it stays awake, without waiting for
    // the commit (the limit only keeps a broken test from hanging) ...
    let asked = tokio::time::timeout(std::time::Duration::from_secs(60), piw::queue::try_sleep(&awake));
    assert!(!asked.await.expect("waited for the open transaction").unwrap(), "still awake");
    // ... and other enqueuers go on, without NOTIFY.
    client.batch_execute("CALL piw.rebuild('search')").await.unwrap();
    client.batch_execute("SELECT pg_notify('piw_jobs', 'marker')").await.unwrap();
    assert_eq!(heard.next().await.1, "marker");

    open.batch_execute("COMMIT").await.unwrap();
    assert!(piw::queue::try_sleep(&awake).await.unwrap(), "asleep once it has committed");
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    assert_eq!(heard.next().await.1, "", "asleep: woken");
}

/// Left open for the listener's life, the presence transaction must hold back nothing: no
/// transaction id, no snapshot (vacuum would keep every dead row of the queue meanwhile).
#[tokio::test]
async fn the_presence_session_holds_back_nothing_awake_or_asleep() {
    let (db, client) = empty_queue().await;
    let session = db.connect().await;
    let pid = piw::queue::presence(&session).await.unwrap();
    let holds = || async {
        scalar(
            &client,
            &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)"),
        )
        .await
    };
    assert_eq!(holds().await, 0, "present");
    assert!(piw::queue::try_sleep(&session).await.unwrap());
    assert_eq!(holds().await, 0, "asleep");
    piw::queue::wake(&session).await.unwrap();
    assert_eq!(holds().await, 0, "awake again");
    assert_eq!(
        scalar(&client, &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND state = 'idle in transaction'")).await,
        1
    );
    // Sleep after sleep nests nothing: no savepoint is left behind.
    for _ in 0..3 {
        assert!(piw::queue::try_sleep(&session).await.unwrap());
        piw::queue::wake(&session).await.unwrap();
    }
    let error = session.batch_execute("RELEASE SAVEPOINT asleep").await.expect_err("no savepoint left");
    assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::S_E_INVALID_SPECIFICATION), "{error}");
}

#[tokio::test]
async fn the_jobs_of_a_listener_whose_presence_session_ended_go_back_at_once() {
    let (db, client) = empty_queue().await;
    let present = db.connect().await;
    let pid = piw::queue::presence(&present).await.unwrap();
    client.batch_execute("CALL piw.rebuild('home'); CALL piw.rebuild('search')").await.unwrap();
    let lease = std::time::Duration::from_secs(3600);
    piw::queue::heartbeat(&client, "L1", true, lease, Some(pid), 10).await.unwrap();
    let options = piw::queue::ClaimOptions { max_jobs: 2, lease, max_attempts: 10 };
    assert_eq!(piw::queue::claim(&client, "L1", options).await.unwrap().len(), 2);

    // Alive (its presence session holds on), its jobs are its own for the hour of its lease.
    assert!(claim(&client, "piw.claim_jobs('L2')").await.is_empty());
    assert_eq!(piw::queue::heartbeat(&client, "L2", true, lease, None, 10).await.unwrap(), 0);

    // Gone: the next heartbeat of another listener hands them back (and wakes the others) ...
    client.execute("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
    wait_until("the session to end", std::time::Duration::from_secs(30), || async {
        scalar(&client, &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}")).await == 0
    })
    .await;
    let mut heard = Listener::start(&db.config).await;
    assert_eq!(piw::queue::heartbeat(&client, "L2", true, lease, None, 10).await.unwrap(), 2);
    assert_eq!(heard.next().await.1, "");
    assert_eq!(status(&client).await, (2, 0, 0, true));
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.listeners WHERE listener_id = 'L1'").await, 0, "its row went");
    // ... and so does a claim, without waiting for a heartbeat.
    piw::queue::heartbeat(&client, "L3", true, lease, Some(pid), 10).await.unwrap();
    assert_eq!(claim(&client, "piw.claim_jobs('L3')").await.len(), 2);
    assert_eq!(claim(&client, "piw.claim_jobs('L4')").await.len(), 2, "L3's presence pid holds nothing");
}

/// A job that kills every listener that runs it (a crash in its page, say) fails after
/// max_attempts, whether the heartbeat or a claim finds its listener gone.
#[tokio::test]
async fn a_job_that_keeps_losing_its_listener_fails_after_max_attempts() {
    let (db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    let lease = std::time::Duration::from_secs(3600);
    for round in 1..=3 {
        let present = db.connect().await;
        let pid = piw::queue::presence(&present).await.unwrap();
        piw::queue::heartbeat(&client, "doomed", true, lease, Some(pid), 3).await.unwrap();
        let options = piw::queue::ClaimOptions { max_jobs: 1, lease, max_attempts: 3 };
        assert_eq!(piw::queue::claim(&client, "doomed", options).await.unwrap().len(), 1, "round {round}");
        client.execute("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
        wait_until("the session to end", std::time::Duration::from_secs(30), || async {
            scalar(&client, &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}")).await == 0
        })
        .await;
        let back = piw::queue::heartbeat(&client, "survivor", true, lease, None, 3).await.unwrap();
        if round < 3 {
            assert_eq!(back, 1, "round {round}: back in the queue");
        } else {
            assert_eq!(back, 0, "the third loss: not back");
        }
    }
    assert_eq!(status(&client).await, (0, 0, 1, false), "failed, not retried for ever");
    let error = support::fixtures::text(&client, "SELECT last_error FROM piw.jobs").await.unwrap_or_default();
    assert!(error.starts_with("lease lost 3 times"), "{error}");
}

#[tokio::test]
async fn listener_leave_returns_its_jobs_to_the_queue() {
    let (_db, client) = empty_queue().await;
    client.batch_execute("CALL piw.rebuild('home'); SELECT piw.listener_heartbeat('L1', true)").await.unwrap();
    let id = claim(&client, "piw.claim_jobs('L1')").await[0].0;
    client.batch_execute("SELECT piw.listener_leave('L1')").await.unwrap();
    assert_eq!(status(&client).await, (1, 0, 0, true));
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.listeners").await, 0);
    assert_eq!(claim(&client, "piw.claim_jobs('L2')").await, [(id, "home".into(), 2)]);
}

/// A connection whose statements, those inside functions too, are explained with their actual
/// row counts (auto_explain), the plans coming back as notices.
async fn explaining(db: &TestDb) -> (Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (client, plans) = connect_keeping(&db.config, |message| match message {
        tokio_postgres::AsyncMessage::Notice(notice) => Some(notice.message().to_owned()),
        _ => None,
    })
    .await;
    client
        .batch_execute(
            "LOAD 'auto_explain';
             SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
             SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice;",
        )
        .await
        .expect("auto_explain");
    (client, plans)
}

/// The rows the plans received so far compared and threw away in joins and filters: the work a
/// plan does beyond what it returns.
fn rows_removed(plans: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> u64 {
    let mut removed = 0;
    while let Ok(plan) = plans.try_recv() {
        for line in plan.lines() {
            if let Some((_, count)) = line.split_once("Rows Removed by ") {
                removed += count.split_once(": ").and_then(|(_, n)| n.trim().parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    removed
}

#[tokio::test]
async fn a_claim_under_a_backlog_walks_indexes_whatever_the_queue_held_when_first_planned() {
    let db = TestDb::new().await;
    let (client, mut plans) = explaining(&db).await;
    // The session's first claim finds the queue empty, and known to be (autovacuum has seen it
    // so on an idle site): its plans are made, and kept, for tables of no rows.
    client.batch_execute("VACUUM ANALYZE piw.jobs, piw.requests").await.unwrap();
    assert_eq!(claim(&client, "piw.claim_jobs('L1')").await, []);
    client
        .batch_execute(
            "INSERT INTO piw.jobs (kind, package) SELECT 'project', 'p' || i FROM generate_series(1, 3000) i;
             INSERT INTO piw.requests (kind, package) SELECT 'project', 'p' || (1 + i % 1500) FROM generate_series(1, 3000) i;",
        )
        .await
        .unwrap();
    rows_removed(&mut plans);

    let claimed = claim(&client, "piw.claim_jobs('L1', 16)").await;
    assert_eq!(claimed.len(), 16);
    // Folding 1,500 targets into 3,000 jobs by comparing each with each threw away millions of
    // rows (and took seconds); walking indexes throws away next to none.
    let removed = rows_removed(&mut plans);
    assert!(removed < 3000, "the claim compared {removed} rows and threw them away");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.requests").await, 0, "the request log was moved");
    assert_eq!(scalar(&client, "SELECT count(*) FROM piw.jobs").await, 3000, "every request folded into its job");
}
