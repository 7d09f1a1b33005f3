//! The listener daemon: carries out the queued disk work until cancelled.
//!
//! A supervised loop: drain the queue (claim, execute, complete, until nothing is left), then wait
//! for a notification, the fallback poll or cancellation. The database is the source of truth and
//! NOTIFY only a wake-up, so the queue is also read at start, after every reconnect and on every
//! fallback poll. Database errors end a drain, not the daemon: it backs off and tries again.

pub mod backoff;
pub mod executor;
mod notifier;
pub mod output;

use std::{path::PathBuf, sync::Arc, time::Duration};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt;
use tokio::sync::{Mutex, Notify};
use tokio_postgres::{Config, NoTls};
use tokio_util::sync::CancellationToken;

use self::{
    backoff::{delay_for, Backoff},
    executor::Executor,
    output::OutputDir,
};
use crate::{
    error::{Error, Result},
    queue::{self, ClaimOptions, Job},
};

/// The `application_name` of a listener's connections, unless its configuration names one.
pub const APPLICATION_NAME: &str = "piw-listener";

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
    /// Heartbeat period (keeps leases and the awake mark fresh).
    pub heartbeat_interval: Duration,
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
            heartbeat_interval: Duration::from_secs(5),
        }
    }
}

/// One running listener.
struct Listener {
    id: String,
    pool: Pool,
    executor: Executor,
    options: ListenerOptions,
    /// Whether we told the database we are awake; the lock also orders heartbeats.
    awake: Mutex<bool>,
    cancel: CancellationToken,
}

/// Run a listener against the database of `config` until `cancel` fires; then finish the jobs in
/// hand, hand back the rest, and return.
pub async fn run(mut config: Config, options: ListenerOptions, cancel: CancellationToken) -> Result<()> {
    let output = OutputDir::open(&options.output_path)?;
    // So that pg_stat_activity says which connections are ours (the LISTEN one says so too).
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    let manager = Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Verified });
    let pool = Pool::builder(manager)
        .max_size(options.workers + 2)
        .build()
        .map_err(|e| Error::Pool(e.to_string()))?;
    let listener = Arc::new(Listener {
        id: listener_id(),
        pool,
        executor: Executor::new(output),
        options,
        awake: Mutex::new(false),
        cancel: cancel.clone(),
    });
    tracing::info!(
        "listener {} writing to {}",
        listener.id,
        listener.executor.output().root().display()
    );

    let wake = Arc::new(Notify::new());
    let notifier = tokio::spawn(notifier::run(config, wake.clone(), cancel.clone()));
    let heartbeat = tokio::spawn(heartbeat_loop(listener.clone()));
    listener.supervise(&wake).await;

    let _ = notifier.await;
    let _ = heartbeat.await;
    match listener.client().await {
        Ok(client) => {
            if let Err(e) = queue::leave(&**client, &listener.id).await {
                tracing::warn!("could not hand back unfinished jobs (their lease will expire): {e}");
            }
        }
        Err(e) => tracing::warn!("could not hand back unfinished jobs (their lease will expire): {e}"),
    }
    tracing::info!("listener {} stopped", listener.id);
    Ok(())
}

impl Listener {
    async fn supervise(&self, wake: &Notify) {
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
    async fn drain(&self, release_first: bool) -> Result<Option<Duration>> {
        if release_first {
            queue::leave(&**self.client().await?, &self.id).await?;
        }
        self.set_awake(true).await?;
        let mut done = 0usize;
        loop {
            if self.cancel.is_cancelled() {
                return Ok(None);
            }
            let mut jobs = self.claim().await?;
            if jobs.is_empty() {
                // Going to sleep waits for every enqueuer that skipped NOTIFY because we were
                // awake; their work is visible to the claim that follows.
                self.set_awake(false).await?;
                jobs = self.claim().await?;
                if jobs.is_empty() {
                    if done > 0 {
                        tracing::debug!("queue drained after {done} jobs");
                    }
                    return queue::next_due_in(&**self.client().await?).await;
                }
                self.set_awake(true).await?;
            }
            done += jobs.len();
            let outcomes: Vec<Result<()>> = futures_util::stream::iter(jobs)
                .map(|job| self.run_job(job))
                .buffer_unordered(self.options.workers.max(1))
                .collect()
                .await;
            outcomes.into_iter().collect::<Result<Vec<()>>>()?;
        }
    }

    async fn claim(&self) -> Result<Vec<Job>> {
        let options = ClaimOptions {
            max_jobs: i32::try_from(self.options.workers * 2).unwrap_or(16),
            lease: self.options.lease,
            max_attempts: self.options.max_attempts,
        };
        queue::claim(&**self.client().await?, &self.id, options).await
    }

    /// Carry out one job and record the outcome. `Err` only when the database could not be told.
    async fn run_job(&self, job: Job) -> Result<()> {
        if self.cancel.is_cancelled() {
            // Not started: handed back by listener_leave on the way out.
            return Ok(());
        }
        let client = self.client().await?;
        let outcome = match &job.task {
            Some(task) => self.executor.execute(&**client, task).await,
            None => Err(executor::JobError::UnknownKind(job.kind.clone())),
        };
        match outcome {
            Ok(effect) => {
                tracing::debug!(job = job.id, kind = %job.kind, ?effect, "done");
                if !queue::complete(&**client, &self.id, job.id).await? {
                    tracing::warn!("job {} ({}) was done after its lease passed to another listener", job.id, job.kind);
                }
            }
            Err(e) if e.is_connection() => return Err(Error::Pool(e.to_string())),
            Err(e) => {
                let retry_in = (job.attempts < self.options.max_attempts).then(|| {
                    delay_for(self.options.retry_delay, self.options.retry_max, u32::try_from(job.attempts - 1).unwrap_or(0))
                });
                match retry_in {
                    Some(delay) => tracing::warn!("job {} ({}) failed, attempt {}: {e}; retrying in {} ms", job.id, job.kind, job.attempts, delay.as_millis()),
                    None => tracing::error!("job {} ({}) failed for good after {} attempts: {e}", job.id, job.kind, job.attempts),
                }
                queue::fail(&**client, &self.id, job.id, &e.to_string(), retry_in).await?;
            }
        }
        Ok(())
    }

    async fn set_awake(&self, awake: bool) -> Result<()> {
        let mut state = self.awake.lock().await;
        queue::heartbeat(&**self.client().await?, &self.id, awake, self.options.lease).await?;
        *state = awake;
        Ok(())
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => Error::from(e),
            other => Error::Pool(other.to_string()),
        })
    }
}

/// Keep our row fresh and our leases alive while jobs run (a full rebuild takes minutes).
async fn heartbeat_loop(listener: Arc<Listener>) {
    let mut tick = tokio::time::interval(listener.options.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = listener.cancel.cancelled() => return,
        }
        let state = listener.awake.lock().await;
        let result = match listener.client().await {
            Ok(client) => queue::heartbeat(&**client, &listener.id, *state, listener.options.lease).await,
            Err(e) => Err(e),
        };
        drop(state);
        if let Err(e) = result {
            tracing::debug!("heartbeat failed: {e}");
        }
    }
}

/// `host-pid-random`: unique among listeners, and says where to look.
fn listener_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    format!("{}-{}-{:04x}", if host.is_empty() { "listener" } else { host }, std::process::id(), fastrand::u16(..))
}
