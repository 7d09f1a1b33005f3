//! Large repositories made in a few set-based statements, and their wheels put in place.
#![allow(dead_code)]

use std::{fs, path::Path};

use tokio_postgres::Client;

use super::invariant::Placed;

/// Packages `pkg-1` ... `pkg-N`, each with versions 1.0 and 2.0, one build and one wheel each.
pub async fn repository(client: &Client, packages: i32) {
    client
        .execute(
            "INSERT INTO piw.packages (package, description)
             SELECT 'pkg-' || i, 'package number ' || i FROM generate_series(1, $1) AS i",
            &[&packages],
        )
        .await
        .expect("insert packages");
    client
        .batch_execute(
            "INSERT INTO piw.versions (package, version, released)
             SELECT p.package, v.version, timestamptz '2024-01-01 00:00:00+00' + v.n * interval '1 day'
               FROM piw.packages p CROSS JOIN (VALUES ('1.0', 1), ('2.0', 2)) AS v(version, n)
              WHERE p.package LIKE 'pkg-%';
             INSERT INTO piw.builds (package, version, abi_tag, built_at)
             SELECT v.package, v.version, 'cp311', timestamptz '2024-02-01 00:00:00+00'
               FROM piw.versions v WHERE v.package LIKE 'pkg-%';
             INSERT INTO piw.files (filename, build_id, filesize, filehash, package_tag, package_version_tag,
                                    py_version_tag, abi_tag, platform_tag)
             SELECT replace(b.package, '-', '_') || '-' || b.version || '-cp311-cp311-linux_armv7l.whl',
                    b.build_id, 11, encode(sha256(convert_to(b.package || b.version, 'UTF8')), 'hex'),
                    replace(b.package, '-', '_'), b.version, 'cp311', 'cp311', 'linux_armv7l'
               FROM piw.builds b WHERE b.package LIKE 'pkg-%';",
        )
        .await
        .expect("insert versions, builds and files");
}

/// Put a wheel file in place for every file row, as the importer would; returns what was placed.
pub async fn place_wheels(client: &Client, root: &Path) -> Placed {
    let mut placed = Placed::new();
    for row in
        client.query("SELECT b.package, f.filename FROM piw.files f JOIN piw.builds b USING (build_id)", &[]).await.expect("file rows")
    {
        let (package, filename): (String, String) = (row.get(0), row.get(1));
        let dir = root.join("simple").join(&package);
        fs::create_dir_all(&dir).expect("wheel directory");
        fs::write(dir.join(&filename), b"wheel bytes").expect("write wheel");
        placed.insert((package, filename));
    }
    placed
}

/// How many of the per-package pages (simple/*/index.html, project/*/index.html) contain `needle`.
pub fn pages_containing(root: &Path, needle: &str) -> usize {
    let mut count = 0;
    for top in ["simple", "project"] {
        let Ok(entries) = fs::read_dir(root.join(top)) else { continue };
        for entry in entries.flatten() {
            if let Ok(text) = fs::read_to_string(entry.path().join("index.html")) {
                count += usize::from(text.contains(needle));
            }
        }
    }
    count
}

/// How many of `wheels` (package, filename) are no longer on disk.
pub fn wheels_gone(root: &Path, wheels: &[(String, String)]) -> usize {
    wheels.iter().filter(|(p, f)| !root.join("simple").join(p).join(f).exists()).count()
}

/// Overwrite every per-package page, so that a rebuild has to write each of them again.
pub fn deface(root: &Path) {
    for top in ["simple", "project"] {
        let Ok(entries) = fs::read_dir(root.join(top)) else { continue };
        for entry in entries.flatten() {
            let page = entry.path().join("index.html");
            if page.is_file() {
                fs::write(page, "defaced").expect("deface");
            }
        }
    }
}

/// Jobs currently leased to the listener process `pid` (a listener's id is `HOST-PID-XXXX`).
pub async fn held_by(client: &Client, pid: u32) -> i64 {
    let pattern = format!("%-{pid}-%");
    client
        .query_one("SELECT count(*) FROM piw.jobs WHERE state = 'running' AND locked_by LIKE $1", &[&pattern])
        .await
        .expect("running jobs")
        .get(0)
}

pub async fn is_drained(client: &Client) -> bool {
    piw::queue::status(client).await.expect("queue status").is_drained()
}

/// Wait (up to two minutes) for the queue to drain; on timeout show `log()` (the listener's).
pub async fn wait_drained(client: &Client, log: impl Fn() -> String) {
    // What a listener's next count would queue (home page figures, downloads) is queued now.
    super::count_downloads_now(client).await;
    if let Err(undrained) = super::drain::drained(client, super::drain::Drain::TEST).await {
        let queue =
            super::snapshot(client, "SELECT job_id, kind, package, state, attempts, locked_by, locked_until, run_after FROM piw.jobs")
                .await;
        let requests = super::snapshot(client, "SELECT * FROM piw.requests").await;
        let listeners = super::snapshot(client, "SELECT * FROM piw.listeners").await;
        let sessions = super::snapshot(client, "SELECT pid, application_name, state, wait_event, left(query, 80) AS query FROM pg_stat_activity WHERE datname = current_database()").await;
        panic!(
            "{undrained}\njobs: {queue:#?}\nrequests: {requests:#?}\nlisteners: {listeners:#?}\nsessions: {sessions:#?}\nlistener log:\n{}",
            log()
        );
    }
}

/// Wait until the listener process `pid` holds a job and `progress()` has reached `at_least`;
/// `false` if the queue drained first. Polls every millisecond so the moment is not always the same.
pub async fn wait_busy(client: &Client, pid: u32, at_least: usize, progress: impl Fn() -> usize, log: impl Fn() -> String) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let holding = held_by(client, pid).await > 0;
        if holding && progress() >= at_least {
            return true;
        }
        if !holding && is_drained(client).await {
            return false;
        }
        assert!(std::time::Instant::now() < deadline, "no progress towards {at_least} within a minute; log:\n{}", log());
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}
