//! piw-import reads and copies a wheel a piece at a time: its memory does not grow with the
//! wheel.
mod support;

use std::process::Command;

use support::{daemon::output_dir, wheels::Wheel, TestDb};

/// The size of the wheel's one big file: large against the importer's own few megabytes.
const BIG: usize = 64 * 1024 * 1024;

#[tokio::test]
async fn importing_a_big_wheel_takes_memory_independent_of_its_size() {
    let db = TestDb::new().await;
    let out = output_dir();
    let sources = tempfile::tempdir().unwrap();
    let mut wheel = Wheel::new("big", "1.0");
    wheel.stored = true;
    wheel.extra.push(("big/data.bin".into(), vec![0x5a; BIG]));
    let path = wheel.write_into(sources.path());
    drop(wheel);

    let mut child = Command::new(support::tool_exe("piw-import"))
        .args(["-q", "--dsn", &db.dsn(), "--output-path"])
        .arg(out.path())
        .arg(&path)
        .env_remove("PIW_DSN")
        .spawn()
        .expect("run piw-import");
    // VmHWM, the peak resident set of the process's own memory since its exec (ru_maxrss would
    // count the test process's pages it shared between fork and exec). It only grows: the last
    // reading before the exit is the peak, but for the last few milliseconds.
    let mut peak_kib = 0usize;
    // The limit only keeps an importer that never ends from hanging the test.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let status = loop {
        assert!(std::time::Instant::now() < deadline, "piw-import did not finish within 300 s");
        if let Some(status) = child.try_wait().expect("wait for piw-import") {
            break status;
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        if let Some(kib) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok()) {
            peak_kib = peak_kib.max(kib);
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };

    assert_eq!(status.code(), Some(0), "piw-import failed");
    let published = out.path().join("simple/big").join("big-1.0-py3-none-any.whl");
    assert_eq!(std::fs::metadata(published).unwrap().len(), std::fs::metadata(&path).unwrap().len());
    assert!(peak_kib > 0, "no reading of piw-import's memory");
    assert!(peak_kib * 1024 < BIG / 3, "piw-import's peak RSS was {peak_kib} KiB for a wheel of {} MiB", BIG >> 20);
}
