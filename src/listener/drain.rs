//! One drain of the queue, as a state machine: claim while slots are free, run jobs as tasks,
//! linger after work, try to sleep when nothing runs, and wind down whatever ended it.

use std::{collections::VecDeque, sync::Arc, time::Instant};

use tokio::task::JoinSet;

use super::{job_group::JobGroup, Listener, BUSY_POLL_MAX, BUSY_POLL_MIN, CLAIM_BATCH_PER_WORKER};
use crate::error::{Error, Result};

pub(super) struct Drain<'a> {
    listener: &'a Arc<Listener>,
    workers: usize,
    running: JoinSet<Result<()>>,
    /// Claimed and not yet started: a claim takes a batch (see `CLAIM_BATCH_PER_WORKER`).
    ready: VecDeque<JobGroup>,
    /// Whether to linger before trying to sleep: after work (requests tend to come in runs),
    /// and after a try refused (a transaction that counted on us is still open).
    linger_first: bool,
    /// Whether piw.listeners says we are awake since we were woken.
    said_awake: bool,
    /// The pause between looks at the queue while jobs run and a slot is free.
    pause: std::time::Duration,
    done: usize,
    pub(super) last_claim: Instant,
    /// Since when an awake listener has had nothing to do.
    idle_since: Option<Instant>,
}

impl<'a> Drain<'a> {
    pub(super) fn new(listener: &'a Arc<Listener>) -> Self {
        Drain {
            listener,
            workers: listener.options.workers.max(1),
            running: JoinSet::new(),
            ready: VecDeque::new(),
            linger_first: false,
            said_awake: false,
            pause: BUSY_POLL_MIN,
            done: 0,
            last_claim: Instant::now(),
            idle_since: None,
        }
    }

    /// Until the queue has nothing runnable for us and we are asleep (true), or the listener is
    /// cancelled (false).
    pub(super) async fn run(&mut self) -> Result<bool> {
        loop {
            if self.listener.cancel.is_cancelled() {
                return Ok(false);
            }
            let claimed = self.claim_if_worth_it().await?;
            self.start_ready();
            if claimed > 0 {
                self.idle_since = None;
                self.linger_first = true;
                if !self.said_awake {
                    // For whoever looks at piw.listeners; after the jobs have started: this is
                    // not on their way.
                    self.listener.beat().await?;
                    self.said_awake = true;
                }
            }
            if self.running.is_empty() {
                if self.idle().await? {
                    return Ok(true);
                }
                continue;
            }
            self.wait_for_a_job().await?;
        }
    }

    /// A new claim only when the last batch has started and a slot is free. While jobs run, only
    /// when something is there to claim: a claim costs the server a millisecond (it moves the
    /// request log, looks for lost leases, plans afresh), the look a thirtieth of that, and a full
    /// rebuild's pass looks a dozen times with a slot free. The number of jobs claimed.
    async fn claim_if_worth_it(&mut self) -> Result<usize> {
        let may_claim = self.ready.is_empty() && self.running.len() < self.workers;
        let worth_claiming = if may_claim && !self.running.is_empty() { self.listener.any_due().await? } else { may_claim };
        if !worth_claiming {
            return Ok(0);
        }
        self.last_claim = Instant::now();
        let jobs = self.listener.claim(self.workers * CLAIM_BATCH_PER_WORKER).await?;
        let claimed = jobs.len();
        self.ready.extend(JobGroup::group(jobs));
        Ok(claimed)
    }

    /// Start claimed work while a slot is free.
    fn start_ready(&mut self) {
        while self.running.len() < self.workers {
            let Some(group) = self.ready.pop_front() else { return };
            let listener = self.listener.clone();
            self.running.spawn(async move { listener.run_group(group).await });
        }
    }

    /// Nothing runs: linger after work, then try to sleep. True once asleep with nothing due.
    ///
    /// Asleep once every enqueuer that skipped NOTIFY because we were awake has ended; then one
    /// more look finds their work. While one has not, we stay awake and linger again.
    async fn idle(&mut self) -> Result<bool> {
        if self.linger_first {
            let idle = *self.idle_since.get_or_insert_with(Instant::now);
            if self.listener.linger(idle).await? {
                return Ok(false);
            }
            self.idle_since = None;
        }
        let presence = &self.listener.presence;
        if !presence.try_sleep().await? {
            self.linger_first = true;
            return Ok(false);
        }
        if self.listener.any_due().await? {
            presence.wake().await?;
            return Ok(false);
        }
        if self.done > 0 {
            tracing::debug!("queue drained after {} jobs", self.done);
        }
        // Asleep, as piw.listeners then says.
        self.listener.beat().await?;
        Ok(true)
    }

    /// Wait for a job to finish; with a slot free (the last claim had too little for every
    /// slot), look at the queue again meanwhile.
    async fn wait_for_a_job(&mut self) -> Result<()> {
        let poll = self.running.len() < self.workers;
        tokio::select! {
            finished = self.running.join_next() => {
                self.pause = BUSY_POLL_MIN;
                match finished {
                    Some(Ok(Ok(()))) => self.done += 1,
                    Some(Ok(Err(e))) => return Err(e),
                    Some(Err(e)) => return Err(Error::TaskFailed(e.to_string())),
                    None => {}
                }
            }
            () = tokio::time::sleep(self.pause), if poll => self.pause = (self.pause * 2).min(BUSY_POLL_MAX),
        }
        Ok(())
    }

    /// The jobs running are finished, whatever ended the drain (their leases would otherwise have
    /// to run out before another listener could take them). Jobs claimed and not started are
    /// handed back: by the next drain (`release_first`) or by `listener_leave` at exit. The first
    /// error, the drain's own or a job's, is the outcome.
    pub(super) async fn wind_down(mut self, outcome: Result<bool>) -> Result<bool> {
        if !self.ready.is_empty() {
            tracing::debug!("{} claimed jobs not started", self.ready.len());
        }
        let mut outcome = outcome;
        // Stopping, the jobs in hand get `shutdown_timeout` to finish (a job may hang on a file
        // system that does not answer, or wait for a lock): then they are abandoned, and
        // `listener_leave` hands them back to the queue.
        let shutdown_timeout = self.listener.options.shutdown_timeout;
        let deadline = self.listener.cancel.is_cancelled().then(|| tokio::time::Instant::now() + shutdown_timeout);
        loop {
            let finished = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, self.running.join_next()).await {
                    Ok(finished) => finished,
                    Err(_) => {
                        tracing::warn!("{} job(s) still running after {shutdown_timeout:?}: handed back unfinished", self.running.len());
                        self.running.abort_all();
                        break;
                    }
                },
                None => self.running.join_next().await,
            };
            let Some(finished) = finished else { break };
            let failed = match finished {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(e) => Error::TaskFailed(e.to_string()),
            };
            if outcome.is_ok() {
                outcome = Err(failed);
            }
        }
        outcome
    }
}
