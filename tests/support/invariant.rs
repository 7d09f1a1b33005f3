//! The invariant every fault test ends on: once the queue is drained, the output directory is a pure
//! function of the database.
//!
//! - every page equals a fresh render of the current rows, byte for byte (the home page's "built"
//!   line masked: it is the one line that varies between renders of the same rows);
//! - no page or directory exists for a package that does not exist;
//! - every wheel the test put in place whose file row still exists is present, where its row
//!   says: under `simple/` when published, under `.withheld/` when withheld (held or skipped);
//! - no wheel (or wheel's metadata file) remains whose file row is gone, and none is served
//!   whose row withholds it;
//! - each package's download totals (what the pages read) are the sums of its download counts,
//!   and no day the last fold folded is counted apart;
//! - no temporary file (`.NAME.piw-tmp`) or retired one (`.NAME.piw-del`) remains, and nothing
//!   else is there.
#![allow(dead_code)]

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use piw::pages::{self, Output};
use tokio_postgres::Client;

/// Where withheld wheels live (see `piw::site::layout::WITHHELD`).
const WITHHELD: &str = piw::site::layout::WITHHELD;

/// Wheels a test put under the output path, as (package, filename).
pub type Placed = BTreeSet<(String, String)>;

/// The element of `index.html` that holds the time it was built (see templates/home.html).
const HOME_BUILT_LINE: &str = "<p id=\"built\">";

/// Everything that breaks the invariant, one line each; empty when it holds.
pub async fn violations(client: &Client, root: &Path, placed: &Placed) -> Vec<String> {
    violations_ignoring(client, root, placed, &[]).await
}

/// Like [`violations`], but paths under `ignore` (relative, e.g. a symlink a test planted) are
/// neither walked nor reported.
pub async fn violations_ignoring(client: &Client, root: &Path, placed: &Placed, ignore: &[&str]) -> Vec<String> {
    // The home page and search index follow logged downloads and new versions at the next count
    // (a listener's, once a minute): the count comes now, and the listener is given the time to
    // do what it queued (if none runs, the queue is reported below).
    super::count_downloads_now(client).await;
    let _ = super::drain::drained(client, super::drain::Drain::TEST).await;
    let mut found = Vec::new();
    let status = piw::queue::status(client).await.expect("queue status");
    if !status.is_drained() || status.failed > 0 {
        found.push(format!("queue not drained or not clean: {status:?}"));
        for row in client
            .query("SELECT kind, package, filename, state, last_error FROM piw.jobs WHERE state = 'failed' LIMIT 5", &[])
            .await
            .expect("failed jobs")
        {
            let (kind, package, filename, state, error): (String, String, String, String, Option<String>) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            found.push(format!("  {state} job {kind} {package:?} {filename:?}: {}", error.unwrap_or_default()));
        }
    }

    found.extend(download_count_violations(client).await);

    let (mut expected, packages, wheels) = render_everything(client).await;
    let ignore: Vec<PathBuf> = ignore.iter().map(PathBuf::from).collect();
    let mut on_disk = Vec::new();
    walk(root, Path::new(""), &ignore, &mut on_disk, &mut found);

    for (relative, kind) in on_disk {
        let text = relative.to_string_lossy().into_owned();
        let parts: Vec<&str> = text.split('/').collect();
        let name = parts.last().copied().unwrap_or_default();
        if name.starts_with('.') && (name.ends_with(".piw-tmp") || name.ends_with(".piw-del")) {
            found.push(format!("temporary or retired file left behind: {text}"));
            continue;
        }
        let in_package_dir = parts.len() >= 3 || (parts.len() == 2 && !matches!(kind, Kind::File));
        if (parts[0] == "simple" || parts[0] == "project" || parts[0] == WITHHELD) && in_package_dir && !packages.contains(parts[1]) {
            if parts.len() == 2 {
                found.push(format!("{text} belongs to package {:?}, which does not exist", parts[1]));
            }
            continue;
        }
        match kind {
            Kind::Dir => continue,
            Kind::Symlink => {
                found.push(format!("unexpected symbolic link: {text}"));
                continue;
            }
            Kind::File => {}
        }
        if let Some(bytes) = expected.remove(&relative) {
            let actual = fs::read(root.join(&relative)).unwrap_or_default();
            if mask(&text, &actual) != mask(&text, &bytes) {
                found.push(format!("{text} differs from a fresh render: {}", first_difference(&actual, &bytes)));
            }
        } else if parts.len() == 3 && (parts[0] == "simple" || parts[0] == WITHHELD) && name != "index.html" {
            // A wheel's metadata file (PEP 658) lives as long as its wheel's row, where it is.
            let wheel = piw::site::layout::wheel_of_metadata(name).unwrap_or(name);
            match wheels.get(&(parts[1].to_owned(), wheel.to_owned())) {
                None => found.push(format!("wheel {text} remains, but its file row is gone")),
                Some(&published) if published != (parts[0] == "simple") => found.push(format!(
                    "wheel {text} is in the wrong place: its row {}",
                    if published { "publishes it" } else { "withholds it" }
                )),
                Some(_) => {}
            }
        } else {
            found.push(format!("unexpected file {text}"));
        }
    }
    for missing in expected.keys() {
        found.push(format!("page {} is missing", missing.display()));
    }
    for (package, filename) in placed {
        let Some(&published) = wheels.get(&(package.clone(), filename.clone())) else { continue };
        let path = Path::new(if published { "simple" } else { WITHHELD }).join(package).join(filename);
        if !root.join(&path).is_file() {
            found.push(format!("wheel {} was put in place and its row exists, but it is gone", path.display()));
        }
    }
    found
}

/// What breaks the download counts' own rules (see V020, V021), one line each: a package's row in
/// piw.download_totals (what the pages read) that is not the sum of its piw.download_counts, or
/// a count of a day the last fold folded that is not folded.
pub async fn download_count_violations(client: &Client) -> Vec<String> {
    client
        .query(
            "SELECT format('download totals of %L: %s recent, %s in all; its counts: %s, %s',
                           coalesce(t.package, c.package), t.recent, t.total, c.recent, c.total)
               FROM piw.download_totals t
               FULL JOIN (SELECT package, coalesce(sum(downloads) FILTER (WHERE day > '-infinity'), 0) AS recent,
                                 sum(downloads) AS total
                            FROM piw.download_counts GROUP BY package) c ON c.package = t.package
              WHERE (coalesce(t.recent, 0), coalesce(t.total, 0)) IS DISTINCT FROM (coalesce(c.recent, 0), coalesce(c.total, 0))
             UNION ALL
             SELECT format('download count of %L on %s, before the days kept apart (from %s)', c.package, c.day, k.folded_before)
               FROM piw.download_counts c, piw.download_counting k
              WHERE c.day > '-infinity' AND c.day < k.folded_before
              ORDER BY 1",
            &[],
        )
        .await
        .expect("download counts against their rules")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Assert that the invariant holds, listing every violation.
pub async fn assert_holds(client: &Client, root: &Path, placed: &Placed) {
    assert_holds_ignoring(client, root, placed, &[]).await;
}

pub async fn assert_holds_ignoring(client: &Client, root: &Path, placed: &Placed, ignore: &[&str]) {
    let found = violations_ignoring(client, root, placed, ignore).await;
    assert!(found.is_empty(), "the output directory is not a fresh render of the database:\n  {}", found.join("\n  "));
}

/// Every page a fresh render produces (path -> bytes), the set of packages, and every file row as
/// (package, filename), all from one snapshot.
async fn render_everything(client: &Client) -> (BTreeMap<PathBuf, Vec<u8>>, BTreeSet<String>, BTreeMap<(String, String), bool>) {
    client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.expect("begin snapshot");
    let mut pages = BTreeMap::new();
    let mut keep = |output: Output| {
        if let Output::Write { path, bytes } = output {
            pages.insert(path, bytes);
        }
    };
    for outputs in [pages::home(client).await, pages::search(client).await, pages::simple_root(client).await] {
        outputs.expect("render").into_iter().for_each(&mut keep);
    }
    pages::all_simple(client, &mut |o| {
        keep(o);
        Ok(())
    })
    .await
    .expect("render every simple page");
    pages::all_project(client, &mut |o| {
        keep(o);
        Ok(())
    })
    .await
    .expect("render every project page");
    let packages = client.query("SELECT package FROM piw.packages", &[]).await.expect("packages");
    let packages = packages.iter().map(|r| r.get::<_, String>(0)).collect();
    let wheels = client
        .query(
            "SELECT b.package, f.filename, p.skip = '' AND v.skip = '' AND v.held = ''
               FROM piw.files f JOIN piw.builds b USING (build_id)
               JOIN piw.versions v ON v.package = b.package AND v.version = b.version
               JOIN piw.packages p ON p.package = b.package",
            &[],
        )
        .await
        .expect("file rows");
    let wheels = wheels.iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect();
    client.batch_execute("COMMIT").await.expect("end snapshot");
    (pages, packages, wheels)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    File,
    Dir,
    Symlink,
}

/// Every entry under `root/relative`, never following symbolic links.
fn walk(root: &Path, relative: &Path, ignore: &[PathBuf], out: &mut Vec<(PathBuf, Kind)>, found: &mut Vec<String>) {
    let entries = match fs::read_dir(root.join(relative)) {
        Ok(entries) => entries,
        Err(e) => {
            found.push(format!("cannot read directory {}: {e}", relative.display()));
            return;
        }
    };
    let mut names: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.file_name())).collect();
    names.sort();
    for name in names {
        let path = relative.join(&name);
        if ignore.iter().any(|i| path.starts_with(i)) {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(root.join(&path)) else { continue };
        if meta.file_type().is_symlink() {
            out.push((path, Kind::Symlink));
        } else if meta.is_dir() {
            out.push((path.clone(), Kind::Dir));
            walk(root, &path, ignore, out, found);
        } else {
            out.push((path, Kind::File));
        }
    }
}

/// The page with the home page's time of building blanked out.
fn mask(path: &str, bytes: &[u8]) -> Vec<u8> {
    if path != "index.html" {
        return bytes.to_vec();
    }
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> =
        text.split('\n').map(|l| if l.trim_start().starts_with(HOME_BUILT_LINE) { HOME_BUILT_LINE } else { l }).collect();
    lines.join("\n").into_bytes()
}

fn first_difference(actual: &[u8], expected: &[u8]) -> String {
    let (actual, expected) = (String::from_utf8_lossy(actual), String::from_utf8_lossy(expected));
    for (n, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        if a != e {
            return format!("line {}: on disk {:?}, rendered {:?}", n + 1, clip(a), clip(e));
        }
    }
    format!("{} lines on disk, {} rendered", actual.lines().count(), expected.lines().count())
}

fn clip(line: &str) -> String {
    line.chars().take(120).collect()
}
