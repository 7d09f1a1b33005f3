//! The durable work queue, as the listener and the status tools see it. The rows and rules live in
//! SQL (migrations/V002__queue.sql, sql/procedures/claim_jobs.sql ...); this is their Rust face.

use std::time::{Duration, SystemTime};

use tokio_postgres::{GenericClient, ToStatement};

use crate::error::Result;

/// The channel listeners LISTEN on; enqueuers NOTIFY it at most once per transaction.
pub const CHANNEL: &str = "piw_jobs";

/// `piw.queue_status()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    pub pending: i64,
    pub running: i64,
    pub failed: i64,
    /// Age of the oldest pending request, in whole microseconds; `None` when nothing is pending.
    pub oldest_pending: Option<Duration>,
}

impl QueueStatus {
    /// Nothing pending and nothing running (failed jobs wait for `piw.retry_failed()`).
    pub fn is_drained(&self) -> bool {
        self.pending == 0 && self.running == 0
    }
}

pub async fn status(client: &impl GenericClient) -> Result<QueueStatus> {
    let row = client
        .query_one("SELECT pending, running, failed, extract(epoch FROM oldest_pending)::float8 FROM piw.queue_status()", &[])
        .await?;
    Ok(QueueStatus {
        pending: row.try_get(0)?,
        running: row.try_get(1)?,
        failed: row.try_get(2)?,
        oldest_pending: row.try_get::<_, Option<f64>>(3)?.map(|secs| Duration::from_secs_f64(secs.max(0.0))),
    })
}

/// What a job does; mirrors the `kind` column of `piw.jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Task {
    Home,
    Search,
    SimpleRoot,
    Simple { package: String },
    Project { package: String },
    SimpleAll,
    ProjectAll,
    DeleteWheel { package: String, filename: String },
    DeletePackage { package: String },
}

impl Task {
    fn from_row(kind: &str, package: String, filename: String) -> Option<Task> {
        Some(match kind {
            "home" => Task::Home,
            "search" => Task::Search,
            "simple_root" => Task::SimpleRoot,
            "simple" => Task::Simple { package },
            "project" => Task::Project { package },
            "simple_all" => Task::SimpleAll,
            "project_all" => Task::ProjectAll,
            "delete_wheel" => Task::DeleteWheel { package, filename },
            "delete_package" => Task::DeletePackage { package },
            _ => return None,
        })
    }
}

/// A claimed job, leased to one listener until it completes or fails it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    /// `None` for a kind this build does not know (a newer schema): the listener fails it.
    pub task: Option<Task>,
    pub kind: String,
    /// How many times this job has been claimed, this claim included.
    pub attempts: i32,
}

/// Lease and retry settings of a claimer.
#[derive(Debug, Clone, Copy)]
pub struct ClaimOptions {
    pub max_jobs: i32,
    pub lease: Duration,
    pub max_attempts: i32,
}

impl Default for ClaimOptions {
    fn default() -> Self {
        ClaimOptions { max_jobs: 16, lease: Duration::from_secs(300), max_attempts: 10 }
    }
}

/// The statements a listener runs for every job or claim. [`claim`], [`complete`] and
/// [`heartbeat`] send their text; a listener prepares them once per connection (a statement sent
/// as text costs a round trip and a parse of its own every time) and calls the `*_with` forms.
pub const CLAIM_SQL: &str = "SELECT job_id, kind, package, filename, attempts
                               FROM piw.claim_jobs($1, $2, make_interval(secs => $3), $4)";
/// Whether any request is waiting or any pending job is due: a listener's cheap look at the queue
/// between claims.
pub const ANY_DUE_SQL: &str = "SELECT EXISTS (SELECT 1 FROM piw.requests)
                                   OR EXISTS (SELECT 1 FROM piw.jobs WHERE state = 'pending' AND run_after <= now())";
pub const COMPLETE_SQL: &str = "SELECT piw.complete_job($1, $2)";
pub const HEARTBEAT_SQL: &str = "SELECT piw.listener_heartbeat($1, $2, make_interval(secs => $3))";

/// `piw.claim_jobs`: up to `max_jobs` jobs, coalesced, leased to `listener`.
pub async fn claim(client: &impl GenericClient, listener: &str, options: ClaimOptions) -> Result<Vec<Job>> {
    claim_with(client, CLAIM_SQL, listener, options).await
}

/// [`claim`] through `statement`: [`CLAIM_SQL`], as text or prepared on this connection.
pub async fn claim_with<S>(client: &impl GenericClient, statement: &S, listener: &str, options: ClaimOptions) -> Result<Vec<Job>>
where
    S: ?Sized + ToStatement + Sync + Send,
{
    let rows = client.query(statement, &[&listener, &options.max_jobs, &options.lease.as_secs_f64(), &options.max_attempts]).await?;
    rows.into_iter()
        .map(|row| {
            let kind: String = row.try_get(1)?;
            Ok(Job { id: row.try_get(0)?, task: Task::from_row(&kind, row.try_get(2)?, row.try_get(3)?), kind, attempts: row.try_get(4)? })
        })
        .collect()
}

/// `piw.complete_job`: false if the lease had passed to another listener.
pub async fn complete(client: &impl GenericClient, listener: &str, job_id: i64) -> Result<bool> {
    complete_with(client, COMPLETE_SQL, listener, job_id).await
}

/// [`complete`] through `statement`: [`COMPLETE_SQL`], as text or prepared on this connection.
pub async fn complete_with<S>(client: &impl GenericClient, statement: &S, listener: &str, job_id: i64) -> Result<bool>
where
    S: ?Sized + ToStatement + Sync + Send,
{
    Ok(client.query_one(statement, &[&job_id, &listener]).await?.try_get(0)?)
}

/// `piw.fail_job`: retry after `retry_in`, or give up (state failed) when it is `None`.
pub async fn fail(client: &impl GenericClient, listener: &str, job_id: i64, error: &str, retry_in: Option<Duration>) -> Result<bool> {
    let retry_secs = retry_in.map(|d| d.as_secs_f64());
    Ok(client
        .query_one("SELECT piw.fail_job($1, $2, $3, make_interval(secs => $4))", &[&job_id, &listener, &error, &retry_secs])
        .await?
        .try_get(0)?)
}

/// `piw.listener_heartbeat`: alive, awake or not, leases extended by `lease`; whether the
/// listener is awake now (asking to sleep while a transaction that counted on it is open leaves
/// it awake). Awake takes the awake lock on this session and asleep lets go of it on this
/// session: a listener makes all its heartbeats on one session (a listener's own do: see
/// `listener::presence`).
pub async fn heartbeat(client: &impl GenericClient, listener: &str, awake: bool, lease: Duration) -> Result<bool> {
    heartbeat_with(client, HEARTBEAT_SQL, listener, awake, lease).await
}

/// [`heartbeat`] through `statement`: [`HEARTBEAT_SQL`], as text or prepared on this connection.
pub async fn heartbeat_with<S>(client: &impl GenericClient, statement: &S, listener: &str, awake: bool, lease: Duration) -> Result<bool>
where
    S: ?Sized + ToStatement + Sync + Send,
{
    Ok(client.query_one(statement, &[&listener, &awake, &lease.as_secs_f64()]).await?.try_get(0)?)
}

/// `piw.listener_leave`: unfinished jobs go back to the queue; on the session of the listener's
/// heartbeats, its awake lock is let go.
pub async fn leave(client: &impl GenericClient, listener: &str) -> Result<()> {
    client.execute("SELECT piw.listener_leave($1)", &[&listener]).await?;
    Ok(())
}

/// How long until the queue next has something runnable without anyone asking: the earliest retry
/// of a failed job, or the earliest lease to run out. `None` when nothing is waiting for a time.
///
/// `since_claim` is how long ago the last claim that found nothing was sent. A retry that fell due
/// after that claim looked (a loaded machine can take longer between the two statements than a
/// short retry delay) is due now: `Some(0)`, not forgotten until the fallback poll. Pending jobs
/// that were already runnable when the claim looked but wait for a conflicting running job do not
/// count: the listener running that job claims them itself when it is done.
pub async fn next_due_in(client: &impl GenericClient, since_claim: Duration) -> Result<Option<Duration>> {
    let since_claim = since_claim.as_secs_f64();
    let row = client
        .query_one(
            "SELECT extract(epoch FROM least(
                        (SELECT min(run_after) FROM piw.jobs
                          WHERE state = 'pending' AND run_after > now() - make_interval(secs => $1)),
                        (SELECT min(locked_until) FROM piw.jobs WHERE state = 'running')) - now())::float8",
            &[&since_claim],
        )
        .await?;
    Ok(row.try_get::<_, Option<f64>>(0)?.map(|secs| Duration::from_secs_f64(secs.max(0.0))))
}

/// The server's clock now: `--wait` waits for the work requested up to then, not for work
/// requested later. (A request is stamped with the start of its transaction, and a job keeps the
/// oldest stamp of the requests it covers.)
pub async fn watermark(client: &impl GenericClient) -> Result<SystemTime> {
    Ok(client.query_one("SELECT clock_timestamp()", &[]).await?.try_get(0)?)
}

/// Of the work requested up to `watermark`: how many requests and jobs are still to do (waiting,
/// pending or running), and how many jobs failed.
pub async fn progress_up_to(client: &impl GenericClient, watermark: SystemTime) -> Result<(i64, i64)> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM piw.requests WHERE requested_at <= $1)
                    + count(*) FILTER (WHERE state IN ('pending', 'running')),
                    count(*) FILTER (WHERE state = 'failed')
               FROM piw.jobs WHERE created_at <= $1",
            &[&watermark],
        )
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// First key of the advisory locks that guard a package's wheels on disk (the second key is
/// `hashtext(package)`). An importer puts a wheel in place before its rows commit; a listener
/// deleting that package's wheels checks that their rows are gone, then deletes the files. Without
/// the lock the check could run between the importer's write and its commit, and the new wheel
/// would be deleted under a row that exists.
pub(crate) const WHEELS_LOCK: i32 = 0x7069_7701;

/// For importers: hold `package`'s wheels lock, shared, until the transaction ends. Take it before
/// putting a wheel in place: a listener about to delete the package's wheels then waits for the
/// commit (and sees the rows), or the importer waits until that deletion is done.
pub async fn lock_wheels_for_import(transaction: &impl GenericClient, package: &str) -> Result<()> {
    transaction.execute("SELECT pg_advisory_xact_lock_shared($1, hashtext($2))", &[&WHEELS_LOCK, &package]).await?;
    Ok(())
}

/// For listeners: hold `package`'s wheels lock, exclusively, on this session until
/// [`unlock_wheels`]: while it is held no importer is between writing a wheel and committing it.
pub async fn lock_wheels(client: &impl GenericClient, package: &str) -> Result<()> {
    client.execute(LOCK_WHEELS_SQL, &[&WHEELS_LOCK, &package]).await?;
    Ok(())
}

/// The statements of [`lock_wheels`] and [`unlock_wheels`], for a listener that prepares them:
/// their parameters are [`WHEELS_LOCK`] and the package.
pub(crate) const LOCK_WHEELS_SQL: &str = "SELECT pg_advisory_lock($1, hashtext($2))";
pub(crate) const UNLOCK_WHEELS_SQL: &str = "SELECT pg_advisory_unlock($1, hashtext($2))";

pub async fn unlock_wheels(client: &impl GenericClient, package: &str) -> Result<()> {
    client.execute(UNLOCK_WHEELS_SQL, &[&WHEELS_LOCK, &package]).await?;
    Ok(())
}
