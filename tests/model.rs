//! A model-based property test: random histories of imports, removals, skips, yanks, holds, rebuilds and
//! raw SQL deletes, interleaved with kill -9 and restarts of the listener process and with time
//! without any listener. After each history the queue drains, nothing failed, and the output
//! directory is a fresh render of the database (support::invariant).
//!
//! Reproduce a run with PIW_MODEL_SEED=N (printed at the start); cases: PIW_MODEL_CASES.
mod support;
use support::wheels::Wheel;

use std::fmt;

use piw::site::OutputDir;
use proptest::{
    prelude::*,
    test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner},
};
use support::{
    bulk,
    daemon::output_dir,
    invariant::{self, Placed},
    process::ListenerProcess,
    TestDb,
};
use tokio_postgres::error::SqlState;

/// Spelled as an uploader might; stored normalized (alpha, beta-two, gamma-three).
const NAMES: [&str; 3] = ["Alpha", "beta_two", "Gamma.Three"];
const VERSIONS: [&str; 3] = ["1.0", "2.0", "3.0b1"];
const TAGS: [&str; 2] = ["py3-none-any", "cp311-cp311-linux_armv7l"];

#[derive(Clone)]
enum Op {
    Import {
        p: usize,
        v: usize,
        t: usize,
    },
    Sql(String),
    /// kill -9 the listener; it stays down until `Start`.
    Kill,
    Start,
    /// Let the queue drain before going on.
    Settle,
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Import { p, v, t } => write!(f, "import {}", wheel_name(*p, *v, *t)),
            Op::Sql(sql) => write!(f, "{sql}"),
            Op::Kill => write!(f, "kill -9"),
            Op::Start => write!(f, "start"),
            Op::Settle => write!(f, "settle"),
        }
    }
}

fn wheel_name(p: usize, v: usize, t: usize) -> String {
    model_wheel(p, v, t, 0).filename()
}

/// A real wheel of package `p`, version `v`, tags `t`; its contents differ with `n`.
fn model_wheel(p: usize, v: usize, t: usize, n: usize) -> Wheel {
    let mut wheel = Wheel::new(&NAMES[p].replace('-', "_"), VERSIONS[v]);
    wheel.tags = TAGS[t].to_owned();
    wheel.extra.push(("model.txt".into(), format!("wheel {n}\n").into_bytes()));
    wheel
}

fn op() -> impl Strategy<Value = Op> {
    let pv = (0..NAMES.len(), 0..VERSIONS.len());
    let sql = |f: fn(&str, &str) -> String| (0..NAMES.len(), 0..VERSIONS.len()).prop_map(move |(p, v)| Op::Sql(f(NAMES[p], VERSIONS[v])));
    prop_oneof![
        5 => (pv, 0..TAGS.len()).prop_map(|((p, v), t)| Op::Import { p, v, t }),
        2 => sql(|p, v| format!("CALL piw.remove_version('{p}', '{v}')")),
        1 => sql(|p, v| format!("CALL piw.remove_version('{p}', '{v}', skip => true)")),
        1 => sql(|p, _| format!("CALL piw.remove_package('{p}')")),
        1 => sql(|p, _| format!("CALL piw.remove_package('{p}', skip => true)")),
        1 => sql(|p, _| format!("CALL piw.skip_package('{p}', 'model says so')")),
        1 => sql(|p, _| format!("CALL piw.unskip_package('{p}')")),
        1 => sql(|p, v| format!("CALL piw.skip_version('{p}', '{v}', 'flaky')")),
        1 => sql(|p, v| format!("CALL piw.unskip_version('{p}', '{v}')")),
        1 => sql(|p, v| format!("CALL piw.yank_version('{p}', '{v}')")),
        1 => sql(|p, v| format!("CALL piw.unyank_version('{p}', '{v}')")),
        1 => sql(|p, v| format!("CALL piw.hold_version('{p}', '{v}', 'in review')")),
        1 => sql(|p, v| format!("CALL piw.release_version('{p}', '{v}')")),
        1 => sql(|p, _| format!("CALL piw.rebuild('index', '{p}')")),
        1 => prop_oneof![Just("home"), Just("search"), Just("index"), Just("project")].prop_map(|part| Op::Sql(format!("CALL piw.rebuild('{part}')"))),
        1 => sql(|p, v| format!(
            "DELETE FROM piw.files f USING piw.builds b WHERE f.build_id = b.build_id AND b.package = piw.normalize_name('{p}') AND b.version = '{v}'")),
        1 => sql(|p, _| format!("DELETE FROM piw.packages WHERE package = piw.normalize_name('{p}')")),
        1 => sql(|p, v| format!("UPDATE piw.packages SET description = 'about {v}' WHERE package = piw.normalize_name('{p}')")),
        1 => sql(|_, v| format!("INSERT INTO piw.downloads (filename, accessed_at) SELECT filename, now() FROM piw.files WHERE package_version_tag = '{v}'")),
        2 => Just(Op::Kill),
        2 => Just(Op::Start),
        1 => Just(Op::Settle),
    ]
}

/// kill -9 of the listener across all histories run (shrinking included).
static KILLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Run one history; `Err` if the invariant does not hold at its end.
async fn run_history(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    let out = output_dir();
    let root = out.path();
    let output = OutputDir::open(root).expect("output dir");
    let sources = tempfile::tempdir().expect("wheel sources");
    let mut placed = Placed::new();
    // A site that has been built once (an empty database has queued no pages yet).
    client.batch_execute("CALL piw.rebuild('home'); CALL piw.rebuild('search'); CALL piw.rebuild('index')").await.unwrap();
    let mut listener = Some(ListenerProcess::start(&db, root));
    for (n, op) in ops.iter().enumerate() {
        match op {
            Op::Import { p, v, t } => {
                let path = sources.path().join(wheel_name(*p, *v, *t));
                std::fs::write(&path, model_wheel(*p, *v, *t, n).bytes()).expect("write wheel");
                match piw::import::import_wheel(&mut client, &output, &path).await {
                    Ok(imported) => {
                        placed.insert((imported.package, imported.filename));
                    }
                    // A skipped package or version, or a file imported already: refused, nothing changed.
                    Err(e) if e.to_string().contains("skipped") || e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {}
                    Err(e) => return Err(TestCaseError::fail(format!("{op:?}: {e}"))),
                }
            }
            Op::Sql(sql) => match client.batch_execute(sql).await {
                Ok(()) => {}
                Err(e) if e.code() == Some(&SqlState::NO_DATA_FOUND) => {}
                // A refusal by state (SQLSTATE class PW: unskipping what is not skipped,
                // releasing what is not held, ...): nothing changed.
                Err(e) if e.code().is_some_and(|code| code.code().starts_with("PW")) => {}
                Err(e) => return Err(TestCaseError::fail(format!("{sql}: {e:?}"))),
            },
            Op::Kill => {
                if let Some(l) = listener.take() {
                    l.kill();
                    KILLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Op::Start => {
                listener.get_or_insert_with(|| ListenerProcess::start(&db, root));
            }
            Op::Settle => {
                if let Some(l) = &listener {
                    bulk::wait_drained(&client, || l.log()).await;
                }
            }
        }
    }
    let listener = listener.unwrap_or_else(|| ListenerProcess::start(&db, root));
    bulk::wait_drained(&client, || listener.log()).await;
    let found = invariant::violations(&client, root, &placed).await;
    listener.stop();
    if found.is_empty() {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!("invariant broken:\n  {}", found.join("\n  "))))
    }
}

fn seed() -> u64 {
    std::env::var("PIW_MODEL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..))
}

#[test]
fn random_histories_with_listener_crashes_keep_the_output_a_render_of_the_database() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cases = std::env::var("PIW_MODEL_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(24);
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 64, max_shrink_time: 120_000, ..Config::default() };
    let seed = seed();
    println!("model: seed {seed} (PIW_MODEL_SEED={seed} reproduces the histories)");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let histories = proptest::collection::vec(op(), 4..16);
    let outcome = runner.run(&histories, |ops| runtime.block_on(run_history(ops)));
    if let Err(e) = outcome {
        panic!("seed {seed}: {e}");
    }
    println!(
        "model: {cases} random histories kept the invariant through {} kill -9 of the listener",
        KILLS.load(std::sync::atomic::Ordering::Relaxed)
    );
}
