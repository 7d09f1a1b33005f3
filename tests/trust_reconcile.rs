//! Reconciliation: a full rebuild of the index makes the tree match the rows. Orphans planted
//! before it (wheels, pages and directories no row describes, temporary files, a wheel under the
//! wrong package) go or move; a published row whose wheel is missing is reported; an import in
//! flight keeps its wheel; an importer killed at any step leaves nothing the next reconciliation
//! does not clear, and never a row whose file is missing.
mod support;
use support::wheels::Wheel;

use std::{fs, path::Path, process::Command, time::Duration};

use piw::site::OutputDir;
use support::{
    bulk,
    daemon::output_dir,
    fixtures::{hold_file_commits, release_file_commits, scalar},
    invariant,
    process::ListenerProcess,
    wait_until, TestDb,
};
use tokio_postgres::Client;

/// The last row of piw.reconciliations: (removed wheels, moved, directories, other, missing).
async fn last_report(client: &Client) -> (i32, i32, i32, i32, i32, Vec<String>) {
    let row = client
        .query_one(
            "SELECT removed_wheels, moved_wheels, removed_directories, removed_other, missing_wheels, missing
               FROM piw.reconciliations ORDER BY reconciliation_id DESC LIMIT 1",
            &[],
        )
        .await
        .expect("a reconciliation was recorded");
    (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_rebuild_removes_what_no_row_describes_and_reports_missing_wheels() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    // More packages than one batch: what is found in the first is acted on while rows of the
    // others are still to come.
    bulk::repository(&client, 300).await;
    let out = output_dir();
    let root = out.path();
    let mut placed = bulk::place_wheels(&client, root).await;
    let listener = ListenerProcess::start(&db, root);
    bulk::wait_drained(&client, || listener.log()).await;
    client.batch_execute("CALL piw.skip_version('pkg-1', '2.0', 'broken')").await.unwrap();
    bulk::wait_drained(&client, || listener.log()).await;

    // A wheel no row has; a package that has no row (both trees); junk inside a package's
    // directories; temporary files of killed writers; pkg-2's wheel under pkg-1; pkg-3's 2.0 gone.
    fs::write(root.join("simple/pkg-1/ghost-1.0-py3-none-any.whl"), b"orphan").unwrap();
    for dir in ["simple/gone", "project/gone/json"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::write(root.join("simple/gone/gone-1.0-py3-none-any.whl"), b"orphan").unwrap();
    fs::write(root.join("project/gone/index.html"), b"stale").unwrap();
    fs::create_dir_all(root.join("simple/pkg-2/junk/deeper")).unwrap();
    fs::write(root.join("project/pkg-3/notes.txt"), b"junk").unwrap();
    fs::write(root.join("simple/pkg-3/.pkg_3-9.0-py3-none-any.whl.piw-tmp"), b"half a wheel").unwrap();
    fs::write(root.join(".packages.json.piw-tmp"), b"half a page").unwrap();
    let misplaced = "pkg_2-1.0-cp311-cp311-linux_armv7l.whl";
    fs::rename(root.join("simple/pkg-2").join(misplaced), root.join("simple/pkg-1").join(misplaced)).unwrap();
    let missing = "pkg_3-2.0-cp311-cp311-linux_armv7l.whl";
    fs::remove_file(root.join("simple/pkg-3").join(missing)).unwrap();
    placed.remove(&("pkg-3".to_owned(), missing.to_owned()));

    client.batch_execute("CALL piw.rebuild('index')").await.unwrap();
    bulk::wait_drained(&client, || listener.log()).await;
    listener.stop();

    let (wheels, moved, directories, other, missing_count, missing_paths) = last_report(&client).await;
    assert_eq!((wheels, moved, directories, missing_count), (1, 1, 2, 1), "removed wheels, moved, directories, missing");
    assert!(other >= 4, "junk directory, notes, two temporary files: {other}");
    assert_eq!(missing_paths, [format!("simple/pkg-3/{missing}")]);
    assert!(root.join("simple/pkg-2").join(misplaced).is_file(), "moved where its row says");
    assert!(root.join(".withheld/pkg-1/pkg_1-2.0-cp311-cp311-linux_armv7l.whl").is_file(), "a skipped version's wheel stays, withheld");
    // The missing wheel is reported, not hidden: the page still lists it (pages follow the rows).
    invariant::assert_holds(&client, root, &placed).await;
}

/// An import whose wheel is in place and whose rows are not yet committed, while a full rebuild
/// reconciles: the wheel stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconciliation_never_takes_a_wheel_whose_import_is_in_flight() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 2).await;
    let out = output_dir();
    let root = out.path();
    let mut placed = bulk::place_wheels(&client, root).await;
    let output = OutputDir::open(root).unwrap();
    hold_file_commits(&client).await;
    let sources = tempfile::tempdir().unwrap();
    let wheel = sources.path().join("Pkg_1-3.0-py3-none-any.whl");
    fs::write(&wheel, Wheel::new("Pkg_1", "3.0").bytes()).unwrap();
    let mut importer = db.connect().await;
    let import = tokio::spawn(async move { piw::import::import_wheel(&mut importer, &output, &wheel).await });
    wait_until("the importer to reach its commit", Duration::from_secs(60), || async {
        root.join("simple/pkg-1/Pkg_1-3.0-py3-none-any.whl").is_file()
            && scalar(&client, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").await == 1
    })
    .await;

    // The reconciliation finds a wheel no committed row has, and waits for the importer.
    client.batch_execute("CALL piw.rebuild('index')").await.unwrap();
    let listener = ListenerProcess::start(&db, root);
    wait_until("the reconciliation to wait for the importer", Duration::from_secs(60), || async {
        scalar(&client, "SELECT count(*) FROM piw.jobs WHERE kind = 'reconcile' AND state = 'running'").await == 1
            && scalar(&client, "SELECT count(*) FROM pg_locks WHERE NOT granted").await >= 2
    })
    .await;
    release_file_commits(&client).await;
    let imported = import.await.unwrap().expect("import");
    placed.insert((imported.package, imported.filename));
    bulk::wait_drained(&client, || listener.log()).await;
    listener.stop();
    assert_eq!(last_report(&client).await.0, 0, "no wheel removed");
    invariant::assert_holds(&client, root, &placed).await;
}

/// `piw-import`, killed with SIGKILL while it waits at a statement that `trigger` holds, its
/// session ended.
async fn import_killed_at(db: &TestDb, client: &Client, root: &Path, trigger: &str) {
    client
        .batch_execute(&format!(
            "CREATE OR REPLACE FUNCTION public.hold() RETURNS trigger LANGUAGE plpgsql AS
                 $$BEGIN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); RETURN NULL; END$$;
             {trigger};
             SELECT pg_advisory_lock(4242);"
        ))
        .await
        .unwrap();
    let sources = tempfile::tempdir().unwrap();
    let wheel = sources.path().join("Killed-1.0-py3-none-any.whl");
    fs::write(&wheel, Wheel::new("Killed", "1.0").bytes()).unwrap();
    let mut importer = Command::new(env!("CARGO_BIN_EXE_piw-import"))
        .arg("--dsn")
        .arg(db.dsn())
        .arg("--output-path")
        .arg(root)
        .arg(&wheel)
        .spawn()
        .expect("start piw-import");
    wait_until("the importer to wait", Duration::from_secs(60), || async {
        scalar(client, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").await == 1
    })
    .await;
    // Killed, and its session gone with it before its statement ends (a COMMIT that reached
    // the server would be carried out, the importer alive or not).
    importer.kill().unwrap();
    importer.wait().unwrap();
    client.batch_execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").await.unwrap();
    wait_until("the importer's session to end", Duration::from_secs(60), || async {
        scalar(client, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").await == 0
    })
    .await;
    client.batch_execute("SELECT pg_advisory_unlock(4242); DROP TRIGGER hold ON piw.files; DROP FUNCTION public.hold()").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_importer_killed_at_any_step_leaves_nothing_the_next_reconciliation_keeps() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 1).await;
    let out = output_dir();
    let root = out.path();
    let placed = bulk::place_wheels(&client, root).await;
    // Before its rows are in (the wheel copied under its temporary name), and with its rows in
    // and its wheel published, just before the commit.
    for (step, trigger, left) in [
        (
            "rows being written",
            "CREATE TRIGGER hold BEFORE INSERT ON piw.files FOR EACH ROW EXECUTE FUNCTION public.hold()",
            ".Killed-1.0-py3-none-any.whl.piw-tmp",
        ),
        (
            "commit",
            "CREATE CONSTRAINT TRIGGER hold AFTER INSERT ON piw.files DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.hold()",
            "Killed-1.0-py3-none-any.whl",
        ),
    ] {
        import_killed_at(&db, &client, root, trigger).await;
        assert_eq!(scalar(&client, "SELECT count(*) FROM piw.files WHERE filename LIKE 'Killed%'").await, 0, "{step}: no row");
        assert!(root.join("simple/killed").join(left).is_file(), "{step}: {left} left behind");
        let listener = ListenerProcess::start(&db, root);
        client.batch_execute("CALL piw.rebuild('index')").await.unwrap();
        bulk::wait_drained(&client, || listener.log()).await;
        listener.stop();
        invariant::assert_holds(&client, root, &placed).await;
    }
}
