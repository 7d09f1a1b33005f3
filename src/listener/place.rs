//! Publishing and withholding wheels: a wheel lives where its row says, `simple/PACKAGE/` when
//! published (its package and version not skipped, its version not held), `.withheld/PACKAGE/`
//! otherwise, outside the served tree, so that a withheld wheel cannot be downloaded by URL. Its
//! metadata file (PEP 658) moves with it.
//!
//! The `place_wheel` job the versions and packages triggers queue when a version or package is
//! held, released, skipped or unskipped moves one wheel, under the package's wheels lock (as a
//! deletion does, see `retire`): an importer between writing a wheel and committing its rows is
//! waited for, and the row is looked at once the lock is ours. The move is a rename that replaces
//! nothing, so the job is idempotent: run twice, or after a crash between the wheel and its
//! metadata, it finishes what is left. Two jobs of one wheel never run at once (see
//! `piw._jobs_conflict`), and the last one queued looks at the rows last.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Client;

use super::executor::{Effect, Executor, JobError};
use super::retire::{deleting, owner_of, WHEEL_OWNER_SQL};
use crate::{
    error::Error,
    queue,
    site::{
        layout::{placed_metadata_path, placed_wheel_path},
        OutputError,
    },
};

impl Executor {
    /// Move `package`'s wheel `filename` (and its metadata) to where its row says. No row, or a
    /// row of another package: nothing to do here (the wheel's deletion job deletes or moves it).
    pub(super) async fn place_wheel(&self, pooled: &ClientWrapper, package: &str, filename: &str) -> Result<Effect, JobError> {
        // Refuses what could not be a wheel's path before anything is looked at.
        placed_wheel_path(package, filename, true)?;
        let client: &Client = pooled;
        let lock = pooled.prepare_cached(queue::LOCK_WHEELS_SQL).await.map_err(Error::from)?;
        let check = pooled.prepare_cached(WHEEL_OWNER_SQL).await.map_err(Error::from)?;
        deleting(client, async {
            client.execute(&lock, &[&package]).await.map_err(Error::from)?;
            let effect = match owner_of(client, &check, filename).await? {
                Some((owner, published)) if owner == package => self.place(package, filename, published)?,
                _ => Effect::default(),
            };
            Ok((effect, Vec::new()))
        })
        .await
    }

    /// Move the wheel and its metadata from the other place to the one `published` says; a
    /// wheel already there stays (and a copy in the other place, left by a move cut short, goes).
    pub(super) fn place(&self, package: &str, filename: &str, published: bool) -> Result<Effect, OutputError> {
        let why = if published { "published" } else { "withheld" };
        let effect =
            self.move_file(&placed_wheel_path(package, filename, !published)?, &placed_wheel_path(package, filename, published)?, why)?;
        self.move_file(&placed_metadata_path(package, filename, !published)?, &placed_metadata_path(package, filename, published)?, why)?;
        Ok(effect)
    }
}
