//! Downloads at real volumes: what logging one costs beside the same INSERT into the log as it was
//! before counts were kept (no `logged_xid`, no BRIN index), in single rows and in batches of 100
//! as a log shipper sends them; and the home page and search index rewritten with the dataset's
//! downloads and with a hundred times as many (the pages must cost what the packages cost, not
//! what the downloads do), with the count of that backlog.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio_postgres::Client;

use crate::{
    args::Scale,
    report::{ms, percentile, progress, Report},
    site::Site,
    Res,
};

/// Clients logging at once (the pgbench figure used 4).
const LOGGERS: usize = 4;
/// Rows a log shipper sends in one statement.
const BATCH: i32 = 100;
/// Downloads per file for the "real volumes" side of the pages' ratio (the dataset has 3).
const MANY_PER_FILE: i32 = 300;

/// The download log as it was before counts were kept: same columns but `logged_xid`, same B-tree
/// indexes, no BRIN, no trigger.
const PLAIN_TABLE: &str = "
    CREATE TABLE piw_bench.downloads_plain (
        filename text NOT NULL, accessed_by inet, accessed_at timestamptz NOT NULL, arch text,
        distro_name text, distro_version text, os_name text, os_version text, py_name text,
        py_version text, installer_name text, installer_version text, setuptools_version text);
    CREATE INDEX ON piw_bench.downloads_plain (filename);
    CREATE INDEX ON piw_bench.downloads_plain (accessed_at);";

/// One logged download, as a log shipper writes it, into `table`.
fn single_sql(table: &str) -> String {
    format!(
        "INSERT INTO {table} (filename, accessed_by, accessed_at, arch, distro_name, distro_version, os_name,
                              os_version, py_name, py_version, installer_name, installer_version)
         VALUES ($1, '192.0.2.7', now(), 'armv7l', 'Raspbian', '12', 'Linux', '6.1', 'CPython', '3.11', 'pip', '23.0')"
    )
}

/// `BATCH` logged downloads in one statement (the filenames as one array parameter).
fn batch_sql(table: &str) -> String {
    format!(
        "INSERT INTO {table} (filename, accessed_by, accessed_at, arch, distro_name, distro_version, os_name,
                              os_version, py_name, py_version, installer_name, installer_version)
         SELECT f, '192.0.2.7', now(), 'armv7l', 'Raspbian', '12', 'Linux', '6.1', 'CPython', '3.11', 'pip', '23.0'
           FROM unnest($1::text[]) AS f"
    )
}

/// Rows logged by `clients` into `table` during `window`, in statements of `batch` rows.
async fn log_window(clients: &[Client], table: &str, batch: i32, window: Duration, files: &[String]) -> Res<u64> {
    let sql = if batch == 1 { single_sql(table) } else { batch_sql(table) };
    let mut statements = Vec::new();
    for client in clients {
        statements.push(client.prepare(&sql).await?);
    }
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + window;
    let loggers = clients.iter().zip(statements).enumerate().map(|(i, (client, statement))| async move {
        tokio::time::sleep_until(start.into()).await;
        let mut rows = 0u64;
        let mut next = i * 7919;
        while Instant::now() < end {
            if batch == 1 {
                client.execute(&statement, &[&files[next % files.len()]]).await?;
            } else {
                let names: Vec<&String> = (0..batch as usize).map(|k| &files[(next + k) % files.len()]).collect();
                client.execute(&statement, &[&names]).await?;
            }
            next += batch as usize;
            if Instant::now() <= end {
                rows += batch as u64;
            }
        }
        Ok::<u64, tokio_postgres::Error>(rows)
    });
    let mut rows = 0;
    for logged in join_all(loggers).await {
        rows += logged?;
    }
    Ok(rows)
}

/// The home page and search index rewritten, from the call to the queue drained: the median of
/// `runs`, after one rewrite not measured (both sides of a ratio start with warm caches).
async fn home_and_search(site: &Site, runs: usize) -> Res<Duration> {
    let mut times = Vec::new();
    for _ in 0..=runs {
        let started = Instant::now();
        site.client.batch_execute("CALL piw.rebuild('home'); CALL piw.rebuild('search')").await?;
        site.drained(Duration::from_millis(2), Duration::from_secs(3600)).await?;
        times.push(started.elapsed());
    }
    Ok(percentile(&times[1..], 50.0))
}

pub async fn measure(site: &Site, scale: &Scale, report: &mut Report, out: &mut serde_json::Map<String, Value>) -> Res<()> {
    progress("logging downloads beside the log without counts");
    site.client.batch_execute(PLAIN_TABLE).await?;
    let files: Vec<String> =
        site.client.query("SELECT filename FROM piw.files ORDER BY random() LIMIT 10000", &[]).await?.iter().map(|r| r.get(0)).collect();
    let mut clients = Vec::new();
    for _ in 0..LOGGERS {
        clients.push(piw::db::connect_with(&site.config).await?);
    }
    let mut logging = Vec::new();
    for (batch, label) in [(1, "single rows"), (BATCH, "batches of 100")] {
        // Alternating slices: the machine's speed drifts over seconds.
        let slice = scale.window / scale.rounds.max(2);
        let (mut counted, mut plain) = (0u64, 0u64);
        for _ in 0..scale.rounds.max(2) {
            counted += log_window(&clients, "piw.downloads", batch, slice, &files).await?;
            plain += log_window(&clients, "piw_bench.downloads_plain", batch, slice, &files).await?;
        }
        let seconds = (slice * scale.rounds.max(2)).as_secs_f64();
        let ratio = counted as f64 / plain.max(1) as f64;
        progress(&format!(
            "logging {label}: {:.0} rows/s vs {:.0} without counts, ratio {ratio:.2}",
            counted as f64 / seconds,
            plain as f64 / seconds
        ));
        report.row(
            format!("logging downloads, {label}, {LOGGERS} clients"),
            "÷ log without counts ≥ 0.8",
            format!("{:.0}/s vs {:.0}/s = {ratio:.2}", counted as f64 / seconds, plain as f64 / seconds),
            (scale.name != "tiny").then_some(ratio >= 0.8),
        );
        logging.push(json!({
            "rows_per_statement": batch, "clients": LOGGERS,
            "counted_per_second": counted as f64 / seconds, "plain_per_second": plain as f64 / seconds, "ratio": ratio,
        }));
    }
    drop(clients);
    // What the windows logged is counted, as the listener would. Both sides of the pages' ratio
    // are measured after a VACUUM (autovacuum's, in production: it summarizes the BRIN index's
    // ranges, without which the rows since the last count are looked for in every unsummarized
    // one); the table the windows compared with is vacuumed too, so that autovacuum does not
    // take it up while one side is measured.
    site.client.batch_execute("SELECT piw.count_downloads('0')").await?;
    site.drained(Duration::from_millis(5), Duration::from_secs(3600)).await?;
    site.client.batch_execute("VACUUM ANALYZE piw.downloads, piw.download_counts, piw.download_totals, piw_bench.downloads_plain").await?;

    progress("home page and search index, dataset's downloads");
    let runs = if scale.name == "large" { 3 } else { 15 };
    let few_rows: i64 = site.client.query_one("SELECT count(*) FROM piw.downloads", &[]).await?.get(0);
    let few = home_and_search(site, runs).await?;

    progress(&format!("logging {MANY_PER_FILE} downloads a file"));
    let started = Instant::now();
    site.client
        .execute(
            "INSERT INTO piw.downloads (filename, accessed_by, accessed_at, installer_name)
             SELECT f.filename, '192.0.2.9', now() - (d % 60) * interval '1 day', 'pip'
               FROM piw.files f CROSS JOIN generate_series(1, $1 - 3) AS d",
            &[&MANY_PER_FILE],
        )
        .await?;
    let logged = started.elapsed();
    let started = Instant::now();
    let counted: i64 = site.client.query_one("SELECT counted FROM piw.count_downloads('0')", &[]).await?.get(0);
    let count_time = started.elapsed();
    site.drained(Duration::from_millis(5), Duration::from_secs(3600)).await?;
    site.client.batch_execute("VACUUM ANALYZE piw.downloads, piw.download_counts, piw.download_totals").await?;
    let many_rows: i64 = site.client.query_one("SELECT count(*) FROM piw.downloads", &[]).await?.get(0);
    progress("home page and search index, a hundred times the downloads");
    let many = home_and_search(site, runs).await?;
    let ratio = many.as_secs_f64() / few.as_secs_f64();
    progress(&format!(
        "home and search: {:.1} ms with {few_rows} downloads, {:.1} ms with {many_rows}: ratio {ratio:.2}; \
         {counted} downloads counted in {:.1} s (logged in {:.1} s)",
        ms(few),
        ms(many),
        count_time.as_secs_f64(),
        logged.as_secs_f64()
    ));
    report.row(
        format!("home + search, {MANY_PER_FILE} ÷ 3 downloads a file"),
        "≤ 1.2",
        format!("{:.1} ms ({many_rows} rows) ÷ {:.1} ms ({few_rows} rows) = {ratio:.2}", ms(many), ms(few)),
        (scale.name == "small").then_some(ratio <= 1.2),
    );
    report.row("count of a backlog of logged downloads", "(diagnostic)", format!("{counted} in {:.1} s", count_time.as_secs_f64()), None);
    out.insert(
        "downloads".into(),
        json!({
            "logging": logging,
            "home_and_search": {
                "few": {"downloads": few_rows, "median_ms": ms(few)},
                "many": {"downloads": many_rows, "median_ms": ms(many)},
                "ratio": ratio, "runs": runs,
            },
            "backlog_count": {"downloads": counted, "seconds": count_time.as_secs_f64(), "logged_seconds": logged.as_secs_f64()},
        }),
    );
    Ok(())
}
