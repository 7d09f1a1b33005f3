//! Deleting what rows no longer publish: a wheel whose row went, a package's directories. A
//! wheel's metadata file (`FILENAME.metadata`, PEP 658) goes, comes back and moves with it. A
//! wheel may be in its package's served directory (`simple/PACKAGE/`) or withheld
//! (`.withheld/PACKAGE/`, see `place`): a deletion looks in both.
//!
//! A deletion runs in a transaction that holds the package's wheels lock (`piw.lock_wheels`)
//! from the look at the rows to the commit, so an importer between writing a wheel and committing
//! its row is waited for, and waits for us. On disk the deletion is first a rename to a retired
//! name (`.NAME.piw-del`); only once the transaction has committed (and so held the lock
//! throughout: a session that ended meanwhile cannot commit) is it discarded. A transaction that
//! does not commit (this listener was paused until the server ended its session, and an importer
//! has put the same wheel back since) restores it: no wheel is deleted while a row publishes it.

use std::path::Path;

use deadpool_postgres::ClientWrapper;
use tokio_postgres::{types::ToSql, Client};

use super::executor::{Effect, Executor, JobError};
use crate::site::layout::{self, is_package_name, metadata_path, placed_metadata_path, placed_wheel_path, wheel_path};
use crate::{
    error::Error,
    queue,
    site::{fs::Kind, Moved, OutputError, Retired},
};

/// How long a deletion's transaction may sit idle before the server ends it (and so lets go of
/// the wheels lock): a listener stopped between two statements of a deletion (SIGSTOP, a stalled
/// disk) must not hold the package's importers for longer than this.
const IDLE_LIMIT: &str = "10s";

/// Whether a wheel's row publishes it: neither its package nor its version is skipped, and its
/// version is not held (the simple pages' rule, see `pages::data`).
macro_rules! wheel_rows_sql {
    ($select:literal, $filter:literal) => {
        concat!(
            "SELECT ",
            $select,
            " b.package, (p.skip = '' AND v.skip = '' AND v.held = '')
               FROM piw.files f
               JOIN piw.builds b ON b.build_id = f.build_id
               JOIN piw.versions v ON v.package = b.package AND v.version = b.version
               JOIN piw.packages p ON p.package = b.package
              WHERE ",
            $filter
        )
    };
}

/// The package whose row has a wheel (`$1`: its filename), and whether the row publishes it.
pub(super) const WHEEL_OWNER_SQL: &str = wheel_rows_sql!("", "f.filename = $1");

/// The rows among wheels (`$1`: their filenames), as (filename, package, published).
const WHEEL_OWNERS_SQL: &str = wheel_rows_sql!("f.filename,", "f.filename = ANY($1)");

const PACKAGE_EXISTS_SQL: &str = "SELECT 1 FROM piw.packages WHERE package = $1";

impl Executor {
    /// Retire `simple/PACKAGE/FILENAME` (or `.withheld/PACKAGE/FILENAME`): delete it, unless its
    /// row came back; when its row now belongs to another package (a build moved by UPDATE), move
    /// it there instead.
    ///
    /// Two round trips (a removal waits for them): the transaction's start, the lock and the look
    /// at the rows go out together, then the second look and the commit. The server runs each
    /// batch in order, so a look, a statement of its own, sees every commit the lock waited for;
    /// and a look that fails aborts the transaction, whose COMMIT then rolls back (and the wheel
    /// is restored).
    pub(super) async fn delete_wheel(&self, pooled: &ClientWrapper, package: &str, filename: &str) -> Result<Effect, JobError> {
        let path = wheel_path(package, filename)?;
        let metadata = metadata_path(package, filename)?;
        let withheld = placed_wheel_path(package, filename, false)?;
        let withheld_metadata = placed_metadata_path(package, filename, false)?;
        let client: &Client = pooled;
        let lock = pooled.prepare_cached(queue::LOCK_WHEELS_SQL).await.map_err(Error::from)?;
        let check = pooled.prepare_cached(WHEEL_OWNER_SQL).await.map_err(Error::from)?;
        let lock_params: [&(dyn ToSql + Sync); 1] = [&package];
        // (futures' `join` polls in order: the requests go out in order.)
        let (begun, locked, owner) = futures_util::future::join3(
            client.batch_execute(&begin()),
            client.execute(&lock, &lock_params),
            owner_of(client, &check, filename),
        )
        .await;
        begun.map_err(Error::from)?;
        let found = match (locked.map_err(Error::from), owner) {
            (Ok(_), Ok(owner)) => Ok(owner),
            (Err(e), _) => Err(e.into()),
            (_, Err(e)) => Err(e),
        };
        let mut effect = Effect::default();
        let retired = match found {
            // Its row came back: it stays, where the row says (a copy in the other place, left
            // by a hold or release while the wheel was gone, goes).
            Ok(Some((owner, published))) if owner == package => match self.place(package, filename, published) {
                Ok(placed) => {
                    effect = placed;
                    Ok(Vec::new())
                }
                Err(e) => Err(e.into()),
            },
            Ok(Some((owner, published))) => match self.move_wheel(package, filename, &owner, published) {
                Ok(moved) => {
                    effect = moved;
                    Ok(Vec::new())
                }
                Err(e) => Err(e.into()),
            },
            Ok(None) => self.retire_all(&[&path, &metadata, &withheld, &withheld_metadata]),
            Err(e) => Err(e),
        };
        let retired = match retired {
            Ok(retired) => retired,
            Err(e) => {
                rollback(client).await;
                return Err(e);
            }
        };
        // Once more, in the transaction that commits the deletion: a row written without the
        // wheels lock (by hand, in psql) may have brought the wheel back meanwhile.
        let (again, committed) = futures_util::future::join(owner_of(client, &check, filename), client.batch_execute("COMMIT")).await;
        match (committed, again) {
            (Ok(()), Ok(None)) => {
                // One removal: the wheel, its metadata file with it (or a metadata file left
                // alone; or a wheel both served and withheld, by a move cut short).
                effect.removed += u64::from(!retired.is_empty());
                for gone in retired {
                    gone.discard()?;
                }
                Ok(effect)
            }
            (committed, again) => {
                for back in retired {
                    back.restore()?;
                }
                match (committed, again) {
                    (Err(e), _) => Err(Error::from(e).into()),
                    (_, Err(e)) => Err(e),
                    // Its row came back: it stays.
                    _ => Ok(effect),
                }
            }
        }
    }

    /// Remove the directories of a package that no longer exists; wheels in them that rows of
    /// other packages have (a build moved by UPDATE whose move is not done yet) go there first.
    pub(super) async fn delete_package(&self, pooled: &ClientWrapper, package: &str) -> Result<Effect, JobError> {
        if !is_package_name(package) {
            return Err(OutputError::Refused { path: package.into(), reason: "not a normalized package name" }.into());
        }
        let client: &Client = pooled;
        let lock = pooled.prepare_cached(queue::LOCK_WHEELS_SQL).await.map_err(Error::from)?;
        let exists = || async { client.query_opt(PACKAGE_EXISTS_SQL, &[&package]).await.map(|row| row.is_some()).map_err(Error::from) };
        deleting(client, async {
            client.execute(&lock, &[&package]).await.map_err(Error::from)?;
            if exists().await? {
                return Ok((Effect::default(), Vec::new()));
            }
            let (simple, withheld) = (layout::simple_dir(package), layout::withheld_dir(package));
            let mut effect = self.move_wheels_of_others(client, package, &simple).await?;
            effect.add(self.move_wheels_of_others(client, package, &withheld).await?);
            let mut retired = Vec::new();
            for dir in [simple, layout::project_dir(package), withheld] {
                retired.extend(self.output.retire(&dir)?);
            }
            if exists().await? {
                for dir in retired {
                    dir.restore()?;
                }
                return Ok((effect, Vec::new()));
            }
            effect.removed += retired.len() as u64;
            Ok((effect, retired))
        })
        .await
    }

    /// Remove a temporary (or retired) file left in `dir` (`simple/PACKAGE/` or
    /// `.withheld/PACKAGE/`) by a writer that was killed. Under the wheels lock: an importer's
    /// temporary file is its own until it commits (and then renamed away), so one still there
    /// once the lock is ours was left by a dead writer.
    pub(super) async fn remove_stale_temporary(
        &self,
        pooled: &ClientWrapper,
        package: &str,
        dir: &Path,
        name: &str,
    ) -> Result<Effect, JobError> {
        let path = dir.join(name);
        let client: &Client = pooled;
        let lock = pooled.prepare_cached(queue::LOCK_WHEELS_SQL).await.map_err(Error::from)?;
        deleting(client, async {
            client.execute(&lock, &[&package]).await.map_err(Error::from)?;
            Ok((Effect { removed: self.output.remove_file(&path)?.into(), ..Effect::default() }, Vec::new()))
        })
        .await
    }

    /// Move the wheels in `dir` (`package`'s served or withheld directory) that rows of other
    /// packages have to those packages' directories.
    async fn move_wheels_of_others(&self, client: &Client, package: &str, dir: &Path) -> Result<Effect, JobError> {
        let names: Vec<String> = self
            .output
            .list(dir)?
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, kind)| *kind == Kind::File)
            .filter_map(|(name, _)| name.into_string().ok())
            .collect();
        let mut effect = Effect::default();
        if names.is_empty() {
            return Ok(effect);
        }
        for row in client.query(WHEEL_OWNERS_SQL, &[&names]).await.map_err(Error::from)? {
            let (filename, owner): (String, String) = (row.try_get(0).map_err(Error::from)?, row.try_get(1).map_err(Error::from)?);
            let published: bool = row.try_get(2).map_err(Error::from)?;
            if owner != package {
                effect.add(self.move_wheel(package, &filename, &owner, published)?);
            }
        }
        Ok(effect)
    }

    /// Retire each of `paths` that exists, in order; should one fail, those retired are restored.
    fn retire_all(&self, paths: &[&Path]) -> Result<Vec<Retired>, JobError> {
        let mut retired = Vec::new();
        for path in paths {
            match self.output.retire(path) {
                Ok(gone) => retired.extend(gone),
                Err(e) => {
                    for back in retired {
                        back.restore()?;
                    }
                    return Err(e.into());
                }
            }
        }
        Ok(retired)
    }

    /// The wheel `filename` in `package`'s directories (served or withheld) is `owner`'s now:
    /// move it to `owner`'s directory (served when `published`, else withheld), or, when a wheel
    /// is there already, delete this one; its metadata file the same way.
    fn move_wheel(&self, package: &str, filename: &str, owner: &str, published: bool) -> Result<Effect, OutputError> {
        let target = placed_wheel_path(owner, filename, published)?;
        let target_metadata = placed_metadata_path(owner, filename, published)?;
        let mut effect = Effect::default();
        for served in [true, false] {
            let why = format!("its row is {owner}'s now");
            effect.add(self.move_file(&placed_wheel_path(package, filename, served)?, &target, &why)?);
            self.move_file(&placed_metadata_path(package, filename, served)?, &target_metadata, &why)?;
        }
        Ok(effect)
    }

    /// Move the file at `path` to `target` (`why`, for the log), or delete it when `target`
    /// exists already; nothing at `path` is fine.
    pub(super) fn move_file(&self, path: &Path, target: &Path, why: &str) -> Result<Effect, OutputError> {
        match self.output.move_file(path, target)? {
            Moved::Moved => {
                tracing::info!("moved {} to {} ({why})", path.display(), target.display());
                Ok(Effect { moved: 1, ..Effect::default() })
            }
            Moved::SourceMissing => Ok(Effect::default()),
            Moved::TargetExists => Ok(Effect { removed: self.output.remove_file(path)?.into(), ..Effect::default() }),
        }
    }
}

/// The package whose row has the wheel `filename`, and whether the row publishes it; `None`
/// when no row has it.
pub(super) async fn owner_of(
    client: &Client,
    check: &tokio_postgres::Statement,
    filename: &str,
) -> Result<Option<(String, bool)>, JobError> {
    let row = client.query_opt(check, &[&filename]).await.map_err(Error::from)?;
    let owner = row.map(|row| Ok::<_, tokio_postgres::Error>((row.try_get::<_, String>(0)?, row.try_get::<_, bool>(1)?)));
    Ok(owner.transpose().map_err(Error::from)?)
}

/// The start of a deletion's transaction.
fn begin() -> String {
    format!("BEGIN; SET LOCAL idle_in_transaction_session_timeout = '{IDLE_LIMIT}'")
}

/// End a deletion's transaction that failed. A rollback that fails leaves a connection that is
/// gone: the failure's own error says why.
async fn rollback(client: &Client) {
    if let Err(e) = client.batch_execute("ROLLBACK").await {
        tracing::debug!("rollback failed: {e}");
    }
}

/// Run a deletion in a transaction: `work` retires what it deletes; committed, that is
/// discarded; not committed, it is restored (see the module's documentation).
pub(super) async fn deleting(
    client: &Client,
    work: impl std::future::Future<Output = Result<(Effect, Vec<Retired>), JobError>>,
) -> Result<Effect, JobError> {
    client.batch_execute(&begin()).await.map_err(Error::from)?;
    let (effect, retired) = match work.await {
        Ok(done) => done,
        Err(e) => {
            rollback(client).await;
            return Err(e);
        }
    };
    match client.batch_execute("COMMIT").await {
        Ok(()) => {
            // A package's directories may hold thousands of wheels: removed off the runtime.
            tokio::task::spawn_blocking(move || retired.into_iter().try_for_each(Retired::discard))
                .await
                .map_err(|e| Error::TaskFailed(e.to_string()))??;
            Ok(effect)
        }
        Err(e) => {
            for back in retired {
                if let Err(restoring) = back.restore() {
                    tracing::warn!("{restoring}");
                }
            }
            Err(Error::from(e).into())
        }
    }
}
