//! Reconciliation: make the tree match the rows (the `reconcile` job a full rebuild of the index
//! queues).
//!
//! What no row describes goes: directories of packages that have no row (in `simple/` and
//! `project/`), wheels in a package's directory that no row of `piw.files` has (killed importers,
//! piwheels' removals), anything else in a package's directories but its pages, and temporary
//! files left by killed writers. A wheel's metadata file (PEP 658) stays and goes with its wheel.
//! A wheel whose row is another package's is moved there. A wheel in the served tree whose row
//! withholds it (a held or skipped version, a skipped package) is moved to `.withheld/PACKAGE/`,
//! and one there whose row publishes it back (see `place`); what no row describes in
//! `.withheld/` goes as it does under `simple/`. Rows whose wheel is missing are reported, not
//! changed: pages stay a function of the rows.
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

/// Every package with the filenames of its rows: those it publishes, and those it withholds
/// (held or skipped versions; every one of a skipped package).
const PACKAGE_FILES_SQL: &str = "SELECT p.package,
                                        ARRAY(SELECT f.filename FROM piw.builds b JOIN piw.files f ON f.build_id = b.build_id
                                                JOIN piw.versions v ON v.package = b.package AND v.version = b.version
                                               WHERE b.package = p.package AND p.skip = '' AND v.skip = '' AND v.held = ''),
                                        ARRAY(SELECT f.filename FROM piw.builds b JOIN piw.files f ON f.build_id = b.build_id
                                                JOIN piw.versions v ON v.package = b.package AND v.version = b.version
                                               WHERE b.package = p.package AND NOT (p.skip = '' AND v.skip = '' AND v.held = ''))
                                   FROM piw.packages p";

/// A package's rows as the reconciliation compares them with its directories.
#[derive(Debug)]
struct PackageFiles {
    package: String,
    published: Vec<String>,
    withheld: Vec<String>,
}

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
    /// Files in `.withheld/PACKAGE/` that no row of this package has.
    unknown_withheld: Vec<String>,
    /// Anything else in `.withheld/PACKAGE/`.
    other_withheld: Vec<OsString>,
    /// Wheels of this package's rows in the wrong one of its two places (served or withheld).
    misplaced: Vec<String>,
    /// Where the wheels of rows should be but are not (in neither place).
    missing: Vec<PathBuf>,
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
        let (mut simple_dirs, mut project_dirs, mut withheld_dirs) = tokio::task::spawn_blocking(move || -> Result<_, OutputError> {
            Ok((package_dirs(&output, layout::SIMPLE)?, package_dirs(&output, layout::PROJECT)?, package_dirs(&output, layout::WITHHELD)?))
        })
        .await
        .map_err(panicked)??;
        let rows = client.query_raw(PACKAGE_FILES_SQL, std::iter::empty::<&str>()).await.map_err(Error::from)?;
        let mut rows = std::pin::pin!(rows);
        let mut batch: Vec<PackageFiles> = Vec::with_capacity(BATCH);
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
                withheld_dirs.remove(OsStr::new(&package));
                let (published, withheld) = (row.try_get(1).map_err(Error::from)?, row.try_get(2).map_err(Error::from)?);
                batch.push(PackageFiles { package, published, withheld });
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
        let orphans: HashSet<OsString> = simple_dirs.into_keys().chain(project_dirs.into_keys()).chain(withheld_dirs.into_keys()).collect();
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
        let (simple, withheld) = (layout::simple_dir(package), layout::withheld_dir(package));
        let unknown =
            findings.unknown_wheels.into_iter().map(|f| (&simple, f)).chain(findings.unknown_withheld.into_iter().map(|f| (&withheld, f)));
        for (dir, filename) in unknown {
            // The deletion job's own way: under the wheels lock, after a fresh look at the rows
            // (an import in flight commits first, and its wheel stays).
            let done = if is_temporary_name(OsStr::new(&filename)) {
                self.remove_stale_temporary(pooled, package, dir, &filename).await?
            } else {
                self.delete_wheel(pooled, package, &filename).await?
            };
            if done.removed > 0 {
                report.removed(&dir.join(&filename));
                if is_temporary_name(OsStr::new(&filename)) {
                    report.removed_other += 1;
                } else {
                    report.removed_wheels += 1;
                }
            }
            report.moved_wheels += done.moved;
        }
        // The move job's own way, under the wheels lock after a fresh look at the row.
        for filename in findings.misplaced {
            report.moved_wheels += self.place_wheel(pooled, package, &filename).await?.moved;
        }
        for path in
            findings.other_simple.iter().map(|name| simple.join(name)).chain(findings.other_withheld.iter().map(|name| withheld.join(name)))
        {
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
        report.maybe_missing.extend(findings.missing);
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

    /// Temporary files left by killed writers at the top of the tree and of `simple/`,
    /// `project/` and `.withheld/` (those in packages' directories go with the packages).
    fn remove_temporary_files(&self, report: &mut Reconciled) -> Result<u64, JobError> {
        let mut removed = 0;
        for top in ["", layout::SIMPLE, layout::PROJECT, layout::WITHHELD] {
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
fn look(output: &OutputDir, packages: &[PackageFiles]) -> Result<Vec<(String, Findings)>, OutputError> {
    let mut found = Vec::new();
    for PackageFiles { package, published, withheld } in packages {
        if !is_package_name(package) {
            continue;
        }
        let mut findings = Findings::default();
        let simple = layout::simple_dir(package);
        // The wheels found in each place (metadata files count as their wheel's).
        let mut in_simple = HashSet::new();
        for (name, kind) in output.list(&simple)?.unwrap_or_default() {
            match (kind, name.to_str()) {
                (Kind::File, Some(layout::PAGE | layout::JSON_PAGE)) => {}
                (Kind::File, Some(text)) => {
                    in_simple.insert(text.to_owned());
                    // A metadata file is its wheel's: known with it, deleted (or moved) with it.
                    let wheel = layout::wheel_of_metadata(text).unwrap_or(text);
                    sort_out(wheel, published, withheld, &mut findings.unknown_wheels, &mut findings.misplaced);
                }
                _ => findings.other_simple.push(name),
            }
        }
        let mut in_withheld = HashSet::new();
        for (name, kind) in output.list(&layout::withheld_dir(package))?.unwrap_or_default() {
            // No page lives here: a name that could not be a wheel's (a deletion would refuse
            // it) is junk, removed as such.
            let plausible = |text: &str| is_temporary_name(OsStr::new(text)) || layout::wheel_path(package, text).is_ok();
            match (kind, name.to_str()) {
                (Kind::File, Some(text)) if plausible(text) => {
                    in_withheld.insert(text.to_owned());
                    let wheel = layout::wheel_of_metadata(text).unwrap_or(text);
                    sort_out(wheel, withheld, published, &mut findings.unknown_withheld, &mut findings.misplaced);
                }
                _ => findings.other_withheld.push(name),
            }
        }
        // Where each row's wheel should be; one found in the other place is moved there.
        let expected = published.iter().map(|f| (f, true)).chain(withheld.iter().map(|f| (f, false)));
        for (filename, served) in expected {
            if !in_simple.contains(filename.as_str()) && !in_withheld.contains(filename.as_str()) {
                let dir = if served { simple.clone() } else { layout::withheld_dir(package) };
                findings.missing.push(dir.join(filename));
            }
        }
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
            && findings.unknown_withheld.is_empty()
            && findings.other_withheld.is_empty()
            && findings.misplaced.is_empty()
            && findings.missing.is_empty();
        if !unremarkable {
            found.push((package.clone(), findings));
        }
    }
    Ok(found)
}

/// A wheel found in one of a package's two places: in order where `here` (the rows of this
/// place) has it; misplaced where `there` (the other place's) has it; else unknown. Each once.
fn sort_out(wheel: &str, here: &[String], there: &[String], unknown: &mut Vec<String>, misplaced: &mut Vec<String>) {
    let listed = |list: &[String]| list.iter().any(|f| f == wheel);
    if listed(here) {
        return;
    }
    let into = if listed(there) { misplaced } else { unknown };
    if !listed(into) {
        into.push(wheel.to_owned());
    }
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
