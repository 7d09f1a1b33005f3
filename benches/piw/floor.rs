//! The floor for a full rebuild's work: the same queries streamed out with COPY, plus the same
//! bytes written as the same files by a minimal writer.

use std::{
    collections::HashSet,
    fs,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use futures_util::{future::join_all, TryStreamExt};
use tokio_postgres::Config;

use crate::{report::progress, Res};

/// The rows of every full-rebuild query, streamed with COPY, all at once (as the listener runs
/// its jobs): returns the wall time and the bytes.
async fn copy_floor(config: &Config) -> Res<(Duration, u64)> {
    let mut clients = Vec::new();
    for _ in piw::pages::FULL_REBUILD_QUERIES {
        clients.push(piw::db::connect_with(config).await?);
    }
    let started = Instant::now();
    let copies = clients.iter().zip(piw::pages::FULL_REBUILD_QUERIES).map(|(client, (_, sql))| async move {
        let stream = client.copy_out(&format!("COPY ({sql}) TO STDOUT")).await?;
        let mut stream = std::pin::pin!(stream);
        let mut bytes = 0u64;
        while let Some(chunk) = stream.try_next().await? {
            bytes += chunk.len() as u64;
        }
        Ok::<u64, tokio_postgres::Error>(bytes)
    });
    let mut total = 0;
    for bytes in join_all(copies).await {
        total += bytes?;
    }
    Ok((started.elapsed(), total))
}

/// The same files with the same sizes, written by the simplest writer there is.
fn write_floor(files: &[(PathBuf, u64, u64)], dest: &Path) -> Res<Duration> {
    let largest = files.iter().map(|f| f.1).max().unwrap_or(0);
    let filler = vec![b'x'; usize::try_from(largest)?];
    let started = Instant::now();
    let mut made: HashSet<&Path> = HashSet::new();
    for (relative, size, _) in files {
        if let Some(parent) = relative.parent() {
            if !made.contains(parent) {
                fs::create_dir_all(dest.join(parent))?;
                made.insert(parent);
            }
        }
        fs::write(dest.join(relative), &filler[..usize::try_from(*size)?])?;
    }
    Ok(started.elapsed())
}

/// The floor `runs` times over `files` (the built tree, from [`crate::rebuild::walk`]), written
/// under `floor_dir` and removed after each run. Returns the median run's total, COPY time, write
/// time and COPY bytes.
pub async fn measure(
    config: &Config,
    files: &[(PathBuf, u64, u64)],
    floor_dir: &Path,
    runs: usize,
) -> Res<(Duration, Duration, Duration, u64)> {
    let mut floors = Vec::new();
    for run in 1..=runs {
        progress(&format!("floor: COPY of the same queries, then the same files by a minimal writer ({run} of {runs})"));
        let (copy_time, copy_bytes) = copy_floor(config).await?;
        let write_time = tokio::task::block_in_place(|| write_floor(files, floor_dir))?;
        tokio::task::block_in_place(|| fs::remove_dir_all(floor_dir))?;
        floors.push((copy_time + write_time, copy_time, write_time, copy_bytes));
    }
    // The median run's parts.
    floors.sort();
    Ok(floors[floors.len() / 2])
}
