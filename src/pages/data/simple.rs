//! Simple pages (`simple/PACKAGE/`): the published files of each package.

use std::pin::pin;

use futures_util::{Stream, TryStreamExt};
use tokio_postgres::{types::Type, GenericClient, Row, RowStream, Statement};

use super::{grouped, no_params, Grouper, Timestamp};
use crate::error::Result;

/// What `simple/PACKAGE/index.html` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimplePage {
    pub package: String,
    /// Published files, by filename.
    pub files: Vec<SimpleFile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleFile {
    pub filename: String,
    /// sha256, lower-case hex.
    pub filehash: String,
    pub requires_python: Option<String>,
    pub yanked: bool,
    /// Why the version is yanked; `""` for no stated reason (or not yanked).
    pub yank_reason: String,
    /// sha256 (hex) of `FILENAME.metadata` (PEP 658), when the wheel's metadata is served.
    pub metadata_hash: Option<String>,
    /// The version the file is of (PEP 700's `versions` lists them).
    pub version: String,
    /// Bytes (PEP 700 `size`).
    pub filesize: i64,
    /// When its build was recorded (the import, for an imported wheel), `YYYY-MM-DDTHH:MM:SSZ`
    /// (PEP 700 `upload-time`); empty when unknown.
    pub uploaded: String,
}

/// One line of a simple page, borrowed from a [`SimplePage`] or a [`Project`](super::Project):
/// the simple page of a package whose project data is at hand is rendered from it without copying
/// its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleLink<'a> {
    pub filename: &'a str,
    pub filehash: &'a str,
    pub requires_python: Option<&'a str>,
    pub yanked: bool,
    pub yank_reason: &'a str,
    pub metadata_hash: Option<&'a str>,
    pub version: &'a str,
    pub filesize: i64,
    pub uploaded: &'a str,
}

impl SimplePage {
    /// The page's lines, by filename (as its files are).
    pub fn links(&self) -> Vec<SimpleLink<'_>> {
        self.files
            .iter()
            .map(|file| SimpleLink {
                filename: &file.filename,
                filehash: &file.filehash,
                requires_python: file.requires_python.as_deref(),
                yanked: file.yanked,
                yank_reason: &file.yank_reason,
                metadata_hash: file.metadata_hash.as_deref(),
                version: &file.version,
                filesize: file.filesize,
                uploaded: &file.uploaded,
            })
            .collect()
    }
}

/// One row per published file, or one row with null file columns for a package without any
/// (a skipped package never has any; a held version's files are withheld: not published).
macro_rules! simple_sql {
    ($filter:literal) => {
        concat!(
            "SELECT p.package, f.filename, f.filehash::text, f.requires_python, v.yanked, f.metadata_hash::text,
                    v.version, f.filesize, b.built_at, v.yank_reason
               FROM piw.packages p
               LEFT JOIN (piw.versions v
                          JOIN piw.builds b ON b.package = v.package AND b.version = v.version AND b.status
                          JOIN piw.files f ON f.build_id = b.build_id)
                 ON v.package = p.package AND v.skip = '' AND v.held = '' AND p.skip = ''
              WHERE ",
            $filter,
            " ORDER BY p.package COLLATE \"C\""
        )
    };
}

pub(in crate::pages) const SIMPLE_ONE_SQL: &str = simple_sql!("p.package = $1");
const SIMPLE_ALL_SQL: &str = simple_sql!("true");

/// Groups the rows of [`simple_sql`] into pages as they arrive. The server only groups rows by
/// package (sorting on one key is what a full rebuild's query spends most of its time on); the
/// files of a package are sorted here.
#[derive(Default)]
struct SimpleGrouper {
    current: Option<SimplePage>,
}

impl SimpleGrouper {
    /// Take one row; returns the previous package's page when this row starts a new package.
    fn push(&mut self, row: &Row) -> Result<Option<SimplePage>> {
        let package: &str = row.try_get(0)?;
        let finished = match &self.current {
            Some(page) if page.package == package => None,
            _ => self.current.replace(SimplePage { package: package.to_owned(), files: Vec::new() }).map(finish_simple),
        };
        if let (Some(page), Some(filename)) = (&mut self.current, row.try_get::<_, Option<String>>(1)?) {
            page.files.push(SimpleFile {
                filename,
                filehash: row.try_get(2)?,
                requires_python: row.try_get(3)?,
                yanked: row.try_get(4)?,
                metadata_hash: row.try_get(5)?,
                version: row.try_get(6)?,
                filesize: row.try_get(7)?,
                uploaded: row.try_get::<_, Timestamp>(8)?.utc_text().unwrap_or_default(),
                yank_reason: row.try_get(9)?,
            });
        }
        Ok(finished)
    }

    fn finish(self) -> Option<SimplePage> {
        self.current.map(finish_simple)
    }
}

impl Grouper for SimpleGrouper {
    type Item = SimplePage;
    fn push_row(&mut self, row: &Row) -> Result<Option<SimplePage>> {
        self.push(row)
    }
    fn finish_rows(self) -> Option<SimplePage> {
        self.finish()
    }
}

fn finish_simple(mut page: SimplePage) -> SimplePage {
    // Filenames are unique: an unstable sort is deterministic.
    page.files.sort_unstable_by(|a, b| a.filename.cmp(&b.filename));
    page
}

/// The simple page of one package; `None` when the package does not exist.
pub async fn simple(client: &impl GenericClient, package: &str) -> Result<Option<SimplePage>> {
    simple_from(client.query_typed_raw(SIMPLE_ONE_SQL, [(package, Type::TEXT)]).await?).await
}

/// [`simple`] through `statement`, prepared from [`SIMPLE_ONE_SQL`] on this connection.
pub async fn simple_prepared(client: &impl GenericClient, statement: &Statement, package: &str) -> Result<Option<SimplePage>> {
    simple_from(client.query_raw(statement, [package]).await?).await
}

async fn simple_from(rows: RowStream) -> Result<Option<SimplePage>> {
    let mut rows = pin!(rows);
    let mut grouper = SimpleGrouper::default();
    while let Some(row) = rows.try_next().await? {
        grouper.push(&row)?;
    }
    Ok(grouper.finish())
}

/// Every package's simple page, in package order, as the rows arrive: one package at a time is
/// held here, and the stream needs no borrow of the client once the query is sent.
pub async fn all_simple(client: &impl GenericClient) -> Result<impl Stream<Item = Result<SimplePage>> + Send + 'static> {
    Ok(grouped(client.query_typed_raw(SIMPLE_ALL_SQL, no_params()).await?, SimpleGrouper::default()))
}
