//! Waiting for the listener to finish the queue: the one wait of the tests and the benchmark.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use piw::queue::QueueStatus;
use tokio_postgres::Client;

/// How to wait.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// Between reads of the queue (the benchmark's timings are as fine as this).
    pub poll: Duration,
    /// Give up after this long.
    pub limit: Duration,
    /// Stop waiting as soon as a job has failed (the benchmark: a failing job would otherwise be
    /// retried for minutes before the queue drains).
    pub stop_at_failure: bool,
}

impl Drain {
    /// For tests: a 10 ms poll, two minutes, failed jobs waited out like the rest.
    pub const TEST: Drain = Drain { poll: Duration::from_millis(10), limit: Duration::from_secs(120), stop_at_failure: false };
}

/// Why the queue was not drained.
#[derive(Debug)]
pub enum Undrained {
    TimedOut(QueueStatus),
    Failed(QueueStatus),
    Database(piw::Error),
}

impl std::fmt::Display for Undrained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Undrained::TimedOut(status) => write!(f, "the queue did not drain in time: {status:?}"),
            Undrained::Failed(status) => write!(f, "{} job(s) failed: {status:?}", status.failed),
            Undrained::Database(error) => write!(f, "cannot read the queue: {error}"),
        }
    }
}

impl std::error::Error for Undrained {}

/// Wait until nothing is pending or running; the queue as it was then.
pub async fn drained(client: &Client, drain: Drain) -> Result<QueueStatus, Undrained> {
    let deadline = Instant::now() + drain.limit;
    loop {
        let status = piw::queue::status(client).await.map_err(Undrained::Database)?;
        if drain.stop_at_failure && status.failed > 0 {
            return Err(Undrained::Failed(status));
        }
        if status.is_drained() {
            return Ok(status);
        }
        if Instant::now() > deadline {
            return Err(Undrained::TimedOut(status));
        }
        tokio::time::sleep(drain.poll).await;
    }
}
