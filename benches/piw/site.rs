//! What the measurements run against: the private cluster, one database per dataset with its
//! output directory and listener, and the waits on a site's queue.

use std::{
    fs,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use tokio_postgres::{Client, Config};

use crate::{
    args::Scale,
    drain::{self, Drain},
    process::{self, ListenerProcess, Spawn},
    scratch::{self, ScratchCluster},
    Res,
};

/// The private cluster (its postmaster our child, stopped and deleted with the output directories
/// when this process exits, however it exits) and where the output directories go.
pub struct BenchCluster {
    scratch: ScratchCluster,
    /// The output directories (and the floor's) live here.
    pub pages: PathBuf,
}

impl BenchCluster {
    /// `extra_settings`: more lines for postgresql.conf (the replay's commit timestamps).
    pub fn start(scratch: &Path, pages_parent: &Path, scale: &Scale, extra_settings: &str) -> Res<BenchCluster> {
        let pages = tempfile::Builder::new().prefix("piw-bench-pages-").tempdir_in(pages_parent)?.keep();
        // Settings for bulk data on a throwaway cluster: no WAL for tables the generator truncates
        // and fills in one transaction, no checkpoints in the middle of it.
        let settings = format!(
            "wal_level = minimal\nmax_wal_senders = 0\nmax_wal_size = '16GB'\ncheckpoint_timeout = '30min'\n\
             shared_buffers = '{}'\nmaintenance_work_mem = '512MB'\n{extra_settings}",
            scale.shared_buffers
        );
        let (scratch, ()) = ScratchCluster::start_prepared(scratch, "piw-bench-", std::slice::from_ref(&pages), |cluster, _| {
            Ok(scratch::append_settings(cluster, "piw bench", &settings)?)
        })?;
        Ok(BenchCluster { scratch, pages })
    }

    /// The postmaster's process id, as its postmaster.pid says (the CPU of the server is its own
    /// and its children's).
    pub fn postmaster_pid(&self) -> Res<u32> {
        let pid_file = self.scratch.cluster.data_dir().join("postmaster.pid");
        let text = fs::read_to_string(&pid_file)?;
        let first = text.lines().next().unwrap_or_default();
        Ok(first.trim().parse().map_err(|e| format!("{}: {first:?}: {e}", pid_file.display()))?)
    }

    pub async fn create_database(&self, name: &str) -> Res<Site> {
        let config = self.scratch.create_database(name, None).await?;
        let mut client = piw::db::connect_with(&config).await?;
        piw::schema::migrate(&mut client).await?;
        client.batch_execute(include_str!("../dataset.sql")).await?;
        let output = self.pages.join(format!("www-{name}"));
        fs::create_dir_all(&output)?;
        Ok(Site { dsn: self.scratch.cluster.dsn(name), config, client, output, listener: None })
    }
}

/// One database with its dataset, output directory and listener.
pub struct Site {
    dsn: String,
    pub config: Config,
    pub client: Client,
    pub output: PathBuf,
    pub listener: Option<ListenerProcess>,
}

impl process::Dsn for Site {
    fn dsn(&self) -> String {
        self.dsn.clone()
    }
}

/// The built `piw-listener` (or `PIW_BENCH_LISTENER`: another build, for an A/B of two commits in
/// one run) with its own defaults, as deployed; a child, so that its memory can be read from /proc.
pub fn start_listener_process(site: &Site) -> ListenerProcess {
    start_listener_process_with(site, &[])
}

/// [`start_listener_process`] with more arguments (the replay's).
pub fn start_listener_process_with(site: &Site, extra_args: &[&str]) -> ListenerProcess {
    let mut args = vec!["-q".to_owned()];
    args.extend(extra_args.iter().map(|a| (*a).to_owned()));
    let spawn =
        Spawn { args, deployed_defaults: true, program: std::env::var_os("PIW_BENCH_LISTENER").map(PathBuf::from), ..Spawn::default() };
    ListenerProcess::start_with(site, &site.output, spawn)
}

/// The last lines of what a listener printed, for an error message.
fn log_tail(listener: Option<&ListenerProcess>) -> String {
    let log = listener.map(ListenerProcess::log).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Site {
    pub async fn generate(&self, scale: &Scale) -> Res<Duration> {
        let started = Instant::now();
        self.client
            .execute(
                "CALL piw_bench.generate(packages => $1, versions => $2, compiled_share => $3, compiled_versions => $4)",
                &[&scale.packages, &scale.versions, &scale.compiled_share, &scale.compiled_versions],
            )
            .await?;
        Ok(started.elapsed())
    }

    pub async fn counts(&self) -> Res<Value> {
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
    pub async fn start_listener(&mut self) -> Res<()> {
        self.start_listener_with(&[]).await
    }

    /// [`Self::start_listener`] with more arguments for the listener.
    pub async fn start_listener_with(&mut self, extra_args: &[&str]) -> Res<()> {
        let mut listener = start_listener_process_with(self, extra_args);
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

    pub fn listener(&self) -> &ListenerProcess {
        self.listener.as_ref().expect("listener started")
    }

    pub async fn queue(&self) -> Res<(i64, i64, i64)> {
        let row = self.client.query_one("SELECT pending, running, failed FROM piw.queue_status()", &[]).await?;
        Ok((row.get(0), row.get(1), row.get(2)))
    }

    /// Wait until no listener says it is awake.
    pub async fn asleep(&self, limit: Duration) -> Res<()> {
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
    pub async fn drained(&self, poll: Duration, limit: Duration) -> Res<()> {
        match drain::drained(&self.client, Drain { poll, limit, stop_at_failure: true }).await {
            Ok(_) => Ok(()),
            Err(undrained) => Err(format!("{undrained}; the listener's log ends:\n{}", log_tail(self.listener.as_ref())).into()),
        }
    }
}
