//! Recovery: kill -9 of the listener during a full rebuild, another started at once.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{
    args::Scale,
    rebuild::empty_dir,
    report::{ms, progress, Report},
    site::{start_listener_process, Site},
    Res,
};

/// kill -9 of the listener during a full rebuild into a fresh directory, and a new listener
/// started at once: how long until the dead one holds no job (its jobs taken by the new one, not
/// left to its five-minute lease), and until the queue is drained.
async fn recovery(site: &mut Site) -> Res<(Duration, Duration)> {
    tokio::task::block_in_place(|| empty_dir(&site.output))?;
    site.client.batch_execute("BEGIN; CALL piw.rebuild('index'); CALL piw.rebuild('home'); CALL piw.rebuild('search'); COMMIT").await?;
    let holding = "SELECT locked_by FROM piw.jobs WHERE state = 'running' AND kind IN ('simple_all', 'project_all') LIMIT 1";
    let deadline = Instant::now() + Duration::from_secs(600);
    let dead: String = loop {
        if let Some(row) = site.client.query_opt(holding, &[]).await? {
            break row.get(0);
        }
        if Instant::now() > deadline {
            return Err("the full rebuild was not claimed within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    // Part of the way into the pass.
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(site.listener.take());
    let killed = Instant::now();
    site.listener = Some(start_listener_process(site));
    while site.client.query_one("SELECT count(*) FROM piw.jobs WHERE locked_by = $1", &[&dead]).await?.get::<_, i64>(0) > 0 {
        if killed.elapsed() > Duration::from_secs(600) {
            return Err("the killed listener's jobs were not taken within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let taken = killed.elapsed();
    site.drained(Duration::from_millis(5), Duration::from_secs(3600)).await?;
    Ok((taken, killed.elapsed()))
}

pub async fn measure(site: &mut Site, scale: &Scale, report: &mut Report, out: &mut serde_json::Map<String, Value>) -> Res<()> {
    progress("kill -9 of the listener during a full rebuild, another started at once");
    let (taken, recovered) = recovery(site).await?;
    progress(&format!("its jobs taken after {:.0} ms, drained after {:.2} s", ms(taken), recovered.as_secs_f64()));
    out.insert("recovery".into(), json!({"jobs_taken_ms": ms(taken), "drained_seconds": recovered.as_secs_f64()}));
    report.row(
        "kill -9 during a full rebuild: jobs taken by the next",
        "about a second (lease 300 s)",
        format!("{:.0} ms after the kill (drained after {:.2} s)", ms(taken), recovered.as_secs_f64()),
        (scale.name != "tiny").then_some(taken <= Duration::from_secs(2)),
    );
    Ok(())
}
