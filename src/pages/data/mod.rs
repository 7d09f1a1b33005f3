//! Rows → plain structs. Every page is rendered from one of these structs, whether the rows came
//! from a query for one package or from the streamed query over every package: both use the same
//! SQL (only the `WHERE` differs) and the same grouping code, so they produce the same bytes.
//!
//! Ordering on pages is byte order (`COLLATE "C"` on the server, `str` order here), so pages do
//! not depend on the database's locale. The project rows arrive grouped by package in whatever
//! order the packages' index keeps; each package's rows are put in order here.
//!
//! A *published* file is one whose build succeeded, whose version is neither skipped nor held and
//! whose package is not skipped: exactly the files the simple pages list (the others' wheels are
//! withheld, outside the served tree: see `listener::place`).
//!
//! One file per page kind: `home` (the home page, the search index and the simple root: one
//! query each, nothing to group), `simple` and `project`; `timestamp` formats the times both of
//! those read. Grouping a stream of rows into one item per package is here: both use it.

use futures_util::{Stream, TryStreamExt};
use tokio_postgres::{types::Type, Row, RowStream};

use crate::error::Result;

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC, whatever the session's time zone.
macro_rules! utc {
    ($column:literal) => {
        concat!("to_char(", $column, " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    };
}

// After `utc!`: a `macro_rules!` macro is in scope only in the modules declared below it.
mod home;
mod project;
mod simple;
mod timestamp;

pub use home::{home, search, simple_root, Home, SearchEntry};
pub(super) use home::{HOME_SQL, SEARCH_SQL, SIMPLE_ROOT_SQL};
// Only the tests call it from outside `project`: elsewhere the re-export would be unused.
#[cfg(test)]
pub(super) use project::newest_first;
pub use project::{all_project, project, project_prepared, Build, File, Project, Release};
pub(super) use project::{PROJECT_ALL_SQL, PROJECT_ONE_SQL};
pub(super) use simple::SIMPLE_ONE_SQL;
pub use simple::{all_simple, simple, simple_prepared, SimpleFile, SimpleLink, SimplePage};
pub use timestamp::Timestamp;

/// Groups a stream of rows into one item per package.
trait Grouper: Send + 'static {
    type Item: Send + 'static;
    /// Take one row; returns the previous package's item when this row starts a new package.
    fn push_row(&mut self, row: &Row) -> Result<Option<Self::Item>>;
    fn finish_rows(self) -> Option<Self::Item>;
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

fn no_params() -> [(&'static str, Type); 0] {
    []
}

fn no_row(what: &str) -> crate::Error {
    crate::Error::io(what, std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the query returned no row"))
}
