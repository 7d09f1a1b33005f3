//! Core metadata (PEP 658) for wheels imported before piw served it: read from each published
//! wheel on disk, written beside it as `FILENAME.metadata`, its hash recorded (the row's update
//! queues the package's pages, which then carry it). Each wheel in a transaction of its own,
//! under the package's wheels lock as an import is: a removal in flight is waited for, and a
//! wheel whose row went meanwhile is left alone.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tokio_postgres::{types::Type, Client};

use super::{off_the_runtime, WheelName};
use crate::{
    error::{Error, Result},
    site::{layout, OutputDir},
};

/// What became of one wheel's metadata.
#[derive(Debug)]
pub struct Backfilled {
    pub package: String,
    pub filename: String,
    /// `Ok(true)`: written; `Ok(false)`: nothing to do any more (the row went, or has it now).
    pub outcome: std::result::Result<bool, String>,
}

impl std::fmt::Display for Backfilled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            Ok(true) => write!(f, "metadata written for {} ({})", self.filename, self.package),
            Ok(false) => write!(f, "left alone: {} ({}), its row changed meanwhile", self.filename, self.package),
            Err(reason) => write!(f, "no metadata for {} ({}): {reason}", self.filename, self.package),
        }
    }
}

/// Every published file without core metadata, in package order.
const WITHOUT_METADATA_SQL: &str = "SELECT b.package, f.filename FROM piw.files f JOIN piw.builds b ON b.build_id = f.build_id
                                     WHERE f.metadata_hash IS NULL ORDER BY 1, 2";

/// Write the core metadata of every file whose row has none; one outcome per file. A wheel that
/// cannot be read (missing, not the wheel its name says) is reported and skipped: the others go
/// on. Connection and server failures end it (what was done stays done).
pub async fn backfill_metadata(client: &mut Client, output: &OutputDir) -> Result<Vec<Backfilled>> {
    let rows = client.query_typed(WITHOUT_METADATA_SQL, &[]).await?;
    let mut done = Vec::with_capacity(rows.len());
    for row in rows {
        let (package, filename): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let outcome = match backfill_one(client, output, &package, &filename).await {
            Ok(written) => Ok(written),
            Err(error @ (Error::BadWheel { .. } | Error::Output(_) | Error::Import(_))) => Err(error.to_string()),
            Err(other) => return Err(other),
        };
        done.push(Backfilled { package, filename, outcome });
    }
    Ok(done)
}

async fn backfill_one(client: &mut Client, output: &OutputDir, package: &str, filename: &str) -> Result<bool> {
    let name = WheelName::parse(filename).ok_or_else(|| Error::Import(format!("{filename:?} is not a wheel's file name")))?;
    let transaction = client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::ReadCommitted).start().await?;
    crate::queue::lock_wheels_for_import(&transaction, package).await?;
    // Whether its row publishes it says where the wheel is (served or withheld): under the lock,
    // no move of it runs meanwhile (see the listener's place_wheel).
    let still_without = transaction
        .query_typed_opt(
            "SELECT p.skip = '' AND v.skip = '' AND v.held = ''
               FROM piw.files f JOIN piw.builds b ON b.build_id = f.build_id
               JOIN piw.versions v ON v.package = b.package AND v.version = b.version
               JOIN piw.packages p ON p.package = b.package
              WHERE f.filename = $1 AND f.metadata_hash IS NULL",
            &[(&filename, Type::TEXT)],
        )
        .await?;
    let Some(row) = still_without else {
        return Ok(false);
    };
    let published: bool = row.try_get(0)?;
    let wheel = layout::placed_wheel_path(package, filename, published)?;
    let metadata = layout::placed_metadata_path(package, filename, published)?;
    let (pending, hash) = off_the_runtime({
        let (output, wheel, metadata, shown) = (output.clone(), wheel.clone(), metadata.clone(), filename.to_owned());
        move || {
            let file = output
                .open_file(&wheel)?
                .ok_or_else(|| Error::Import(format!("{} is not there (or not a regular file)", PathBuf::from(&wheel).display())))?;
            let core =
                crate::wheel::read(file, &name.distribution, &name.version).map_err(|reason| Error::BadWheel { file: shown, reason })?;
            let mut pending = output.create_pending(&metadata)?;
            std::io::Write::write_all(&mut pending, &core.bytes).map_err(|e| Error::io("cannot write the metadata", e))?;
            Ok((pending, hex::encode(Sha256::digest(&core.bytes))))
        }
    })
    .await?;
    transaction
        .query_typed("UPDATE piw.files SET metadata_hash = $2 WHERE filename = $1", &[(&filename, Type::TEXT), (&hash, Type::TEXT)])
        .await?;
    off_the_runtime(move || Ok(pending.publish()?)).await?;
    // A COMMIT that fails leaves a metadata file no row names: the next reconciliation keeps it
    // only while its wheel's row exists, and a later backfill writes it again.
    transaction.commit().await?;
    Ok(true)
}
