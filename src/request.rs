//! A request: the work one transaction queued, followed by its id (the transaction's
//! `pg_current_xact_id()`, also its `piw.audit.request_id`) until it is all carried out. And the
//! dry run: what a transaction has changed and queued so far (`piw.plan()`), read before it rolls
//! back.
//!
//! Statements are unnamed and typed (see `admin`), so they work through a transaction-mode pooler.

use std::{
    fmt,
    time::{Duration, Instant},
};

use tokio_postgres::{types::Type, GenericClient};

use crate::error::{Error, Result};

/// The id of a request: the transaction that queued the work (an `xid8`, which tokio-postgres
/// cannot decode: carried as its decimal text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The id of the transaction `client` is in (call it before COMMIT).
pub async fn current(client: &impl GenericClient) -> Result<RequestId> {
    let text: String = client.query_typed_one("SELECT pg_current_xact_id()::text", &[]).await?.try_get(0)?;
    text.parse().map(RequestId).map_err(|_| Error::Unexpected(format!("transaction id {text:?}")))
}

/// Where a piece of a request's work is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Logged, not yet taken by a listener.
    Requested,
    /// A job waiting its turn (or its retry after a failure).
    Pending,
    /// Being carried out.
    Running,
    /// Given up on until retried (`piw.retry_jobs`).
    Failed,
}

impl JobState {
    fn parse(state: &str) -> Result<Self> {
        Ok(match state {
            "requested" => JobState::Requested,
            "pending" => JobState::Pending,
            "running" => JobState::Running,
            "failed" => JobState::Failed,
            other => return Err(Error::Unexpected(format!("job state {other:?}"))),
        })
    }
}

/// One target of a request that is not done yet (a row of `piw.request_jobs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outstanding {
    pub kind: String,
    pub package: String,
    pub filename: String,
    pub state: JobState,
    pub last_error: Option<String>,
}

impl fmt::Display for Outstanding {
    /// `simple foo`, `delete_wheel foo/foo-1.0-py3-none-any.whl`, `home`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        match (self.package.as_str(), self.filename.as_str()) {
            ("", "") => Ok(()),
            (package, "") => write!(f, " {package}"),
            ("", filename) => write!(f, " {filename}"),
            (package, filename) => write!(f, " {package}/{filename}"),
        }
    }
}

/// What is left of the work of `requests`.
pub async fn outstanding(client: &impl GenericClient, requests: &[RequestId]) -> Result<Vec<Outstanding>> {
    let ids: Vec<String> = requests.iter().map(ToString::to_string).collect();
    let rows = client
        .query_typed(
            "SELECT q.kind, q.package, q.filename, q.state, q.last_error
               FROM unnest($1::text[]) AS r (id)
              CROSS JOIN LATERAL piw.request_jobs(r.id::xid8) AS q",
            &[(&ids, Type::TEXT_ARRAY)],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Outstanding {
                kind: row.try_get(0)?,
                package: row.try_get(1)?,
                filename: row.try_get(2)?,
                state: JobState::parse(row.try_get(3)?)?,
                last_error: row.try_get(4)?,
            })
        })
        .collect()
}

/// How far a request has come, for whoever shows it.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// Targets done so far, of `total`.
    pub done: u64,
    pub total: u64,
    /// What is left.
    pub left: &'a [Outstanding],
}

/// How a wait for requests ended, other than with all their work done.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// Some of the work failed for good (until retried); the rest is done.
    #[error("{} job(s) failed: {}", .0.len(), describe(.0))]
    Failed(Vec<Outstanding>),
    /// The time allowed ran out first.
    #[error("timed out after {} s with {} job(s) still to do: {}{}", .waited.as_secs(), .left.len(), describe(.left), listener_hint(.left))]
    TimedOut { waited: Duration, left: Vec<Outstanding> },
    #[error(transparent)]
    Database(#[from] Error),
}

fn describe(jobs: &[Outstanding]) -> String {
    const SHOWN: usize = 5;
    let mut text = jobs
        .iter()
        .take(SHOWN)
        .map(|job| match &job.last_error {
            Some(error) => format!("{job} ({})", error.replace('\n', " ")),
            None => job.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    if jobs.len() > SHOWN {
        text.push_str(&format!("; and {} more", jobs.len() - SHOWN));
    }
    text
}

/// Work that no listener has taken is the likeliest sign that none runs.
fn listener_hint(left: &[Outstanding]) -> &'static str {
    if left.iter().all(|job| job.state == JobState::Requested) {
        " (is piw-listener running?)"
    } else {
        ""
    }
}

/// Wait until the work of `requests` is done (`total` targets when it was queued), telling
/// `progress` after every look. Fails when what is left has all failed, or after `timeout`.
pub async fn wait(
    client: &impl GenericClient,
    requests: &[RequestId],
    total: u64,
    timeout: Option<Duration>,
    mut progress: impl FnMut(&Progress<'_>),
) -> Result<(), WaitError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let left = outstanding(client, requests).await?;
        // A target re-queued (a listener fenced off its lease) can briefly count twice.
        let total = total.max(left.len() as u64);
        progress(&Progress { done: total - left.len() as u64, total, left: &left });
        if left.is_empty() {
            return Ok(());
        }
        if left.iter().all(|job| job.state == JobState::Failed) {
            return Err(WaitError::Failed(left));
        }
        if let Some(timeout) = timeout {
            if started.elapsed() >= timeout {
                return Err(WaitError::TimedOut { waited: started.elapsed(), left });
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// One line of a dry run's plan (a row of `piw.plan()`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanLine {
    /// `files deleted`, `versions updated`, ... (rows), or a job kind (disk work).
    pub change: String,
    pub count: i64,
    /// Some of the wheels or packages concerned (disk work only).
    pub items: Vec<String>,
}

impl PlanLine {
    /// Rows (from the audit's counts) rather than disk work.
    pub fn is_rows(&self) -> bool {
        self.change.contains(' ')
    }
}

impl fmt::Display for PlanLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.change.as_str() {
            "delete_wheel" => "wheels to delete from disk",
            "delete_package" => "package directories to delete",
            "simple" => "simple pages to write",
            "project" => "project pages to write",
            "simple_root" => "simple index to write",
            "home" => "home page to write",
            "search" => "search index to write",
            "simple_all" => "every simple page to write",
            "project_all" => "every project page to write",
            "reconcile" => "tree to reconcile with the rows",
            "place_wheel" => "wheels to publish or withhold",
            rows => rows,
        };
        write!(f, "{what}: {}", self.count)?;
        if !self.items.is_empty() {
            write!(f, " ({})", self.items.join(", "))?;
        }
        Ok(())
    }
}

/// What the transaction `client` is in has changed and queued so far.
pub async fn plan(client: &impl GenericClient) -> Result<Vec<PlanLine>> {
    let rows = client.query_typed("SELECT change, count, coalesce(items, '{}') FROM piw.plan()", &[]).await?;
    let mut plan = rows
        .iter()
        .map(|row| Ok(PlanLine { change: row.try_get(0)?, count: row.try_get(1)?, items: row.try_get(2)? }))
        .collect::<Result<Vec<_>>>()?;
    // The rows first, then what the listener would do on disk.
    plan.sort_by_key(|line| (!line.is_rows(), line.change.clone()));
    Ok(plan)
}
