//! A production day, replayed (`--replay MINUTES`, issue 19): on the generated dataset, its site
//! built once, for MINUTES: downloads logged at 50 a second (one INSERT of 50 rows a second, as
//! a log shipper sends them), one import a second (a new version of a random package, a real
//! wheel through piw-import's library call), an admin removal or skip a minute. Measured from
//! outside the listener: its CPU share, the server's and this process's, the queue over time,
//! and freshness, commit → page on disk, per kind of page.
//!
//! Modules: `drivers` (the load and the queue sampler, one tokio task and connection each),
//! `freshness` (the thread that watches the pages), `machine` (/proc: CPU, the machine, the file
//! systems), `figures` (the table and the JSON), `plot` (the SVG).

#[path = "replay/drivers.rs"]
mod drivers;
#[path = "replay/figures.rs"]
mod figures;
#[path = "replay/freshness.rs"]
pub mod freshness;
#[path = "replay/machine.rs"]
mod machine;
#[path = "replay/plot.rs"]
mod plot;

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use piw::site::OutputDir;
use serde_json::{json, Value};

use crate::{
    rebuild::{empty_dir, full_rebuild},
    report::{progress, Report},
    site::{BenchCluster, Site},
    Res,
};
use drivers::Window;

/// More for the replay's cluster: the server's own commit time of each import, beside the
/// client's.
pub const SERVER_SETTINGS: &str = "track_commit_timestamp = on";

/// Arguments for the replay's listener beyond the benchmark's.
///
/// The listener as deployed, its interval of download counts said out loud: download counts alone
/// rewrite the home page and search index at most this often ([`AGGREGATE_REFRESH`]).
pub const LISTENER_ARGS: &[&str] = &["--count-downloads-every", "60"];

/// How stale the home page and the search index may be after download-only changes: the
/// roll-up interval, a minute by default (issue 19).
pub const AGGREGATE_REFRESH: Duration = Duration::from_secs(60);

/// Issue 19's targets: a package's pages on disk within a second of its import's commit (p99),
/// the listener within a tenth of one core.
pub const PAGES_TARGET: Duration = Duration::from_secs(1);
pub const LISTENER_TARGET_PERCENT: f64 = 10.0;

/// How many random files the downloads are drawn from.
const DOWNLOADED_FILES: i64 = 20_000;

/// Where the run writes and keeps things (for the machine's file systems and the plot).
pub struct Paths<'a> {
    pub scratch: &'a Path,
    pub pages: &'a Path,
    pub json: &'a Path,
}

/// The site the replay starts from: every page, built once into an empty directory.
pub async fn build_site(site: &Site, report: &mut Report, out: &mut serde_json::Map<String, Value>) -> Res<()> {
    progress("full rebuild, the site the replay starts from");
    tokio::task::block_in_place(|| empty_dir(&site.output))?;
    let built = full_rebuild(site).await?;
    let seconds = built.elapsed().as_secs_f64();
    progress(&format!("{seconds:.2} s"));
    out.insert("full_rebuild".into(), json!({"fresh_seconds": seconds}));
    report.row("full rebuild, fresh directory (once)", "", format!("{seconds:.2} s"), None);
    Ok(())
}

pub async fn measure(
    cluster: &BenchCluster,
    site: &Site,
    length: Duration,
    paths: &Paths<'_>,
    report: &mut Report,
    out: &mut serde_json::Map<String, Value>,
) -> Res<()> {
    progress("replay: picking packages and files");
    let packages: Arc<Vec<String>> =
        Arc::new(site.client.query("SELECT package FROM piw.packages WHERE skip = ''", &[]).await?.iter().map(|r| r.get(0)).collect());
    let packages_count = packages.len();
    let files: Vec<String> = site
        .client
        .query("SELECT filename FROM piw.files ORDER BY random() LIMIT $1", &[&DOWNLOADED_FILES])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let connect = || piw::db::connect_with(&site.config);
    let (downloads_client, imports_client, admin_client, queue_client) =
        (connect().await?, connect().await?, connect().await?, connect().await?);
    let output = OutputDir::open(&site.output)?;
    let wheels = tempfile::Builder::new().prefix("piw-replay-wheels-").tempdir()?;

    // From an idle listener.
    site.drained(Duration::from_millis(5), Duration::from_secs(3600)).await?;
    site.asleep(Duration::from_secs(60)).await?;
    let (watches, watched) = std::sync::mpsc::channel();
    let watcher = freshness::Watcher::start(site.output.clone(), watched)?;
    let (listener, postmaster) = (site.listener().pid(), cluster.postmaster_pid()?);

    progress(&format!("replay: {:.1} minutes", length.as_secs_f64() / 60.0));
    let cpu_start = machine::cpu_reading(listener, postmaster);
    let start = Instant::now();
    let window = Window { start, until: start + length };
    let downloads = tokio::spawn(drivers::downloads(downloads_client, files, window));
    let imports =
        tokio::spawn(drivers::imports(imports_client, output, packages.clone(), wheels.path().to_owned(), window, watches.clone()));
    let admin = tokio::spawn(drivers::admin(admin_client, packages, site.output.clone(), window, watches));
    let queue = tokio::spawn(drivers::queue(queue_client, window));
    let (downloads, imports, admin, queue) = (downloads.await??, imports.await??, admin.await??, queue.await??);
    let cpu = machine::cpu_shares(&cpu_start, &machine::cpu_reading(listener, postmaster));

    progress("replay over: waiting for the queue to drain");
    let ended = Instant::now();
    site.drained(Duration::from_millis(10), Duration::from_secs(3600)).await?;
    let drained_after = ended.elapsed();
    // The pages of the last commits are on disk once the queue is drained: the grace only
    // covers what never shows (reported as unseen).
    let seen = tokio::task::block_in_place(|| watcher.finish(Duration::from_secs(10)));
    progress(&format!("drained {:.1} s after the end; {} passes of the watcher", drained_after.as_secs_f64(), seen.passes));

    let run = figures::Run { length, start, downloads, imports, admin, queue, seen, cpu, drained_after };
    let mut replay = figures::report(&run, report);
    let plot_path = paths.json.with_extension("svg");
    if let Some(parent) = plot_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let title = format!(
        "piw replay: {} packages, {:.1} min, listener {} of one core",
        packages_count,
        length.as_secs_f64() / 60.0,
        run.cpu.listener.map_or_else(|| "?".to_owned(), |p| format!("{p:.1} %"))
    );
    plot::write_svg(&plot_path, &figures::plot_data(&run, title))?;
    progress(&format!("plot: {}", plot_path.display()));
    replay.insert("machine".into(), machine::machine_json(paths.scratch, paths.pages));
    replay.insert("plot".into(), json!(plot_path.display().to_string()));
    out.insert("replay".into(), Value::Object(replay));
    Ok(())
}
