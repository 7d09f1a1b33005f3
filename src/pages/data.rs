//! Rows → plain structs. Every page is rendered from one of these structs, whether the rows came
//! from a query for one package or from the streamed query over every package: both use the same
//! SQL (only the `WHERE` differs) and the same grouping code, so they produce the same bytes.
//!
//! Ordering on pages is byte order (`COLLATE "C"` on the server, `str` order here), so pages do
//! not depend on the database's locale. The project rows arrive grouped by package in whatever
//! order the packages' index keeps; each package's rows are put in order here.
//!
//! A *published* file is one whose build succeeded, whose version is not skipped and whose package
//! is not skipped: exactly the files the simple pages list.

use std::pin::pin;

use futures_util::{Stream, TryStreamExt};
use serde::Serialize;
use tokio_postgres::{types::Type, GenericClient, Row, RowStream, Statement};

use crate::error::Result;

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC, whatever the session's time zone.
macro_rules! utc {
    ($column:literal) => {
        concat!("to_char(", $column, " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    };
}

// ---------------------------------------------------------------------------------------------
// Home page and search index
// ---------------------------------------------------------------------------------------------

/// The home page's figures. Plain counts of each table (one scan each, no joins): the home page
/// is rebuilt after every removal, and these tables are the biggest.
#[derive(Debug, Clone, PartialEq)]
pub struct Home {
    /// Packages not skipped.
    pub packages: i64,
    /// Versions not skipped.
    pub versions: i64,
    /// Files (wheels) in the repository.
    pub files: i64,
    pub downloads_all: i64,
    pub downloads_30_days: i64,
    /// When the page was rendered (the server's clock), `YYYY-MM-DDTHH:MM:SSZ`.
    pub built_at: String,
}

pub(super) const HOME_SQL: &str = concat!(
    "SELECT (SELECT count(*) FROM piw.packages WHERE skip = ''),
            (SELECT count(*) FROM piw.versions WHERE skip = ''),
            (SELECT count(*) FROM piw.files),
            d.total, d.recent, ",
    utc!("now()"),
    "
       FROM (SELECT count(*) AS total,
                    count(*) FILTER (WHERE accessed_at > (SELECT now() - interval '30 days')) AS recent
               FROM piw.downloads) AS d"
);

pub async fn home(client: &impl GenericClient) -> Result<Home> {
    let row = client.query_typed(HOME_SQL, &[]).await?;
    let row = row.first().ok_or_else(|| no_row("home page figures"))?;
    Ok(Home {
        packages: row.try_get(0)?,
        versions: row.try_get(1)?,
        files: row.try_get(2)?,
        downloads_all: row.try_get(3)?,
        downloads_30_days: row.try_get(4)?,
        built_at: row.try_get(5)?,
    })
}

/// One entry of the search index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchEntry(pub String, pub i64, pub i64);

/// Downloads are counted through `piw.files`: a download is a package's when its file is.
///
/// The 30 days' threshold is a subquery (computed once): `now() - interval` in the filter itself
/// is worked out again for every download, half of the home page's query.
pub(super) const SEARCH_SQL: &str = "
    SELECT p.package, coalesce(d.recent, 0), coalesce(d.total, 0)
      FROM piw.packages p
      LEFT JOIN (SELECT b.package,
                        count(*) FILTER (WHERE dl.accessed_at > (SELECT now() - interval '30 days')) AS recent,
                        count(*) AS total
                   FROM piw.downloads dl
                   JOIN piw.files f ON f.filename = dl.filename
                   JOIN piw.builds b ON b.build_id = f.build_id
                  GROUP BY b.package) d ON d.package = p.package
     WHERE p.skip = ''
     ORDER BY p.package COLLATE \"C\"";

/// `[package, downloads in the last 30 days, downloads ever]` for every package not skipped, in
/// order, handed to `each` as the rows arrive (no list of them is kept).
pub async fn search(client: &impl GenericClient, mut each: impl FnMut(SearchEntry) -> Result<()>) -> Result<()> {
    let mut rows = pin!(client.query_typed_raw(SEARCH_SQL, no_params()).await?);
    while let Some(row) = rows.try_next().await? {
        each(SearchEntry(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))?;
    }
    Ok(())
}

pub(super) const SIMPLE_ROOT_SQL: &str = "SELECT package FROM piw.packages WHERE skip = '' ORDER BY package COLLATE \"C\"";

/// Every package not skipped, sorted, handed to `each` as the rows arrive.
pub async fn simple_root(client: &impl GenericClient, mut each: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut rows = pin!(client.query_typed_raw(SIMPLE_ROOT_SQL, no_params()).await?);
    while let Some(row) = rows.try_next().await? {
        each(row.try_get(0)?)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Simple pages
// ---------------------------------------------------------------------------------------------

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

/// One line of a simple page, borrowed from a [`SimplePage`] or a [`Project`]: the simple page
/// of a package whose project data is at hand is rendered from it without copying its files.
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

impl Project {
    /// The name to show people: the project's own spelling when known, else the package.
    pub fn shown_name(&self) -> &str {
        if self.display_name.is_empty() {
            &self.package
        } else {
            &self.display_name
        }
    }

    /// The lines of the package's simple page, by filename: a project lists exactly the
    /// published files (see [`project_sql`]), so a full rebuild of both kinds of page needs one
    /// query, not two.
    pub fn simple_links(&self) -> Vec<SimpleLink<'_>> {
        let mut links: Vec<SimpleLink<'_>> = self
            .releases
            .iter()
            .flat_map(|release| {
                release.files.iter().map(|file| SimpleLink {
                    filename: &file.filename,
                    filehash: &file.filehash,
                    requires_python: file.requires_python.as_deref(),
                    yanked: release.yanked,
                    yank_reason: &release.yank_reason,
                    metadata_hash: file.metadata_hash.as_deref(),
                    version: &release.version,
                    filesize: file.filesize,
                    uploaded: &file.uploaded,
                })
            })
            .collect();
        // Filenames are unique: an unstable sort is deterministic.
        links.sort_unstable_by(|a, b| a.filename.cmp(b.filename));
        links
    }
}

/// One row per published file, or one row with null file columns for a package without any
/// (a skipped package never has any).
macro_rules! simple_sql {
    ($filter:literal) => {
        concat!(
            "SELECT p.package, f.filename, f.filehash::text, f.requires_python, v.yanked, f.metadata_hash::text,
                    v.version, f.filesize, b.built_at, v.yank_reason
               FROM piw.packages p
               LEFT JOIN (piw.versions v
                          JOIN piw.builds b ON b.package = v.package AND b.version = v.version AND b.status
                          JOIN piw.files f ON f.build_id = b.build_id)
                 ON v.package = p.package AND v.skip = '' AND p.skip = ''
              WHERE ",
            $filter,
            " ORDER BY p.package COLLATE \"C\""
        )
    };
}

pub(super) const SIMPLE_ONE_SQL: &str = simple_sql!("p.package = $1");
pub(super) const SIMPLE_ALL_SQL: &str = simple_sql!("true");

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

/// Groups a stream of rows into one item per package.
trait Grouper: Send + 'static {
    type Item: Send + 'static;
    /// Take one row; returns the previous package's item when this row starts a new package.
    fn push_row(&mut self, row: &Row) -> Result<Option<Self::Item>>;
    fn finish_rows(self) -> Option<Self::Item>;
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

impl Grouper for ProjectGrouper {
    type Item = Project;
    fn push_row(&mut self, row: &Row) -> Result<Option<Project>> {
        self.push(row)
    }
    fn finish_rows(self) -> Option<Project> {
        self.finish()
    }
}

fn grouped<G: Grouper>(rows: RowStream, grouper: G) -> impl Stream<Item = Result<G::Item>> + Send + 'static {
    futures_util::stream::try_unfold((Box::pin(rows), Some(grouper)), |(mut rows, mut grouper)| async move {
        let Some(current) = grouper.as_mut() else {
            return Ok(None);
        };
        while let Some(row) = rows.try_next().await? {
            if let Some(item) = current.push_row(&row)? {
                return Ok(Some((item, (rows, grouper))));
            }
        }
        Ok(grouper.take().and_then(G::finish_rows).map(|item| (item, (rows, None))))
    })
}

// ---------------------------------------------------------------------------------------------
// Project pages
// ---------------------------------------------------------------------------------------------

/// What `project/PACKAGE/index.html` and `project/PACKAGE/json/index.json` show.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub package: String,
    /// The project's own spelling of its name (`Jinja2`); `""` when unknown.
    pub display_name: String,
    /// Why the package is skipped; `""` when it is not.
    pub skip: String,
    pub description: String,
    /// Newest first: by PEP 440 version (see `newest_first`).
    pub releases: Vec<Release>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub version: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`, if known.
    pub released: Option<String>,
    /// Why the version is skipped; `""` when it is not.
    pub skip: String,
    pub yanked: bool,
    /// Why it is yanked; `""` for no stated reason (or not yanked).
    pub yank_reason: String,
    /// Every build attempt, by ABI, then by time.
    pub builds: Vec<Build>,
    /// Published files, by filename.
    pub files: Vec<File>,
}

impl Release {
    /// When the version was released, if known (an empty time counts as unknown).
    pub fn release_time(&self) -> Option<&str> {
        self.released.as_deref().filter(|released| !released.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// Orders builds of the same ABI and time; not published.
    pub build_id: i64,
    pub abi_tag: String,
    /// Whether the build succeeded.
    pub status: bool,
    pub duration_seconds: f64,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub built_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub filename: String,
    pub filesize: i64,
    pub filehash: String,
    pub abi_tag: String,
    pub platform_tag: String,
    pub requires_python: Option<String>,
    /// Sorted.
    pub apt_dependencies: Vec<String>,
    /// sha256 (hex) of `FILENAME.metadata` (PEP 658), when the wheel's metadata is served.
    pub metadata_hash: Option<String>,
    /// When its build was recorded, `YYYY-MM-DDTHH:MM:SSZ`; empty when unknown.
    pub uploaded: String,
}

/// Column positions of [`project_sql`].
mod col {
    pub const PACKAGE: usize = 0;
    pub const PACKAGE_SKIP: usize = 1;
    pub const DESCRIPTION: usize = 2;
    pub const DISPLAY_NAME: usize = 3;
    pub const VERSION: usize = 4;
    pub const VERSION_SKIP: usize = 5;
    pub const RELEASED: usize = 6;
    pub const YANKED: usize = 7;
    pub const BUILD_ID: usize = 8;
    pub const BUILD_ABI_TAG: usize = 9;
    pub const STATUS: usize = 10;
    pub const DURATION: usize = 11;
    pub const BUILT_AT: usize = 12;
    pub const FILENAME: usize = 13;
    pub const FILESIZE: usize = 14;
    pub const FILEHASH: usize = 15;
    pub const FILE_ABI_TAG: usize = 16;
    pub const PLATFORM_TAG: usize = 17;
    pub const REQUIRES_PYTHON: usize = 18;
    pub const DEPENDENCY: usize = 19;
    pub const METADATA_HASH: usize = 20;
    pub const YANK_REASON: usize = 21;
}

/// One row per package, version, build, published file and apt dependency down one chain of left
/// joins: a package without versions is one row of nulls after its own columns, a file with two
/// dependencies two rows. One join rather than a union of one query per table: each table is read
/// once and the dependencies need no second join back up to their package.
///
/// The rows of a package are looked up per package (a `LATERAL` subquery, kept apart from the
/// outer query by `OFFSET 0`) along the packages' primary key, so they come out grouped without a
/// sort, and the first package arrives at once: a full rebuild renders while the server is still
/// reading (a join of whole tables would hash them and sort every row before the first one came
/// out, ~40% of small's rebuild). The order is the column's own collation, the one its index
/// keeps; the pages do not depend on it ([`ProjectRows`] puts each package's rows in order).
macro_rules! project_sql {
    ($filter:literal) => {
        concat!(
            "SELECT p.package, p.skip, p.description, p.display_name, r.*
               FROM piw.packages p
               LEFT JOIN LATERAL (
                    SELECT v.version, v.skip, v.released, v.yanked,
                           b.build_id, b.abi_tag, b.status, date_part('epoch', b.duration), b.built_at,
                           f.filename, f.filesize, f.filehash::text, f.abi_tag, f.platform_tag, f.requires_python,
                           d.dependency, f.metadata_hash::text, v.yank_reason
                      FROM piw.versions v
                      LEFT JOIN piw.builds b ON b.package = v.package AND b.version = v.version
                      LEFT JOIN piw.files f ON f.build_id = b.build_id AND b.status AND v.skip = '' AND p.skip = ''
                      LEFT JOIN piw.dependencies d ON d.filename = f.filename AND d.tool = 'apt'
                     WHERE v.package = p.package
                    OFFSET 0) AS r ON true
              WHERE ",
            $filter,
            "
              ORDER BY p.package"
        )
    };
}

pub(super) const PROJECT_ONE_SQL: &str = project_sql!("p.package = $1");
pub(super) const PROJECT_ALL_SQL: &str = project_sql!("true");

/// Collects the rows of [`project_sql`] of one package at a time, in whatever order they come.
#[derive(Default)]
struct ProjectGrouper {
    current: Option<ProjectRows>,
}

/// The rows of one package, before they are put in order. The joins repeat a version on each of
/// its builds' rows, a build on each of its files' and a file on each of its dependencies': a
/// value equal to the one taken last is passed over as it arrives (rows of one version, build or
/// file usually come together), and [`ProjectRows::assemble`] drops the repeats that remain.
struct ProjectRows {
    package: String,
    /// `(skip, description, display_name)`.
    head: (String, String, String),
    releases: Vec<Release>,
    builds: Vec<(String, Build)>,
    files: Vec<(String, File)>,
    /// `(filename, dependency)`.
    dependencies: Vec<(String, String)>,
}

impl ProjectGrouper {
    /// Take one row; returns the previous package's project when this row starts a new package.
    fn push(&mut self, row: &Row) -> Result<Option<Project>> {
        let package: &str = row.try_get(col::PACKAGE)?;
        let finished = match &self.current {
            Some(rows) if rows.package == package => None,
            _ => {
                let head = (row.try_get(col::PACKAGE_SKIP)?, row.try_get(col::DESCRIPTION)?, row.try_get(col::DISPLAY_NAME)?);
                self.current.replace(ProjectRows::new(package, head)).map(ProjectRows::assemble)
            }
        };
        if let Some(rows) = &mut self.current {
            rows.push(row)?;
        }
        Ok(finished)
    }

    fn finish(self) -> Option<Project> {
        self.current.map(ProjectRows::assemble)
    }
}

impl ProjectRows {
    fn new(package: &str, head: (String, String, String)) -> Self {
        ProjectRows {
            package: package.to_owned(),
            head,
            releases: Vec::new(),
            builds: Vec::new(),
            files: Vec::new(),
            dependencies: Vec::new(),
        }
    }

    fn push(&mut self, row: &Row) -> Result<()> {
        let Some(version) = row.try_get::<_, Option<&str>>(col::VERSION)? else {
            return Ok(());
        };
        if self.releases.last().is_none_or(|last| last.version != version) {
            self.releases.push(Release {
                version: version.to_owned(),
                released: row.try_get::<_, Option<Timestamp>>(col::RELEASED)?.and_then(Timestamp::utc_text),
                skip: row.try_get(col::VERSION_SKIP)?,
                yanked: row.try_get(col::YANKED)?,
                yank_reason: row.try_get(col::YANK_REASON)?,
                builds: Vec::new(),
                files: Vec::new(),
            });
        }
        let Some(build_id) = row.try_get::<_, Option<i64>>(col::BUILD_ID)? else {
            return Ok(());
        };
        if self.builds.last().is_none_or(|(_, last)| last.build_id != build_id) {
            self.builds.push((
                version.to_owned(),
                Build {
                    build_id,
                    abi_tag: row.try_get(col::BUILD_ABI_TAG)?,
                    status: row.try_get(col::STATUS)?,
                    duration_seconds: row.try_get(col::DURATION)?,
                    // to_char's null for an infinite time would have failed the page.
                    built_at: row.try_get::<_, Timestamp>(col::BUILT_AT)?.utc_text().unwrap_or_default(),
                },
            ));
        }
        let Some(filename) = row.try_get::<_, Option<&str>>(col::FILENAME)? else {
            return Ok(());
        };
        if self.files.last().is_none_or(|(_, last)| last.filename != filename) {
            self.files.push((
                version.to_owned(),
                File {
                    filename: filename.to_owned(),
                    filesize: row.try_get(col::FILESIZE)?,
                    filehash: row.try_get(col::FILEHASH)?,
                    abi_tag: row.try_get(col::FILE_ABI_TAG)?,
                    platform_tag: row.try_get(col::PLATFORM_TAG)?,
                    requires_python: row.try_get(col::REQUIRES_PYTHON)?,
                    apt_dependencies: Vec::new(),
                    metadata_hash: row.try_get(col::METADATA_HASH)?,
                    uploaded: row.try_get::<_, Timestamp>(col::BUILT_AT)?.utc_text().unwrap_or_default(),
                },
            ));
        }
        if let Some(dependency) = row.try_get::<_, Option<String>>(col::DEPENDENCY)? {
            self.dependencies.push((filename.to_owned(), dependency));
        }
        Ok(())
    }

    /// Everything in its place and order, each version, build, file and dependency once.
    ///
    /// Every sort key below is unique once the repeats are gone (version; build id; filename;
    /// filename and dependency), so unstable sorts give one order whatever order the rows came in.
    fn assemble(self) -> Project {
        let ProjectRows { package, head: (skip, description, display_name), mut releases, mut builds, mut files, mut dependencies } = self;
        releases.sort_unstable_by(|a, b| a.version.cmp(&b.version));
        releases.dedup_by(|a, b| a.version == b.version);
        builds
            .sort_unstable_by(|(va, a), (vb, b)| (va, &a.abi_tag, &a.built_at, a.build_id).cmp(&(vb, &b.abi_tag, &b.built_at, b.build_id)));
        builds.dedup_by(|(_, a), (_, b)| a.build_id == b.build_id);
        files.sort_unstable_by(|(va, a), (vb, b)| (va, &a.filename).cmp(&(vb, &b.filename)));
        files.dedup_by(|(_, a), (_, b)| a.filename == b.filename);
        dependencies.sort_unstable();
        dependencies.dedup();
        let mut dependencies = dependencies.into_iter().peekable();
        // Files are in version order, not filename order: look each one's dependencies up.
        let mut by_filename: Vec<(String, Vec<String>)> = Vec::new();
        while let Some((filename, dependency)) = dependencies.next() {
            let mut list = vec![dependency];
            while let Some((_, next)) = dependencies.next_if(|(f, _)| *f == filename) {
                list.push(next);
            }
            by_filename.push((filename, list));
        }
        for (version, build) in builds {
            if let Some(release) = find_by(&mut releases, &version, |r| &r.version) {
                release.builds.push(build);
            }
        }
        for (version, mut file) in files {
            if let Ok(i) = by_filename.binary_search_by(|(f, _)| f.as_str().cmp(&file.filename)) {
                file.apt_dependencies = std::mem::take(&mut by_filename[i].1);
            }
            if let Some(release) = find_by(&mut releases, &version, |r| &r.version) {
                release.files.push(file);
            }
        }
        Project { package, display_name, skip, description, releases: newest_first(releases) }
    }
}

/// Releases newest first by PEP 440 (1.17.0 above 1.9.0, whenever each was imported); versions
/// that are not PEP 440 after them, by text. Equal versions spelt apart (`1.0`, `1.0.0`) by text:
/// the same rows always give the same order.
pub(super) fn newest_first(releases: Vec<Release>) -> Vec<Release> {
    use std::cmp::Ordering;
    let mut keyed: Vec<(Option<pep440_rs::Version>, Release)> =
        releases.into_iter().map(|release| (release.version.parse::<pep440_rs::Version>().ok(), release)).collect();
    keyed.sort_unstable_by(|(va, a), (vb, b)| {
        let by_version = match (va, vb) {
            (Some(va), Some(vb)) => vb.cmp(va),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_version.then_with(|| b.version.cmp(&a.version))
    });
    keyed.into_iter().map(|(_, release)| release).collect()
}

/// A `timestamptz` as the server sends it in binary: microseconds since 2000-01-01 00:00:00 UTC,
/// the largest and smallest values standing for `infinity` and `-infinity`. Formatted here, not by
/// `to_char` on the server: a full rebuild formats one per version and build, and the server's
/// `to_char` was a tenth of its query's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ`, exactly what [`utc!`] (`to_char(t AT TIME ZONE 'UTC',
    /// 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`) makes of the same value: seconds truncated, years BC
    /// without a sign (1 BC is `0001`), years past 9999 with all their digits; `None` for the
    /// infinities, for which `to_char` gives null.
    pub fn utc_text(self) -> Option<String> {
        if self.0 == i64::MAX || self.0 == i64::MIN {
            return None;
        }
        let seconds = self.0.div_euclid(1_000_000);
        let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        // 2000-01-01 is day 10,957 of the Unix epoch.
        let (year, month, day) = civil_from_days(days + 10_957);
        let year = if year <= 0 { 1 - year } else { year };
        let (hour, minute, second) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
        if year > 9999 {
            return Some(format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"));
        }
        // Digit by digit: `format!` was a tenth of a full rebuild's rendering (one per version and
        // build). Every value is in range here: year 0..=9999, the others two digits.
        let mut text = *b"0000-00-00T00:00:00Z";
        let digits = |at: &mut [u8], mut value: i64| {
            for slot in at.iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        digits(&mut text[0..4], year);
        digits(&mut text[5..7], month);
        digits(&mut text[8..10], day);
        digits(&mut text[11..13], hour);
        digits(&mut text[14..16], minute);
        digits(&mut text[17..19], second);
        // ASCII digits and separators only.
        Some(text.iter().map(|&b| char::from(b)).collect())
    }
}

impl<'a> tokio_postgres::types::FromSql<'a> for Timestamp {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Timestamp(i64::from_be_bytes(raw.try_into()?)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (year 0 is 1 BC), as the
/// server's calendar has it. Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The element whose key is `key` in a slice sorted by key.
fn find_by<'a, T>(items: &'a mut [T], key: &str, key_of: impl Fn(&T) -> &String) -> Option<&'a mut T> {
    let index = items.binary_search_by(|item| key_of(item).as_str().cmp(key)).ok()?;
    items.get_mut(index)
}

/// The project data of one package; `None` when the package does not exist.
pub async fn project(client: &impl GenericClient, package: &str) -> Result<Option<Project>> {
    project_from(client.query_typed_raw(PROJECT_ONE_SQL, [(package, Type::TEXT)]).await?).await
}

/// [`project`] through `statement`, prepared from [`PROJECT_ONE_SQL`] on this connection.
pub async fn project_prepared(client: &impl GenericClient, statement: &Statement, package: &str) -> Result<Option<Project>> {
    project_from(client.query_raw(statement, [package]).await?).await
}

async fn project_from(rows: RowStream) -> Result<Option<Project>> {
    let mut rows = pin!(rows);
    let mut grouper = ProjectGrouper::default();
    while let Some(row) = rows.try_next().await? {
        grouper.push(&row)?;
    }
    Ok(grouper.finish())
}

/// Every package's project data, in package order, as the rows arrive (see [`all_simple`]).
pub async fn all_project(client: &impl GenericClient) -> Result<impl Stream<Item = Result<Project>> + Send + 'static> {
    Ok(grouped(client.query_typed_raw(PROJECT_ALL_SQL, no_params()).await?, ProjectGrouper::default()))
}

fn no_params() -> [(&'static str, Type); 0] {
    []
}

fn no_row(what: &str) -> crate::Error {
    crate::Error::io(what, std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the query returned no row"))
}
