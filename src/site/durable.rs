//! Making what was written durable before the database is told it is done, a sync for many jobs.
//!
//! A job's pages and deletions must be on stable storage before its job row goes (a crash after
//! the commit would otherwise lose work the queue no longer holds). One `syncfs` of the output
//! path's file system covers every write made before it started, whoever made it: so jobs that
//! finish while a sync runs wait for the next one, which covers them all (group commit), and a
//! burst of small jobs costs a few syncs, not one each.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{OutputDir, OutputError};

/// Shared by the jobs of one listener.
#[derive(Debug)]
pub struct Syncer {
    output: OutputDir,
    /// Tickets handed out: a job takes one once its writes are done.
    issued: AtomicU64,
    /// Every ticket up to this one is covered by a finished sync. The lock also makes syncs take
    /// turns: a job that waited for one may find its ticket covered.
    synced: tokio::sync::Mutex<u64>,
    /// Syncs made, for tests and figures.
    performed: AtomicU64,
}

impl Syncer {
    pub fn new(output: OutputDir) -> Self {
        Syncer { output, issued: AtomicU64::new(0), synced: tokio::sync::Mutex::new(0), performed: AtomicU64::new(0) }
    }

    /// How many syncs were made so far.
    pub fn performed(&self) -> u64 {
        self.performed.load(Ordering::Relaxed)
    }

    /// Return once everything written before this call is on stable storage.
    pub async fn sync(&self) -> Result<(), OutputError> {
        let ticket = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut synced = self.synced.lock().await;
        if *synced >= ticket {
            return Ok(());
        }
        // Every ticket issued by now was taken after its writes: this sync covers them all.
        let covering = self.issued.load(Ordering::SeqCst);
        let output = self.output.clone();
        tokio::task::spawn_blocking(move || output.sync()).await.map_err(|e| OutputError::Io {
            action: "sync panicked on",
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(e.to_string()),
        })??;
        self.performed.fetch_add(1, Ordering::Relaxed);
        *synced = covering;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_that_finish_while_a_sync_runs_share_the_next_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let syncer = Arc::new(Syncer::new(OutputDir::open(dir.path()).expect("open")));
        syncer.sync().await.expect("sync");
        assert_eq!(syncer.performed(), 1);
        // A sync in progress (the lock held): sixteen jobs finish meanwhile.
        let running = syncer.synced.lock().await;
        let jobs: Vec<_> = (0..16)
            .map(|_| {
                tokio::spawn({
                    let syncer = syncer.clone();
                    async move { syncer.sync().await }
                })
            })
            .collect();
        while syncer.issued.load(Ordering::SeqCst) < 17 {
            tokio::task::yield_now().await;
        }
        drop(running);
        for job in jobs {
            job.await.expect("job").expect("sync");
        }
        assert_eq!(syncer.performed(), 2, "one sync covered the sixteen");
        // One after the other, each needs its own.
        syncer.sync().await.expect("sync");
        syncer.sync().await.expect("sync");
        assert_eq!(syncer.performed(), 4);
    }
}
