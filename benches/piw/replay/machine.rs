//! What the replay reads from /proc: the CPU time of the listener, of the PostgreSQL server (the
//! postmaster and its children) and of the benchmark itself, how busy the whole machine was, and
//! what machine and file systems the figures were taken on.

use std::{
    collections::HashMap,
    fs,
    path::Path,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

/// A process's CPU in clock ticks, from /proc/PID/stat.
#[derive(Debug, Clone, Copy, Default)]
struct ProcStat {
    parent: u32,
    /// utime + stime: its own threads.
    own: u64,
    /// cutime + cstime: the children it has reaped (the server's exited backends).
    reaped: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces or parentheses: fields are counted
    // from the last ')'. After it: state (3), ppid (4), ..., utime (14), stime (15), cutime (16),
    // cstime (17).
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(ProcStat { parent: u32::try_from(field(4)?).ok()?, own: field(14)? + field(15)?, reaped: field(16)? + field(17)? })
}

/// The server's CPU: the postmaster's own and its reaped children's, plus its live children's
/// own. A backend that exits between two readings moves from the live sum to the reaped one
/// with everything it used: the difference of two readings is what the server used between them.
fn server_ticks(postmaster: u32) -> Option<u64> {
    let root = proc_stat(postmaster)?;
    let mut ticks = root.own + root.reaped;
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        if let Some(child) = proc_stat(pid).filter(|stat| stat.parent == postmaster) {
            ticks += child.own;
        }
    }
    Some(ticks)
}

/// All CPUs: (busy, total) jiffies from the first line of /proc/stat (idle and iowait are not busy).
fn machine_ticks() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    let values: Vec<u64> = text.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// The CPU counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct CpuReading {
    at: Instant,
    listener: Option<u64>,
    server: Option<u64>,
    bench: Option<u64>,
    machine: Option<(u64, u64)>,
}

/// Read every counter now.
pub fn cpu_reading(listener: u32, postmaster: u32) -> CpuReading {
    CpuReading {
        at: Instant::now(),
        listener: proc_stat(listener).map(|s| s.own),
        server: server_ticks(postmaster),
        bench: proc_stat(std::process::id()).map(|s| s.own),
        machine: machine_ticks(),
    }
}

/// CPU shares between two readings, in % of one core (the machine's in % of all its cores).
#[derive(Debug, Clone, Copy)]
pub struct CpuShares {
    pub wall: Duration,
    pub listener: Option<f64>,
    pub server: Option<f64>,
    pub bench: Option<f64>,
    pub machine: Option<f64>,
}

pub fn cpu_shares(start: &CpuReading, end: &CpuReading) -> CpuShares {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let wall = end.at.duration_since(start.at);
    let percent = |a: Option<u64>, b: Option<u64>| Some(b?.checked_sub(a?)? as f64 / hz / wall.as_secs_f64() * 100.0);
    let machine = match (start.machine, end.machine) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => Some((b1 - b0) as f64 / (t1 - t0) as f64 * 100.0),
        _ => None,
    };
    CpuShares {
        wall,
        listener: percent(start.listener, end.listener),
        server: percent(start.server, end.server),
        bench: percent(start.bench, end.bench),
        machine,
    }
}

impl CpuShares {
    pub fn to_json(self) -> Value {
        json!({
            "wall_seconds": self.wall.as_secs_f64(),
            "listener_percent_of_one_core": self.listener,
            "server_percent_of_one_core": self.server,
            "bench_percent_of_one_core": self.bench,
            "machine_busy_percent_of_all_cores": self.machine,
            "method": "utime+stime from /proc/PID/stat over the wall time; the server: the postmaster's \
                       utime+stime+cutime+cstime plus its live children's utime+stime; the bench process \
                       (drivers, importer, page watcher) separately; the machine from /proc/stat",
        })
    }
}

/// The mount holding `path`: (mount point, file system type, device), the longest mount point
/// that is a prefix of its canonical path (a later line of /proc/self/mounts over the same
/// point wins: it is mounted over the earlier one).
fn mount_of(path: &Path) -> Option<(String, String, String)> {
    let path = fs::canonicalize(path).ok()?;
    let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
    let mut best: Option<(String, String, String)> = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [device, point, fs_type, ..] = fields.as_slice() else { continue };
        // /proc/self/mounts escapes spaces and such as octal (\040).
        let point = point.replace("\\040", " ");
        if path.starts_with(&point) && best.as_ref().is_none_or(|(b, _, _)| point.len() >= b.len()) {
            best = Some((point, (*fs_type).to_owned(), (*device).to_owned()));
        }
    }
    best
}

/// The machine: CPU model, cores, memory; the file systems of the cluster and of the pages.
pub fn machine_json(scratch: &Path, pages: &Path) -> Value {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned()));
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kib: Option<u64> =
        meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|r| r.split_whitespace().next()?.parse().ok());
    let mut filesystems = HashMap::new();
    for (name, path) in [("scratch", scratch), ("pages", pages)] {
        let mount = mount_of(path).map(|(point, fs_type, device)| json!({"path": path.display().to_string(), "mount_point": point, "fs_type": fs_type, "device": device}));
        filesystems.insert(name, mount.unwrap_or(Value::Null));
    }
    json!({
        "cpu_model": model,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "ram_gib": ram_kib.map(|k| (k as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0),
        "filesystems": filesystems,
    })
}
