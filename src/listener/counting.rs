//! Download counts: once an interval, `piw.count_downloads` adds what was logged since the last
//! count, and queues the home page and search index if anything was. Logging a download queues
//! nothing itself, so download counts alone rewrite those pages at most once an interval, however
//! many listeners run (the database keeps the time of the last count).

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use crate::queue;

/// Below this, a count due "now" is asked again after a pause rather than at once (the clocks of
/// the listener and the server differ by a little).
const MIN_PAUSE: Duration = Duration::from_millis(10);

/// Count every `every` until `cancel` fires. Errors (the database away) are logged and the count
/// tried again an interval later: counting late loses nothing.
pub(super) async fn run(pool: Pool, every: Duration, cancel: CancellationToken) {
    let mut pause = Duration::ZERO;
    loop {
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = cancel.cancelled() => return,
        }
        pause = match count(&pool, every).await {
            Ok(count) => {
                if count.counted != 0 {
                    tracing::debug!("counted {} download(s)", count.counted);
                }
                count.due_in.max(MIN_PAUSE)
            }
            Err(e) => {
                tracing::debug!("counting downloads failed: {e}");
                every
            }
        };
    }
}

async fn count(pool: &Pool, every: Duration) -> crate::Result<queue::DownloadCount> {
    let client = pool.get().await.map_err(|e| crate::Error::Pool(e.to_string()))?;
    queue::count_downloads(&**client, every).await
}
