//! The listener daemon: carries out the queued disk work until cancelled.
//!
//! A supervised loop: drain the queue (claim, execute, complete, until nothing is left), then wait
//! for a notification, the fallback poll or cancellation. The database is the source of truth and
//! NOTIFY only a wake-up, so the queue is also read at start, after every reconnect and on every
//! fallback poll. Database errors end a drain, not the daemon: it backs off and tries again.

pub mod backoff;
pub mod executor;
mod notifier;
mod pooler;
mod presence;
mod reconcile;
mod retire;
mod work;

use std::{collections::VecDeque, path::PathBuf, sync::Arc, time::Duration};

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::{sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

use self::{
    backoff::{delay_for, Backoff},
    executor::Executor,
    presence::Presence,
    work::Work,
};
use crate::{
    connect::Connector,
    error::{Error, Result},
    queue::{self, ClaimOptions, Job, Task},
    site::{OutputDir, Syncer},
};

/// The `application_name` of a listener's connections, unless its configuration names one.
pub const APPLICATION_NAME: &str = "piw-listener";

/// While jobs run and a slot is free, the queue is looked at again after this pause, doubling up
/// to `BUSY_POLL_MAX` while it has nothing: an awake listener gets no notifications.
const BUSY_POLL_MIN: Duration = Duration::from_millis(5);
const BUSY_POLL_MAX: Duration = Duration::from_millis(100);

/// A claim asks for this many jobs per worker. Claiming costs the same few milliseconds for one
/// job or for dozens (it moves the request log into the queue and looks for lost leases), and most
/// jobs (one package's page) take about a millisecond: claiming only as many as there were free
/// slots made a backlog drain at the pace of claims. Jobs claimed and not yet started are leased
/// like running ones (the heartbeat keeps them) and go back to the queue if the listener stops.
const CLAIM_BATCH_PER_WORKER: usize = 8;

/// An awake listener that runs out of work keeps looking this long before it goes to sleep, every
/// `BUSY_POLL_MIN` with a one-row query (enqueuers do not NOTIFY an awake listener, so a request
/// meanwhile waits for the next look). Under a steady stream of requests it then never sleeps:
/// going to sleep waits for every enqueuer in flight and makes the next ones NOTIFY, and NOTIFY
/// serializes their commits (64 callers: 250 calls/s instead of thousands).
const LINGER: Duration = Duration::from_millis(300);

/// How a listener works. `Default` gives the daemon's settings.
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    pub output_path: PathBuf,
    /// Jobs carried out at once.
    pub workers: usize,
    /// How long a claimed job stays ours without a heartbeat.
    pub lease: Duration,
    /// Claims of one job (failures and lost leases together) before it is marked failed.
    pub max_attempts: i32,
    /// First retry delay of a failed job; doubles with each attempt up to `retry_max`.
    pub retry_delay: Duration,
    pub retry_max: Duration,
    /// Read the queue this often even without a notification.
    pub poll_interval: Duration,
    /// Heartbeat period: keeps leases fresh, and hands back the jobs of listeners that are gone
    /// (so within about this long of their end).
    pub heartbeat_interval: Duration,
    /// Stopping, how long the jobs in hand may take to finish before they are handed back.
    pub shutdown_timeout: Duration,
}

impl ListenerOptions {
    pub fn new(output_path: PathBuf) -> Self {
        ListenerOptions {
            output_path,
            workers: 4,
            lease: Duration::from_secs(300),
            max_attempts: 8,
            retry_delay: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            poll_interval: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// One running listener.
struct Listener {
    pool: Pool,
    /// How the pool reaches the database: names the server when a connection cannot be made.
    connector: Connector,
    executor: Executor,
    /// Makes every job's writes durable before it is done.
    syncer: Syncer,
    options: ListenerOptions,
    /// Our heartbeats, and whether we are awake.
    presence: Presence,
    cancel: CancellationToken,
}

/// `config` for sessions that never JIT-compile a query. A full rebuild's rows are looked up
/// package by package, costed high enough as a whole to start JIT, which then compiles for ~30 ms
/// before the first row; the listener's queries are never long enough to earn that back.
/// Turn JIT off in a new pooled session: the listener's queries are short and many, and
/// compiling one costs more than running it. A `SET` after connecting rather than a startup
/// `options` parameter, which poolers such as PgBouncer refuse.
fn without_jit() -> Hook {
    Hook::async_fn(|client, _| Box::pin(async move { client.batch_execute("SET jit = off").await.map_err(HookError::Backend) }))
}

/// Run a listener against the database of `config` until `cancel` fires; then finish the jobs in
/// hand, hand back the rest, and return.
pub async fn run(mut connector: Connector, options: ListenerOptions, cancel: CancellationToken) -> Result<()> {
    let output = OutputDir::open(&options.output_path)?;
    // So that pg_stat_activity says which connections are ours (the LISTEN one says so too).
    connector.fallback_application_name(APPLICATION_NAME);
    if !refuse_poolers_that_drop_sessions(&connector, &cancel).await? {
        return Ok(());
    }
    // Fast recycling: a connection is handed out again unless it is closed, without a test query
    // (Verified costs a round trip on every checkout, several per job, on the way of every page).
    // A connection the server dropped is closed as soon as its socket says so; one that dies
    // unnoticed fails its next query, which ends the drain like any lost connection: the
    // supervisor backs off and tries again with fresh connections.
    let manager =
        Manager::from_config(connector.config().clone(), connector.tls(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool =
        Pool::builder(manager).max_size(options.workers + 2).post_create(without_jit()).build().map_err(|e| Error::Pool(e.to_string()))?;
    let wake = Arc::new(Notify::new());
    let presence = Presence::new(listener_id(), &connector, wake.clone());
    let syncer = Syncer::new(output.clone());
    let listener = Arc::new(Listener {
        pool,
        connector: connector.clone(),
        executor: Executor::new(output),
        syncer,
        options,
        presence,
        cancel: cancel.clone(),
    });
    tracing::info!("listener {} writing to {}", listener.presence.id(), listener.executor.output().root().display());

    let notifier = tokio::spawn(notifier::run(connector, wake.clone(), cancel.clone()));
    let heartbeat = tokio::spawn(heartbeat_loop(listener.clone()));
    listener.supervise(&wake).await;

    let _ = notifier.await;
    let _ = heartbeat.await;
    if let Err(e) = listener.leave().await {
        tracing::warn!("could not hand back unfinished jobs (the others take them when this listener's sessions end): {e}");
    }
    listener.presence.leave().await;
    tracing::info!("listener {} stopped", listener.presence.id());
    Ok(())
}

/// Make sure sessions stay on one server connection (see [`pooler`]) before anything else. The
/// database may be down at start: the probe is retried until it can answer. `false` when
/// cancelled meanwhile.
async fn refuse_poolers_that_drop_sessions(connector: &Connector, cancel: &CancellationToken) -> Result<bool> {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        let outcome = tokio::select! {
            outcome = pooler::sessions_are_kept(connector) => outcome,
            () = cancel.cancelled() => return Ok(false),
        };
        match outcome {
            Ok(true) => return Ok(true),
            Ok(false) => return Err(pooler::refusal(connector)),
            // A DSN that cannot work (certificate, password) will not work on a retry either.
            Err(e) if e.is_lasting_connect_failure() => return Err(e),
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!("{e}; trying again in {} ms", delay.as_millis());
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = cancel.cancelled() => return Ok(false),
                }
            }
        }
    }
}

impl Listener {
    async fn supervise(self: &Arc<Self>, wake: &Notify) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        // After a failed drain some claimed jobs may still be marked ours: hand them back first.
        let mut release_first = true;
        while !self.cancel.is_cancelled() {
            let mut next_poll = self.options.poll_interval;
            match self.drain(release_first).await {
                Ok(due_in) => {
                    backoff.reset();
                    release_first = false;
                    // A retry or a lost lease falls due without a notification.
                    if let Some(due_in) = due_in {
                        next_poll = next_poll.min(due_in + Duration::from_millis(5));
                    }
                }
                Err(e) => {
                    release_first = true;
                    let delay = backoff.next_delay();
                    tracing::warn!("{e}; trying again in {} ms", delay.as_millis());
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = self.cancel.cancelled() => {}
                    }
                    continue;
                }
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(next_poll) => {}
                () = self.cancel.cancelled() => {}
            }
        }
    }

    /// Claim and carry out jobs until the queue has nothing runnable for us; then say when
    /// something falls due (a retry, a lease running out).
    ///
    /// A claim takes a batch (`CLAIM_BATCH_PER_WORKER` per worker); jobs run as tasks of their
    /// own, up to `workers` at once, and a free slot is filled as soon as one finishes, from the
    /// batch in hand or else by a new claim: a slow job (the search index of a big site) never
    /// holds back the next. The listener tells the database it is awake (enqueuers then skip NOTIFY) once it
    /// has work in hand; while awake with a slot free it looks at the queue again after a short
    /// pause instead of waiting for a notification; before it sleeps it says so and looks once
    /// more (see `piw.listener_heartbeat`).
    async fn drain(self: &Arc<Self>, release_first: bool) -> Result<Option<Duration>> {
        // Woken (a notification, a poll, a lost presence session): awake before the first look.
        self.presence.wake().await?;
        if release_first {
            self.leave().await?;
        }
        let workers = self.options.workers.max(1);
        let mut running: JoinSet<Result<()>> = JoinSet::new();
        // Claimed and not yet started: a claim takes a batch (see `CLAIM_BATCH_PER_WORKER`).
        let mut ready: VecDeque<Work> = VecDeque::new();
        // Whether to linger before trying to sleep: after work (requests tend to come in runs),
        // and after a try refused (a transaction that counted on us is still open).
        let mut linger_first = false;
        // Whether piw.listeners says we are awake since we were woken.
        let mut said_awake = false;
        let mut pause = BUSY_POLL_MIN;
        let mut done = 0usize;
        let mut last_claim = std::time::Instant::now();
        // Since when an awake listener has had nothing to do.
        let mut idle_since: Option<std::time::Instant> = None;
        // Ok(true): drained; Ok(false): cancelled.
        let outcome: Result<bool> = loop {
            if self.cancel.is_cancelled() {
                break Ok(false);
            }
            // A new claim only when the last batch has started and a slot is free. While jobs run,
            // only when something is there to claim: a claim costs the server a millisecond (it
            // moves the request log, looks for lost leases, plans afresh), the look a thirtieth of
            // that, and a full rebuild's pass looks a dozen times with a slot free.
            let mut claimed = 0;
            let may_claim = ready.is_empty() && running.len() < workers;
            let worth_claiming = if may_claim && !running.is_empty() {
                match self.any_due().await {
                    Ok(due) => due,
                    Err(e) => break Err(e),
                }
            } else {
                may_claim
            };
            if worth_claiming {
                last_claim = std::time::Instant::now();
                let jobs = match self.claim(workers * CLAIM_BATCH_PER_WORKER).await {
                    Ok(jobs) => jobs,
                    Err(e) => break Err(e),
                };
                claimed = jobs.len();
                ready.extend(Work::group(jobs));
            }
            self.start_ready(&mut running, &mut ready, workers);
            if claimed > 0 {
                idle_since = None;
                linger_first = true;
                if !said_awake {
                    // For whoever looks at piw.listeners; after the jobs have started: this is
                    // not on their way.
                    if let Err(e) = self.beat().await {
                        break Err(e);
                    }
                    said_awake = true;
                }
            }
            if running.is_empty() {
                if linger_first {
                    let idle = *idle_since.get_or_insert_with(std::time::Instant::now);
                    match self.linger(idle).await {
                        Ok(true) => continue,
                        Ok(false) => {}
                        Err(e) => break Err(e),
                    }
                    idle_since = None;
                }
                // Asleep once every enqueuer that skipped NOTIFY because we were awake has ended;
                // then one more look finds their work. While one has not, we stay awake and
                // linger again.
                match self.presence.try_sleep().await {
                    Ok(true) => match self.any_due().await {
                        Ok(false) => {
                            if done > 0 {
                                tracing::debug!("queue drained after {done} jobs");
                            }
                            // Asleep, as piw.listeners then says.
                            if let Err(e) = self.beat().await {
                                break Err(e);
                            }
                            break Ok(true);
                        }
                        Ok(true) => {
                            if let Err(e) = self.presence.wake().await {
                                break Err(e);
                            }
                        }
                        Err(e) => break Err(e),
                    },
                    Ok(false) => linger_first = true,
                    Err(e) => break Err(e),
                }
                continue;
            }
            // Wait for a job to finish; with a slot free (the last claim had too little for
            // every slot), look at the queue again meanwhile.
            let poll = running.len() < workers;
            tokio::select! {
                finished = running.join_next() => {
                    pause = BUSY_POLL_MIN;
                    match finished {
                        Some(Ok(Ok(()))) => done += 1,
                        Some(Ok(Err(e))) => break Err(e),
                        Some(Err(e)) => break Err(Error::Pool(format!("a job's task failed: {e}"))),
                        None => {}
                    }
                }
                () = tokio::time::sleep(pause), if poll => pause = (pause * 2).min(BUSY_POLL_MAX),
            }
        };
        // The jobs running are finished, whatever ended the drain (their leases would otherwise
        // have to run out before another listener could take them). Jobs claimed and not started
        // are handed back: by the next drain (`release_first`) or by `listener_leave` at exit.
        if !ready.is_empty() {
            tracing::debug!("{} claimed jobs not started", ready.len());
        }
        let mut outcome = outcome;
        // Stopping, the jobs in hand get `shutdown_timeout` to finish (a job may hang on a
        // file system that does not answer, or wait for a lock): then they are abandoned, and
        // `listener_leave` hands them back to the queue.
        let deadline = self.cancel.is_cancelled().then(|| tokio::time::Instant::now() + self.options.shutdown_timeout);
        loop {
            let finished = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, running.join_next()).await {
                    Ok(finished) => finished,
                    Err(_) => {
                        tracing::warn!(
                            "{} job(s) still running after {:?}: handed back unfinished",
                            running.len(),
                            self.options.shutdown_timeout
                        );
                        running.abort_all();
                        break;
                    }
                },
                None => running.join_next().await,
            };
            let Some(finished) = finished else { break };
            let failed = match finished {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(e) => Error::Pool(format!("a job's task failed: {e}")),
            };
            if outcome.is_ok() {
                outcome = Err(failed);
            }
        }
        match outcome {
            Ok(true) => queue::next_due_in(&**self.client().await?, last_claim.elapsed()).await,
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Start claimed work while a slot is free.
    fn start_ready(self: &Arc<Self>, running: &mut JoinSet<Result<()>>, ready: &mut VecDeque<Work>, workers: usize) {
        while running.len() < workers {
            let Some(work) = ready.pop_front() else { return };
            let listener = self.clone();
            running.spawn(async move { listener.run_work(work).await });
        }
    }

    /// Look at the queue every `BUSY_POLL_MIN` until something is due (true: claim it) or the
    /// listener has been idle since `idle` for `LINGER` (false: time to sleep).
    async fn linger(&self, idle: std::time::Instant) -> Result<bool> {
        while idle.elapsed() < LINGER {
            tokio::select! {
                () = tokio::time::sleep(BUSY_POLL_MIN) => {}
                () = self.cancel.cancelled() => return Ok(true),
            }
            if self.any_due().await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether a claim now would find anything: a request waiting or a pending job due.
    async fn any_due(&self) -> Result<bool> {
        let client = self.client().await?;
        let statement = client.prepare_cached(queue::ANY_DUE_SQL).await?;
        Ok(client.query_one(&statement, &[]).await?.try_get::<_, bool>(0)?)
    }

    async fn claim(&self, max_jobs: usize) -> Result<Vec<Job>> {
        let options = ClaimOptions {
            max_jobs: i32::try_from(max_jobs).unwrap_or(16),
            lease: self.options.lease,
            max_attempts: self.options.max_attempts,
        };
        let client = self.client().await?;
        let statement = client.prepare_cached(queue::CLAIM_SQL).await?;
        queue::claim_with(&**client, &statement, self.presence.id(), options).await
    }

    /// Carry out a claimed job (or a pair run as one, see [`Work`]) and record the outcome of
    /// each. `Err` only when the database could not be told.
    async fn run_work(&self, work: Work) -> Result<()> {
        if self.cancel.is_cancelled() {
            // Not started: handed back by listener_leave on the way out.
            return Ok(());
        }
        let client = self.client().await?;
        let started = std::time::Instant::now();
        let outcome = match &work {
            Work::One(job) => match &job.task {
                Some(task) => self.executor.execute(&client, task).await,
                None => Err(executor::JobError::UnknownKind(job.kind.clone())),
            },
            Work::AllPages(_) => self.executor.all_pages(&client).await,
            Work::PackagePages(package, jobs) => match self.executor.package_pages(&client, package).await {
                Ok(mut pages) => {
                    if changed(&pages.simple) || changed(&pages.project) {
                        if let Err(e) = self.syncer.sync().await {
                            let unsynced = || Err(executor::JobError::Unsynced(e.to_string()));
                            (pages.simple, pages.project) = (unsynced(), unsynced());
                        }
                    }
                    for job in jobs {
                        let own = if matches!(job.task, Some(Task::Simple { .. })) { &pages.simple } else { &pages.project };
                        self.record(&client, job, own, started).await?;
                    }
                    return Ok(());
                }
                Err(e) => Err(e),
            },
        };
        // On stable storage before the database hears that it is done.
        let outcome = match outcome {
            Ok(effect) if changed(&Ok(effect)) => {
                self.syncer.sync().await.map(|()| effect).map_err(|e| executor::JobError::Unsynced(e.to_string()))
            }
            other => other,
        };
        for job in work.jobs() {
            self.record(&client, job, &outcome, started).await?;
        }
        Ok(())
    }

    async fn record(
        &self,
        client: &deadpool_postgres::ClientWrapper,
        job: &Job,
        outcome: &Result<executor::Effect, executor::JobError>,
        started: std::time::Instant,
    ) -> Result<()> {
        match outcome {
            Ok(effect) => {
                tracing::debug!(job = job.id, kind = %job.kind, ?effect, ms = started.elapsed().as_secs_f64() * 1000.0, "done");
                let statement = client.prepare_cached(queue::COMPLETE_SQL).await?;
                if !queue::complete_with(&**client, &statement, self.presence.id(), job).await? {
                    tracing::warn!(
                        "job {} ({} {} {}) was done after its lease passed to another listener: queued again, so that it is redone from current rows",
                        job.id,
                        job.kind,
                        job.package,
                        job.filename
                    );
                }
            }
            Err(e) if e.is_connection() => return Err(Error::Pool(e.to_string())),
            Err(e) => {
                let retry_in = (job.attempts < self.options.max_attempts)
                    .then(|| delay_for(self.options.retry_delay, self.options.retry_max, u32::try_from(job.attempts - 1).unwrap_or(0)));
                match retry_in {
                    Some(delay) => tracing::warn!(
                        "job {} ({}) failed, attempt {}: {e}; retrying in {} ms",
                        job.id,
                        job.kind,
                        job.attempts,
                        delay.as_millis()
                    ),
                    None => tracing::error!("job {} ({}) failed for good after {} attempts: {e}", job.id, job.kind, job.attempts),
                }
                if !queue::fail(&**client, self.presence.id(), job, &e.to_string(), retry_in).await? {
                    tracing::warn!("job {} ({}) failed after its lease passed to another listener: queued again", job.id, job.kind);
                }
            }
        }
        Ok(())
    }

    /// `piw.listener_heartbeat`, on a pooled session: how many jobs of listeners that are gone
    /// went back to the queue.
    async fn beat(&self) -> Result<i32> {
        let (pid, asleep) = self.presence.pid_and_sleep().await?;
        let client = self.client().await?;
        let statement = client.prepare_cached(queue::HEARTBEAT_SQL).await?;
        queue::heartbeat_with(&**client, &statement, self.presence.id(), !asleep, self.options.lease, Some(pid)).await
    }

    /// `piw.listener_leave`: the jobs we hold go back to the queue.
    async fn leave(&self) -> Result<()> {
        queue::leave(&**self.client().await?, self.presence.id()).await
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => self.connector.connect_error(e),
            other => Error::Pool(other.to_string()),
        })
    }
}

/// Whether a job's outcome changed anything on disk (and so needs a sync before it is done).
fn changed(outcome: &std::result::Result<executor::Effect, executor::JobError>) -> bool {
    outcome.as_ref().is_ok_and(|effect| effect.written + effect.removed + effect.moved > 0)
}

/// Keep our row fresh and our leases alive while jobs run (a full rebuild takes minutes), and
/// hand the jobs of listeners that are gone back to the queue.
async fn heartbeat_loop(listener: Arc<Listener>) {
    let mut tick = tokio::time::interval(listener.options.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = listener.cancel.cancelled() => return,
        }
        match listener.beat().await {
            Ok(0) => {}
            Ok(released) => tracing::info!("{released} job(s) of listeners that are gone went back to the queue"),
            Err(e) => tracing::debug!("heartbeat failed: {e}"),
        }
    }
}

/// `host-pid-random`: unique among listeners, and says where to look.
fn listener_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    format!("{}-{}-{:04x}", if host.is_empty() { "listener" } else { host }, std::process::id(), fastrand::u16(..))
}
