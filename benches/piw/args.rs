//! What a run measures and where it puts things: the scales and the command line.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

#[derive(Debug, Clone)]
pub struct Scale {
    pub name: &'static str,
    pub packages: i32,
    pub versions: i32,
    pub compiled_share: f64,
    pub compiled_versions: Option<i32>,
    /// Removals measured end to end.
    pub removals: usize,
    /// How long each admin-call window lasts, in all: it is cut into `rounds` slices, each beside a
    /// slice of INSERTs (the machine's speed drifts over seconds; a ratio of two windows taken one
    /// after the other drifts with it).
    pub window: Duration,
    pub rounds: u32,
    pub callers: Vec<usize>,
    /// Also measure removals on a `small` dataset, for the large ÷ small ratio.
    pub reference_small: bool,
    /// Fresh full rebuilds (and floors) measured; the figures are their medians. One run on this
    /// shared machine varies by a third.
    pub rebuilds: usize,
    pub shared_buffers: &'static str,
    /// Where the pages go by default: /dev/shm holds small sites; a large one (1.8M pages, ~17 GB
    /// of blocks) goes to disk, and so does its floor.
    pub pages_on_disk: bool,
}

impl Scale {
    pub fn named(name: &str) -> Option<Scale> {
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

pub struct Args {
    pub scale: Scale,
    pub json: PathBuf,
    /// Where the cluster goes.
    pub scratch: PathBuf,
    /// Where the output directories go.
    pub pages: PathBuf,
    /// Measure the full rebuild and its floor, nothing else.
    pub only_rebuild: bool,
    /// Measure logging downloads and the home page and search index at a hundred times the
    /// downloads, nothing else.
    pub only_downloads: bool,
    /// After one full rebuild, replay a production day for this long instead of the other
    /// measurements (benches/piw/replay.rs).
    pub replay: Option<Duration>,
}

const USAGE: &str = "usage: cargo bench --bench piw -- [--scale tiny|small|large] [--packages N] [--removals N] \
                     [--window SECONDS] [--rebuilds N] [--only-rebuild] [--only-downloads] [--replay MINUTES] [--json FILE] [--scratch DIR] [--pages DIR]\n\
                     --replay MINUTES: build the site once, then replay a production day for MINUTES (downloads, imports, \
                     admin calls) and measure CPU shares, queue length and page freshness (plot beside the JSON)";

pub fn parse_args() -> Result<Args, String> {
    let mut scale = Scale::named("small").expect("small exists");
    let mut json = None;
    let mut scratch = None;
    let mut pages = None;
    let mut packages = None;
    let mut removals = None;
    let mut window = None;
    let mut rebuilds = None;
    let mut only_rebuild = false;
    let mut only_downloads = false;
    let mut replay = None;
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
            "--only-downloads" => only_downloads = true,
            "--replay" => {
                let minutes = value("--replay")?.parse::<f64>().map_err(|e| e.to_string())?;
                // Fractions of a minute are for trying the mode out.
                replay = Some(
                    Duration::try_from_secs_f64(minutes * 60.0)
                        .ok()
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| format!("--replay needs a positive number of minutes\n{USAGE}"))?,
                );
            }
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
    Ok(Args { scale, json, scratch, pages, only_rebuild, only_downloads, replay })
}
