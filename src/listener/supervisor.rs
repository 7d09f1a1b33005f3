//! The supervisor of one listener: drain the queue (claim, run, record, until nothing is left),
//! then wait for a wake-up, the fallback poll or cancellation; back off after a failed drain.

use std::{sync::Arc, time::Duration};

use tokio::sync::Notify;

use super::{
    backoff::{delay_for, Backoff},
    drain::Drain,
    executor,
    job_group::JobGroup,
    Listener, BUSY_POLL_MIN, LINGER,
};
use crate::{
    error::{Error, Result},
    queue::{self, ClaimOptions, Job, JobKind},
};

impl Listener {
    pub(super) async fn supervise(self: &Arc<Self>, wake: &Notify) {
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
    /// holds back the next. While awake (not holding `piw.wake_lock`, so enqueuers skip NOTIFY)
    /// with a slot free, it looks at the queue again after a short pause instead of waiting for a
    /// notification; it goes to sleep by taking `piw.wake_lock` (see `piw.listener_sleep`) and
    /// then looks once more. What it reports in its heartbeat (`awake`) is for display only.
    async fn drain(self: &Arc<Self>, release_first: bool) -> Result<Option<Duration>> {
        // Woken (a notification, a poll, a lost presence session): awake before the first look.
        self.presence.wake().await?;
        if release_first {
            self.leave().await?;
        }
        let mut drain = Drain::new(self);
        let outcome = drain.run().await;
        let last_claim = drain.last_claim;
        match drain.wind_down(outcome).await {
            Ok(true) => queue::next_due_in(&**self.client().await?, last_claim.elapsed()).await,
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Look at the queue every `BUSY_POLL_MIN` until something is due (true: claim it) or the
    /// listener has been idle since `idle` for `LINGER` (false: time to sleep).
    pub(super) async fn linger(&self, idle: std::time::Instant) -> Result<bool> {
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
    pub(super) async fn any_due(&self) -> Result<bool> {
        let client = self.client().await?;
        let statement = client.prepare_cached(queue::ANY_DUE_SQL).await?;
        Ok(client.query_one(&statement, &[]).await?.try_get::<_, bool>(0)?)
    }

    pub(super) async fn claim(&self, max_jobs: usize) -> Result<Vec<Job>> {
        let options = ClaimOptions {
            max_jobs: i32::try_from(max_jobs).unwrap_or(16),
            lease: self.options.lease,
            max_attempts: self.options.max_attempts,
        };
        let client = self.client().await?;
        let statement = client.prepare_cached(queue::CLAIM_SQL).await?;
        queue::claim_with(&**client, &statement, self.presence.id(), options).await
    }

    /// Carry out a claimed job (or a pair run as one, see [`JobGroup`]) and record the outcome of
    /// each. `Err` only when the database could not be told.
    pub(super) async fn run_group(&self, group: JobGroup) -> Result<()> {
        if self.cancel.is_cancelled() {
            // Not started: handed back by listener_leave on the way out.
            return Ok(());
        }
        let client = self.client().await?;
        let started = std::time::Instant::now();
        let outcome = match &group {
            JobGroup::One(job) => match &job.known_kind {
                Some(kind) => self.executor.execute(&client, kind).await,
                None => Err(executor::JobError::UnknownKind(job.kind.clone())),
            },
            JobGroup::AllPages(_) => self.executor.all_pages(&client).await,
            JobGroup::PackagePages(package, jobs) => match self.executor.package_pages(&client, package).await {
                Ok(mut pages) => {
                    if changed(&pages.simple) || changed(&pages.project) {
                        if let Err(e) = self.syncer.sync().await {
                            let unsynced = || Err(executor::JobError::Unsynced(e.to_string()));
                            (pages.simple, pages.project) = (unsynced(), unsynced());
                        }
                    }
                    for job in jobs {
                        let own = if matches!(job.known_kind, Some(JobKind::Simple { .. })) { &pages.simple } else { &pages.project };
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
        for job in group.jobs() {
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
            // The outcome is shared by the jobs of one task, so the error is told, not moved.
            Err(e) if e.is_connection() => return Err(Error::ConnectionLost(e.to_string())),
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
    pub(super) async fn beat(&self) -> Result<i32> {
        let (pid, asleep) = self.presence.pid_and_sleep().await?;
        let client = self.client().await?;
        let statement = client.prepare_cached(queue::HEARTBEAT_SQL).await?;
        queue::heartbeat_with(&**client, &statement, self.presence.id(), !asleep, self.options.lease, Some(pid), self.options.max_attempts)
            .await
    }

    /// `piw.listener_leave`: the jobs we hold go back to the queue.
    pub(super) async fn leave(&self) -> Result<()> {
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
