//! A listener run inside the test process, against a test database and a scratch output directory.
#![allow(dead_code)]

use std::{path::PathBuf, time::Duration};

use piw::listener::{self, ListenerOptions};
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::TestDb;

pub struct RunningListener {
    pub cancel: CancellationToken,
    task: JoinHandle<piw::Result<()>>,
}

impl RunningListener {
    /// Start a listener with test-friendly settings: short retry delays; the fallback poll is an
    /// hour, so a test that passes shows that notifications (or the awake protocol) woke it.
    pub fn start(db: &TestDb, output: PathBuf) -> RunningListener {
        Self::start_with(db, Self::options(output))
    }

    /// The settings `start` uses, for a test that changes one of them.
    pub fn options(output: PathBuf) -> ListenerOptions {
        let mut options = ListenerOptions::new(output);
        options.retry_delay = Duration::from_millis(20);
        options.retry_max = Duration::from_millis(200);
        options.poll_interval = Duration::from_secs(3600);
        options
    }

    pub fn start_with(db: &TestDb, options: ListenerOptions) -> RunningListener {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(listener::run(piw::connect::Connector::unix_socket(db.config.clone()), options, cancel.clone()));
        RunningListener { cancel, task }
    }

    /// Cancel and wait for the listener to finish its jobs in hand and return.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("listener task").expect("listener ran cleanly");
    }
}

/// Count now (as the listener does once a minute), then wait until the queue is drained
/// (nothing pending or running).
pub async fn drained(client: &Client) {
    // What a listener's next count would queue (home page figures, downloads) is queued now.
    super::count_downloads_now(client).await;
    if let Err(undrained) = super::drain::drained(client, super::drain::Drain::TEST).await {
        panic!("{undrained}");
    }
}

/// A scratch output directory (removed when dropped).
pub fn output_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("piw-www-").tempdir().expect("output tempdir")
}
