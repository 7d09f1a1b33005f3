//! The replay's figures: the rows of the table, the JSON's `replay` object, the plot's data.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::{
    drivers::{AdminCall, DownloadBatch, Imports, QueueSample, DOWNLOADS_PER_SECOND, QUEUE_PERIOD},
    freshness::{first_rewrite_after, Seen, PAGE_KINDS, POLL},
    machine::CpuShares,
    plot::PlotData,
    AGGREGATE_REFRESH, LISTENER_TARGET_PERCENT, PAGES_TARGET,
};
use crate::report::{ms, percentile, Report};

/// Everything one replay gathered.
pub struct Run {
    pub length: Duration,
    pub start: Instant,
    pub downloads: Vec<DownloadBatch>,
    pub imports: Imports,
    pub admin: Vec<AdminCall>,
    pub queue: Vec<QueueSample>,
    pub seen: Seen,
    pub cpu: CpuShares,
    pub drained_after: Duration,
}

/// The spread of a set of times, some of which may never have been seen.
struct Spread {
    count: usize,
    unseen: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn spread(samples: impl IntoIterator<Item = Option<Duration>>) -> Spread {
    let (mut seen, mut unseen) = (Vec::new(), 0);
    for sample in samples {
        match sample {
            Some(d) => seen.push(d),
            None => unseen += 1,
        }
    }
    Spread { count: seen.len(), unseen, p50: percentile(&seen, 50.0), p99: percentile(&seen, 99.0), max: percentile(&seen, 100.0) }
}

/// `12.3 ms`, or `4.56 s` from ten seconds up.
fn show(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", ms(d))
    }
}

impl Spread {
    fn json(&self) -> Value {
        let seen = |d: Duration| (self.count > 0).then(|| round(ms(d)));
        json!({"count": self.count, "unseen": self.unseen, "p50_ms": seen(self.p50), "p99_ms": seen(self.p99), "max_ms": seen(self.max)})
    }

    fn text(&self) -> String {
        if self.count == 0 {
            return format!("none seen ({} never seen)", self.unseen);
        }
        let unseen = if self.unseen > 0 { format!(", {} never seen", self.unseen) } else { String::new() };
        format!("{} / {} / {} (n={}{unseen})", show(self.p50), show(self.p99), show(self.max), self.count)
    }
}

/// Milliseconds to the microsecond.
fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "?".to_owned(), |p| format!("{p:.1} %"))
}

/// The rows of the table; the JSON's `replay` object.
pub fn report(run: &Run, report: &mut Report) -> Map<String, Value> {
    let seconds = run.length.as_secs_f64();
    let seen = &run.seen;
    let imports = &run.imports.imported;
    let rows: usize = run.downloads.iter().map(|b| b.rows).sum();

    // Freshness of the imports, per page and all four together; home and search after them.
    let page = |i: usize| spread(imports.iter().enumerate().map(|(n, _)| seen.imports.get(n).and_then(|s| s.pages[i])));
    let pages: Vec<Spread> = (0..PAGE_KINDS.len()).map(page).collect();
    let all_pages = spread(imports.iter().enumerate().map(|(n, _)| seen.imports.get(n).and_then(|s| s.all_pages())));
    let after =
        |rewrites: &[Instant], commits: &mut dyn Iterator<Item = Instant>| spread(commits.map(|c| first_rewrite_after(rewrites, c)));
    let home_import = after(&seen.home_rewrites, &mut imports.iter().map(|i| i.committed));
    let search_import = after(&seen.search_rewrites, &mut imports.iter().map(|i| i.committed));
    let home_downloads = after(&seen.home_rewrites, &mut run.downloads.iter().map(|b| b.committed));
    let search_downloads = after(&seen.search_rewrites, &mut run.downloads.iter().map(|b| b.committed));
    let home_admin = after(&seen.home_rewrites, &mut run.admin.iter().map(|a| a.committed));
    let search_admin = after(&seen.search_rewrites, &mut run.admin.iter().map(|a| a.committed));
    let wheels_gone = spread(run.admin.iter().enumerate().map(|(n, _)| seen.admin.get(n).and_then(|s| s.wheels_gone)));
    let admin_pages = spread(run.admin.iter().enumerate().map(|(n, _)| seen.admin.get(n).and_then(|s| s.pages)));
    let import_call = spread(imports.iter().map(|i| Some(i.call)));
    let server_to_client = spread(imports.iter().map(|i| i.server_to_client));
    let batch_call = spread(run.downloads.iter().map(|b| Some(b.call)));

    // A download's counts are due on the home page and in the search index within the
    // refresh interval; those logged in the last interval before the watcher stopped may not
    // be there yet.
    let watched_until = seen.ended.unwrap_or_else(Instant::now);
    let overdue = |rewrites: &[Instant]| {
        run.downloads
            .iter()
            .filter(|b| first_rewrite_after(rewrites, b.committed).is_none() && watched_until - b.committed > AGGREGATE_REFRESH)
            .count()
    };
    let downloads_met = |s: &Spread, rewrites: &[Instant]| s.max <= AGGREGATE_REFRESH && overdue(rewrites) == 0;

    let jobs: Vec<i64> = run.queue.iter().map(QueueSample::jobs).collect();
    let requests: Vec<i64> = run.queue.iter().map(|s| s.requests).collect();
    let mean = |v: &[i64]| if v.is_empty() { 0.0 } else { v.iter().sum::<i64>() as f64 / v.len() as f64 };
    let quantile = |v: &[i64], p: f64| {
        let mut sorted = v.to_vec();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied().unwrap_or(0)
    };

    report.row(
        "replay: load offered",
        "",
        format!(
            "{:.1} min: {rows} downloads in {} batches ({:.1}/s), {} imports ({:.2}/s, {} failed), {} admin calls",
            seconds / 60.0,
            run.downloads.len(),
            rows as f64 / seconds,
            imports.len(),
            imports.len() as f64 / seconds,
            run.imports.failed,
            run.admin.len()
        ),
        None,
    );
    report.row(
        "listener CPU (of one core)",
        format!("≤ {LISTENER_TARGET_PERCENT} %"),
        percent(run.cpu.listener),
        run.cpu.listener.map(|p| p <= LISTENER_TARGET_PERCENT),
    );
    report.row("PostgreSQL server CPU (of one core)", "", percent(run.cpu.server), None);
    report.row("bench process CPU (drivers, importer, watcher)", "", percent(run.cpu.bench), None);
    report.row("machine busy (all cores, anyone's)", "", percent(run.cpu.machine), None);
    report.row("import call (wheel read, rows, placed, COMMIT)", "", import_call.text(), None);
    report.row(
        "import → its 4 package pages, p50 / p99 / max",
        format!("≤ {} ms p99", ms(PAGES_TARGET)),
        all_pages.text(),
        Some(all_pages.count > 0 && all_pages.p99 <= PAGES_TARGET && all_pages.unseen == 0),
    );
    for (kind, spread) in PAGE_KINDS.iter().zip(&pages) {
        report.row(format!("  {kind}"), "", spread.text(), None);
    }
    report.row("import → home page rewritten", "", home_import.text(), None);
    report.row("import → search index rewritten", "", search_import.text(), None);
    let interval = format!("≤ {} s (refresh)", AGGREGATE_REFRESH.as_secs());
    report.row(
        "downloads → home page rewritten",
        interval.clone(),
        home_downloads.text(),
        Some(downloads_met(&home_downloads, &seen.home_rewrites)),
    );
    report.row(
        "downloads → search index rewritten",
        interval,
        search_downloads.text(),
        Some(downloads_met(&search_downloads, &seen.search_rewrites)),
    );
    report.row("remove/skip → wheels gone from simple/", "", wheels_gone.text(), None);
    report.row("remove/skip → package pages without them", "", admin_pages.text(), None);
    report.row("remove/skip → home page rewritten", "", home_admin.text(), None);
    report.row("remove/skip → search index rewritten", "", search_admin.text(), None);
    report.row(
        "queue: jobs (pending + running), max / mean / p99",
        "",
        format!(
            "{} / {:.1} / {}; requests waiting max {}; drained {:.1} s after the end",
            jobs.iter().max().unwrap_or(&0),
            mean(&jobs),
            quantile(&jobs, 99.0),
            requests.iter().max().unwrap_or(&0),
            run.drained_after.as_secs_f64()
        ),
        None,
    );

    let admin_calls: Vec<Value> = run
        .admin
        .iter()
        .enumerate()
        .map(|(n, call)| {
            let s = seen.admin.get(n).cloned().unwrap_or_default();
            json!({
                "action": call.action, "package": call.package, "version": call.version, "wheels": call.filenames.len(),
                "at_seconds": (call.committed - run.start).as_secs_f64(), "call_ms": ms(call.call),
                "wheels_gone_ms": s.wheels_gone.map(ms), "pages_ms": s.pages.map(ms),
                "home_ms": first_rewrite_after(&seen.home_rewrites, call.committed).map(ms),
                "search_ms": first_rewrite_after(&seen.search_rewrites, call.committed).map(ms),
            })
        })
        .collect();
    // The slowest imports, to look for in the listener's log.
    let mut slowest: Vec<(usize, Option<Duration>)> =
        (0..imports.len()).map(|n| (n, seen.imports.get(n).and_then(|s| s.all_pages()))).collect();
    slowest.sort_by_key(|&(_, d)| std::cmp::Reverse(d.unwrap_or(Duration::MAX)));
    let slowest: Vec<Value> = slowest
        .iter()
        .take(5)
        .map(|&(n, d)| {
            let i = &imports[n];
            let pages = seen.imports.get(n).map(|s| s.pages.map(|p| p.map(ms))).unwrap_or_default();
            json!({"package": i.package, "version": i.version, "filename": i.filename, "at_seconds": (i.committed - run.start).as_secs_f64(),
                   "package_pages_ms": d.map(ms), "pages_ms": pages, "call_ms": ms(i.call)})
        })
        .collect();
    let mut freshness = Map::new();
    freshness.insert("slowest_imports".into(), json!(slowest));
    for (kind, spread) in PAGE_KINDS.iter().zip(&pages) {
        freshness.insert(format!("import_{kind}"), spread.json());
    }
    for (name, spread) in [
        ("import_package_pages", &all_pages),
        ("import_home", &home_import),
        ("import_search", &search_import),
        ("downloads_home", &home_downloads),
        ("downloads_search", &search_downloads),
        ("admin_wheels_gone", &wheels_gone),
        ("admin_package_pages", &admin_pages),
        ("admin_home", &home_admin),
        ("admin_search", &search_admin),
    ] {
        freshness.insert(name.into(), spread.json());
    }
    freshness.insert(
        "method".into(),
        json!(format!(
            "polling the output directory every {} ms (longest pass {:.2} ms, {} passes); package pages: the page's \
             content names the new wheel (or no longer names the removed ones), read again whenever its inode, mtime \
             or size changes; home and search: the first rewrite (new inode, mtime or size) after the commit",
            POLL.as_millis(),
            ms(seen.longest_pass),
            seen.passes
        )),
    );
    let mut out = Map::new();
    out.insert("minutes".into(), json!(seconds / 60.0));
    out.insert(
        "drivers".into(),
        json!({
            "missed_ticks": "delayed (tokio MissedTickBehavior::Delay): a driver held up resumes its pace, no catch-up burst",
            "downloads": {"batching": format!("one INSERT of {DOWNLOADS_PER_SECOND} rows a second"), "batches": run.downloads.len(),
                          "rows": rows, "rows_per_second": rows as f64 / seconds, "batch_call": batch_call.json()},
            "imports": {"count": imports.len(), "failed": run.imports.failed, "first_error": run.imports.first_error,
                        "per_second": imports.len() as f64 / seconds, "call": import_call.json(),
                        "server_commit_to_client": server_to_client.json()},
            "admin": admin_calls,
        }),
    );
    out.insert("cpu".into(), run.cpu.to_json());
    out.insert("freshness".into(), Value::Object(freshness));
    out.insert(
        "queue".into(),
        json!({
            "interval_ms": ms(QUEUE_PERIOD), "samples": run.queue.len(),
            "jobs_max": jobs.iter().max(), "jobs_mean": mean(&jobs), "jobs_p50": quantile(&jobs, 50.0), "jobs_p99": quantile(&jobs, 99.0),
            "requests_max": requests.iter().max(), "requests_mean": mean(&requests),
            "failed_max": run.queue.iter().map(|s| s.failed).max(),
            "drained_after_end_seconds": run.drained_after.as_secs_f64(),
            "series_columns": ["seconds", "pending", "running", "failed", "requests"],
            "series": run.queue.iter().map(|s| json!([(s.at.as_secs_f64() * 100.0).round() / 100.0, s.pending, s.running, s.failed, s.requests])).collect::<Vec<_>>(),
        }),
    );
    out.insert(
        "targets".into(),
        json!({
            "package_pages_p99_ms": ms(PAGES_TARGET),
            "package_pages_met": all_pages.count > 0 && all_pages.p99 <= PAGES_TARGET && all_pages.unseen == 0,
            "listener_percent_of_one_core": LISTENER_TARGET_PERCENT,
            "listener_met": run.cpu.listener.map(|p| p <= LISTENER_TARGET_PERCENT),
            "aggregate_refresh_seconds": AGGREGATE_REFRESH.as_secs(),
            "downloads_home_met": downloads_met(&home_downloads, &seen.home_rewrites),
            "downloads_search_met": downloads_met(&search_downloads, &seen.search_rewrites),
        }),
    );
    out
}

/// What the plot shows.
pub fn plot_data(run: &Run, title: String) -> PlotData {
    let since = |t: Instant| (t - run.start).as_secs_f64();
    let mut freshness = Vec::new();
    let mut unseen = Vec::new();
    for (n, import) in run.imports.imported.iter().enumerate() {
        match run.seen.imports.get(n).and_then(|s| s.all_pages()) {
            Some(d) => freshness.push((since(import.committed), ms(d))),
            None => unseen.push(since(import.committed)),
        }
    }
    PlotData {
        seconds: run.length.as_secs_f64(),
        queue: run.queue.iter().map(|s| (s.at.as_secs_f64(), s.jobs() as f64, s.requests as f64)).collect(),
        freshness,
        unseen,
        target_ms: ms(PAGES_TARGET),
        title,
    }
}
