//! Carrying out one job: render its pages and write them, or delete what its rows no longer hold.

use std::{path::PathBuf, pin::Pin, sync::Arc};

use deadpool_postgres::ClientWrapper;
use futures_util::TryStreamExt;
use tokio_postgres::Client;

use crate::{
    error::Error,
    pages::{self, Output},
    queue::JobKind,
    site::{CheckedDirs, OutputDir, OutputError, Written},
};

/// Why a job failed. Every variant is retried with backoff, then marked failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Database(#[from] Error),
    #[error("unknown job kind {0:?} (is this listener older than the schema?)")]
    UnknownKind(String),
    /// Done, but not on stable storage: the job is not done.
    #[error("the job's changes could not be made durable: {0}")]
    Unsynced(String),
}

impl JobError {
    /// A lost connection is the database's fault, not the job's: the job is put back, not failed.
    pub fn is_connection(&self) -> bool {
        matches!(self, JobError::Database(e) if e.is_connection())
    }
}

/// What a job changed on disk, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effect {
    pub written: u64,
    pub unchanged: u64,
    pub removed: u64,
    /// Wheels moved to the package their row now belongs to.
    pub moved: u64,
}

impl Effect {
    pub(super) fn add(&mut self, other: Effect) {
        self.written += other.written;
        self.unchanged += other.unchanged;
        self.removed += other.removed;
        self.moved += other.moved;
    }
}

/// The outcomes of a package's `simple` and `project` jobs run as one.
#[derive(Debug)]
pub struct PackagePages {
    pub simple: Result<Effect, JobError>,
    pub project: Result<Effect, JobError>,
}

/// Carries out jobs into one output directory.
#[derive(Debug, Clone)]
pub struct Executor {
    pub(super) output: OutputDir,
}

impl Executor {
    pub fn new(output: OutputDir) -> Self {
        Executor { output }
    }

    pub fn output(&self) -> &OutputDir {
        &self.output
    }

    /// Carry out a job of this kind on a pooled connection (its statement cache keeps the per-package page
    /// queries prepared: planned once per connection, not once per page).
    pub async fn execute(&self, pooled: &ClientWrapper, kind: &JobKind) -> Result<Effect, JobError> {
        let client: &Client = pooled;
        match kind {
            JobKind::Home => self.apply_all(pages::home(client).await?).await,
            JobKind::Search => self.apply_all(pages::search(client).await?).await,
            JobKind::SimpleRoot => self.apply_all(pages::simple_root(client).await?).await,
            JobKind::Simple { package } => {
                let statement = pooled.prepare_cached(pages::SIMPLE_QUERY).await.map_err(Error::from)?;
                self.apply_all(pages::simple_prepared(client, &statement, package).await?).await
            }
            JobKind::Project { package } => {
                let statement = pooled.prepare_cached(pages::PROJECT_QUERY).await.map_err(Error::from)?;
                self.apply_all(pages::project_prepared(client, &statement, package).await?).await
            }
            JobKind::SimpleAll => self.stream_all(client, AllPages::Simple).await,
            JobKind::ProjectAll => self.stream_all(client, AllPages::Project).await,
            JobKind::DeleteWheel { package, filename } => self.delete_wheel(pooled, package, filename).await,
            JobKind::DeletePackage { package } => self.delete_package(pooled, package).await,
            JobKind::Reconcile => self.reconcile(pooled).await,
            JobKind::PlaceWheel { package, filename } => self.place_wheel(pooled, package, filename).await,
        }
    }

    async fn apply_all(&self, outputs: Vec<Output>) -> Result<Effect, JobError> {
        let [applied] = self.apply_each([outputs]).await?;
        Ok(applied?)
    }

    /// Apply each group of outputs up to its first failure; one group's failure does not stop
    /// the others. `Err` only when the writer thread panicked.
    async fn apply_each<const N: usize>(&self, groups: [Vec<Output>; N]) -> Result<[Result<Effect, OutputError>; N], JobError> {
        let output = self.output.clone();
        tokio::task::spawn_blocking(move || {
            let mut checked = CheckedDirs::new(0);
            groups.map(|outputs| {
                let mut effect = Effect::default();
                for item in &outputs {
                    effect.add(apply(&output, item, &mut checked)?);
                }
                Ok(effect)
            })
        })
        .await
        .map_err(|e| {
            JobError::Output(OutputError::Io {
                action: "writer panicked on",
                path: PathBuf::new(),
                source: std::io::Error::other(e.to_string()),
            })
        })
    }

    /// A package's jobs `simple` and `project` in one: both kinds of page from one query of its
    /// project rows (see [`pages::package_pages_prepared`]). Each job has its own outcome: a
    /// page of one that cannot be written does not fail the other. `Err` when neither could run.
    pub async fn package_pages(&self, pooled: &ClientWrapper, package: &str) -> Result<PackagePages, JobError> {
        let client: &Client = pooled;
        let statement = pooled.prepare_cached(pages::PROJECT_QUERY).await.map_err(Error::from)?;
        let [simple, project] = self.apply_each(pages::package_pages_prepared(client, &statement, package).await?).await?;
        Ok(PackagePages { simple: simple.map_err(JobError::from), project: project.map_err(JobError::from) })
    }

    /// The jobs `simple_all` and `project_all` in one pass: both kinds of page of every package
    /// from the project rows alone (see [`pages::render_simple_of_project`]), one query instead of
    /// two. A full rebuild (`piw.rebuild('index')`) queues both.
    pub async fn all_pages(&self, client: &Client) -> Result<Effect, JobError> {
        self.stream_all(client, AllPages::Both).await
    }

    /// Every package's simple or project pages (or both): the rows stream in here, grouped by
    /// package, and a pool of blocking threads (one per core) renders and writes the pages, fed
    /// through a bounded channel: the server keeps sending while pages are rendered and written,
    /// all cores render, and memory stays bounded by the channel, whatever the number of packages.
    /// Packages travel in batches: a hand-over wakes a thread, and costs as much for one package
    /// as for many.
    async fn stream_all(&self, client: &Client, which: AllPages) -> Result<Effect, JobError> {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let (sender, receiver) = tokio::sync::mpsc::channel::<Vec<Streamed>>(threads * STREAM_BATCHES_PER_THREAD);
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        let writers: Vec<_> = (0..threads)
            .map(|_| {
                let (output, receiver) = (self.output.clone(), receiver.clone());
                tokio::task::spawn_blocking(move || render_and_write(&output, &receiver))
            })
            .collect();
        let started = std::time::Instant::now();
        let mut first_row = None;
        let produced = async {
            // Both kinds of package data as one stream, so that one loop batches them.
            let mut packages: Pin<Box<dyn futures_util::Stream<Item = crate::error::Result<Streamed>> + Send>> =
                if which == AllPages::Simple {
                    Box::pin(pages::all_simple_data(client).await?.map_ok(Streamed::Simple))
                } else {
                    let with_simple = which == AllPages::Both;
                    Box::pin(pages::all_project_data(client).await?.map_ok(move |project| Streamed::Project { project, with_simple }))
                };
            let mut batch = Vec::with_capacity(STREAM_BATCH);
            while let Some(package) = packages.try_next().await? {
                first_row.get_or_insert_with(|| started.elapsed());
                batch.push(package);
                if batch.len() == STREAM_BATCH && sender.send(std::mem::take(&mut batch)).await.is_err() {
                    return Ok(());
                }
            }
            if !batch.is_empty() {
                // The writers only stop early when the whole pass has failed already.
                let _ = sender.send(batch).await;
            }
            Ok::<(), Error>(())
        }
        .await;
        let rows_done = started.elapsed();
        // The writers finish what is queued, then see the channel closed.
        drop(sender);
        let mut effect = Effect::default();
        let mut failure: Option<JobError> = None;
        for writer in writers {
            match writer.await {
                Ok((done, failed)) => {
                    effect.add(done);
                    if let Some(e) = failed {
                        failure.get_or_insert(e);
                    }
                }
                Err(e) => {
                    failure.get_or_insert(JobError::Output(OutputError::Io {
                        action: "writer panicked on",
                        path: PathBuf::new(),
                        source: std::io::Error::other(e.to_string()),
                    }));
                }
            }
        }
        // Where a pass's time goes: the server's work before the first package, the rows, the writers.
        tracing::debug!(
            first_package_ms = first_row.unwrap_or_default().as_secs_f64() * 1e3,
            last_package_ms = rows_done.as_secs_f64() * 1e3,
            written_ms = started.elapsed().as_secs_f64() * 1e3,
            "streamed pass"
        );
        produced?;
        match failure {
            Some(e) => Err(e),
            None => Ok(effect),
        }
    }
}

/// Packages handed to a writer thread at once.
const STREAM_BATCH: usize = 16;

/// Batches in flight between the rows and the writer threads, per thread.
const STREAM_BATCHES_PER_THREAD: usize = 2;

/// Directories a writer thread of a streamed rebuild keeps checked: the two top-level ones and
/// the last few packages' (see [`CheckedDirs`]).
const CHECKED_DIRS_PER_THREAD: usize = 8;

/// Which pages of every package a streamed rebuild writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AllPages {
    Simple,
    Project,
    Both,
}

/// One package's data on its way to a writer thread.
enum Streamed {
    Simple(pages::SimplePage),
    /// The project pages, and the simple page too when `with_simple`.
    Project {
        project: pages::Project,
        with_simple: bool,
    },
}

/// A writer thread of a streamed rebuild: render and write until the channel closes. A page that
/// cannot be rendered or written does not stop the others; the first failure fails the job.
fn render_and_write(
    output: &OutputDir,
    receiver: &std::sync::Mutex<tokio::sync::mpsc::Receiver<Vec<Streamed>>>,
) -> (Effect, Option<JobError>) {
    let mut effect = Effect::default();
    let mut failure: Option<JobError> = None;
    let mut checked = CheckedDirs::new(CHECKED_DIRS_PER_THREAD);
    loop {
        let next = receiver.lock().unwrap_or_else(std::sync::PoisonError::into_inner).blocking_recv();
        let Some(batch) = next else {
            return (effect, failure);
        };
        for streamed in &batch {
            render_and_write_one(output, streamed, &mut checked, &mut effect, &mut failure);
        }
    }
}

/// One package's pages of a streamed rebuild; a failure is logged and kept (the first one).
fn render_and_write_one(
    output: &OutputDir,
    streamed: &Streamed,
    checked: &mut CheckedDirs,
    effect: &mut Effect,
    failure: &mut Option<JobError>,
) {
    let rendered = match streamed {
        Streamed::Simple(page) => pages::render_simple(page),
        Streamed::Project { project, with_simple: false } => pages::render_project(project),
        Streamed::Project { project, with_simple: true } => pages::render_project(project).and_then(|mut outputs| {
            outputs.extend(pages::render_simple_of_project(project)?);
            Ok(outputs)
        }),
    };
    let outputs: Vec<Output> = match rendered {
        Ok(outputs) => outputs,
        Err(e) => {
            tracing::warn!("{e}");
            failure.get_or_insert(e.into());
            return;
        }
    };
    for item in &outputs {
        match apply(output, item, checked) {
            Ok(done) => effect.add(done),
            Err(e) => {
                tracing::warn!("{e}");
                failure.get_or_insert(e.into());
            }
        }
    }
}

fn apply(output: &OutputDir, item: &Output, checked: &mut CheckedDirs) -> Result<Effect, OutputError> {
    Ok(match item {
        Output::Write { path, bytes } => match output.write_checked(path, bytes, checked)? {
            Written::Changed => Effect { written: 1, ..Effect::default() },
            Written::Unchanged => Effect { unchanged: 1, ..Effect::default() },
        },
        Output::Remove { path } => Effect { removed: output.remove_file(path)?.into(), ..Effect::default() },
    })
}
