//! The output tree as an attacker leaves it: links and FIFOs at the temporary names of pages and
//! wheels, links in place of directories. The listener and the importer never write or delete
//! through them, never block on them, and the invariant holds once they are gone.
mod support;
use support::wheels::Wheel;

use std::{
    ffi::CString,
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
};

use piw::site::OutputDir;
use support::{
    bulk,
    daemon::output_dir,
    invariant::{self, Placed},
    process::{ListenerProcess, Spawn},
    TestDb,
};
use tokio_postgres::Client;

/// A directory outside the output path holding a file worth protecting.
fn victim() -> (tempfile::TempDir, PathBuf) {
    let dir = output_dir();
    let file = dir.path().join("victim");
    fs::write(&file, b"keep out").unwrap();
    (dir, file)
}

fn mkfifo(path: &Path) {
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o666) }, 0, "mkfifo {}", path.display());
}

/// The failed jobs as (kind, package, last_error), once nothing is pending or running.
async fn failed_jobs(client: &Client, listener: &ListenerProcess) -> Vec<(String, String, String)> {
    bulk::wait_drained(client, || listener.log()).await;
    let rows = client.query("SELECT kind, package, last_error FROM piw.jobs WHERE state = 'failed' ORDER BY 1, 2", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
}

async fn repository_with_listener(db: &TestDb, client: &Client, root: &Path) -> (Placed, ListenerProcess) {
    bulk::repository(client, 3).await;
    let placed = bulk::place_wheels(client, root).await;
    // Three attempts, then failed: a refused job ends soon.
    let listener = ListenerProcess::start_with(db, root, Spawn { args: vec!["--max-attempts".into(), "3".into()], ..Spawn::default() });
    bulk::wait_drained(client, || listener.log()).await;
    (placed, listener)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_at_the_temporary_names_of_pages_are_never_written_through() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let root = out.path();
    let (placed, listener) = repository_with_listener(&db, &client, root).await;
    let (away, target) = victim();
    for temporary in [
        "project/pkg-1/.index.html.piw-tmp",
        "project/pkg-1/json/.index.json.piw-tmp",
        "simple/pkg-1/.index.html.piw-tmp",
        ".index.html.piw-tmp",
    ] {
        symlink(&target, root.join(temporary)).unwrap();
    }
    // A dangling one too: following it would create a file outside.
    symlink(away.path().join("created"), root.join(".packages.json.piw-tmp")).unwrap();

    client.execute("UPDATE piw.packages SET description = 'changed' WHERE package = 'pkg-1'", &[]).await.unwrap();
    client.batch_execute("CALL piw.rebuild('home'); CALL piw.rebuild('search')").await.unwrap();
    bulk::wait_drained(&client, || listener.log()).await;

    assert_eq!(fs::read(&target).unwrap(), b"keep out");
    assert!(!away.path().join("created").exists(), "nothing created outside");
    let page = fs::symlink_metadata(root.join("project/pkg-1/index.html")).unwrap();
    assert!(page.file_type().is_file(), "the page is a file of its own, not a link");
    assert!(fs::read_to_string(root.join("project/pkg-1/index.html")).unwrap().contains("changed"));
    listener.stop();
    invariant::assert_holds(&client, root, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifos_at_temporary_names_and_pages_neither_hang_a_job_nor_stop_sigterm() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let root = out.path();
    let (placed, listener) = repository_with_listener(&db, &client, root).await;
    mkfifo(&root.join("project/pkg-1/.index.html.piw-tmp"));
    fs::remove_file(root.join("simple/pkg-1/index.html")).unwrap();
    mkfifo(&root.join("simple/pkg-1/index.html"));
    mkfifo(&root.join(".index.html.piw-tmp"));

    client.execute("UPDATE piw.packages SET description = 'changed' WHERE package = 'pkg-1'", &[]).await.unwrap();
    client.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    bulk::wait_drained(&client, || listener.log()).await;
    // Exits 0 on SIGTERM: nothing is stuck in an open(2) of a FIFO.
    listener.stop();
    invariant::assert_holds(&client, root, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_in_place_of_a_package_directory_fails_its_jobs_and_nothing_is_written_through_it() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let root = out.path();
    let (placed, listener) = repository_with_listener(&db, &client, root).await;
    let (away, _target) = victim();
    // One link leads outside, one to another package's directory inside: neither is followed.
    fs::remove_dir_all(root.join("project/pkg-1")).unwrap();
    symlink(away.path(), root.join("project/pkg-1")).unwrap();
    fs::remove_dir_all(root.join("project/pkg-2")).unwrap();
    symlink(root.join("project/pkg-3"), root.join("project/pkg-2")).unwrap();
    let pkg3_before = fs::read(root.join("project/pkg-3/index.html")).unwrap();

    client.execute("UPDATE piw.packages SET description = 'changed' WHERE package IN ('pkg-1', 'pkg-2')", &[]).await.unwrap();
    let failed = failed_jobs(&client, &listener).await;
    assert_eq!(failed.iter().map(|(_, package, _)| package.as_str()).collect::<Vec<_>>(), ["pkg-1", "pkg-2"], "{failed:?}");
    assert!(failed.iter().all(|(kind, _, error)| kind == "project" && error.contains("symbolic link")), "{failed:?}");
    assert_eq!(fs::read_dir(away.path()).unwrap().count(), 1, "nothing written outside");
    assert_eq!(fs::read(root.join("project/pkg-3/index.html")).unwrap(), pkg3_before, "nothing written through the inner link");

    // The admin removes the links; a retry finishes the work.
    fs::remove_file(root.join("project/pkg-1")).unwrap();
    fs::remove_file(root.join("project/pkg-2")).unwrap();
    client.batch_execute("CALL piw.retry_failed()").await.unwrap();
    bulk::wait_drained(&client, || listener.log()).await;
    listener.stop();
    invariant::assert_holds(&client, root, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_importer_never_writes_through_a_link_or_into_a_fifo_at_its_temporary_name() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let root = out.path();
    let output = OutputDir::open(root).unwrap();
    let (_away, target) = victim();
    let sources = tempfile::tempdir().unwrap();
    let mut placed = Placed::new();
    for (filename, trap) in [("Linked-1.0-py3-none-any.whl", "link"), ("Piped-1.0-py3-none-any.whl", "fifo")] {
        let package = filename.split('-').next().unwrap().to_lowercase();
        let dir = root.join("simple").join(&package);
        fs::create_dir_all(&dir).unwrap();
        // At the wheel's temporary name and at its metadata file's.
        for temporary in [dir.join(format!(".{filename}.piw-tmp")), dir.join(format!(".{filename}.metadata.piw-tmp"))] {
            match trap {
                "link" => symlink(&target, &temporary).unwrap(),
                _ => mkfifo(&temporary),
            }
        }
        let wheel = sources.path().join(filename);
        fs::write(&wheel, Wheel::new(filename.split('-').next().unwrap_or_default(), "1.0").bytes()).unwrap();
        let mut importer = db.connect().await;
        let imported = piw::import::import_wheel(&mut importer, &output, &wheel).await.unwrap();
        let published = dir.join(filename);
        assert!(fs::symlink_metadata(&published).unwrap().file_type().is_file(), "{trap}: a file of its own");
        assert_eq!(fs::read(&published).unwrap(), fs::read(&wheel).unwrap());
        let metadata = dir.join(format!("{filename}.metadata"));
        assert!(fs::symlink_metadata(&metadata).unwrap().file_type().is_file(), "{trap}: the metadata file is a file of its own");
        placed.insert((imported.package, imported.filename));
    }
    assert_eq!(fs::read(&target).unwrap(), b"keep out");
    let listener = ListenerProcess::start(&db, root);
    bulk::wait_drained(&client, || listener.log()).await;
    listener.stop();
    invariant::assert_holds(&client, root, &placed).await;
}

/// A COMMIT that the server refuses (here a deferred constraint) leaves neither rows nor the wheel
/// the importer put in place before it: the wheel is withdrawn under the package's wheels lock,
/// once no row publishes it.
#[tokio::test]
async fn an_import_whose_commit_fails_leaves_neither_rows_nor_its_wheel() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(
            "CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS
                 $$BEGIN RAISE EXCEPTION 'refused at commit'; END$$;
             CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON piw.files
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.refuse();",
        )
        .await
        .unwrap();
    let out = output_dir();
    let output = OutputDir::open(out.path()).unwrap();
    let sources = tempfile::tempdir().unwrap();
    let wheel = sources.path().join("Late-1.0-py3-none-any.whl");
    fs::write(&wheel, Wheel::new("Late", "1.0").bytes()).unwrap();
    let before = support::snapshot_all(&client).await;
    let mut importer = db.connect().await;
    let error = piw::import::import_wheel(&mut importer, &output, &wheel).await.expect_err("refused at commit");
    assert!(error.to_string().contains("refused at commit"), "{error}");
    let published = out.path().join("simple/late/Late-1.0-py3-none-any.whl");
    assert!(!published.exists(), "the wheel was withdrawn");
    assert_eq!(support::snapshot_all(&client).await, before, "no rows");
    let leftovers: Vec<_> = fs::read_dir(out.path().join("simple/late")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(leftovers.is_empty(), "nothing left beside it: {leftovers:?}");
}
