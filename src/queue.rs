//! The durable work queue, as the listener and the status tools see it. The rows and rules live in
//! SQL (migrations/V002__queue.sql, sql/procedures/claim_jobs.sql ...); this is their Rust face.

use std::time::Duration;

use tokio_postgres::{Client, GenericClient, ToStatement};

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
pub enum JobKind {
    Home,
    Search,
    SimpleRoot,
    Simple {
        package: String,
    },
    Project {
        package: String,
    },
    SimpleAll,
    ProjectAll,
    DeleteWheel {
        package: String,
        filename: String,
    },
    DeletePackage {
        package: String,
    },
    /// Make the tree match the rows (see `listener::reconcile`).
    Reconcile,
    /// Move a wheel (and its metadata) to where its row says: `simple/PACKAGE/` when published,
    /// `.withheld/PACKAGE/` when held or skipped (see `listener::place`).
    PlaceWheel {
        package: String,
        filename: String,
    },
}

impl JobKind {
    fn from_row(kind: &str, package: String, filename: String) -> Option<JobKind> {
        Some(match kind {
            "home" => JobKind::Home,
            "search" => JobKind::Search,
            "simple_root" => JobKind::SimpleRoot,
            "simple" => JobKind::Simple { package },
            "project" => JobKind::Project { package },
            "simple_all" => JobKind::SimpleAll,
            "project_all" => JobKind::ProjectAll,
            "delete_wheel" => JobKind::DeleteWheel { package, filename },
            "delete_package" => JobKind::DeletePackage { package },
            "reconcile" => JobKind::Reconcile,
            "place_wheel" => JobKind::PlaceWheel { package, filename },
            _ => return None,
        })
    }
}

/// A claimed job, leased to one listener until it completes or fails it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    /// `None` for a kind this build does not know (a newer schema): the listener fails it.
    pub known_kind: Option<JobKind>,
    pub kind: String,
    /// The target's package and filename as the row has them ('' where the kind has none).
    pub package: String,
    pub filename: String,
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
pub const COMPLETE_SQL: &str = "SELECT piw.complete_job($1, $2, $3, $4, $5)";
pub const HEARTBEAT_SQL: &str = "SELECT piw.listener_heartbeat($1, $2, make_interval(secs => $3), $4, $5)";

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
            let (kind, package, filename): (String, String, String) = (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
            let known_kind = JobKind::from_row(&kind, package.clone(), filename.clone());
            Ok(Job { id: row.try_get(0)?, known_kind, kind, package, filename, attempts: row.try_get(4)? })
        })
        .collect()
}

/// `piw.complete_job`: false if the lease had passed to another listener (the job's target is
/// then queued again: what this listener wrote may be older than what the other one did).
pub async fn complete(client: &impl GenericClient, listener: &str, job: &Job) -> Result<bool> {
    complete_with(client, COMPLETE_SQL, listener, job).await
}

/// [`complete`] through `statement`: [`COMPLETE_SQL`], as text or prepared on this connection.
pub async fn complete_with<S>(client: &impl GenericClient, statement: &S, listener: &str, job: &Job) -> Result<bool>
where
    S: ?Sized + ToStatement + Sync + Send,
{
    Ok(client.query_one(statement, &[&job.id, &listener, &job.kind, &job.package, &job.filename]).await?.try_get(0)?)
}

/// `piw.fail_job`: retry after `retry_in`, or give up (state failed) when it is `None`; false if
/// the lease had passed to another listener (the target is then queued again).
pub async fn fail(client: &impl GenericClient, listener: &str, job: &Job, error: &str, retry_in: Option<Duration>) -> Result<bool> {
    let retry_secs = retry_in.map(|d| d.as_secs_f64());
    Ok(client
        .query_one(
            "SELECT piw.fail_job($1, $2, $3, make_interval(secs => $4), $5, $6, $7)",
            &[&job.id, &listener, &error, &retry_secs, &job.kind, &job.package, &job.filename],
        )
        .await?
        .try_get(0)?)
}

/// `piw.listener_heartbeat`: alive, awake or asleep (as the listener says), leases extended by
/// `lease`, the process of its presence session (see [`presence`]); the jobs of listeners whose
/// presence session has ended go back to the queue: how many.
pub async fn heartbeat(
    client: &impl GenericClient,
    listener: &str,
    awake: bool,
    lease: Duration,
    presence_pid: Option<i32>,
    max_attempts: i32,
) -> Result<i32> {
    heartbeat_with(client, HEARTBEAT_SQL, listener, awake, lease, presence_pid, max_attempts).await
}

/// [`heartbeat`] through `statement`: [`HEARTBEAT_SQL`], as text or prepared on this connection.
pub async fn heartbeat_with<S>(
    client: &impl GenericClient,
    statement: &S,
    listener: &str,
    awake: bool,
    lease: Duration,
    presence_pid: Option<i32>,
    max_attempts: i32,
) -> Result<i32>
where
    S: ?Sized + ToStatement + Sync + Send,
{
    Ok(client.query_one(statement, &[&listener, &awake, &lease.as_secs_f64(), &presence_pid, &max_attempts]).await?.try_get(0)?)
}

/// A listener's presence session (see `piw.listener_present`): its transaction, opened with
/// [`presence`] and left open for the listener's life, says the listener is alive; inside it,
/// [`try_sleep`] and [`wake`] put it to sleep and wake it (see `piw._wake_listeners`).
///
/// Every statement on it goes by the simple query protocol: the extended protocol leaves its
/// unnamed portal open until the next statement, and the portal keeps its snapshot, whose xmin
/// would hold back vacuum for as long as the listener stays awake (its claims then slowed down
/// by a factor of ten, walking the dead rows of `piw.jobs`).
///
/// Opens the transaction and returns the session's process id (for [`heartbeat`]).
pub async fn presence(session: &Client) -> Result<i32> {
    // A server default that ends idle transactions would end the presence with it.
    let value = simple_value(
        session,
        "SET idle_in_transaction_session_timeout = 0; BEGIN ISOLATION LEVEL READ COMMITTED; SELECT piw.listener_present()",
    )
    .await?;
    value.parse().map_err(|_| crate::Error::Unexpected(format!("piw.listener_present() returned {value:?}")))
}

/// Go to sleep on a presence session (see [`presence`]): true once asleep; false while a
/// transaction that counted on an awake listener is open (try again later).
pub async fn try_sleep(session: &Client) -> Result<bool> {
    let asleep = simple_value(session, "SAVEPOINT asleep; SELECT piw.listener_sleep()").await? == "t";
    if !asleep {
        session.batch_execute(END_SLEEP).await?;
    }
    Ok(asleep)
}

/// Wake up on a presence session asleep by [`try_sleep`]: enqueuers no longer notify.
pub async fn wake(session: &Client) -> Result<()> {
    session.batch_execute(END_SLEEP).await?;
    Ok(())
}

/// Let go of what the sleep took (rolling back to the savepoint releases the locks taken since),
/// and of the savepoint itself: left defined, every sleep would nest one more subtransaction in
/// the presence transaction, for the listener's whole life.
const END_SLEEP: &str = "ROLLBACK TO SAVEPOINT asleep; RELEASE SAVEPOINT asleep";

/// The one value the last statement of `sql` returns, sent by the simple query protocol.
async fn simple_value(session: &Client, sql: &str) -> Result<String> {
    let messages = session.simple_query(sql).await?;
    messages
        .iter()
        .rev()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .ok_or_else(|| crate::Error::Unexpected(format!("no value from {sql:?}")))
}

/// `piw.listener_leave`: unfinished jobs go back to the queue.
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

/// `piw.lock_wheels`, shared, for importers: hold `package`'s wheels lock until the transaction
/// ends. Take it before putting a wheel in place: a listener about to delete the package's wheels
/// then waits for the commit (and sees the rows), or the importer waits until that deletion is
/// done.
pub async fn lock_wheels_for_import(transaction: &impl GenericClient, package: &str) -> Result<()> {
    transaction.query_typed("SELECT piw.lock_wheels($1)", &[(&package, tokio_postgres::types::Type::TEXT)]).await?;
    Ok(())
}

/// `piw.lock_wheels`, exclusive, for listeners, inside a transaction: while it is held no
/// importer is between writing one of `package`'s wheels and committing it.
pub(crate) const LOCK_WHEELS_SQL: &str = "SELECT piw.lock_wheels($1, true)";

/// What one `piw.count_downloads` call did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DownloadCount {
    /// Downloads added to the counts (0 when the count was not due).
    pub counted: i64,
    /// Until the next count is due.
    pub due_in: Duration,
}

/// `piw.count_downloads`: count the downloads logged since the last count, unless it was less than
/// `at_most_every` ago; queues the home page and search index when it counted any.
pub async fn count_downloads(client: &impl GenericClient, at_most_every: Duration) -> Result<DownloadCount> {
    let row = client
        .query_one(
            "SELECT counted, extract(epoch FROM due_in)::float8 FROM piw.count_downloads(make_interval(secs => $1))",
            &[&at_most_every.as_secs_f64()],
        )
        .await?;
    let due_in: f64 = row.try_get(1)?;
    Ok(DownloadCount { counted: row.try_get(0)?, due_in: Duration::try_from_secs_f64(due_in).unwrap_or_default() })
}
