//! The listener daemon: carries out the queued disk work until cancelled.
//!
//! A supervised loop: drain the queue (claim, execute, complete, until nothing is left), then wait
//! for a notification, the fallback poll or cancellation. The database is the source of truth and
//! NOTIFY only a wake-up, so the queue is also read at start, after every reconnect and on every
//! fallback poll. Database errors end a drain, not the daemon: it backs off and tries again.
//!
//! This module wires the parts together (pool, presence, LISTEN line, heartbeats); the loop
//! itself is in `supervisor`, a job's work in `executor`.

pub mod backoff;
mod counting;
mod drain;
pub mod executor;
mod job_group;
mod notifier;
mod place;
mod pooler;
mod presence;
mod reconcile;
mod retire;
mod supervisor;

use std::{path::PathBuf, sync::Arc, time::Duration};

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use self::{backoff::Backoff, executor::Executor, presence::Presence};
use crate::{
    connect::Connector,
    error::{Error, Result},
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
/// going to sleep (possible only between enqueuers: `piw.listener_sleep` tries once, without
/// waiting) makes the next ones NOTIFY, and NOTIFY serializes their commits (64 callers: 250
/// calls/s instead of thousands).
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
    /// Count logged downloads this often (`piw.count_downloads`): download counts alone rewrite
    /// the home page and search index at most this often.
    pub count_downloads_every: Duration,
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
            count_downloads_every: Duration::from_secs(60),
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
/// Set up a new pooled session. JIT off: the listener's queries are short and many, and
/// compiling one costs more than running it. READ COMMITTED whatever the server's default: claims
/// and deletions look again after a lock to see what committed meanwhile, which a snapshot taken
/// at the transaction's start would not show. A `SET` after connecting rather than a startup
/// `options` parameter, which poolers such as PgBouncer refuse.
fn session_setup() -> Hook {
    Hook::async_fn(|client, _| {
        Box::pin(async move {
            client.batch_execute("SET jit = off; SET default_transaction_isolation = 'read committed'").await.map_err(HookError::Backend)
        })
    })
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
    let pool = Pool::builder(manager)
        .max_size(options.workers + 2)
        .post_create(session_setup())
        .build()
        .map_err(|e| Error::Pool(e.to_string()))?;
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
    let counting = tokio::spawn(counting::run(listener.pool.clone(), listener.options.count_downloads_every, cancel.clone()));
    listener.supervise(&wake).await;

    let _ = notifier.await;
    let _ = heartbeat.await;
    let _ = counting.await;
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
