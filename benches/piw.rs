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
//! - on `large`, a removal on a `small` dataset in the same run, for the large ÷ small ratio.
//!
//! Prints a table and writes JSON (default `target/piw-bench-SCALE.json`). The machine these run on
//! is shared: compare ratios measured in one run, not absolute figures across runs.

use std::{
    collections::{HashMap, HashSet},
    fs,
    io::Write as _,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use drain::Drain;
use futures_util::{future::join_all, StreamExt, TryStreamExt};
use process::{ListenerProcess, Spawn};
use scratch::ScratchCluster;
use serde_json::{json, Value};
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

// The tests' harness, shared: the private cluster, the listener as a process, the wait for the
// queue to drain.
#[path = "../tests/support/drain.rs"]
mod drain;
#[path = "../tests/support/process.rs"]
mod process;
#[path = "../tests/support/scratch.rs"]
mod scratch;

type Res<T> = Result<T, scratch::BoxError>;

/// The original piwheels page writer: 28 s for 2,000 packages on this kind of machine.
const ORIGINAL_MS_PER_PACKAGE: f64 = 14.1;

// -------------------------------------------------------------------------------------------------
// Scales and arguments
// -------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Scale {
    name: &'static str,
    packages: i32,
    versions: i32,
    compiled_share: f64,
    compiled_versions: Option<i32>,
    /// Removals measured end to end.
    removals: usize,
    /// How long each admin-call window lasts, in all: it is cut into `rounds` slices, each beside a
    /// slice of INSERTs (the machine's speed drifts over seconds; a ratio of two windows taken one
    /// after the other drifts with it).
    window: Duration,
    rounds: u32,
    callers: Vec<usize>,
    /// Also measure removals on a `small` dataset, for the large ÷ small ratio.
    reference_small: bool,
    /// Fresh full rebuilds (and floors) measured; the figures are their medians. One run on this
    /// shared machine varies by a third.
    rebuilds: usize,
    shared_buffers: &'static str,
    /// Where the pages go by default: /dev/shm holds small sites; a large one (1.8M pages, ~17 GB
    /// of blocks) goes to disk, and so does its floor.
    pages_on_disk: bool,
}

impl Scale {
    fn named(name: &str) -> Option<Scale> {
        Some(match name {
            "tiny" => Scale {
                name: "tiny",
                packages: 50,
                versions: 5,
                compiled_share: 0.5,
                compiled_versions: None,
                removals: 10,
                window: Duration::from_millis(300),
                rounds: 1,
                callers: vec![1, 16, 64],
                reference_small: false,
                rebuilds: 1,
                shared_buffers: "128MB",
                pages_on_disk: false,
            },
            "small" => Scale {
                name: "small",
                packages: 2000,
                versions: 5,
                compiled_share: 0.5,
                compiled_versions: None,
                removals: 300,
                window: Duration::from_secs(6),
                rounds: 3,
                callers: vec![1, 16, 64],
                reference_small: false,
                rebuilds: 7,
                shared_buffers: "256MB",
                pages_on_disk: false,
            },
            "large" => Scale {
                name: "large",
                packages: 600_000,
                versions: 5,
                compiled_share: 0.01,
                compiled_versions: Some(1),
                // Each waits for the queue to drain, and the search index of 600,000 packages
                // takes ~15 s to rebuild after every removal.
                removals: 40,
                window: Duration::from_secs(5),
                rounds: 1,
                callers: vec![1, 16, 64],
                reference_small: true,
                rebuilds: 1,
                shared_buffers: "1GB",
                pages_on_disk: true,
            },
            _ => return None,
        })
    }
}

struct Args {
    scale: Scale,
    json: PathBuf,
    /// Where the cluster goes.
    scratch: PathBuf,
    /// Where the output directories go.
    pages: PathBuf,
    /// Measure the full rebuild and its floor, nothing else.
    only_rebuild: bool,
}

const USAGE: &str = "usage: cargo bench --bench piw -- [--scale tiny|small|large] [--packages N] [--removals N] \
                     [--window SECONDS] [--rebuilds N] [--only-rebuild] [--json FILE] [--scratch DIR] [--pages DIR]";

fn parse_args() -> Result<Args, String> {
    let mut scale = Scale::named("small").expect("small exists");
    let mut json = None;
    let mut scratch = None;
    let mut pages = None;
    let mut packages = None;
    let mut removals = None;
    let mut window = None;
    let mut rebuilds = None;
    let mut only_rebuild = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            "--scale" => {
                let name = value("--scale")?;
                scale = Scale::named(&name).ok_or_else(|| format!("unknown scale {name:?}\n{USAGE}"))?;
            }
            "--packages" => packages = Some(value("--packages")?.parse::<i32>().map_err(|e| e.to_string())?),
            "--removals" => removals = Some(value("--removals")?.parse::<usize>().map_err(|e| e.to_string())?),
            "--window" => window = Some(value("--window")?.parse::<f64>().map_err(|e| e.to_string())?),
            "--rebuilds" => rebuilds = Some(value("--rebuilds")?.parse::<usize>().map_err(|e| e.to_string())?.max(1)),
            "--only-rebuild" => only_rebuild = true,
            "--json" => json = Some(PathBuf::from(value("--json")?)),
            "--scratch" => scratch = Some(PathBuf::from(value("--scratch")?)),
            "--pages" => pages = Some(PathBuf::from(value("--pages")?)),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if let Some(packages) = packages {
        scale.packages = packages;
    }
    if let Some(removals) = removals {
        scale.removals = removals;
    }
    if let Some(window) = window {
        scale.window = Duration::from_secs_f64(window);
    }
    if let Some(rebuilds) = rebuilds {
        scale.rebuilds = rebuilds;
    }
    let json = json.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join(format!("piw-bench-{}.json", scale.name)));
    // /dev/shm keeps the disk out of the figures; it is open to the postgres account.
    let scratch = scratch.unwrap_or_else(|| if Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() });
    let pages = pages.unwrap_or_else(|| if scale.pages_on_disk { PathBuf::from("/var/tmp") } else { scratch.clone() });
    Ok(Args { scale, json, scratch, pages, only_rebuild })
}

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

// -------------------------------------------------------------------------------------------------
// The cluster, databases and listener processes
// -------------------------------------------------------------------------------------------------

/// The private cluster (its postmaster our child, stopped and deleted with the output directories
/// when this process exits, however it exits) and where the output directories go.
struct BenchCluster {
    scratch: ScratchCluster,
    /// The output directories (and the floor's) live here.
    pages: PathBuf,
}

impl BenchCluster {
    fn start(scratch: &Path, pages_parent: &Path, scale: &Scale) -> Res<BenchCluster> {
        let pages = tempfile::Builder::new().prefix("piw-bench-pages-").tempdir_in(pages_parent)?.keep();
        // Settings for bulk data on a throwaway cluster: no WAL for tables the generator truncates
        // and fills in one transaction, no checkpoints in the middle of it.
        let settings = format!(
            "wal_level = minimal\nmax_wal_senders = 0\nmax_wal_size = '16GB'\ncheckpoint_timeout = '30min'\n\
             shared_buffers = '{}'\nmaintenance_work_mem = '512MB'",
            scale.shared_buffers
        );
        let (scratch, ()) = ScratchCluster::start_prepared(scratch, "piw-bench-", std::slice::from_ref(&pages), |cluster, _| {
            Ok(scratch::append_settings(cluster, "piw bench", &settings)?)
        })?;
        Ok(BenchCluster { scratch, pages })
    }

    async fn create_database(&self, name: &str) -> Res<Site> {
        let config = self.scratch.create_database(name, None).await?;
        let mut client = piw::db::connect_with(&config).await?;
        piw::schema::migrate(&mut client).await?;
        client.batch_execute(include_str!("dataset.sql")).await?;
        let output = self.pages.join(format!("www-{name}"));
        fs::create_dir_all(&output)?;
        Ok(Site { dsn: self.scratch.cluster.dsn(name), config, client, output, listener: None })
    }
}

/// One database with its dataset, output directory and listener.
struct Site {
    dsn: String,
    config: Config,
    client: Client,
    output: PathBuf,
    listener: Option<ListenerProcess>,
}

impl process::Dsn for Site {
    fn dsn(&self) -> String {
        self.dsn.clone()
    }
}

/// The built `piw-listener` (or `PIW_BENCH_LISTENER`: another build, for an A/B of two commits in
/// one run) with its own defaults, as deployed; a child, so that its memory can be read from /proc.
fn start_listener_process(site: &Site) -> ListenerProcess {
    let spawn = Spawn {
        args: vec!["-q".into()],
        deployed_defaults: true,
        program: std::env::var_os("PIW_BENCH_LISTENER").map(PathBuf::from),
        ..Spawn::default()
    };
    ListenerProcess::start_with(site, &site.output, spawn)
}

/// The last lines of what a listener printed, for an error message.
fn log_tail(listener: Option<&ListenerProcess>) -> String {
    let log = listener.map(ListenerProcess::log).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Site {
    async fn generate(&self, scale: &Scale) -> Res<Duration> {
        let started = Instant::now();
        self.client
            .execute(
                "CALL piw_bench.generate(packages => $1, versions => $2, compiled_share => $3, compiled_versions => $4)",
                &[&scale.packages, &scale.versions, &scale.compiled_share, &scale.compiled_versions],
            )
            .await?;
        Ok(started.elapsed())
    }

    async fn counts(&self) -> Res<Value> {
        let row = self
            .client
            .query_one(
                "SELECT (SELECT count(*) FROM piw.packages), (SELECT count(*) FROM piw.versions),
                        (SELECT count(*) FROM piw.builds), (SELECT count(*) FROM piw.files),
                        (SELECT count(*) FROM piw.dependencies), (SELECT count(*) FROM piw.downloads),
                        pg_database_size(current_database())",
                &[],
            )
            .await?;
        Ok(json!({
            "packages": row.get::<_, i64>(0), "versions": row.get::<_, i64>(1), "builds": row.get::<_, i64>(2),
            "files": row.get::<_, i64>(3), "dependencies": row.get::<_, i64>(4), "downloads": row.get::<_, i64>(5),
            "database_bytes": row.get::<_, i64>(6),
        }))
    }

    /// Start the listener and wait until it has read the (empty) queue and gone to sleep.
    async fn start_listener(&mut self) -> Res<()> {
        let mut listener = start_listener_process(self);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let asleep: i64 = self.client.query_one("SELECT count(*) FROM piw.listeners WHERE NOT awake", &[]).await?.get(0);
            if asleep > 0 {
                break;
            }
            if !listener.is_running() {
                return Err(format!("piw-listener exited at start:\n{}", listener.log()).into());
            }
            if Instant::now() > deadline {
                return Err("piw-listener did not start within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.listener = Some(listener);
        Ok(())
    }

    fn listener(&self) -> &ListenerProcess {
        self.listener.as_ref().expect("listener started")
    }

    async fn queue(&self) -> Res<(i64, i64, i64)> {
        let row = self.client.query_one("SELECT pending, running, failed FROM piw.queue_status()", &[]).await?;
        Ok((row.get(0), row.get(1), row.get(2)))
    }

    /// Wait until no listener says it is awake.
    async fn asleep(&self, limit: Duration) -> Res<()> {
        let deadline = Instant::now() + limit;
        while self.client.query_one("SELECT count(*) FROM piw.listeners WHERE awake", &[]).await?.get::<_, i64>(0) > 0 {
            if Instant::now() > deadline {
                return Err(format!("the listener did not go to sleep within {limit:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }

    /// Wait until nothing is pending or running; fail at the first failed job.
    async fn drained(&self, poll: Duration, limit: Duration) -> Res<()> {
        match drain::drained(&self.client, Drain { poll, limit, stop_at_failure: true }).await {
            Ok(_) => Ok(()),
            Err(undrained) => Err(format!("{undrained}; the listener's log ends:\n{}", log_tail(self.listener.as_ref())).into()),
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Full rebuild and its floor
// -------------------------------------------------------------------------------------------------

struct Rebuild {
    elapsed: Duration,
    peak_rss_kib: Option<u64>,
}

/// Queue a rebuild of every page in one transaction and wait until the listener has done it.
async fn full_rebuild(site: &Site) -> Res<Rebuild> {
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

/// Remove everything inside `root`, keeping `root` itself (the listener has it open as its output).
fn empty_dir(root: &Path) -> Res<()> {
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
fn walk(root: &Path) -> Res<Vec<(PathBuf, u64, u64)>> {
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

/// The rows of every full-rebuild query, streamed with COPY, all at once (as the listener runs
/// its jobs): returns the wall time and the bytes.
async fn copy_floor(config: &Config) -> Res<(Duration, u64)> {
    let mut clients = Vec::new();
    for _ in piw::pages::FULL_REBUILD_QUERIES {
        clients.push(piw::db::connect_with(config).await?);
    }
    let started = Instant::now();
    let copies = clients.iter().zip(piw::pages::FULL_REBUILD_QUERIES).map(|(client, (_, sql))| async move {
        let stream = client.copy_out(&format!("COPY ({sql}) TO STDOUT")).await?;
        let mut stream = std::pin::pin!(stream);
        let mut bytes = 0u64;
        while let Some(chunk) = stream.try_next().await? {
            bytes += chunk.len() as u64;
        }
        Ok::<u64, tokio_postgres::Error>(bytes)
    });
    let mut total = 0;
    for bytes in join_all(copies).await {
        total += bytes?;
    }
    Ok((started.elapsed(), total))
}

/// The same files with the same sizes, written by the simplest writer there is.
fn write_floor(files: &[(PathBuf, u64, u64)], dest: &Path) -> Res<Duration> {
    let largest = files.iter().map(|f| f.1).max().unwrap_or(0);
    let filler = vec![b'x'; usize::try_from(largest)?];
    let started = Instant::now();
    let mut made: HashSet<&Path> = HashSet::new();
    for (relative, size, _) in files {
        if let Some(parent) = relative.parent() {
            if !made.contains(parent) {
                fs::create_dir_all(dest.join(parent))?;
                made.insert(parent);
            }
        }
        fs::write(dest.join(relative), &filler[..usize::try_from(*size)?])?;
    }
    Ok(started.elapsed())
}

// -------------------------------------------------------------------------------------------------
// Removals end to end
// -------------------------------------------------------------------------------------------------

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

async fn removals(site: &Site, count: usize) -> Res<Removals> {
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

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// -------------------------------------------------------------------------------------------------
// Admin calls per second
// -------------------------------------------------------------------------------------------------

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

// -------------------------------------------------------------------------------------------------
// The run
// -------------------------------------------------------------------------------------------------

struct Report {
    rows: Vec<(String, String, String, Option<bool>)>,
}

impl Report {
    fn row(&mut self, figure: impl Into<String>, target: impl Into<String>, measured: impl Into<String>, met: Option<bool>) {
        self.rows.push((figure.into(), target.into(), measured.into(), met));
    }

    fn print(&self, title: &str) {
        let widths = self.rows.iter().fold([6usize, 6, 8], |w, (f, t, m, _)| [w[0].max(f.len()), w[1].max(t.len()), w[2].max(m.len())]);
        println!("\n{title}\n");
        println!("| {:<w0$} | {:<w1$} | {:<w2$} | met |", "figure", "target", "measured", w0 = widths[0], w1 = widths[1], w2 = widths[2]);
        println!("|{}|{}|{}|-----|", "-".repeat(widths[0] + 2), "-".repeat(widths[1] + 2), "-".repeat(widths[2] + 2));
        for (figure, target, measured, met) in &self.rows {
            let met = match met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            println!("| {figure:<w0$} | {target:<w1$} | {measured:<w2$} | {met:<3} |", w0 = widths[0], w1 = widths[1], w2 = widths[2]);
        }
    }
}

fn progress(message: &str) {
    static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let since = STARTED.get_or_init(Instant::now).elapsed();
    eprintln!("[piw bench {:>7.1} s] {message}", since.as_secs_f64());
    let _ = std::io::stderr().flush();
}

async fn run(args: Args) -> Res<()> {
    let scale = args.scale.clone();
    let run_started = Instant::now();
    let mut report = Report { rows: Vec::new() };
    let mut out = serde_json::Map::new();
    out.insert("scale".into(), json!(scale.name));
    out.insert("cores".into(), json!(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)));

    progress(&format!("starting a private cluster under {} (pages under {})", args.scratch.display(), args.pages.display()));
    let cluster = BenchCluster::start(&args.scratch, &args.pages, &scale)?;
    let mut site = cluster.create_database("bench").await?;

    progress(&format!("generating {} packages", scale.packages));
    let generated = site.generate(&scale).await?;
    let counts = site.counts().await?;
    progress(&format!("generated in {:.1} s: {counts}", generated.as_secs_f64()));
    out.insert("dataset".into(), counts.clone());
    out.insert("generate_seconds".into(), json!(generated.as_secs_f64()));
    report.row("dataset generated", "", format!("{:.1} s ({} files)", generated.as_secs_f64(), counts["files"]), None);
    let packages = counts["packages"].as_i64().unwrap_or(0).max(1) as f64;

    site.start_listener().await?;

    // Full rebuild into a fresh directory, then into the built one.
    let mut fresh_runs = Vec::new();
    for run in 1..=scale.rebuilds {
        progress(&format!("full rebuild, fresh output directory ({run} of {})", scale.rebuilds));
        tokio::task::block_in_place(|| empty_dir(&site.output))?;
        let rebuild = full_rebuild(&site).await?;
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
    let again = full_rebuild(&site).await?;
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
    let reconciled = reconciliation(&site).await?;
    progress(&format!("{:.3} s", reconciled.as_secs_f64()));

    // The floor.
    let mut floors = Vec::new();
    for run in 1..=scale.rebuilds {
        progress(&format!("floor: COPY of the same queries, then the same files by a minimal writer ({run} of {})", scale.rebuilds));
        let (copy_time, copy_bytes) = copy_floor(&site.config).await?;
        let floor_dir = cluster.pages.join("floor");
        let write_time = tokio::task::block_in_place(|| write_floor(&pages, &floor_dir))?;
        tokio::task::block_in_place(|| fs::remove_dir_all(&floor_dir))?;
        floors.push((copy_time + write_time, copy_time, write_time, copy_bytes));
    }
    // The median run's parts.
    floors.sort();
    let (floor, copy_time, write_time, copy_bytes) = floors[floors.len() / 2];
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
            "original_ms_per_package": ORIGINAL_MS_PER_PACKAGE,
            "speedup_over_original": ORIGINAL_MS_PER_PACKAGE / per_package_ms,
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
        "  vs the original (14.1 ms per package)",
        "≥ 100x",
        format!("{:.0}x faster", ORIGINAL_MS_PER_PACKAGE / per_package_ms),
        (scale.name == "small").then_some(ORIGINAL_MS_PER_PACKAGE / per_package_ms >= 100.0),
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

    if args.only_rebuild {
        return publish(&report, out, &args.json, &scale, &counts, run_started);
    }

    progress("kill -9 of the listener during a full rebuild, another started at once");
    let (taken, recovered) = recovery(&mut site).await?;
    progress(&format!("its jobs taken after {:.0} ms, drained after {:.2} s", ms(taken), recovered.as_secs_f64()));
    out.insert("recovery".into(), json!({"jobs_taken_ms": ms(taken), "drained_seconds": recovered.as_secs_f64()}));
    report.row(
        "kill -9 during a full rebuild: jobs taken by the next",
        "about a second (lease 300 s)",
        format!("{:.0} ms after the kill (drained after {:.2} s)", ms(taken), recovered.as_secs_f64()),
        (scale.name != "tiny").then_some(taken <= Duration::from_secs(2)),
    );
    // The next measures start from an idle listener.
    site.drained(Duration::from_millis(5), Duration::from_secs(3600)).await?;
    site.asleep(Duration::from_secs(60)).await?;

    // Removals, one at a time, the listener idle.
    progress(&format!("{} removals, one at a time", scale.removals));
    let removed = removals(&site, scale.removals).await?;
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
    let mut ratio_at_16 = None;
    for &callers in &scale.callers {
        // Admin calls, the listener catching up, INSERTs (and at 16 callers the admin calls with
        // the listener frozen: what the procedure costs beside an INSERT when no listener shares
        // the cores; its presence ended, so no NOTIFY), round after round.
        let slice = scale.window / scale.rounds;
        let (mut admins, mut inserts, mut frozen) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..scale.rounds {
            let mut admin = call_window(&site, &clients[..callers], CallKind::Rebuild, slice, &names, &notifications).await?;
            admin.catch_up = caught_up(&site).await?;
            admins.push(admin);
            inserts.push(call_window(&site, &clients[..callers], CallKind::Insert, slice, &names, &notifications).await?);
            if callers == 16 {
                frozen.push(paused_window(&site, &clients[..callers], slice, &names, &notifications).await?);
            }
        }
        let total = slice * scale.rounds;
        let (admin, insert) = (CallRun::combined(admins, total), CallRun::combined(inserts, total));
        let ratio = admin.per_second / insert.per_second;
        if callers == 16 {
            ratio_at_16 = Some(ratio);
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
    let _ = ratio_at_16;

    if let Some(listener) = site.listener.take() {
        listener.terminate();
    }

    // A removal on small beside one on large, in the same run.
    if scale.reference_small {
        progress("reference: the small dataset, for the large ÷ small removal ratio");
        let small = Scale::named("small").expect("small exists");
        let mut reference = cluster.create_database("reference").await?;
        reference.generate(&small).await?;
        reference.start_listener().await?;
        full_rebuild(&reference).await?;
        let small_removed = removals(&reference, scale.removals).await?;
        let small_p50 = percentile(&small_removed.end_to_end, 50.0);
        let ratio = p50.as_secs_f64() / small_p50.as_secs_f64();
        out.insert(
            "remove_large_vs_small".into(),
            json!({"large_p50_ms": ms(p50), "small_p50_ms": ms(small_p50), "ratio": ratio,
                   "small_p99_ms": ms(percentile(&small_removed.end_to_end, 99.0))}),
        );
        report.row(
            "single remove, large ÷ small (p50)",
            "≤ 1.5",
            format!("{ratio:.2} ({:.2} ms ÷ {:.2} ms)", ms(p50), ms(small_p50)),
            Some(ratio <= 1.5),
        );
        if let Some(listener) = reference.listener.take() {
            listener.stop();
        }
    }

    // Printed before the sites are deleted (1.8M pages on large take minutes).
    publish(&report, out, &args.json, &scale, &counts, run_started)?;
    drop(site);
    drop(cluster);
    Ok(())
}

/// Print the table and write the JSON.
fn publish(
    report: &Report,
    mut out: serde_json::Map<String, Value>,
    json_path: &Path,
    scale: &Scale,
    counts: &Value,
    run_started: Instant,
) -> Res<()> {
    out.insert("total_seconds".into(), json!(run_started.elapsed().as_secs_f64()));
    report.print(&format!(
        "piw benchmark, scale {} ({} packages, {} files), {} cores",
        scale.name, counts["packages"], counts["files"], out["cores"]
    ));
    if let Some(parent) = json_path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(json_path, serde_json::to_string_pretty(&Value::Object(out))? + "\n")?;
    println!("\nJSON: {}", json_path.display());
    Ok(())
}
