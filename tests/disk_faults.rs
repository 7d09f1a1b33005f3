//! Disk faults: a file in the way of a directory, a full disk (a file-size limit on the listener; a
//! full tmpfs where mounting is allowed), an unwritable output directory. The jobs that hit the
//! fault fail with a clear error, are retried with backoff and end `failed`; the daemon keeps
//! running and other jobs flow; once the fault is fixed, `piw.retry_failed()` finishes the work.
mod support;

use std::{fs, os::unix::fs::PermissionsExt, path::Path, process::Command};

use support::{
    bulk,
    daemon::output_dir,
    invariant::{self, Placed},
    process::{ListenerProcess, Spawn},
    TestDb,
};
use tokio_postgres::Client;

/// The postgres account: not root, so permission bits count, and it can reach the test cluster's
/// socket.
fn postgres_account() -> (u32, u32) {
    // SAFETY: getpwnam with a NUL-terminated name; the result is read at once.
    let entry = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    assert!(!entry.is_null(), "no postgres account");
    // SAFETY: checked non-null above.
    unsafe { ((*entry).pw_uid, (*entry).pw_gid) }
}

/// A listener that gives up on a job after three attempts (20 ms, then 40 ms apart).
fn listener(db: &TestDb, root: &Path, mut spawn: Spawn) -> ListenerProcess {
    spawn.args.extend(["--max-attempts".into(), "3".into(), "--verbose".into()]);
    ListenerProcess::start_with(db, root, spawn)
}

/// The failed jobs as (kind, package, attempts, last_error), once nothing is pending or running.
async fn failed_jobs(client: &Client, listener: &ListenerProcess) -> Vec<(String, String, i32, String)> {
    bulk::wait_drained(client, || listener.log()).await;
    client
        .query("SELECT kind, package, attempts, last_error FROM piw.jobs WHERE state = 'failed' ORDER BY 1, 2", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Every failed job was tried three times and failed with `error`; the log (when there is one)
/// shows the retries and their growing delays.
fn assert_failed_with(failed: &[(String, String, i32, String)], error: &str, log: Option<&str>) {
    assert!(!failed.is_empty(), "some jobs failed; log:\n{log:?}");
    for (kind, package, attempts, last_error) in failed {
        assert_eq!(*attempts, 3, "{kind} {package}");
        assert!(last_error.contains(error), "{kind} {package}: {last_error:?} names the fault ({error:?})");
        assert!(!last_error.contains('\n'), "one line: {last_error:?}");
    }
    if let Some(log) = log {
        assert!(log.contains("attempt 1: ") && log.contains("attempt 2: ") && log.contains("retrying in"), "retried with backoff:\n{log}");
        assert!(log.contains("failed for good after 3 attempts"), "{log}");
    }
}

/// After the fix: retry what failed, on `listener`, and check the invariant.
async fn retry_and_check(client: &Client, listener: ListenerProcess, root: &Path, placed: &Placed) {
    client.batch_execute("CALL piw.retry_failed()").await.unwrap();
    let failed = failed_jobs(client, &listener).await;
    assert!(failed.is_empty(), "{failed:?}\n{}", listener.log());
    listener.stop();
    invariant::assert_holds(client, root, placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_in_the_way_of_a_directory_fails_its_jobs_and_others_flow() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 4).await;
    let out = output_dir();
    let root = out.path();
    let mut placed = bulk::place_wheels(&client, root).await;
    placed.retain(|(p, _)| p != "pkg-2");
    fs::remove_dir_all(root.join("simple/pkg-2")).unwrap();
    fs::write(root.join("simple/pkg-2"), "I am not a directory").unwrap();
    let mut listener = listener(&db, root, Spawn::default());

    let failed = failed_jobs(&client, &listener).await;
    assert_failed_with(&failed, "a file is in the way of a directory", Some(&listener.log()));
    assert!(failed.iter().all(|(kind, package, ..)| kind == "simple" && package == "pkg-2"), "{failed:?}");
    assert!(root.join("simple/pkg-3/index.html").is_file() && root.join("project/pkg-2/index.html").is_file());
    assert!(listener.is_running());

    // Work keeps flowing while the fault stays.
    client.execute("UPDATE piw.packages SET description = 'still flowing' WHERE package = 'pkg-3'", &[]).await.unwrap();
    assert_eq!(failed_jobs(&client, &listener).await.len(), failed.len());
    assert_eq!(bulk::pages_containing(root, "still flowing"), 1);

    fs::remove_file(root.join("simple/pkg-2")).unwrap();
    retry_and_check(&client, listener, root, &placed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_beyond_a_file_size_limit_fail_cleanly_and_smaller_pages_flow() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 4).await;
    let out = output_dir();
    let root = out.path();
    let placed = bulk::place_wheels(&client, root).await;
    // Room for a simple page, not for a project page or the home page (they carry the style sheet).
    let limited = Spawn { file_size_limit: Some(1500), ..Spawn::default() };
    let mut full = listener(&db, root, limited);

    let failed = failed_jobs(&client, &full).await;
    // The limit truncates the listener's log file too.
    assert_failed_with(&failed, "File too large", None);
    assert!(failed.iter().any(|(kind, ..)| kind == "project") && failed.iter().all(|(kind, ..)| kind != "simple"), "{failed:?}");
    assert!(root.join("simple/pkg-1/index.html").is_file(), "small pages written");
    assert!(full.is_running());
    let leftovers = invariant::violations(&client, root, &placed).await;
    assert!(!leftovers.iter().any(|v| v.contains("temporary")), "no temporary file left by a failed write: {leftovers:?}");

    full.stop();
    retry_and_check(&client, listener(&db, root, Spawn::default()), root, &placed).await;
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::Builder::new().prefix("piw-tmpfs-").tempdir().ok()?;
        let status = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir.path()).status().ok()?;
        status.success().then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_writes_cleanly_until_space_is_made() {
    // Room for the 20 packages' pages (four each, with their JSON twins) and wheels, once the
    // filler is gone: tmpfs counts whole 4 KiB pages per file.
    let Some(disk) = Tmpfs::mount("2m") else {
        println!("disk faults: cannot mount a tmpfs here; the full disk is covered by the file-size limit test only");
        return;
    };
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 20).await;
    let root = disk.0.path().join("www");
    fs::create_dir(&root).unwrap();
    let placed = bulk::place_wheels(&client, &root).await;
    // Fill the disk.
    let filler = disk.0.path().join("filler");
    let block = vec![0u8; 4096];
    let mut file = fs::File::create(&filler).unwrap();
    while std::io::Write::write_all(&mut file, &block).is_ok() {}
    drop(file);
    let mut listener = listener(&db, &root, Spawn::default());

    let failed = failed_jobs(&client, &listener).await;
    assert_failed_with(&failed, "No space left on device", Some(&listener.log()));
    assert!(listener.is_running());
    let leftovers = invariant::violations(&client, &root, &placed).await;
    assert!(!leftovers.iter().any(|v| v.contains("temporary")), "no temporary file left by a failed write: {leftovers:?}");

    fs::remove_file(&filler).unwrap();
    retry_and_check(&client, listener, &root, &placed).await;
    println!("disk faults: a full tmpfs failed {} jobs, all done after retry_failed", failed.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_output_directory_fails_writes_until_it_is_writable_again() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    bulk::repository(&client, 3).await;
    let out = output_dir();
    let root = out.path();
    // As root, permission bits would not count: the listener runs as another user.
    // SAFETY: geteuid cannot fail.
    let user = (unsafe { libc::geteuid() } == 0).then(postgres_account);
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(root, Some(uid), Some(gid)).unwrap();
    }
    let mut listener = listener(&db, root, Spawn { user, ..Spawn::default() });
    bulk::wait_drained(&client, || listener.log()).await;
    invariant::assert_holds(&client, root, &Placed::new()).await;

    fs::set_permissions(root.join("project"), fs::Permissions::from_mode(0o555)).unwrap();
    fs::set_permissions(root.join("project/pkg-1"), fs::Permissions::from_mode(0o555)).unwrap();
    client.batch_execute("UPDATE piw.packages SET description = 'new words'; CALL piw.rebuild('home')").await.unwrap();
    let failed = failed_jobs(&client, &listener).await;
    assert_failed_with(&failed, "Permission denied", Some(&listener.log()));
    assert!(failed.iter().all(|(kind, package, ..)| kind == "project" && package == "pkg-1"), "{failed:?}");
    assert!(listener.is_running());

    for dir in ["project", "project/pkg-1"] {
        fs::set_permissions(root.join(dir), fs::Permissions::from_mode(0o755)).unwrap();
    }
    retry_and_check(&client, listener, root, &Placed::new()).await;
}
