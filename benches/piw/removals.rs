//! Removals end to end, one at a time with the listener idle: `CALL piw.remove_version` until the
//! wheels are gone and the package's simple and project pages no longer list them; on `large`, the
//! same on a `small` dataset in the same run, for the large ÷ small ratio.

use std::{
    fs,
    path::Path,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::{
    args::Scale,
    rebuild::full_rebuild,
    report::{ms, percentile, progress, Report},
    site::{BenchCluster, Site},
    Res,
};

struct Removals {
    /// CALL to wheels gone and pages rewritten, one per removal.
    end_to_end: Vec<Duration>,
    /// The CALL alone.
    call: Vec<Duration>,
    /// CALL to the queue drained (home and search included).
    drained: Vec<Duration>,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether the removal of `filenames` of `package` shows on disk: wheels gone, pages without them.
fn removal_done(root: &Path, package: &str, filenames: &[String]) -> bool {
    let simple = root.join("simple").join(package);
    if filenames.iter().any(|f| simple.join(f).exists()) {
        return false;
    }
    let pages = [
        simple.join("index.html"),
        root.join("project").join(package).join("index.html"),
        root.join("project").join(package).join("json/index.json"),
    ];
    pages.iter().all(|page| fs::read(page).is_ok_and(|bytes| filenames.iter().all(|f| !contains(&bytes, f.as_bytes()))))
}

async fn remove_one_at_a_time(site: &Site, count: usize) -> Res<Removals> {
    // Versions with published files, of distinct packages, at random.
    let rows = site
        .client
        .query(
            "WITH pick AS (SELECT package FROM piw.packages WHERE skip = '' ORDER BY random() LIMIT $1)
             SELECT DISTINCT ON (v.package) v.package, v.version, array_agg(f.filename ORDER BY f.filename)
               FROM pick
               JOIN piw.versions v ON v.package = pick.package AND v.skip = ''
               JOIN piw.builds b ON b.package = v.package AND b.version = v.version AND b.status
               JOIN piw.files f ON f.build_id = b.build_id
              GROUP BY v.package, v.version
              ORDER BY v.package, random()",
            &[&i64::try_from(count * 2)?],
        )
        .await?;
    let mut picks: Vec<(String, String, Vec<String>)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    fastrand::shuffle(&mut picks);
    picks.truncate(count);
    // The wheels themselves (the importer would have put them there).
    for (package, _, filenames) in &picks {
        for filename in filenames {
            fs::write(site.output.join("simple").join(package).join(filename), b"wheel")?;
        }
        let page = fs::read(site.output.join("simple").join(package).join("index.html"))?;
        if !filenames.iter().all(|f| contains(&page, f.as_bytes())) {
            return Err(format!("the simple page of {package} does not list its files before the removal").into());
        }
    }
    let statement = site.client.prepare("CALL piw.remove_version($1, $2)").await?;
    let mut result = Removals { end_to_end: Vec::new(), call: Vec::new(), drained: Vec::new() };
    for (package, version, filenames) in &picks {
        site.drained(Duration::from_millis(1), Duration::from_secs(600)).await?;
        // Idle: the listener is asleep (it lingers awake for a moment after its last job, and a
        // request then waits for its next look at the queue, up to 5 ms, instead of a NOTIFY).
        site.asleep(Duration::from_secs(60)).await?;
        let started = Instant::now();
        site.client.execute(&statement, &[package, version]).await?;
        result.call.push(started.elapsed());
        let root = site.output.clone();
        let deadline = started + Duration::from_secs(60);
        let done = tokio::task::block_in_place(|| loop {
            if removal_done(&root, package, filenames) {
                return Some(started.elapsed());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_micros(100));
        });
        result.end_to_end.push(done.ok_or_else(|| format!("removal of {package} {version} did not show within 60 s"))?);
        site.drained(Duration::from_millis(1), Duration::from_secs(600)).await?;
        result.drained.push(started.elapsed());
    }
    Ok(result)
}

/// Returns the median, for the large ÷ small ratio.
pub async fn measure(site: &Site, scale: &Scale, report: &mut Report, out: &mut serde_json::Map<String, Value>) -> Res<Duration> {
    // Removals, one at a time, the listener idle.
    progress(&format!("{} removals, one at a time", scale.removals));
    let removed = remove_one_at_a_time(site, scale.removals).await?;
    let (p50, p99) = (percentile(&removed.end_to_end, 50.0), percentile(&removed.end_to_end, 99.0));
    out.insert(
        "remove".into(),
        json!({
            "count": removed.end_to_end.len(),
            "end_to_end_ms": {"p50": ms(p50), "p90": ms(percentile(&removed.end_to_end, 90.0)), "p99": ms(p99),
                              "max": ms(percentile(&removed.end_to_end, 100.0))},
            "call_ms": {"p50": ms(percentile(&removed.call, 50.0)), "p99": ms(percentile(&removed.call, 99.0))},
            "drained_ms": {"p50": ms(percentile(&removed.drained, 50.0)), "p99": ms(percentile(&removed.drained, 99.0))},
        }),
    );
    report.row(
        "remove end to end (idle), p50",
        "≤ 10 ms",
        format!("{:.2} ms (CALL alone {:.2} ms)", ms(p50), ms(percentile(&removed.call, 50.0))),
        (scale.name != "tiny").then_some(p50 <= Duration::from_millis(10)),
    );
    report.row(
        "remove end to end (idle), p99",
        "≤ 50 ms",
        format!("{:.2} ms (queue drained, home and search included: p50 {:.1} ms)", ms(p99), ms(percentile(&removed.drained, 50.0))),
        (scale.name != "tiny").then_some(p99 <= Duration::from_millis(50)),
    );
    Ok(p50)
}

/// A removal on small beside one on large (whose median is `large_p50`), in the same run.
pub async fn measure_against_small(
    cluster: &BenchCluster,
    scale: &Scale,
    large_p50: Duration,
    report: &mut Report,
    out: &mut serde_json::Map<String, Value>,
) -> Res<()> {
    progress("reference: the small dataset, for the large ÷ small removal ratio");
    let small = Scale::named("small").expect("small exists");
    let mut reference = cluster.create_database("reference").await?;
    reference.generate(&small).await?;
    reference.start_listener().await?;
    full_rebuild(&reference).await?;
    let small_removed = remove_one_at_a_time(&reference, scale.removals).await?;
    let small_p50 = percentile(&small_removed.end_to_end, 50.0);
    let ratio = large_p50.as_secs_f64() / small_p50.as_secs_f64();
    out.insert(
        "remove_large_vs_small".into(),
        json!({"large_p50_ms": ms(large_p50), "small_p50_ms": ms(small_p50), "ratio": ratio,
               "small_p99_ms": ms(percentile(&small_removed.end_to_end, 99.0))}),
    );
    report.row(
        "single remove, large ÷ small (p50)",
        "≤ 1.5",
        format!("{ratio:.2} ({:.2} ms ÷ {:.2} ms)", ms(large_p50), ms(small_p50)),
        Some(ratio <= 1.5),
    );
    if let Some(listener) = reference.listener.take() {
        listener.stop();
    }
    Ok(())
}
