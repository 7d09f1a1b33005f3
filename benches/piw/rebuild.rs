//! The full rebuild: every page into a fresh directory, then into the built one (unchanged pages
//! are not rewritten), the reconciliation alone, the listener's peak RSS, and the ratio to the
//! floor.

use std::{
    collections::HashMap,
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::{
    args::Scale,
    floor,
    report::{ms, percentile, progress, Report},
    site::{BenchCluster, Site},
    Res,
};

pub struct Rebuild {
    elapsed: Duration,
    peak_rss_kib: Option<u64>,
}

impl Rebuild {
    /// From the rebuild's request to the queue drained.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

/// Queue a rebuild of every page in one transaction and wait until the listener has done it.
pub async fn full_rebuild(site: &Site) -> Res<Rebuild> {
    let listener = site.listener();
    listener.reset_peak_rss();
    let started = Instant::now();
    site.client.batch_execute("BEGIN; CALL piw.rebuild('index'); CALL piw.rebuild('home'); CALL piw.rebuild('search'); COMMIT").await?;
    site.drained(Duration::from_millis(5), Duration::from_secs(3600)).await?;
    Ok(Rebuild { elapsed: started.elapsed(), peak_rss_kib: listener.peak_rss_kib() })
}

/// A reconciliation alone (the job a full rebuild of the index queues after its pages), on a
/// built tree: what it adds to a full rebuild.
async fn reconciliation(site: &Site) -> Res<Duration> {
    let started = Instant::now();
    site.client.batch_execute("INSERT INTO piw.jobs (kind) VALUES ('reconcile'); NOTIFY piw_jobs").await?;
    site.drained(Duration::from_millis(2), Duration::from_secs(3600)).await?;
    Ok(started.elapsed())
}

/// Remove everything inside `root`, keeping `root` itself (the listener has it open as its output).
pub fn empty_dir(root: &Path) -> Res<()> {
    for entry in fs::read_dir(root)? {
        let path = entry?.path();
        if path.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Every regular file under `root`: relative path, size, inode.
pub fn walk(root: &Path) -> Res<Vec<(PathBuf, u64, u64)>> {
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        for entry in fs::read_dir(root.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                files.push((path, meta.len(), meta.ino()));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `packages` as the dataset counted them, for the time per package.
pub async fn measure(
    cluster: &BenchCluster,
    site: &Site,
    scale: &Scale,
    packages: f64,
    report: &mut Report,
    out: &mut serde_json::Map<String, Value>,
) -> Res<()> {
    // Full rebuild into a fresh directory, then into the built one.
    let mut fresh_runs = Vec::new();
    for run in 1..=scale.rebuilds {
        progress(&format!("full rebuild, fresh output directory ({run} of {})", scale.rebuilds));
        tokio::task::block_in_place(|| empty_dir(&site.output))?;
        let rebuild = full_rebuild(site).await?;
        progress(&format!("{:.3} s", rebuild.elapsed.as_secs_f64()));
        fresh_runs.push(rebuild);
    }
    let fresh_times: Vec<Duration> = fresh_runs.iter().map(|r| r.elapsed).collect();
    let fresh = Rebuild { elapsed: percentile(&fresh_times, 50.0), peak_rss_kib: fresh_runs.iter().filter_map(|r| r.peak_rss_kib).max() };
    let pages = tokio::task::block_in_place(|| walk(&site.output))?;
    let page_bytes: u64 = pages.iter().map(|p| p.1).sum();
    let per_package_ms = ms(fresh.elapsed) / packages;
    progress(&format!(
        "median {:.3} s (range {:.3}–{:.3} s), {} pages, {} bytes",
        fresh.elapsed.as_secs_f64(),
        percentile(&fresh_times, 0.0).as_secs_f64(),
        percentile(&fresh_times, 100.0).as_secs_f64(),
        pages.len(),
        page_bytes
    ));
    progress("full rebuild, pages already there");
    let again = full_rebuild(site).await?;
    let after = tokio::task::block_in_place(|| walk(&site.output))?;
    let before: HashMap<&Path, u64> = pages.iter().map(|(p, _, ino)| (p.as_path(), *ino)).collect();
    let rewritten: Vec<&PathBuf> = after.iter().filter(|(p, _, ino)| before.get(p.as_path()) != Some(ino)).map(|(p, _, _)| p).collect();
    progress(&format!(
        "{:.3} s, {} pages rewritten ({:?})",
        again.elapsed.as_secs_f64(),
        rewritten.len(),
        rewritten.iter().take(3).collect::<Vec<_>>()
    ));

    progress("reconciliation alone, on the built tree");
    let reconciled = reconciliation(site).await?;
    progress(&format!("{:.3} s", reconciled.as_secs_f64()));

    let (floor, copy_time, write_time, copy_bytes) =
        floor::measure(&site.config, &pages, &cluster.pages.join("floor"), scale.rebuilds).await?;
    let floor_ratio = fresh.elapsed.as_secs_f64() / floor.as_secs_f64();

    out.insert(
        "full_rebuild".into(),
        json!({
            "fresh_seconds": fresh.elapsed.as_secs_f64(),
            "fresh_runs_seconds": fresh_times.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            "per_package_ms": per_package_ms,
            "pages": pages.len(),
            "page_bytes": page_bytes,
            "again_seconds": again.elapsed.as_secs_f64(),
            "reconciliation_seconds": reconciled.as_secs_f64(),
            "again_pages_rewritten": rewritten.len(),
            "listener_peak_rss_kib": fresh.peak_rss_kib,
            "listener_peak_rss_again_kib": again.peak_rss_kib,
            "floor": {"copy_seconds": copy_time.as_secs_f64(), "copy_bytes": copy_bytes, "write_seconds": write_time.as_secs_f64(),
                      "seconds": floor.as_secs_f64()},
            "ratio_to_floor": floor_ratio,
        }),
    );
    report.row(
        "full rebuild, fresh directory",
        if scale.name == "large" { "≤ 10 min" } else { "" },
        format!(
            "{:.2} s{} ({} pages, {:.1} MB)",
            fresh.elapsed.as_secs_f64(),
            if fresh_times.len() > 1 { format!(", median of {}", fresh_times.len()) } else { String::new() },
            pages.len(),
            page_bytes as f64 / 1e6
        ),
        (scale.name == "large").then(|| fresh.elapsed <= Duration::from_secs(600)),
    );
    report.row(
        "full rebuild per package",
        if scale.name == "small" { "≤ 0.14 ms" } else { "" },
        format!("{per_package_ms:.4} ms"),
        (scale.name == "small").then_some(per_package_ms <= 0.14),
    );
    report.row(
        "full rebuild ÷ floor",
        "≤ 2",
        format!(
            "{floor_ratio:.2} (floor {:.3} s = COPY {:.3} s + writes {:.3} s)",
            floor.as_secs_f64(),
            copy_time.as_secs_f64(),
            write_time.as_secs_f64()
        ),
        (scale.name != "tiny").then_some(floor_ratio <= 2.0),
    );
    report.row(
        "full rebuild, pages already there",
        "unchanged pages not rewritten",
        format!("{:.2} s, {} of {} pages rewritten", again.elapsed.as_secs_f64(), rewritten.len(), after.len()),
        // The home page shows when it was built: it is the one page that changes.
        Some(rewritten.iter().all(|p| p.as_path() == Path::new("index.html"))),
    );
    report.row(
        "  of which the reconciliation (tree against rows)",
        "",
        format!("{:.3} s alone, on the built tree", reconciled.as_secs_f64()),
        None,
    );
    let rss_mb = |kib: Option<u64>| kib.map_or_else(|| "?".to_owned(), |k| format!("{:.1} MB", k as f64 / 1024.0));
    report.row(
        "listener peak RSS, full rebuild",
        if scale.name == "large" { "≤ 150 MB" } else { "" },
        rss_mb(fresh.peak_rss_kib),
        (scale.name == "large").then(|| fresh.peak_rss_kib.is_some_and(|k| k <= 150 * 1024)),
    );
    Ok(())
}
