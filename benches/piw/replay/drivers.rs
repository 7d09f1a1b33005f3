//! The load of a production day: downloads logged in batches, imports of new versions through
//! the real import path, an admin removal or skip now and then, and the queue sampled meanwhile.
//! Each runs as a tokio task with an interval timer of its own, on a connection of its own, until
//! the replay's end.
//!
//! Missed ticks are delayed (`MissedTickBehavior::Delay`): a driver held up (an import waiting on
//! a lock, a slow machine) resumes its pace from when it could, and does not fire the ticks it
//! missed in a burst the real load would not have. What each achieved is reported beside its
//! target rate.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{mpsc::Sender, Arc},
    time::{Duration, Instant, SystemTime},
};

use piw::site::OutputDir;
use tokio::time::{interval_at, sleep_until, MissedTickBehavior};
use tokio_postgres::Client;

use crate::{replay::freshness::Watch, wheels::Wheel, Res};

/// Downloads a second, logged as a log shipper would: one INSERT of this many rows each second.
pub const DOWNLOADS_PER_SECOND: usize = 50;
/// Imports a second.
pub const IMPORT_PERIOD: Duration = Duration::from_secs(1);
/// Admin calls (a removal, then a skip, and so on).
pub const ADMIN_PERIOD: Duration = Duration::from_secs(60);
/// The queue is read this often.
pub const QUEUE_PERIOD: Duration = Duration::from_millis(250);

/// When a driver's task starts and stops.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub until: Instant,
}

impl Window {
    /// An interval timer whose first tick is `offset` after the start, missed ticks delayed.
    fn timer(&self, offset: Duration, period: Duration) -> tokio::time::Interval {
        let mut timer = interval_at((self.start + offset).into(), period);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        timer
    }

    /// The next tick, or `None` once the replay is over.
    async fn next(&self, timer: &mut tokio::time::Interval) -> Option<Instant> {
        tokio::select! {
            tick = timer.tick() => (tick.into_std() < self.until).then(Instant::now),
            () = sleep_until(self.until.into()) => None,
        }
    }
}

/// One INSERT of downloads, committed.
#[derive(Debug, Clone)]
pub struct DownloadBatch {
    /// Client clock right after the statement returned (autocommit: after the COMMIT).
    pub committed: Instant,
    pub rows: usize,
    pub call: Duration,
}

/// Log `DOWNLOADS_PER_SECOND` downloads of random files from `files` each second, `accessed_at`
/// now, in one statement.
pub async fn downloads(client: Client, files: Vec<String>, window: Window) -> Res<Vec<DownloadBatch>> {
    if files.is_empty() {
        return Err("no files to download".into());
    }
    let insert = client
        .prepare(
            "INSERT INTO piw.downloads (filename, accessed_by, accessed_at, arch, distro_name, distro_version, os_name,
                                        os_version, py_name, py_version, installer_name, installer_version)
             SELECT f, '192.0.2.7', now(), 'armv7l', 'Raspbian', '12', 'Linux', '6.6', 'CPython', '3.11.2', 'pip', '23.0.1'
               FROM unnest($1::text[]) AS f",
        )
        .await?;
    let mut timer = window.timer(Duration::ZERO, Duration::from_secs(1));
    let mut batches = Vec::new();
    while let Some(started) = window.next(&mut timer).await {
        let batch: Vec<&str> = (0..DOWNLOADS_PER_SECOND).map(|_| files[fastrand::usize(..files.len())].as_str()).collect();
        let rows = client.execute(&insert, &[&batch]).await?;
        let committed = Instant::now();
        batches.push(DownloadBatch { committed, rows: usize::try_from(rows)?, call: committed - started });
    }
    Ok(batches)
}

/// One wheel imported.
#[derive(Debug, Clone)]
pub struct Import {
    pub package: String,
    pub version: String,
    pub filename: String,
    /// Client clock right after the import returned, its COMMIT done.
    pub committed: Instant,
    /// The import alone: reading the wheel, the rows, the wheel put in place, the COMMIT.
    pub call: Duration,
    /// Client wall clock after COMMIT returned minus the server's commit timestamp
    /// (`track_commit_timestamp`): the COMMIT's answer on its way back.
    pub server_to_client: Option<Duration>,
}

/// What the import driver did.
#[derive(Debug, Default)]
pub struct Imports {
    pub imported: Vec<Import>,
    pub failed: usize,
    pub first_error: Option<String>,
}

/// Import, once a second, a new version of a random package of `packages`: a real wheel built
/// in `scratch`, imported with piw-import's library call (`piw::import::import_wheel`: rows in
/// one transaction, the wheel put in place before the COMMIT). Each is watched for on disk from
/// the moment its COMMIT returned.
pub async fn imports(
    mut client: Client,
    output: OutputDir,
    packages: Arc<Vec<String>>,
    scratch: PathBuf,
    window: Window,
    watches: Sender<Watch>,
) -> Res<Imports> {
    if packages.is_empty() {
        return Err("no packages to import into".into());
    }
    let commit_time = "SELECT pg_xact_commit_timestamp(f.xmin) FROM piw.files f WHERE f.filename = $1";
    // Half a period after the downloads: the two commit apart, as they would.
    let mut timer = window.timer(IMPORT_PERIOD / 2, IMPORT_PERIOD);
    let mut done = Imports::default();
    let mut n = 0u64;
    while window.next(&mut timer).await.is_some() {
        n += 1;
        let package = &packages[fastrand::usize(..packages.len())];
        // The dataset's versions are 1.V.0: 2.N never collides with them nor with each other.
        let version = format!("2.{n}");
        let wheel = Wheel::new(&package.replace('-', "_"), &version);
        let path = tokio::task::block_in_place(|| write_wheel(&wheel, &scratch))?;
        let started = Instant::now();
        let outcome = piw::import::import_wheel(&mut client, &output, &path).await;
        let (committed, wall) = (Instant::now(), SystemTime::now());
        let _ = fs::remove_file(&path);
        let imported = match outcome {
            Ok(imported) => imported,
            Err(e) => {
                done.failed += 1;
                done.first_error.get_or_insert_with(|| format!("{}: {e}", wheel.filename()));
                continue;
            }
        };
        let _ = watches.send(Watch::Import {
            index: done.imported.len(),
            package: imported.package.clone(),
            filename: imported.filename.clone(),
            committed,
        });
        let server: Option<SystemTime> = client.query_opt(commit_time, &[&imported.filename]).await?.and_then(|row| row.get(0));
        done.imported.push(Import {
            package: imported.package,
            version: imported.version,
            filename: imported.filename,
            committed,
            call: committed - started,
            server_to_client: server.and_then(|server| wall.duration_since(server).ok()),
        });
    }
    Ok(done)
}

fn write_wheel(wheel: &Wheel, dir: &Path) -> Res<PathBuf> {
    let path = dir.join(wheel.filename());
    fs::write(&path, wheel.bytes())?;
    Ok(path)
}

/// One admin call.
#[derive(Debug, Clone)]
pub struct AdminCall {
    pub action: &'static str,
    pub package: String,
    pub version: String,
    /// The version's published wheels, which must leave `simple/PACKAGE/` and its pages.
    pub filenames: Vec<String>,
    pub committed: Instant,
    pub call: Duration,
}

/// Once a minute, half a minute in (so that a one-minute replay has one), alternately
/// `CALL piw.remove_version(package, version)` and `CALL piw.skip_version(package, version,
/// reason)` on a random published version of a random package of `packages`.
pub async fn admin(
    client: Client,
    packages: Arc<Vec<String>>,
    output: PathBuf,
    window: Window,
    watches: Sender<Watch>,
) -> Res<Vec<AdminCall>> {
    // One package's versions through its index: a random pick over every file would be a scan
    // of millions of rows on large, in the server's CPU share.
    let versions = client
        .prepare(
            "SELECT v.version, array_agg(f.filename ORDER BY f.filename)
               FROM piw.versions v
               JOIN piw.builds b ON b.package = v.package AND b.version = v.version AND b.status
               JOIN piw.files f ON f.build_id = b.build_id
              WHERE v.package = $1 AND v.skip = '' AND v.held = ''
              GROUP BY v.version",
        )
        .await?;
    let remove = client.prepare("CALL piw.remove_version($1, $2)").await?;
    let skip = client.prepare("CALL piw.skip_version($1, $2, 'skipped by the replay')").await?;
    let mut timer = window.timer(ADMIN_PERIOD / 2, ADMIN_PERIOD);
    let mut calls = Vec::new();
    while window.next(&mut timer).await.is_some() {
        // A package with a published version (a few have none: skipped, or every build failed).
        let mut pick = None;
        for _ in 0..100 {
            let package = &packages[fastrand::usize(..packages.len())];
            let rows = client.query(&versions, &[package]).await?;
            if !rows.is_empty() {
                let row = &rows[fastrand::usize(..rows.len())];
                pick = Some((package.clone(), row.get::<_, String>(0), row.get::<_, Vec<String>>(1)));
                break;
            }
        }
        let Some((package, version, filenames)) = pick else { return Err("no published version found in 100 packages".into()) };
        // The dataset's rows have no wheels on disk (the importer would have put them there):
        // put stand-ins where they are missing, so that their deletion can be seen.
        let dir = output.join("simple").join(&package);
        for filename in &filenames {
            let wheel = dir.join(filename);
            if !wheel.exists() {
                fs::write(&wheel, b"a stand-in for the wheel")?;
            }
        }
        let action = if calls.len() % 2 == 0 { "remove_version" } else { "skip_version" };
        let started = Instant::now();
        let statement = if action == "remove_version" { &remove } else { &skip };
        client.execute(statement, &[&package, &version]).await?;
        let committed = Instant::now();
        let _ = watches.send(Watch::Admin { index: calls.len(), package: package.clone(), filenames: filenames.clone(), committed });
        calls.push(AdminCall { action, package, version, filenames, committed, call: committed - started });
    }
    Ok(calls)
}

/// The queue at one moment.
#[derive(Debug, Clone, Copy)]
pub struct QueueSample {
    pub at: Duration,
    pub pending: i64,
    pub running: i64,
    pub failed: i64,
    /// Requests not yet moved into jobs (`piw.requests`, moved at each claim).
    pub requests: i64,
}

impl QueueSample {
    pub fn jobs(&self) -> i64 {
        self.pending + self.running
    }
}

/// Read the queue every `QUEUE_PERIOD` until the replay's end.
pub async fn queue(client: Client, window: Window) -> Res<Vec<QueueSample>> {
    let count = client
        .prepare(
            "SELECT count(*) FILTER (WHERE j.state = 'pending'), count(*) FILTER (WHERE j.state = 'running'),
                    count(*) FILTER (WHERE j.state = 'failed'), (SELECT count(*) FROM piw.requests)
               FROM piw.jobs j",
        )
        .await?;
    let mut timer = window.timer(Duration::ZERO, QUEUE_PERIOD);
    let mut samples = Vec::new();
    while window.next(&mut timer).await.is_some() {
        let row = client.query_one(&count, &[]).await?;
        samples.push(QueueSample {
            at: window.start.elapsed(),
            pending: row.get(0),
            running: row.get(1),
            failed: row.get(2),
            requests: row.get(3),
        });
    }
    Ok(samples)
}
