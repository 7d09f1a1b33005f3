//! Freshness, commit → page on disk, seen from outside the listener: a thread polls the output
//! directory every `POLL` (5 ms; the figures are as fine as that, plus the time of one pass).
//!
//! - An import is on a page once the page holds the new wheel's filename (its content, not its
//!   time: a page is replaced by a rename, so a new inode, mtime or size is what says "read me
//!   again").
//! - A removal or skip is done once none of the version's wheels is left in `simple/PACKAGE/`,
//!   and its pages once none of them names any of its wheels.
//! - The home page and the search index carry no mark of one change: every rewrite (a new inode,
//!   mtime or size) is noted, and the freshness of a change is the time to the first rewrite
//!   after its commit.

use std::{
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::Receiver,
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// Between two looks at the disk.
pub const POLL: Duration = Duration::from_millis(5);

/// The package pages, as the layout names them (src/site/layout.rs).
pub const PAGE_KINDS: [&str; 4] = ["simple_html", "simple_json", "project_html", "project_json"];

fn package_pages(root: &Path, package: &str) -> [PathBuf; 4] {
    let simple = root.join("simple").join(package);
    let project = root.join("project").join(package);
    [simple.join("index.html"), simple.join("index.json"), project.join("index.html"), project.join("json").join("index.json")]
}

/// What to watch for, sent by the drivers right after a COMMIT returned.
#[derive(Debug)]
pub enum Watch {
    /// `index`: the import's place in the import driver's list.
    Import {
        index: usize,
        package: String,
        filename: String,
        committed: Instant,
    },
    Admin {
        index: usize,
        package: String,
        filenames: Vec<String>,
        committed: Instant,
    },
}

/// When each of an import's pages showed it (in `PAGE_KINDS` order), after its commit.
#[derive(Debug, Clone, Default)]
pub struct ImportSeen {
    pub pages: [Option<Duration>; 4],
}

impl ImportSeen {
    /// All four pages: the slowest, when every one showed it.
    pub fn all_pages(&self) -> Option<Duration> {
        self.pages.iter().copied().collect::<Option<Vec<_>>>()?.into_iter().max()
    }
}

/// When an admin call's wheels left `simple/PACKAGE/`, and its pages stopped naming them.
#[derive(Debug, Clone, Default)]
pub struct AdminSeen {
    pub wheels_gone: Option<Duration>,
    pub pages: Option<Duration>,
}

/// What the watcher saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub imports: Vec<ImportSeen>,
    pub admin: Vec<AdminSeen>,
    /// When the home page and the search index were seen rewritten.
    pub home_rewrites: Vec<Instant>,
    pub search_rewrites: Vec<Instant>,
    /// Passes over the watches, and the longest (the figures' resolution is `POLL` plus it).
    pub passes: u64,
    pub longest_pass: Duration,
    /// When it stopped watching.
    pub ended: Option<Instant>,
}

/// The time from `committed` to the first of `rewrites` after it.
pub fn first_rewrite_after(rewrites: &[Instant], committed: Instant) -> Option<Duration> {
    let at = rewrites.partition_point(|&t| t <= committed);
    rewrites.get(at).map(|&t| t - committed)
}

/// A file's identity as a rename or rewrite changes it.
type Stamp = Option<(u64, i64, i64, u64)>;

fn stamp(path: &Path) -> Stamp {
    fs::metadata(path).ok().map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.size()))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// One page watched for a filename to appear in it, or for filenames to leave it.
#[derive(Debug)]
struct Page {
    path: PathBuf,
    /// What it was when last read: read again only when this changes.
    read: Stamp,
    /// The answer then.
    answer: bool,
}

impl Page {
    fn new(path: PathBuf) -> Page {
        Page { path, read: None, answer: false }
    }

    /// Whether `test` holds for the page's bytes (a page not there answers false).
    fn check(&mut self, test: impl Fn(&[u8]) -> bool) -> bool {
        let now = stamp(&self.path);
        if now.is_some() && now != self.read {
            self.answer = fs::read(&self.path).is_ok_and(|bytes| test(&bytes));
            self.read = now;
        }
        now.is_some() && self.answer
    }
}

struct ImportWatch {
    index: usize,
    filename: String,
    committed: Instant,
    pages: [Page; 4],
}

struct AdminWatch {
    index: usize,
    wheels: Vec<PathBuf>,
    filenames: Vec<String>,
    committed: Instant,
    pages: [Page; 4],
}

/// What the watcher is told while it runs.
#[derive(Default)]
struct Flags {
    /// No more watches come: stop once nothing is outstanding.
    finishing: AtomicBool,
    /// The grace period is over: stop now.
    give_up: AtomicBool,
}

/// The watcher thread: stop it with [`Watcher::finish`].
pub struct Watcher {
    flags: Arc<Flags>,
    thread: JoinHandle<Seen>,
}

impl Watcher {
    /// Watch `root` for what arrives on `watches`, until told to finish and nothing is left.
    pub fn start(root: PathBuf, watches: Receiver<Watch>) -> std::io::Result<Watcher> {
        let flags = Arc::new(Flags::default());
        let thread = std::thread::Builder::new().name("replay-watcher".into()).spawn({
            let flags = flags.clone();
            move || watch(&root, &watches, &flags)
        })?;
        Ok(Watcher { flags, thread })
    }

    /// No more watches come: wait until every one was seen through, or until `grace` is over
    /// (what was not seen by then stays `None`).
    pub fn finish(self, grace: Duration) -> Seen {
        let deadline = Instant::now() + grace;
        self.flags.finishing.store(true, Ordering::SeqCst);
        // The thread itself stops once nothing is outstanding; the deadline is for what never
        // shows.
        while !self.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.flags.give_up.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or_default()
    }
}

fn watch(root: &Path, watches: &Receiver<Watch>, flags: &Flags) -> Seen {
    let mut seen = Seen::default();
    let (mut imports, mut admin): (Vec<ImportWatch>, Vec<AdminWatch>) = (Vec::new(), Vec::new());
    let (home, search) = (root.join("index.html"), root.join("packages.json"));
    let (mut home_stamp, mut search_stamp) = (stamp(&home), stamp(&search));
    loop {
        // Read before the watches arrive, so that none slips in after the last look.
        let finishing = flags.finishing.load(Ordering::SeqCst);
        for arrived in watches.try_iter() {
            match arrived {
                Watch::Import { index, package, filename, committed } => {
                    if seen.imports.len() <= index {
                        seen.imports.resize(index + 1, ImportSeen::default());
                    }
                    imports.push(ImportWatch { index, filename, committed, pages: package_pages(root, &package).map(Page::new) });
                }
                Watch::Admin { index, package, filenames, committed } => {
                    if seen.admin.len() <= index {
                        seen.admin.resize(index + 1, AdminSeen::default());
                    }
                    let wheels = filenames.iter().map(|f| root.join("simple").join(&package).join(f)).collect();
                    admin.push(AdminWatch { index, wheels, filenames, committed, pages: package_pages(root, &package).map(Page::new) });
                }
            }
        }
        let pass = Instant::now();
        for (path, last, rewrites) in
            [(&home, &mut home_stamp, &mut seen.home_rewrites), (&search, &mut search_stamp, &mut seen.search_rewrites)]
        {
            let now = stamp(path);
            if now.is_some() && now != *last {
                rewrites.push(pass);
            }
            *last = now;
        }
        imports.retain_mut(|w| {
            let times = &mut seen.imports[w.index].pages;
            for (page, time) in w.pages.iter_mut().zip(times.iter_mut()) {
                if time.is_none() && page.check(|bytes| contains(bytes, w.filename.as_bytes())) {
                    *time = Some(pass - w.committed);
                }
            }
            times.iter().any(Option::is_none)
        });
        admin.retain_mut(|w| {
            let times = &mut seen.admin[w.index];
            if times.wheels_gone.is_none() && w.wheels.iter().all(|wheel| !wheel.exists()) {
                times.wheels_gone = Some(pass - w.committed);
            }
            if times.pages.is_none() {
                let filenames = &w.filenames;
                let clean = |bytes: &[u8]| filenames.iter().all(|f| !contains(bytes, f.as_bytes()));
                // Every page checked on each pass (no short cut), so that each one's stamp stays
                // current.
                let mut all = true;
                for page in &mut w.pages {
                    all &= page.check(clean);
                }
                if all {
                    times.pages = Some(pass - w.committed);
                }
            }
            times.wheels_gone.is_none() || times.pages.is_none()
        });
        seen.passes += 1;
        seen.longest_pass = seen.longest_pass.max(pass.elapsed());
        if (finishing && imports.is_empty() && admin.is_empty()) || flags.give_up.load(Ordering::SeqCst) {
            seen.ended = Some(Instant::now());
            return seen;
        }
        std::thread::sleep(POLL);
    }
}
