//! The piw benchmark: `cargo bench --bench piw -- --scale small` (scales: tiny, small, large).
//!
//! Starts a private PostgreSQL cluster of its own (data directory on /dev/shm, throwaway
//! durability), migrates it, generates a piwheels-shaped dataset (benches/dataset.sql) and runs the
//! real `piw-listener` binary against it, as a child process. It measures:
//!
//! - a full rebuild of every page (`CALL piw.rebuild('index'); home; search`, until the queue is
//!   drained) into a fresh output directory, and again into the built one (unchanged pages are not
//!   rewritten), with the listener's peak RSS (VmHWM);
//! - the floor for the same work: the same queries streamed out with `COPY`, plus the same bytes
//!   written as the same files by a minimal writer;
//! - removals end to end: `CALL piw.remove_version` until the wheels are gone and the package's
//!   simple and project pages no longer list them, one at a time with the listener idle;
//! - admin calls per second (`CALL piw.rebuild('index', package)`) from 1, 16 and 64 callers,
//!   beside plain INSERTs from as many callers, with the backlog the listener leaves and the
//!   notifications sent;
//! - logging downloads (single rows, batches of 100) beside the same INSERTs into the log as it was
//!   before counts were kept, and the home page and search index with the dataset's downloads and
//!   with a hundred times as many;
//! - on `large`, a removal on a `small` dataset in the same run, for the large ÷ small ratio.
//!
//! With `--replay MINUTES` (e.g. `--scale large --replay 5`) it builds the site once and, instead
//! of the above, replays a production day for MINUTES: downloads logged at 50 a second (one
//! INSERT of 50 rows a second), an import a second (a new version of a random package, a real
//! wheel through the import path), an admin removal or skip a minute. It reports the CPU share of
//! the listener, of the server and of the benchmark itself, the queue over time, and freshness
//! (commit → page on disk, p50 / p99 / max per kind of page), and plots the queue and the
//! imports' freshness in an SVG beside the JSON (benches/piw/replay.rs).
//!
//! Prints a table and writes JSON (default `target/piw-bench-SCALE.json`). The machine these run on
//! is shared: compare ratios measured in one run, not absolute figures across runs.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use args::{parse_args, Args};
use report::{progress, publish, Report};
use serde_json::json;
use site::BenchCluster;

// The tests' harness, shared: the private cluster, the listener as a process, the wait for the
// queue to drain.
#[path = "../tests/support/drain.rs"]
mod drain;
#[path = "../tests/support/process.rs"]
mod process;
#[path = "../tests/support/scratch.rs"]
mod scratch;
// Real wheels, for the replay's imports.
#[path = "../tests/support/wheels.rs"]
mod wheels;

// One module per measurement, and what they share. A crate root looks for its modules beside
// itself (benches/), so each names its file under benches/piw/.
#[path = "piw/admin_calls.rs"]
mod admin_calls;
#[path = "piw/args.rs"]
mod args;
#[path = "piw/downloads.rs"]
mod downloads;
#[path = "piw/floor.rs"]
mod floor;
#[path = "piw/rebuild.rs"]
mod rebuild;
#[path = "piw/recovery.rs"]
mod recovery;
#[path = "piw/removals.rs"]
mod removals;
#[path = "piw/replay.rs"]
mod replay;
#[path = "piw/report.rs"]
mod report;
#[path = "piw/site.rs"]
mod site;

type Res<T> = Result<T, scratch::BoxError>;

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("piw bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Res<()> {
    let scale = args.scale.clone();
    let run_started = Instant::now();
    let mut report = Report::default();
    let mut out = serde_json::Map::new();
    out.insert("scale".into(), json!(scale.name));
    out.insert("cores".into(), json!(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)));

    progress(&format!("starting a private cluster under {} (pages under {})", args.scratch.display(), args.pages.display()));
    let settings = if args.replay.is_some() { replay::SERVER_SETTINGS } else { "" };
    let cluster = BenchCluster::start(&args.scratch, &args.pages, &scale, settings)?;
    let mut site = cluster.create_database("bench").await?;

    progress(&format!("generating {} packages", scale.packages));
    let generated = site.generate(&scale).await?;
    let counts = site.counts().await?;
    progress(&format!("generated in {:.1} s: {counts}", generated.as_secs_f64()));
    out.insert("dataset".into(), counts.clone());
    out.insert("generate_seconds".into(), json!(generated.as_secs_f64()));
    report.row("dataset generated", "", format!("{:.1} s ({} files)", generated.as_secs_f64(), counts["files"]), None);
    let packages = counts["packages"].as_i64().unwrap_or(0).max(1) as f64;

    if let Some(length) = args.replay {
        site.start_listener_with(replay::LISTENER_ARGS).await?;
        replay::build_site(&site, &mut report, &mut out).await?;
        let paths = replay::Paths { scratch: &args.scratch, pages: &args.pages, json: &args.json };
        replay::measure(&cluster, &site, length, &paths, &mut report, &mut out).await?;
        if let Some(listener) = site.listener.take() {
            listener.terminate();
        }
        publish(&report, out, &args.json, &scale, &counts, run_started)?;
        drop(site);
        drop(cluster);
        return Ok(());
    }

    site.start_listener().await?;

    if args.only_downloads {
        downloads::measure(&site, &scale, &mut report, &mut out).await?;
        return publish(&report, out, &args.json, &scale, &counts, run_started);
    }

    rebuild::measure(&cluster, &site, &scale, packages, &mut report, &mut out).await?;

    if args.only_rebuild {
        return publish(&report, out, &args.json, &scale, &counts, run_started);
    }

    recovery::measure(&mut site, &scale, &mut report, &mut out).await?;
    // The next measures start from an idle listener.
    site.drained(Duration::from_millis(5), Duration::from_secs(3600)).await?;
    site.asleep(Duration::from_secs(60)).await?;

    let removal_p50 = removals::measure(&site, &scale, &mut report, &mut out).await?;

    admin_calls::measure(&site, &scale, &mut report, &mut out).await?;

    // Last: it logs a hundred times the dataset's downloads.
    downloads::measure(&site, &scale, &mut report, &mut out).await?;

    if let Some(listener) = site.listener.take() {
        listener.terminate();
    }

    // A removal on small beside one on large, in the same run.
    if scale.reference_small {
        removals::measure_against_small(&cluster, &scale, removal_p50, &mut report, &mut out).await?;
    }

    // Printed before the sites are deleted (1.8M pages on large take minutes).
    publish(&report, out, &args.json, &scale, &counts, run_started)?;
    drop(site);
    drop(cluster);
    Ok(())
}
