//! `deploy/systemd/piw-listener.service`: systemd accepts it, it starts the listener with flags the
//! listener takes, and it gives the listener the time to stop cleanly.
//!
//! The systemd tests need `systemd-analyze` (Debian: `apt-get install systemd`; systemd need not
//! be running).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use clap::Parser;
use piw::cli::tools::listener;

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/systemd/piw-listener.service")
}

fn unit() -> String {
    std::fs::read_to_string(unit_path()).expect("read the unit")
}

/// The values of `key` in the unit's `[Service]` section, in order.
fn service_values(unit: &str, key: &str) -> Vec<String> {
    let mut section = "";
    let mut values = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[Service]" {
            if let Some((k, value)) = line.split_once('=') {
                if k.trim() == key {
                    values.push(value.trim().to_owned());
                }
            }
        }
    }
    values
}

fn service_value(unit: &str, key: &str) -> String {
    match service_values(unit, key).as_slice() {
        [value] => value.clone(),
        other => panic!("[Service] should set {key} once, not {other:?}"),
    }
}

/// `ExecStart` as the listener would see its arguments (the unit quotes nothing).
fn exec_start(unit: &str) -> Vec<String> {
    service_value(unit, "ExecStart").split_whitespace().map(str::to_owned).collect()
}

/// A duration as systemd writes the simple ones: `30`, `30s`, `2min`.
fn seconds(value: &str) -> f64 {
    let (number, scale) = match value {
        v if v.ends_with("min") => (&v[..v.len() - 3], 60.0),
        v if v.ends_with('s') => (&v[..v.len() - 1], 1.0),
        v => (v, 1.0),
    };
    number.trim().parse::<f64>().unwrap_or_else(|e| panic!("duration {value:?}: {e}")) * scale
}

/// `ExecStart` parsed by the listener's own clap definition.
fn listener_args(unit: &str) -> listener::Args {
    let argv = exec_start(unit);
    listener::Args::try_parse_from(&argv).unwrap_or_else(|e| panic!("ExecStart {argv:?} does not parse:\n{e}"))
}

#[test]
fn the_unit_starts_the_listener_with_flags_it_takes() {
    let unit = unit();
    let argv = exec_start(&unit);
    let program = Path::new(&argv[0]);
    assert!(program.is_absolute() && program.file_name().is_some_and(|name| name == "piw-listener"), "{argv:?}");
    let args = listener_args(&unit);
    assert_eq!(args.common.configuration.as_deref(), Some(Path::new("/etc/piw/piw.toml")));
}

#[test]
fn the_unit_lets_the_listener_finish_the_jobs_in_hand_and_restarts_it_on_failure() {
    let unit = unit();
    let args = listener_args(&unit);
    assert_eq!(service_value(&unit, "KillSignal"), "SIGTERM");
    // Room, past --shutdown-timeout, to hand the unfinished jobs back before SIGKILL.
    let stop = seconds(&service_value(&unit, "TimeoutStopSec"));
    assert!(stop >= args.shutdown_timeout + 10.0, "TimeoutStopSec {stop} s, --shutdown-timeout {} s", args.shutdown_timeout);
    assert_eq!(service_value(&unit, "Restart"), "on-failure");
    // Exit 2 is a usage error: restarting would only repeat it.
    assert_eq!(service_value(&unit, "RestartPreventExitStatus"), "2");
    let user = service_value(&unit, "User");
    assert!(!user.is_empty() && user != "root", "runs as {user:?}");
}

/// The unit with its `ExecStart` pointing at the built listener (verify checks that the program
/// exists), in a directory of its own.
fn unit_for_the_built_listener() -> tempfile::TempDir {
    let unit = unit();
    let program = exec_start(&unit).into_iter().next().expect("a program");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("piw-listener.service"), unit.replace(&program, env!("CARGO_BIN_EXE_piw-listener")))
        .expect("write the unit");
    dir
}

fn systemd_analyze(args: &[&str], unit: &Path) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        // The unit's Documentation=man:piw-listener(1) resolves to the page piw ships.
        .env("MANPATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/man"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run systemd-analyze ({e}): apt-get install systemd"))
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let dir = unit_for_the_built_listener();
    let output = systemd_analyze(&["verify"], &dir.path().join("piw-listener.service"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {:?}\n{stderr}", output.status);
}

/// systemd's own exposure score (0 safest, 10 least), below 2: the hardening stays in place.
#[test]
fn the_unit_is_hardened() {
    let dir = unit_for_the_built_listener();
    let output = systemd_analyze(&["security", "--offline=yes", "--threshold=20"], &dir.path().join("piw-listener.service"));
    assert!(output.status.success(), "exposure above 2.0:\n{}", String::from_utf8_lossy(&output.stdout));
}
