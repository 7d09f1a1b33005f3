//! Importing built wheels: the rows an importer writes, and the wheel put in place beside its
//! simple page. (piwheels' builders do this; piw-import does it for wheels built anywhere.)

mod backfill;

pub use backfill::{backfill_metadata, Backfilled};

use std::{
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};
use tokio_postgres::{types::Type, Client};

use crate::{
    error::{Error, Result},
    site::OutputDir,
};

/// The parts of a wheel filename (PEP 427: `{dist}-{version}(-{build})?-{py}-{abi}-{platform}.whl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    pub distribution: String,
    pub version: String,
    pub python: String,
    pub abi: String,
    pub platform: String,
}

impl WheelName {
    pub fn parse(filename: &str) -> Option<WheelName> {
        let stem = filename.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (distribution, version, python, abi, platform) = match parts.as_slice() {
            [d, v, p, a, pl] | [d, v, _, p, a, pl] => (*d, *v, *p, *a, *pl),
            _ => return None,
        };
        if [distribution, version, python, abi, platform].iter().any(|part| part.is_empty()) {
            return None;
        }
        Some(WheelName {
            distribution: distribution.to_owned(),
            version: version.to_owned(),
            python: python.to_owned(),
            abi: abi.to_owned(),
            platform: platform.to_owned(),
        })
    }
}

/// What an import added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub package: String,
    pub version: String,
    pub filename: String,
    pub path: PathBuf,
    /// The import's transaction: the pages it queued follow this id (`--wait`).
    pub request: crate::request::RequestId,
}

/// What became of one wheel given to `piw-import`.
#[derive(Debug)]
pub enum Outcome {
    Imported(Imported),
    NotImported { wheel: PathBuf, error: String },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Imported(imported) => write!(f, "imported {} ({} {})", imported.filename, imported.package, imported.version),
            // The error names the file already.
            Outcome::NotImported { error, .. } => write!(f, "not imported: {error}"),
        }
    }
}

/// The outcomes of one `piw-import`, in the order of its arguments.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub outcomes: Vec<Outcome>,
}

impl ImportReport {
    /// The requests of the wheels imported: their pages, to wait for.
    pub fn requests(&self) -> Vec<crate::request::RequestId> {
        self.outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Outcome::Imported(imported) => Some(imported.request),
                Outcome::NotImported { .. } => None,
            })
            .collect()
    }

    pub fn not_imported(&self) -> usize {
        self.outcomes.iter().filter(|outcome| matches!(outcome, Outcome::NotImported { .. })).count()
    }

    /// `imported 2 of 3 wheels; 1 not imported`.
    pub fn summary(&self) -> String {
        let (all, failed) = (self.outcomes.len(), self.not_imported());
        let noun = if all == 1 { "wheel" } else { "wheels" };
        match failed {
            0 => format!("imported {all} of {all} {noun}"),
            _ => format!("imported {} of {all} {noun}; {failed} not imported", all - failed),
        }
    }

    /// `{"imported": [{"wheel", "package", "version", "filename", "path"}], "not_imported":
    /// [{"wheel", "error"}]}`, for scripts.
    pub fn to_json(&self) -> serde_json::Value {
        let (mut imported, mut not_imported) = (Vec::new(), Vec::new());
        for outcome in &self.outcomes {
            match outcome {
                Outcome::Imported(i) => imported.push(serde_json::json!({
                    "package": i.package, "version": i.version, "filename": i.filename, "path": i.path.display().to_string(),
                })),
                Outcome::NotImported { wheel, error } => {
                    not_imported.push(serde_json::json!({"wheel": wheel.display().to_string(), "error": error}))
                }
            }
        }
        serde_json::json!({"imported": imported, "not_imported": not_imported})
    }
}

/// Import one wheel file: its package, version, build and file rows in one transaction, and the
/// wheel copied to `simple/PACKAGE/FILENAME` before the rows commit (so a published row always
/// has its file); into a held version, to `.withheld/PACKAGE/FILENAME` (kept, not served, until
/// the version is released). Refuses a skipped package or version, and a filename imported
/// already.
pub async fn import_wheel(client: &mut Client, output: &OutputDir, wheel: &Path) -> Result<Imported> {
    let filename = wheel
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| Error::Import(format!("{}: not a file name", shown(&wheel.display().to_string()))))?
        .to_owned();
    let shown = shown(&filename);
    // Wheel filenames are ASCII (PEP 427); anything else here is a look-alike or worse.
    if !filename.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::Import(format!("{shown}: not a wheel filename (only printable ASCII without spaces)")));
    }
    let name = WheelName::parse(&filename)
        .ok_or_else(|| Error::Import(format!("{shown}: not a wheel filename (DIST-VERSION-PY-ABI-PLATFORM.whl)")))?;
    // The rows' constraints refuse these too, but name a constraint rather than the wheel.
    if !is_distribution_name(&name.distribution) {
        return Err(Error::Import(format!("{shown}: invalid package name {:?}", clip(&name.distribution))));
    }
    if name.version.len() > 200 {
        return Err(Error::Import(format!("{shown}: invalid version {:?}", clip(&name.version))));
    }
    let source = open_wheel(wheel, &shown)?;
    // Read and checked before any row is touched: a file that is not this wheel changes nothing.
    let (mut source, mut metadata) = off_the_runtime({
        let (distribution, version, file) = (name.distribution.clone(), name.version.clone(), shown.clone());
        move || {
            let mut source = source;
            let metadata = crate::wheel::read(&mut source, &distribution, &version)
                .map_err(|reason| Error::BadWheel { file: file.clone(), reason })?;
            source.rewind().map_err(|e| Error::io(format!("cannot read {file}"), e))?;
            Ok((source, metadata))
        }
    })
    .await?;
    let metadata_bytes = std::mem::take(&mut metadata.bytes);
    let requires_python = metadata.requires_python.as_deref();

    // READ COMMITTED whatever the server's default: the locks below are waited for, and what
    // committed meanwhile must then be seen.
    let transaction = client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::ReadCommitted).start().await?;
    let request = crate::request::current(&transaction).await?;
    // The package's row stays locked until we commit: importers of the same package take turns,
    // so no other importer writes this wheel's temporary file meanwhile.
    // Statements go unnamed, with their types (see admin.rs): fit for a transaction-mode pooler.
    let row = transaction
        .query_typed_one(
            // In the same statement: the project's own spelling of its name, as its latest wheel
            // gives it, and the wheel's Summary as the description of a package that has none
            // (an admin's stays).
            "WITH p AS (
                 INSERT INTO piw.packages AS old (package, display_name, description)
                 VALUES (piw.normalize_name($1), $2, coalesce($3, ''))
                 ON CONFLICT (package) DO UPDATE
                    SET display_name = excluded.display_name,
                        description = CASE WHEN old.description = '' THEN excluded.description ELSE old.description END
                 RETURNING package, skip)
             SELECT p.package, p.skip FROM p",
            &[(&name.distribution, Type::TEXT), (&metadata.name, Type::TEXT), (&metadata.summary, Type::TEXT)],
        )
        .await?;
    let package: String = row.try_get(0)?;
    let package_skip: String = row.try_get(1)?;
    if !package_skip.is_empty() {
        return Err(Error::Import(format!("package {package} is skipped ({package_skip})")));
    }
    // The version's row stays locked until we commit (the upsert's update locks it): a hold or
    // release waits for this import, or this import for it, so where the wheel goes below is
    // where the row says when we commit (a hold after the commit moves it, see place_wheel).
    let version = transaction
        .query_typed_one(
            "INSERT INTO piw.versions (package, version, released) VALUES ($1, $2, now())
             ON CONFLICT (package, version) DO UPDATE SET version = excluded.version
             RETURNING skip, held",
            &[(&package, Type::TEXT), (&name.version, Type::TEXT)],
        )
        .await?;
    let version_skip: String = version.try_get(0)?;
    let published = version.try_get::<_, String>(1)?.is_empty();
    if !version_skip.is_empty() {
        return Err(Error::Import(format!("version {} of package {package} is skipped ({version_skip})", name.version)));
    }
    // Until we commit, a listener must not take the wheel we are about to write for one whose
    // deletion is queued (the same file imported earlier and removed).
    crate::queue::lock_wheels_for_import(&transaction, &package).await?;
    // Copied under its temporary name (hashed on the way, a piece at a time: memory stays the
    // same whatever the wheel's size), published once its rows are in, before they commit: a
    // committed row always has its file.
    let relative = crate::site::layout::placed_wheel_path(&package, &filename, published)?;
    let (pending, size, hash) = off_the_runtime({
        let (output, relative, shown) = (output.clone(), relative.clone(), shown.clone());
        move || {
            let mut pending = output.create_pending(&relative)?;
            let (size, hash) = copy_hashing(&mut source, &mut pending).map_err(|e| Error::io(format!("cannot copy {shown}"), e))?;
            Ok((pending, size, hash))
        }
    })
    .await?;
    let size = i64::try_from(size).map_err(|_| Error::Import(format!("{shown}: too large")))?;
    // Its METADATA beside it (PEP 658), written the same way and published first: a published
    // wheel with a metadata hash always has its metadata file.
    let metadata_relative = crate::site::layout::placed_metadata_path(&package, &filename, published)?;
    let metadata_hash = hex::encode(Sha256::digest(&metadata_bytes));
    let pending_metadata = off_the_runtime({
        let (output, metadata_relative, shown) = (output.clone(), metadata_relative.clone(), shown.clone());
        move || {
            let mut pending = output.create_pending(&metadata_relative)?;
            pending.write_all(&metadata_bytes).map_err(|e| Error::io(format!("cannot write the metadata of {shown}"), e))?;
            Ok(pending)
        }
    })
    .await?;
    transaction
        .query_typed(
            "WITH b AS (
                 INSERT INTO piw.builds (package, version, abi_tag, status) VALUES ($1, $2, $3, true)
                 RETURNING build_id)
             INSERT INTO piw.files (filename, build_id, filesize, filehash, package_tag, package_version_tag,
                                    py_version_tag, abi_tag, platform_tag, requires_python, metadata_hash)
             SELECT $4, b.build_id, $5, $6, $7, $2, $8, $3, $9, $10, $11 FROM b",
            &[
                (&package, Type::TEXT),
                (&name.version, Type::TEXT),
                (&name.abi, Type::TEXT),
                (&filename, Type::TEXT),
                (&size, Type::INT8),
                (&hash, Type::TEXT),
                (&name.distribution, Type::TEXT),
                (&name.python, Type::TEXT),
                (&name.platform, Type::TEXT),
                (&requires_python, Type::TEXT),
                (&metadata_hash, Type::TEXT),
            ],
        )
        .await
        .map_err(|e| match e.code() {
            Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                Error::InvalidArgument { message: format!("{shown} is imported already"), source: e }
            }
            _ => Error::from(e),
        })?;
    // Should the wheel's publishing fail after its metadata's, the metadata file is an orphan
    // that the next reconciliation removes.
    off_the_runtime(move || {
        pending_metadata.publish()?;
        Ok(pending.publish()?)
    })
    .await?;
    if let Err(e) = transaction.commit().await {
        let error = Error::from(e);
        // A COMMIT whose answer was lost with the connection may have committed: then the rows
        // need the wheel. It stays; if the commit did not happen, the next reconciliation of the
        // tree (a full rebuild of the index) removes it.
        if !error.is_connection() {
            if let Err(leaving) = withdraw(client, output, &package, &filename, [&relative, &metadata_relative]).await {
                tracing::warn!("{shown}: left in place ({leaving}); the next reconciliation removes it");
            }
        }
        return Err(error);
    }
    Ok(Imported { package, version: name.version, filename, path: output.root().join(relative), request })
}

/// After a COMMIT that failed: the wheel put in place (and its metadata) has no row, unless another importer of the
/// same file has committed one since (our locks went with our transaction). Under the package's
/// wheels lock, exclusive, no importer is between writing a wheel and committing its rows: the
/// rows are looked at then, and the wheel removed only if none publishes it.
async fn withdraw(client: &mut Client, output: &OutputDir, package: &str, filename: &str, files: [&Path; 2]) -> Result<()> {
    let transaction = client.build_transaction().isolation_level(tokio_postgres::IsolationLevel::ReadCommitted).start().await?;
    transaction.query_typed("SELECT piw.lock_wheels($1, true)", &[(&package, Type::TEXT)]).await?;
    let published = transaction.query_typed_opt("SELECT 1 FROM piw.files WHERE filename = $1", &[(&filename, Type::TEXT)]).await?.is_some();
    if !published {
        let (output, files) = (output.clone(), files.map(Path::to_owned));
        off_the_runtime(move || {
            for file in files {
                output.remove_file(&file)?;
            }
            Ok(())
        })
        .await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// Blocking file work (reading, writing, syncing a wheel) on a thread for it, not on the
/// runtime's: a slow disk holds up nothing else the caller runs.
async fn off_the_runtime<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::TaskFailed(e.to_string()))?
}

/// A PEP 508 name as a wheel filename spells it (`-` is the separator there): ASCII letters and
/// digits with `.` and `_` inside, at most 200 characters.
fn is_distribution_name(name: &str) -> bool {
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    name.len() <= 200
        && alphanumeric(name.chars().next())
        && alphanumeric(name.chars().last())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
}

/// A filename fit for a one-line message: as it is, or escaped when it holds control, invisible
/// or direction-changing characters that would make a terminal show something else.
fn shown(filename: &str) -> String {
    let odd =
        |c: char| c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
    if filename.chars().any(odd) {
        format!("{filename:?}")
    } else {
        filename.to_owned()
    }
}

/// At most 60 characters of `text`, as the procedures show arguments.
fn clip(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Open the wheel to import: a regular file (a FIFO or a device named on the command line would
/// block or never end), opened without blocking.
fn open_wheel(path: &Path, shown_name: &str) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let context = || format!("cannot read {}", shown(&path.display().to_string()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| Error::io(context(), e))?;
    let metadata = file.metadata().map_err(|e| Error::io(context(), e))?;
    if !metadata.is_file() {
        return Err(Error::Import(format!("{shown_name}: not a regular file")));
    }
    Ok(file)
}

/// Copy `source` into `target` a piece at a time; its size and SHA-256 (hex).
fn copy_hashing(source: &mut impl Read, target: &mut impl std::io::Write) -> std::io::Result<(u64, String)> {
    let mut hashing = crate::hashing::HashingWriter::<_, Sha256>::new(target);
    let size = std::io::copy(source, &mut hashing)?;
    Ok((size, hex::encode(hashing.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn parses_wheel_filenames() -> TestResult {
        let name = WheelName::parse("Foo_Bar-1.0-1-cp311-cp311-linux_armv7l.whl").ok_or("not parsed")?;
        assert_eq!((name.distribution.as_str(), name.version.as_str(), name.abi.as_str()), ("Foo_Bar", "1.0", "cp311"));
        assert_eq!(WheelName::parse("foo-1.0-py3-none-any.whl").ok_or("not parsed")?.platform, "any");
        assert!(WheelName::parse("foo-1.0.tar.gz").is_none());
        assert!(WheelName::parse("foo-1.0-py3-any.whl").is_none());
        Ok(())
    }

    #[test]
    fn hostile_names_are_refused_and_shown_escaped() {
        assert!(is_distribution_name("Foo_Bar.baz") && is_distribution_name("x"));
        for bad in ["", "_x", "x.", "fl\u{430}sk", "a;b", "$(id)", ".hidden", &"a".repeat(201)] {
            assert!(!is_distribution_name(bad), "{bad:?}");
        }
        assert_eq!(shown("foo-1.0-py3-none-any.whl"), "foo-1.0-py3-none-any.whl");
        assert_eq!(shown("\u{1b}[31mx\u{202e}"), "\"\\u{1b}[31mx\\u{202e}\"");
    }
}
