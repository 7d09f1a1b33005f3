//! Reconciliation: make the tree match the rows (the `reconcile` job a full rebuild of the index
//! queues).
//!
//! What no row describes goes: directories of packages that have no row (in `simple/` and
//! `project/`), wheels in a package's directory that no row of `piw.files` has (killed importers,
//! piwheels' removals), anything else in a package's directories but its pages, and temporary
//! files left by killed writers. A wheel's metadata file (PEP 658) stays and goes with its wheel.
//! A wheel whose row is another package's is moved there. Rows whose
//! wheel is missing are reported, not changed: pages stay a function of the rows.
//!
//! The tree is compared with one snapshot of the rows, a batch of packages at a time; every
//! removal under `simple/` is then made by the deletion jobs' own code (see `retire`): under the
//! package's wheels lock, after a fresh look at the rows. So a wheel whose import is in flight
//! (written, rows not yet committed) is waited for, then seen, and stays. The job runs alone among
//! the jobs that write in packages' directories (see `piw._jobs_conflict`). Each run leaves a row
//! in `piw.reconciliations`, and a log line for each removal.

use std::{
    collections::{HashMap, HashSet},
    ffi::{OsStr, OsString},
    path::{Path, PathBuf},
};

use deadpool_postgres::ClientWrapper;
use futures_util::TryStreamExt;
use tokio_postgres::Client;

use super::executor::{Effect, Executor, JobError};
use crate::site::layout::{self, is_package_name};
use crate::{
    error::Error,
    site::{
        fs::{is_temporary_name, Kind},
        OutputDir, OutputError,
    },
};

/// Every package with the filenames of its rows.
const PACKAGE_FILES_SQL: &str = "SELECT p.package,
                                        ARRAY(SELECT f.filename FROM piw.builds b JOIN piw.files f ON f.build_id = b.build_id
                                               WHERE b.package = p.package)
                                   FROM piw.packages p";

/// Packages looked at on disk at once (off the runtime, on a blocking thread; one batch per core
/// at a time).
const BATCH: usize = 256;

/// How many paths a report keeps of each kind.
const EXAMPLES: usize = 100;

/// What a reconciliation found and did.
#[derive(Debug, Default)]
pub struct Reconciled {
    pub removed_wheels: u64,
    pub moved_wheels: u64,
    pub removed_directories: u64,
    pub removed_other: u64,
    pub missing_wheels: u64,
    pub removed: Vec<String>,
    pub missing: Vec<String>,
    /// Wheels of rows not found in their package's directory when it was looked at.
    maybe_missing: Vec<PathBuf>,
}

impl Reconciled {
    fn removed(&mut self, path: &Path) {
        tracing::info!("reconciliation: removed {}", path.display());
        if self.removed.len() < EXAMPLES {
            self.removed.push(path.display().to_string());
        }
    }

    fn missing(&mut self, path: &Path) {
        self.missing_wheels += 1;
        // A line each for the first hundred (a tree that lost its wheels would flood the log),
        // then the count at the end.
        if self.missing.len() < EXAMPLES {
            tracing::warn!("reconciliation: {} is published but missing on disk", path.display());
            self.missing.push(path.display().to_string());
        }
    }

    fn effect(&self) -> Effect {
        Effect {
            removed: self.removed_wheels + self.removed_directories + self.removed_other,
            moved: self.moved_wheels,
            ..Effect::default()
        }
    }
}

/// What one package's directories hold that its rows do not say (found on a blocking thread).
#[derive(Debug, Default)]
struct Findings {
    /// Files in `simple/PACKAGE/` that no row of this package has: wheels of no row (or of
    /// another package's row), temporary files.
    unknown_wheels: Vec<String>,
    /// Anything else in `simple/PACKAGE/` (directories, links, FIFOs, names that are not text).
    other_simple: Vec<OsString>,
    /// Anything in `project/PACKAGE/` but its pages.
    other_project: Vec<PathBuf>,
    /// Rows whose wheel is not there.
    missing: Vec<String>,
}

impl Executor {
    /// Reconcile the tree with the rows (see the module's documentation).
    pub(super) async fn reconcile(&self, pooled: &ClientWrapper) -> Result<Effect, JobError> {
        let client: &Client = pooled;
        let started = std::time::Instant::now();
        let mut looking = std::time::Duration::ZERO;
        let mut report = Reconciled::default();
        // The package directories there are; each package with rows is taken out as it comes.
        let output = self.output.clone();
        let (mut simple_dirs, mut project_dirs) = tokio::task::spawn_blocking(move || -> Result<_, OutputError> {
            Ok((package_dirs(&output, layout::SIMPLE)?, package_dirs(&output, layout::PROJECT)?))
        })
        .await
        .map_err(panicked)??;
        let rows = client.query_raw(PACKAGE_FILES_SQL, std::iter::empty::<&str>()).await.map_err(Error::from)?;
        let mut rows = std::pin::pin!(rows);
        let mut batch: Vec<(String, Vec<String>)> = Vec::with_capacity(BATCH);
        // Acted on once the rows are all in: the connection the rows stream on is the one the
        // actions use, and a statement sent meanwhile would wait behind rows nobody reads.
        let mut remarkable = Vec::new();
        // Batches are looked at on blocking threads, one per core, while the rows keep coming.
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mut in_flight = std::collections::VecDeque::new();
        loop {
            let row = rows.try_next().await.map_err(Error::from)?;
            if let Some(row) = &row {
                let package: String = row.try_get(0).map_err(Error::from)?;
                simple_dirs.remove(OsStr::new(&package));
                project_dirs.remove(OsStr::new(&package));
                batch.push((package, row.try_get(1).map_err(Error::from)?));
            }
            if batch.len() == BATCH || (row.is_none() && !batch.is_empty()) {
                let packages = std::mem::take(&mut batch);
                let output = self.output.clone();
                in_flight.push_back(tokio::task::spawn_blocking(move || look(&output, &packages)));
            }
            while in_flight.len() > threads || (row.is_none() && !in_flight.is_empty()) {
                let Some(oldest) = in_flight.pop_front() else { break };
                let waited = std::time::Instant::now();
                remarkable.extend(oldest.await.map_err(panicked)??);
                looking += waited.elapsed();
            }
            if row.is_none() {
                break;
            }
        }
        let compared = started.elapsed();
        for (package, findings) in remarkable {
            self.settle(pooled, &package, findings, &mut report).await?;
        }
        tracing::debug!(
            compared_ms = compared.as_secs_f64() * 1e3,
            waited_for_looks_ms = looking.as_secs_f64() * 1e3,
            "reconciliation's comparison"
        );
        // What is left has no row.
        let orphans: HashSet<OsString> = simple_dirs.into_keys().chain(project_dirs.into_keys()).collect();
        for name in orphans {
            self.remove_orphan_package(pooled, &name, &mut report).await?;
        }
        report.removed_other += self.remove_temporary_files(&mut report)?;
        // A wheel may have been moved in since its package was looked at: looked at again then.
        let moves = report.moved_wheels > 0;
        for path in std::mem::take(&mut report.maybe_missing) {
            if !(moves && std::fs::symlink_metadata(self.output.root().join(&path)).is_ok_and(|meta| meta.is_file())) {
                report.missing(&path);
            }
        }
        tracing::info!(
            "reconciliation: {} wheel(s), {} director(ies) and {} other file(s) removed, {} wheel(s) moved, {} published wheel(s) missing",
            report.removed_wheels,
            report.removed_directories,
            report.removed_other,
            report.moved_wheels,
            report.missing_wheels
        );
        record(client, &report).await?;
        Ok(report.effect())
    }

    /// Act on what one package's directories hold that its rows do not say.
    async fn settle(&self, pooled: &ClientWrapper, package: &str, findings: Findings, report: &mut Reconciled) -> Result<(), JobError> {
        let simple = layout::simple_dir(package);
        for filename in findings.unknown_wheels {
            // The deletion job's own way: under the wheels lock, after a fresh look at the rows
            // (an import in flight commits first, and its wheel stays).
            let done = if is_temporary_name(OsStr::new(&filename)) {
                self.remove_stale_temporary(pooled, package, &filename).await?
            } else {
                self.delete_wheel(pooled, package, &filename).await?
            };
            if done.removed > 0 {
                report.removed(&simple.join(&filename));
                if is_temporary_name(OsStr::new(&filename)) {
                    report.removed_other += 1;
                } else {
                    report.removed_wheels += 1;
                }
            }
            report.moved_wheels += done.moved;
        }
        for name in findings.other_simple {
            let path = simple.join(&name);
            if self.remove_dir_off_runtime(&path).await? {
                report.removed(&path);
                report.removed_other += 1;
            }
        }
        for path in findings.other_project {
            if self.remove_dir_off_runtime(&path).await? {
                report.removed(&path);
                report.removed_other += 1;
            }
        }
        // Reported at the end: a wheel found under another package's directory may be moved
        // here meanwhile.
        report.maybe_missing.extend(findings.missing.into_iter().map(|filename| simple.join(filename)));
        Ok(())
    }

    /// A directory in `simple/` or `project/` named after no package: a package's name goes the
    /// way of its deletion job (under its wheels lock, after a fresh look); any other name
    /// cannot be a package's, and goes.
    async fn remove_orphan_package(&self, pooled: &ClientWrapper, name: &OsStr, report: &mut Reconciled) -> Result<(), JobError> {
        match name.to_str().filter(|name| is_package_name(name)) {
            Some(package) => {
                let there: Vec<PathBuf> = layout::PACKAGE_TREES
                    .iter()
                    .map(|top| Path::new(top).join(package))
                    .filter(|path| std::fs::symlink_metadata(self.output.root().join(path)).is_ok())
                    .collect();
                let done = self.delete_package(pooled, package).await?;
                if done.removed > 0 {
                    there.iter().for_each(|path| report.removed(path));
                }
                report.removed_directories += done.removed;
                report.moved_wheels += done.moved;
            }
            None => {
                for top in layout::PACKAGE_TREES {
                    let path = Path::new(top).join(name);
                    if self.remove_dir_off_runtime(&path).await? {
                        report.removed(&path);
                        report.removed_directories += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Temporary files left by killed writers at the top of the tree and of `simple/` and
    /// `project/` (those in packages' directories go with the packages).
    fn remove_temporary_files(&self, report: &mut Reconciled) -> Result<u64, JobError> {
        let mut removed = 0;
        for top in ["", layout::SIMPLE, layout::PROJECT] {
            for (name, kind) in self.output.list(Path::new(top))?.unwrap_or_default() {
                if kind != Kind::Dir && is_temporary_name(&name) {
                    let path = Path::new(top).join(&name);
                    if self.output.remove_file(&path)? {
                        report.removed(&path);
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// The subdirectories (and anything else but pages) of `top` (`simple` or `project`), by name.
fn package_dirs(output: &OutputDir, top: &str) -> Result<HashMap<OsString, Kind>, OutputError> {
    let mut dirs = HashMap::new();
    for (name, kind) in output.list(Path::new(top))?.unwrap_or_default() {
        // The pages at the top of simple/ and temporary files are not packages' directories.
        if kind == Kind::File && (name == layout::PAGE || name == layout::JSON_PAGE || is_temporary_name(&name)) {
            continue;
        }
        if kind == Kind::Dir || kind == Kind::Symlink {
            dirs.insert(name, kind);
        }
    }
    Ok(dirs)
}

/// Each package's directories against its rows.
fn look(output: &OutputDir, packages: &[(String, Vec<String>)]) -> Result<Vec<(String, Findings)>, OutputError> {
    let mut found = Vec::new();
    for (package, filenames) in packages {
        if !is_package_name(package) {
            continue;
        }
        let mut findings = Findings::default();
        let simple = layout::simple_dir(package);
        let mut on_disk = HashSet::new();
        for (name, kind) in output.list(&simple)?.unwrap_or_default() {
            match (kind, name.to_str()) {
                (Kind::File, Some(layout::PAGE | layout::JSON_PAGE)) => {}
                (Kind::File, Some(text)) => {
                    on_disk.insert(text.to_owned());
                    // A metadata file is its wheel's: known with it, deleted (or moved) with it.
                    let wheel = layout::wheel_of_metadata(text).unwrap_or(text);
                    if !filenames.iter().any(|f| f == wheel) && !findings.unknown_wheels.iter().any(|w| w == wheel) {
                        findings.unknown_wheels.push(wheel.to_owned());
                    }
                }
                _ => findings.other_simple.push(name),
            }
        }
        findings.missing = filenames.iter().filter(|f| !on_disk.contains(f.as_str())).cloned().collect();
        let project = layout::project_dir(package);
        for (name, kind) in output.list(&project)?.unwrap_or_default() {
            match (kind, name.to_str()) {
                (Kind::File, Some(layout::PAGE)) => {}
                (Kind::Dir, Some("json")) => {
                    for (inner, inner_kind) in output.list(&project.join("json"))?.unwrap_or_default() {
                        if !(inner_kind == Kind::File && inner == "index.json") {
                            findings.other_project.push(project.join("json").join(inner));
                        }
                    }
                }
                _ => findings.other_project.push(project.join(name)),
            }
        }
        let unremarkable = findings.unknown_wheels.is_empty()
            && findings.other_simple.is_empty()
            && findings.other_project.is_empty()
            && findings.missing.is_empty();
        if !unremarkable {
            found.push((package.clone(), findings));
        }
    }
    Ok(found)
}

/// Leave a row in `piw.reconciliations`.
async fn record(client: &Client, report: &Reconciled) -> Result<(), JobError> {
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    client
        .execute(
            "INSERT INTO piw.reconciliations (removed_wheels, moved_wheels, removed_directories, removed_other, missing_wheels, removed, missing)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &count(report.removed_wheels),
                &count(report.moved_wheels),
                &count(report.removed_directories),
                &count(report.removed_other),
                &count(report.missing_wheels),
                &report.removed,
                &report.missing,
            ],
        )
        .await
        .map_err(Error::from)?;
    Ok(())
}

impl Executor {
    /// `OutputDir::remove_dir` on a blocking thread: a directory may hold thousands of files, and
    /// the runtime's threads run the other jobs.
    async fn remove_dir_off_runtime(&self, path: &Path) -> Result<bool, JobError> {
        let (output, path) = (self.output.clone(), path.to_owned());
        Ok(tokio::task::spawn_blocking(move || output.remove_dir(&path)).await.map_err(panicked)??)
    }
}

fn panicked(e: tokio::task::JoinError) -> JobError {
    JobError::Output(OutputError::Io {
        action: "reconciliation panicked on",
        path: PathBuf::new(),
        source: std::io::Error::other(e.to_string()),
    })
}
