//! What `piw-status` shows: the queue, the listeners, failed jobs and the latest audit entries,
//! read in one snapshot (a repeatable-read transaction) so the parts agree with each other.

use std::fmt::{self, Write as _};

use tokio_postgres::{Client, GenericClient};

use crate::{
    audit::{self, Entry},
    error::Result,
    queue::{self, QueueStatus},
};

/// A listener as `piw.listener_status()` describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listener {
    pub listener: String,
    pub awake: bool,
    pub alive: bool,
    /// Seconds since its last heartbeat.
    pub seconds_since_heartbeat: f64,
    pub jobs_in_hand: i64,
}

/// A job that failed for good (until retried).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedJob {
    pub job_id: i64,
    pub kind: String,
    pub package: String,
    pub filename: String,
    pub attempts: i32,
    pub last_error: String,
}

/// Everything `piw-status` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub pending: i64,
    pub running: i64,
    pub failed: i64,
    /// Age of the oldest pending request in seconds; none when nothing is pending.
    pub oldest_pending_seconds: Option<f64>,
    pub listeners: Vec<Listener>,
    pub failed_jobs: Vec<FailedJob>,
    pub recent: Vec<Entry>,
    pub downloads: Downloads,
}

/// Where the download counts stand (piw.count_downloads).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Downloads {
    /// Seconds since the last count.
    pub counted_seconds_ago: f64,
    /// Downloads logged by transactions the last count did not see (the pages show them too).
    pub not_counted: i64,
}

/// How many failed jobs and audit entries are shown.
const SHOWN: i64 = 20;

/// Read the status in one snapshot.
pub async fn read(client: &mut Client, recent: i64) -> Result<Status> {
    let transaction =
        client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::RepeatableRead).read_only(true).start().await?;
    let QueueStatus { pending, running, failed, oldest_pending } = queue::status(&transaction).await?;
    let listeners = listeners(&transaction).await?;
    let failed_jobs = failed_jobs(&transaction).await?;
    let recent = audit::entries(&transaction, &audit::Filter { limit: Some(recent), ..Default::default() }).await?;
    let downloads = downloads(&transaction).await?;
    transaction.commit().await?;
    Ok(Status {
        pending,
        running,
        failed,
        oldest_pending_seconds: oldest_pending.map(|age| age.as_secs_f64()),
        listeners,
        failed_jobs,
        recent,
        downloads,
    })
}

async fn downloads(client: &impl GenericClient) -> Result<Downloads> {
    let row = client
        .query_one(
            "SELECT extract(epoch FROM clock_timestamp() - c.counted_at)::float8,
                    (SELECT coalesce(sum(u.downloads), 0)::bigint FROM piw.uncounted_downloads() u)
               FROM piw.download_counting c",
            &[],
        )
        .await?;
    Ok(Downloads { counted_seconds_ago: row.try_get(0)?, not_counted: row.try_get(1)? })
}

async fn listeners(client: &impl GenericClient) -> Result<Vec<Listener>> {
    let rows = client
        .query_typed(
            "SELECT listener, awake, alive, extract(epoch FROM clock_timestamp() - seen_at)::float8, jobs_in_hand
               FROM piw.listener_status()",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Listener {
                listener: row.try_get(0)?,
                awake: row.try_get(1)?,
                alive: row.try_get(2)?,
                seconds_since_heartbeat: row.try_get(3)?,
                jobs_in_hand: row.try_get(4)?,
            })
        })
        .collect()
}

async fn failed_jobs(client: &impl GenericClient) -> Result<Vec<FailedJob>> {
    let rows = client
        .query_typed(
            "SELECT job_id, kind, package, filename, attempts, coalesce(last_error, '')
               FROM piw.jobs WHERE state = 'failed' ORDER BY job_id LIMIT $1",
            &[(&SHOWN, tokio_postgres::types::Type::INT8)],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(FailedJob {
                job_id: row.try_get(0)?,
                kind: row.try_get(1)?,
                package: row.try_get(2)?,
                filename: row.try_get(3)?,
                attempts: row.try_get(4)?,
                last_error: row.try_get(5)?,
            })
        })
        .collect()
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut queue = format!("queue: {} pending", self.pending);
        if let Some(age) = self.oldest_pending_seconds {
            let _ = write!(queue, " (oldest {age:.1} s)");
        }
        writeln!(f, "{queue}, {} running, {} failed", self.running, self.failed)?;
        if self.listeners.is_empty() {
            writeln!(f, "listeners: none has run (start piw-listener)")?;
        } else {
            writeln!(f, "listeners:")?;
        }
        for listener in &self.listeners {
            writeln!(
                f,
                "  {}: {}, {}; last heartbeat {:.0} s ago; {} job(s) in hand",
                listener.listener,
                if listener.alive { "alive" } else { "gone" },
                if listener.awake { "awake" } else { "asleep" },
                listener.seconds_since_heartbeat,
                listener.jobs_in_hand
            )?;
        }
        writeln!(
            f,
            "downloads: counted {:.0} s ago, {} logged since (piw-listener counts once a minute)",
            self.downloads.counted_seconds_ago, self.downloads.not_counted
        )?;
        if !self.failed_jobs.is_empty() {
            writeln!(f, "failed jobs (retry: piw-jobs --retry JOB_ID, or --retry --package P):")?;
        }
        for job in &self.failed_jobs {
            let target = [job.package.as_str(), job.filename.as_str()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/");
            writeln!(
                f,
                "  #{} {} {} after {} attempt(s): {}",
                job.job_id,
                job.kind,
                target,
                job.attempts,
                job.last_error.replace('\n', " ")
            )?;
        }
        if !self.recent.is_empty() {
            writeln!(f, "recent changes:")?;
        }
        for entry in &self.recent {
            writeln!(f, "  {entry}")?;
        }
        Ok(())
    }
}
