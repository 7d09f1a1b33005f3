//! piw-import reads and copies a wheel a piece at a time: its memory does not grow with the
//! wheel. A wheel of 1 GiB is imported with an address space of half that, in a few MiB of
//! memory. (Hashing and zip are optimized in the dev profile, Cargo.toml: the gigabyte is read
//! twice and hashed three times in about ten seconds.)
mod support;

use std::{os::unix::process::CommandExt, process::Command};

use support::{daemon::output_dir, wheels::Wheel, TestDb};

/// The size of the wheel's one big file: large against the importer's own few megabytes. It is
/// a hole in the wheel's file (`Wheel::write_sparse`): no room on disk, no time to write.
const BIG: u64 = 1 << 30;

/// The importer's address space (`RLIMIT_AS`): half the wheel, so that reading or mapping it
/// whole fails. Left alone, piw-import maps about 150 MiB (allocator and thread reservations, not
/// used); it still imports the wheel with 64 MiB, and aborts with 8.
const ADDRESS_SPACE: u64 = 512 << 20;

#[tokio::test]
async fn importing_a_big_wheel_takes_memory_independent_of_its_size() {
    let db = TestDb::new().await;
    let out = output_dir();
    let sources = tempfile::tempdir().unwrap();
    let path = Wheel::new("big", "1.0").write_sparse(sources.path(), "big/data.bin", BIG);

    let mut import = Command::new(support::tool_exe("piw-import"));
    import.args(["-q", "--dsn", &db.dsn(), "--output-path"]).arg(out.path()).arg(&path).env_remove("PIW_DSN");
    // SAFETY: between fork and exec only setrlimit, which is async-signal-safe, and no allocation.
    unsafe {
        import.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: ADDRESS_SPACE, rlim_max: ADDRESS_SPACE };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = import.spawn().expect("run piw-import");
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

    assert_eq!(
        status.code(),
        Some(0),
        "piw-import failed (an allocation refused under the limit of {} MiB aborts it)",
        ADDRESS_SPACE >> 20
    );
    let published = out.path().join("simple/big").join("big-1.0-py3-none-any.whl");
    assert_eq!(std::fs::metadata(published).unwrap().len(), std::fs::metadata(&path).unwrap().len());
    assert!(peak_kib > 0, "no reading of piw-import's memory");
    assert!(peak_kib as u64 * 1024 < BIG / 16, "piw-import's peak RSS was {peak_kib} KiB for a wheel of {} MiB", BIG >> 20);
}
