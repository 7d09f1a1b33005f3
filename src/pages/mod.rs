//! The published website, rendered from the database: home page, search index, PEP 503 simple
//! pages and project pages. This module only reads rows and produces bytes; writing them to disk
//! (atomically, inside the output path) is the listener's job.
//!
//! INTERFACE CONTRACT (used by src/listener/): keep these signatures.
//!
//! # Determinism
//!
//! The same rows always render to the same bytes, with one exception: the home page's time of
//! building. It is on a line of its own, the only line of `index.html` starting with
//! [`HOME_BUILT_LINE_PREFIX`], so a checker can mask it.
//!
//! # Pages
//!
//! | path | content |
//! |---|---|
//! | `index.html` | counts of packages and versions not skipped, files, downloads (all time, 30 days); time built |
//! | `packages.json` | `[["package", downloads_30_days, downloads_all], ...]` for packages not skipped, sorted |
//! | `simple/index.html` | PEP 503 root: `<a href="PACKAGE/">PACKAGE</a>` per package not skipped, sorted |
//! | `simple/index.json` | the same as PEP 691 JSON (`meta.api-version` 1.1, `projects`) |
//! | `simple/PACKAGE/index.html` | PEP 503: `<a href="FILENAME#sha256=HASH"[ data-requires-python="..."][ data-yanked=""]>FILENAME</a>` per published file, by filename |
//! | `simple/PACKAGE/index.json` | the same files as PEP 691 JSON with PEP 700's fields (shape in `json.rs`) |
//! | `project/PACKAGE/index.html` | description, skip notice, `pip install`, releases newest first (by release date, then version) with their builds and published files, held and skipped ones marked |
//! | `project/PACKAGE/json/index.json` | the same data as JSON (shape documented in `json.rs`) |
//!
//! A *published* file's build succeeded, neither its version nor its package is skipped, and its
//! version is not held (the others' wheels are withheld, outside the served tree).
//! Sorting is by byte order, whatever the database's locale. Hrefs to files percent-encode every
//! byte but `A-Z a-z 0-9 - . _ ~` (so `+` is `%2B`); the link text is the filename, HTML-escaped.
//!
//! Modules: `data` (queries → plain structs, shared by the one-package and every-package paths),
//! `html` (the HTML pages: askama templates in `templates/`), `filters` (sizes, durations, times
//! and hrefs as the pages print them), `json` (the JSON documents, by serde).

mod data;
mod filters;
mod html;
mod json;

use std::{path::PathBuf, pin::pin};

use futures_util::{Stream, TryStreamExt};

use tokio_postgres::{GenericClient, Statement};

use crate::{error::Result, site::layout};

pub use data::{Build, File, Home, Project, Release, SearchEntry, SimpleFile, SimpleLink, SimplePage, Timestamp};

/// The line of `index.html` that holds the time it was built starts with this (after any
/// indentation); no other line of any page varies between renders of the same rows.
pub const HOME_BUILT_LINE_PREFIX: &str = "<p id=\"built\">";

/// The queries a full rebuild runs, by the page they feed: every package's simple and project
/// pages (one query: the listener writes both from the project rows when it claims `simple_all`
/// and `project_all` together), the simple root, the home page and the search index. For
/// measuring: the benchmark streams them with `COPY` as the floor of a full rebuild.
pub const FULL_REBUILD_QUERIES: [(&str, &str); 4] = [
    ("simple_all and project_all", data::PROJECT_ALL_SQL),
    ("simple_root", data::SIMPLE_ROOT_SQL),
    ("home", data::HOME_SQL),
    ("search", data::SEARCH_SQL),
];

/// What the output directory should hold at one path after a render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes at this path (relative to the output path), replacing what is there.
    Write { path: PathBuf, bytes: Vec<u8> },
    /// Nothing belongs at this path (relative to the output path) any more: remove the file.
    Remove { path: PathBuf },
}

impl Output {
    /// The path this output is about, relative to the output path.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Output::Write { path, .. } | Output::Remove { path } => path,
        }
    }
}

/// `index.html`.
pub async fn home(client: &impl GenericClient) -> Result<Vec<Output>> {
    let home = data::home(client).await?;
    Ok(vec![Output::Write { path: PathBuf::from(layout::HOME_PAGE), bytes: html::home(&home)? }])
}

/// `packages.json`.
pub async fn search(client: &impl GenericClient) -> Result<Vec<Output>> {
    let mut json = json::SearchJson::new();
    data::search(client, |entry| json.push(&entry)).await?;
    Ok(vec![Output::Write { path: PathBuf::from(layout::SEARCH_INDEX), bytes: json.finish() }])
}

/// `simple/index.html` and its PEP 691 twin `simple/index.json`.
pub async fn simple_root(client: &impl GenericClient) -> Result<Vec<Output>> {
    let (mut root, mut root_json) = (html::SimpleRoot::new()?, json::SimpleRootJson::new()?);
    data::simple_root(client, |package| {
        root.push(package)?;
        root_json.push(package)
    })
    .await?;
    Ok(vec![
        Output::Write { path: layout::simple_root(), bytes: root.finish()? },
        Output::Write { path: layout::simple_root_json(), bytes: root_json.finish() },
    ])
}

/// `simple/PACKAGE/index.html` and `simple/PACKAGE/index.json` (Remove both when the package no
/// longer exists).
///
/// A `package` that is not a PEP 503 normalized name cannot exist and could not name a path
/// inside the output directory: it yields no output at all.
pub async fn simple(client: &impl GenericClient, package: &str) -> Result<Vec<Output>> {
    if !layout::is_package_name(package) {
        tracing::warn!(package, "not a normalized package name: no simple page");
        return Ok(Vec::new());
    }
    match data::simple(client, package).await? {
        Some(page) => simple_outputs(&page.package, &page.links()),
        None => Ok(simple_removed(package)),
    }
}

/// `project/PACKAGE/index.html` and `project/PACKAGE/json/index.json` (Remove both when the
/// package no longer exists).
///
/// A `package` that is not a PEP 503 normalized name cannot exist and could not name a path
/// inside the output directory: it yields no output at all.
pub async fn project(client: &impl GenericClient, package: &str) -> Result<Vec<Output>> {
    if !layout::is_package_name(package) {
        tracing::warn!(package, "not a normalized package name: no project page");
        return Ok(Vec::new());
    }
    project_outputs_of(package, data::project(client, package).await?)
}

/// The query behind [`simple`], for a caller that renders many pages on one connection: it
/// prepares this once (a prepared statement is planned once, not on every render) and passes the
/// statement to [`simple_prepared`].
pub const SIMPLE_QUERY: &str = data::SIMPLE_ONE_SQL;

/// The query behind [`project`]; see [`SIMPLE_QUERY`] and [`project_prepared`].
pub const PROJECT_QUERY: &str = data::PROJECT_ONE_SQL;

/// [`simple`] through `statement`, [`SIMPLE_QUERY`] prepared on this connection: the same pages.
pub async fn simple_prepared(client: &impl GenericClient, statement: &Statement, package: &str) -> Result<Vec<Output>> {
    if !layout::is_package_name(package) {
        tracing::warn!(package, "not a normalized package name: no simple page");
        return Ok(Vec::new());
    }
    match data::simple_prepared(client, statement, package).await? {
        Some(page) => simple_outputs(&page.package, &page.links()),
        None => Ok(simple_removed(package)),
    }
}

/// [`project`] through `statement`, [`PROJECT_QUERY`] prepared on this connection: the same pages.
pub async fn project_prepared(client: &impl GenericClient, statement: &Statement, package: &str) -> Result<Vec<Output>> {
    if !layout::is_package_name(package) {
        tracing::warn!(package, "not a normalized package name: no project page");
        return Ok(Vec::new());
    }
    project_outputs_of(package, data::project_prepared(client, statement, package).await?)
}

/// A package's simple page and project pages at once, from [`PROJECT_QUERY`] prepared on this
/// connection (one query, where [`simple_prepared`] and [`project_prepared`] run two): the
/// outputs of each, `[simple, project]`, the same as theirs.
pub async fn package_pages_prepared(client: &impl GenericClient, statement: &Statement, package: &str) -> Result<[Vec<Output>; 2]> {
    if !layout::is_package_name(package) {
        tracing::warn!(package, "not a normalized package name: no pages");
        return Ok([Vec::new(), Vec::new()]);
    }
    match data::project_prepared(client, statement, package).await? {
        Some(project) => Ok([simple_outputs(&project.package, &project.simple_links())?, Vec::from(project_outputs(&project)?)]),
        None => Ok([simple_removed(package), project_outputs_of(package, None)?]),
    }
}

fn project_outputs_of(package: &str, project: Option<Project>) -> Result<Vec<Output>> {
    match project {
        Some(project) => project_outputs(&project).map(Vec::from),
        None => {
            let [html, json] = layout::project_pages(package);
            Ok(vec![Output::Remove { path: html }, Output::Remove { path: json }])
        }
    }
}

/// Every package's simple page, streamed: `sink` is called once per page, in package order.
///
/// One query over every package, grouped as rows arrive: one package in memory at a time.
/// Each page is byte for byte what [`simple`] renders for that package.
pub async fn all_simple(client: &impl GenericClient, sink: &mut (dyn FnMut(Output) -> Result<()> + Send)) -> Result<()> {
    let mut pages = pin!(all_simple_data(client).await?);
    while let Some(page) = pages.try_next().await? {
        for output in render_simple(&page)? {
            sink(output)?;
        }
    }
    Ok(())
}

/// Every package's project pages, streamed: `sink` is called once per page (HTML, then JSON),
/// in package order.
///
/// One query over every package, grouped as rows arrive: one package in memory at a time.
/// Each page is byte for byte what [`project`] renders for that package.
pub async fn all_project(client: &impl GenericClient, sink: &mut (dyn FnMut(Output) -> Result<()> + Send)) -> Result<()> {
    let mut projects = pin!(all_project_data(client).await?);
    while let Some(project) = projects.try_next().await? {
        for output in render_project(&project)? {
            sink(output)?;
        }
    }
    Ok(())
}

/// What [`all_simple`] renders, before rendering: every package's simple page data in package
/// order, as the rows arrive. For a caller that renders elsewhere (on other threads: rendering
/// needs no connection) with [`render_simple`]. The stream no longer borrows `client`.
pub async fn all_simple_data(client: &impl GenericClient) -> Result<impl Stream<Item = Result<SimplePage>> + Send + 'static> {
    data::all_simple(client).await
}

/// What [`all_project`] renders, before rendering (see [`all_simple_data`] and [`render_project`]).
pub async fn all_project_data(client: &impl GenericClient) -> Result<impl Stream<Item = Result<Project>> + Send + 'static> {
    data::all_project(client).await
}

/// One streamed package's simple pages (HTML, then JSON), as [`all_simple`] hands them to its
/// sink; none for a name that is not a normalized package name (no such package can exist).
pub fn render_simple(page: &SimplePage) -> Result<Vec<Output>> {
    if !layout::is_package_name(&page.package) {
        return Ok(Vec::new());
    }
    simple_outputs(&page.package, &page.links())
}

/// The simple pages of a streamed project, byte for byte what [`render_simple`] makes of the
/// same package's [`SimplePage`]: a full rebuild of both kinds of page streams the project rows
/// alone.
pub fn render_simple_of_project(project: &Project) -> Result<Vec<Output>> {
    if !layout::is_package_name(&project.package) {
        return Ok(Vec::new());
    }
    simple_outputs(&project.package, &project.simple_links())
}

/// One streamed package's project pages (HTML, then JSON), as [`all_project`] hands them to its
/// sink; none for a name that is not a normalized package name.
pub fn render_project(project: &Project) -> Result<Vec<Output>> {
    if !layout::is_package_name(&project.package) {
        return Ok(Vec::new());
    }
    project_outputs(project).map(Vec::from)
}

/// A package's simple page and its PEP 691 twin, from the same links: they always agree.
fn simple_outputs(package: &str, links: &[SimpleLink<'_>]) -> Result<Vec<Output>> {
    Ok(vec![
        Output::Write { path: layout::simple_page(package), bytes: html::simple(package, links)? },
        Output::Write { path: layout::simple_json(package), bytes: json::simple(package, links)? },
    ])
}

fn simple_removed(package: &str) -> Vec<Output> {
    vec![Output::Remove { path: layout::simple_page(package) }, Output::Remove { path: layout::simple_json(package) }]
}

fn project_outputs(project: &Project) -> Result<[Output; 2]> {
    let [html_path, json_path] = layout::project_pages(&project.package);
    Ok([
        Output::Write { path: html_path, bytes: html::project(project)? },
        Output::Write { path: json_path, bytes: json::project(project)? },
    ])
}

#[cfg(test)]
mod tests;
