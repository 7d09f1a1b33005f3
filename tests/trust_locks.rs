//! Other roles beside piw: one that can log in and has no grant at all holds every advisory lock
//! piw ever used (and any other it likes), exclusively and shared, in open transactions and at
//! session level, and tries to lock piw's tables. No admin call, tool, importer or listener waits
//! for it; only piw's own routines can take piw's locks.
mod support;
use support::wheels::Wheel;

use std::{process::Command, time::Duration};

use piw::site::OutputDir;
use support::{bulk, daemon::output_dir, invariant, process::ListenerProcess, TestDb};
use tokio_postgres::{error::SqlState, Client};

/// Every advisory key piw has used: the wake and awake locks, the claim lock, every package's
/// wheels lock, the migration lock; and a few more.
fn advisory_keys(packages: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = ["1885959938, 0", "1885959938, 1", "1885959938, 2", "1885959937, 0"].map(str::to_owned).to_vec();
    keys.push("hashtext('piw.claim_jobs')::bigint".into());
    keys.push("hashtext('piw.claim_jobs'), 0".into());
    keys.push("31651110287304039".into()); // "piw_mig", piw-initdb's
    for package in packages {
        keys.push(format!("1885959937, hashtext('{package}')"));
    }
    keys.extend((0..8).map(|n| format!("{n}")));
    keys
}

/// `f`, which must not wait for the attacker: the limit only keeps a broken test from hanging.
async fn promptly<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what} waited for a lock a role without grants holds"))
}

async fn assert_denied(attacker: &Client, sql: &str) {
    let error = attacker.batch_execute(sql).await.expect_err(sql);
    assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_grants_holds_no_lock_that_piw_waits_for() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 3).await;
    let out = output_dir();
    let root = out.path();
    let mut placed = bulk::place_wheels(&client, root).await;
    let packages = ["pkg-1", "pkg-2", "pkg-3", "fresh"];

    // Exclusive at session level, and in an open transaction; shared in another session (a
    // shared holder is what an exclusive taker waits for).
    let exclusive = db.connect_as("mallory", None).await;
    let shared = db.connect_as("mallory", None).await;
    exclusive.batch_execute("BEGIN").await.unwrap();
    for key in advisory_keys(&packages) {
        exclusive.batch_execute(&format!("SELECT pg_advisory_lock({key}); SELECT pg_advisory_xact_lock({key})")).await.unwrap();
    }
    let other = db.connect_as("mallory", None).await;
    other.batch_execute("BEGIN").await.unwrap();
    for key in advisory_keys(&packages) {
        // Taken exclusively by the first session: try, never wait.
        shared.batch_execute(&format!("SELECT pg_try_advisory_lock_shared({key})")).await.unwrap();
        other.batch_execute(&format!("SELECT pg_try_advisory_xact_lock_shared({key})")).await.unwrap();
    }
    // piw's own locks are out of its reach.
    for sql in [
        "LOCK TABLE piw.wake_lock IN ACCESS EXCLUSIVE MODE",
        "LOCK TABLE piw.claim_lock IN ACCESS SHARE MODE",
        "LOCK TABLE piw.listener_presence IN ACCESS SHARE MODE",
        "SELECT * FROM piw.wheel_locks FOR UPDATE",
        "LOCK TABLE piw.jobs IN ACCESS EXCLUSIVE MODE",
        "SELECT piw.lock_wheels('pkg-1', true)",
        "SELECT piw.listener_sleep()",
        "SELECT piw.listener_present()",
    ] {
        assert_denied(&exclusive, &format!("SAVEPOINT s; {sql}")).await;
        exclusive.batch_execute("ROLLBACK TO SAVEPOINT s").await.unwrap();
    }
    // A reader may read every table, but lock none of piw's locks.
    let reader = db.connect_as("dashboard", Some("piw_reader")).await;
    for sql in ["LOCK TABLE piw.wake_lock IN ACCESS SHARE MODE", "SELECT * FROM piw.wheel_locks FOR KEY SHARE"] {
        assert_denied(&reader, &format!("BEGIN; {sql}")).await;
        reader.batch_execute("ROLLBACK").await.unwrap();
    }

    // Meanwhile: admin calls, a tool, an importer and a listener go about their work.
    let listener = ListenerProcess::start(&db, root);
    promptly("admin calls", async {
        client.batch_execute("CALL piw.rebuild('home'); CALL piw.remove_version('pkg-1', '1.0')").await.unwrap();
        client.batch_execute("UPDATE piw.packages SET description = 'while mallory waits' WHERE package = 'pkg-2'").await.unwrap();
    })
    .await;
    placed.remove(&("pkg-1".into(), "pkg_1-1.0-cp311-cp311-linux_armv7l.whl".into()));
    let skip = promptly("piw-skip", async {
        let command = Command::new(env!("CARGO_BIN_EXE_piw-skip")).args(["--dsn", &db.dsn(), "--reason", "test", "pkg-3", "2.0"]).output();
        command.unwrap()
    })
    .await;
    assert!(skip.status.success(), "{}", String::from_utf8_lossy(&skip.stderr));
    let sources = tempfile::tempdir().unwrap();
    let wheel = sources.path().join("Fresh-1.0-py3-none-any.whl");
    std::fs::write(&wheel, Wheel::new("Fresh", "1.0").bytes()).unwrap();
    let output = OutputDir::open(root).unwrap();
    let mut importer = db.connect().await;
    let imported = promptly("piw-import", piw::import::import_wheel(&mut importer, &output, &wheel)).await.unwrap();
    placed.insert((imported.package, imported.filename));
    promptly("the listener", bulk::wait_drained(&client, || listener.log())).await;
    assert_eq!(bulk::pages_containing(root, "while mallory waits"), 1);
    listener.stop();
    invariant::assert_holds(&client, root, &placed).await;
    drop((exclusive, shared, other));
}
