//! Project pages (`project/PACKAGE/`): every version, build, published file and apt dependency of
//! each package.

use std::pin::pin;

use futures_util::{Stream, TryStreamExt};
use tokio_postgres::{types::Type, GenericClient, Row, RowStream, Statement};

use super::{grouped, no_params, Grouper, SimpleLink, Timestamp};
use crate::error::Result;

/// What `project/PACKAGE/index.html` and `project/PACKAGE/json/index.json` show.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub package: String,
    /// The project's own spelling of its name (`Jinja2`); `""` when unknown.
    pub display_name: String,
    /// Where the site is served (`piw.site`), for the install line; `""` when unknown.
    pub site_url: String,
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
    /// Why the version is held (`piw.hold_version`): its files are withheld; `""` when it is not.
    pub held: String,
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

/// Column positions of [`project_sql`].
mod col {
    pub const PACKAGE: usize = 0;
    pub const PACKAGE_SKIP: usize = 1;
    pub const DESCRIPTION: usize = 2;
    pub const DISPLAY_NAME: usize = 3;
    pub const SITE_URL: usize = 4;
    pub const VERSION: usize = 5;
    pub const VERSION_SKIP: usize = 6;
    pub const RELEASED: usize = 7;
    pub const YANKED: usize = 8;
    pub const BUILD_ID: usize = 9;
    pub const BUILD_ABI_TAG: usize = 10;
    pub const STATUS: usize = 11;
    pub const DURATION: usize = 12;
    pub const BUILT_AT: usize = 13;
    pub const FILENAME: usize = 14;
    pub const FILESIZE: usize = 15;
    pub const FILEHASH: usize = 16;
    pub const FILE_ABI_TAG: usize = 17;
    pub const PLATFORM_TAG: usize = 18;
    pub const REQUIRES_PYTHON: usize = 19;
    pub const DEPENDENCY: usize = 20;
    pub const METADATA_HASH: usize = 21;
    pub const YANK_REASON: usize = 22;
    pub const HELD: usize = 23;
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
            "SELECT p.package, p.skip, p.description, p.display_name, (SELECT s.url FROM piw.site s), r.*
               FROM piw.packages p
               LEFT JOIN LATERAL (
                    SELECT v.version, v.skip, v.released, v.yanked,
                           b.build_id, b.abi_tag, b.status, date_part('epoch', b.duration), b.built_at,
                           f.filename, f.filesize, f.filehash::text, f.abi_tag, f.platform_tag, f.requires_python,
                           d.dependency, f.metadata_hash::text, v.yank_reason, v.held
                      FROM piw.versions v
                      LEFT JOIN piw.builds b ON b.package = v.package AND b.version = v.version
                      LEFT JOIN piw.files f ON f.build_id = b.build_id AND b.status AND v.skip = '' AND v.held = '' AND p.skip = ''
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

pub(in crate::pages) const PROJECT_ONE_SQL: &str = project_sql!("p.package = $1");
pub(in crate::pages) const PROJECT_ALL_SQL: &str = project_sql!("true");

/// Collects the rows of [`project_sql`] of one package at a time, in whatever order they come.
#[derive(Default)]
struct ProjectGrouper {
    current: Option<ProjectRows>,
}

/// What a package's rows say of the package itself (the same on each of its rows).
struct Head {
    skip: String,
    description: String,
    display_name: String,
    site_url: String,
}

/// The rows of one package, before they are put in order. The joins repeat a version on each of
/// its builds' rows, a build on each of its files' and a file on each of its dependencies': a
/// value equal to the one taken last is passed over as it arrives (rows of one version, build or
/// file usually come together), and [`ProjectRows::assemble`] drops the repeats that remain.
struct ProjectRows {
    package: String,
    head: Head,
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
                let head = Head {
                    skip: row.try_get(col::PACKAGE_SKIP)?,
                    description: row.try_get(col::DESCRIPTION)?,
                    display_name: row.try_get(col::DISPLAY_NAME)?,
                    site_url: row.try_get::<_, Option<String>>(col::SITE_URL)?.unwrap_or_default(),
                };
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

impl Grouper for ProjectGrouper {
    type Item = Project;
    fn push_row(&mut self, row: &Row) -> Result<Option<Project>> {
        self.push(row)
    }
    fn finish_rows(self) -> Option<Project> {
        self.finish()
    }
}

impl ProjectRows {
    fn new(package: &str, head: Head) -> Self {
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
                held: row.try_get(col::HELD)?,
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
        let ProjectRows {
            package,
            head: Head { skip, description, display_name, site_url },
            mut releases,
            mut builds,
            mut files,
            mut dependencies,
        } = self;
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
        Project { package, display_name, site_url, skip, description, releases: newest_first(releases) }
    }
}

/// Releases newest first by PEP 440 (1.17.0 above 1.9.0, whenever each was imported); versions
/// that are not PEP 440 after them, by text. Equal versions spelt apart (`1.0`, `1.0.0`) by text:
/// the same rows always give the same order.
pub(in crate::pages) fn newest_first(releases: Vec<Release>) -> Vec<Release> {
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

/// Every package's project data, in package order, as the rows arrive (see
/// [`all_simple`](super::all_simple)).
pub async fn all_project(client: &impl GenericClient) -> Result<impl Stream<Item = Result<Project>> + Send + 'static> {
    Ok(grouped(client.query_typed_raw(PROJECT_ALL_SQL, no_params()).await?, ProjectGrouper::default()))
}
