//! Admin calls per second (`CALL piw.rebuild('index', package)`) from several callers, beside
//! plain INSERTs from as many callers, with the backlog the listener leaves and the notifications
//! sent.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures_util::{future::join_all, StreamExt};
use serde_json::{json, Value};
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use crate::{
    args::Scale,
    report::{ms, progress, Report},
    site::Site,
    Res,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum CallKind {
    /// `CALL piw.rebuild('index', package)`: queues the package's simple and project pages.
    Rebuild,
    /// A plain INSERT of one row into a scratch table: the ceiling.
    Insert,
}

struct CallRun {
    calls: u64,
    per_second: f64,
    /// Distinct targets pending when the window closed, and the most seen during it.
    backlog_end: i64,
    backlog_max: i64,
    /// Time from the window's end until the listener had done everything.
    catch_up: Duration,
    notifications: u64,
}

impl CallRun {
    /// The rounds of one kind of call as one window of their total length.
    fn combined(runs: Vec<CallRun>, window: Duration) -> CallRun {
        let calls: u64 = runs.iter().map(|r| r.calls).sum();
        CallRun {
            calls,
            per_second: calls as f64 / window.as_secs_f64(),
            backlog_end: runs.last().map_or(0, |r| r.backlog_end),
            backlog_max: runs.iter().map(|r| r.backlog_max).max().unwrap_or(0),
            catch_up: runs.iter().map(|r| r.catch_up).max().unwrap_or_default(),
            notifications: runs.iter().map(|r| r.notifications).sum(),
        }
    }
}

/// How long the listener takes, from now, to do everything queued.
async fn caught_up(site: &Site) -> Res<Duration> {
    let closed = Instant::now();
    site.drained(Duration::from_millis(5), Duration::from_secs(600)).await?;
    Ok(closed.elapsed())
}

/// The calls of one window (`catch_up` left zero: see [`caught_up`]).
async fn call_window(
    site: &Site,
    clients: &[Client],
    kind: CallKind,
    window: Duration,
    packages: &Arc<Vec<String>>,
    notifications: &AtomicU64,
) -> Res<CallRun> {
    let sql = match kind {
        CallKind::Rebuild => "CALL piw.rebuild('index', $1)",
        CallKind::Insert => "INSERT INTO piw_bench.insert_ceiling (package) VALUES ($1)",
    };
    let mut statements = Vec::new();
    for client in clients {
        statements.push(client.prepare(sql).await?);
    }
    let notified_before = notifications.load(Ordering::Relaxed);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + window;
    let callers = clients.iter().zip(statements).enumerate().map(|(i, (client, statement))| {
        let packages = packages.clone();
        async move {
            tokio::time::sleep_until(start.into()).await;
            let mut calls = 0u64;
            let mut next = i * 7919;
            while Instant::now() < end {
                let package = &packages[next % packages.len()];
                next += 1;
                client.execute(&statement, &[package]).await?;
                if Instant::now() <= end {
                    calls += 1;
                }
            }
            Ok::<u64, tokio_postgres::Error>(calls)
        }
    });
    let monitor = async {
        let mut max = 0i64;
        tokio::time::sleep_until(start.into()).await;
        while Instant::now() < end {
            let (pending, _, _) = site.queue().await?;
            max = max.max(pending);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok::<i64, Box<dyn std::error::Error + Send + Sync>>(max)
    };
    let (counts, backlog_max) = tokio::join!(join_all(callers), monitor);
    let mut calls = 0;
    for count in counts {
        calls += count?;
    }
    let (backlog_end, _, _) = site.queue().await?;

    Ok(CallRun {
        calls,
        per_second: calls as f64 / window.as_secs_f64(),
        backlog_end,
        backlog_max: backlog_max?.max(backlog_end),
        catch_up: Duration::ZERO,
        notifications: notifications.load(Ordering::Relaxed) - notified_before,
    })
}

/// Admin calls while the listener is frozen (SIGSTOP) and awake (its presence session, which
/// holds the wake lock while it sleeps, ended: enqueuers skip NOTIFY, as while a listener
/// works): the procedure's own cost, without the listener's share of the cores. Then the listener
/// is thawed (its lost presence session wakes it) and waited for.
async fn paused_window(
    site: &Site,
    clients: &[Client],
    window: Duration,
    packages: &Arc<Vec<String>>,
    notifications: &AtomicU64,
) -> Res<CallRun> {
    const PRESENCE: &str = "FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '%(presence)'";
    site.listener().signal(libc::SIGSTOP);
    site.client.batch_execute(&format!("SELECT pg_terminate_backend(pid) {PRESENCE}")).await?;
    while site.client.query_one(&format!("SELECT count(*) {PRESENCE}"), &[]).await?.get::<_, i64>(0) > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let run = call_window(site, clients, CallKind::Rebuild, window, packages, notifications).await;
    site.listener().signal(libc::SIGCONT);
    let run = run?;
    site.drained(Duration::from_millis(5), Duration::from_secs(600)).await?;
    Ok(run)
}

/// Count the notifications on the listeners' channel, as a listener would receive them.
async fn count_notifications(config: &Config) -> Res<Arc<AtomicU64>> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let counter = Arc::new(AtomicU64::new(0));
    let count = counter.clone();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(_) = message {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    client.batch_execute(&format!("LISTEN {}", piw::queue::CHANNEL)).await?;
    // The connection lives as long as the client: keep it for the whole run.
    std::mem::forget(client);
    Ok(counter)
}

pub async fn measure(site: &Site, scale: &Scale, report: &mut Report, out: &mut serde_json::Map<String, Value>) -> Res<()> {
    // Admin calls per second beside the plain-INSERT ceiling.
    progress("admin calls per second");
    site.client
        .batch_execute(
            "CREATE TABLE piw_bench.insert_ceiling (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                                  package text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let names: Vec<String> =
        site.client.query("SELECT package FROM piw.packages ORDER BY random() LIMIT 10000", &[]).await?.iter().map(|r| r.get(0)).collect();
    let names = Arc::new(names);
    let notifications = count_notifications(&site.config).await?;
    let mut calls_json = Vec::new();
    let max_callers = scale.callers.iter().copied().max().unwrap_or(1);
    let mut clients = Vec::new();
    for _ in 0..max_callers {
        clients.push(piw::db::connect_with(&site.config).await?);
    }
    for &callers in &scale.callers {
        // Admin calls, the listener catching up, INSERTs (and at 16 callers the admin calls with
        // the listener frozen: what the procedure costs beside an INSERT when no listener shares
        // the cores; its presence ended, so no NOTIFY), round after round.
        let slice = scale.window / scale.rounds;
        let (mut admins, mut inserts, mut frozen) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..scale.rounds {
            let mut admin = call_window(site, &clients[..callers], CallKind::Rebuild, slice, &names, &notifications).await?;
            admin.catch_up = caught_up(site).await?;
            admins.push(admin);
            inserts.push(call_window(site, &clients[..callers], CallKind::Insert, slice, &names, &notifications).await?);
            if callers == 16 {
                frozen.push(paused_window(site, &clients[..callers], slice, &names, &notifications).await?);
            }
        }
        let total = slice * scale.rounds;
        let (admin, insert) = (CallRun::combined(admins, total), CallRun::combined(inserts, total));
        let ratio = admin.per_second / insert.per_second;
        if callers == 16 {
            let paused = CallRun::combined(frozen, total);
            let paused_ratio = paused.per_second / insert.per_second;
            progress(&format!("{callers} callers, listener frozen: {:.0} calls/s, ratio {paused_ratio:.2}", paused.per_second));
            calls_json.push(json!({
                "callers": callers, "listener": "frozen",
                "admin_calls": paused.calls, "admin_per_second": paused.per_second,
                "insert_per_second": insert.per_second, "ratio": paused_ratio,
                "notifications": paused.notifications,
            }));
            report.row(
                format!("admin calls/s, {callers} callers, listener frozen"),
                "(diagnostic)",
                format!(
                    "{:.0}/s vs {:.0} INSERTs/s = {paused_ratio:.2}; {} NOTIFY",
                    paused.per_second, insert.per_second, paused.notifications
                ),
                None,
            );
        }
        progress(&format!(
            "{callers} callers: {:.0} calls/s, {:.0} inserts/s, ratio {ratio:.2}; backlog {} at the end (max {}), caught up in {:.0} ms; {} notifications",
            admin.per_second, insert.per_second, admin.backlog_end, admin.backlog_max, ms(admin.catch_up), admin.notifications
        ));
        calls_json.push(json!({
            "callers": callers,
            "admin_calls": admin.calls, "admin_per_second": admin.per_second,
            "insert_calls": insert.calls, "insert_per_second": insert.per_second,
            "ratio": ratio,
            "backlog_at_end": admin.backlog_end, "backlog_max": admin.backlog_max,
            "catch_up_ms": ms(admin.catch_up),
            "notifications": admin.notifications,
        }));
        report.row(
            format!("admin calls/s, {callers} caller(s)"),
            if callers == 16 { "÷ INSERT ceiling ≥ 0.5" } else { "" },
            format!(
                "{:.0}/s vs {:.0} INSERTs/s = {ratio:.2}; backlog {} (max {}), drained {:.0} ms after; {} NOTIFY",
                admin.per_second,
                insert.per_second,
                admin.backlog_end,
                admin.backlog_max,
                ms(admin.catch_up),
                admin.notifications
            ),
            (callers == 16 && scale.name != "tiny").then_some(ratio >= 0.5),
        );
    }
    drop(clients);
    out.insert("admin_calls".into(), json!({"window_seconds": scale.window.as_secs_f64(), "runs": calls_json}));
    Ok(())
}
