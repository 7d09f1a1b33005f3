//! The home page's figures, the search index and the simple root: one query each, read as the
//! rows arrive.

use std::pin::pin;

use futures_util::TryStreamExt;
use serde::Serialize;
use tokio_postgres::GenericClient;

use super::{no_params, no_row};
use crate::error::Result;

/// The first of the 30 UTC days the pages count apart (today and the 29 before): downloads are
/// counted per day.
macro_rules! recent_from {
    () => {
        "(now() AT TIME ZONE 'UTC')::date - 29"
    };
}

/// The home page's figures. Plain counts of packages, versions and files (one scan each, no
/// joins); downloads from their counts (piw.download_counts) and the few rows logged since.
#[derive(Debug, Clone, PartialEq)]
pub struct Home {
    /// Packages not skipped.
    pub packages: i64,
    /// Versions not skipped.
    pub versions: i64,
    /// Files (wheels) in the repository.
    pub files: i64,
    pub downloads_all: i64,
    /// Downloads on the last 30 UTC days (today and the 29 before).
    pub downloads_30_days: i64,
    /// When the page was rendered (the server's clock), `YYYY-MM-DDTHH:MM:SSZ`.
    pub built_at: String,
    /// Where the site is served (`piw.site`), for the install line; `""` when unknown.
    pub site_url: String,
}

pub(in crate::pages) const HOME_SQL: &str = concat!(
    "SELECT (SELECT count(*) FROM piw.packages WHERE skip = ''),
            (SELECT count(*) FROM piw.versions WHERE skip = ''),
            (SELECT count(*) FROM piw.files),
            coalesce(sum(d.downloads), 0)::bigint,
            coalesce(sum(d.downloads) FILTER (WHERE d.day >= (SELECT ",
    recent_from!(),
    ")), 0)::bigint, ",
    utc!("now()"),
    ", (SELECT s.url FROM piw.site s)
       FROM (SELECT c.day, c.downloads FROM piw.download_counts c
             UNION ALL
             SELECT u.day, u.downloads FROM piw.uncounted_downloads() u) AS d"
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
        site_url: row.try_get::<_, Option<String>>(6)?.unwrap_or_default(),
    })
}

/// One entry of the search index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchEntry(pub String, pub i64, pub i64);

/// Downloads counted (piw.download_counts, per package and day: piw.count_downloads() keeps it)
/// plus those logged since the last count (few: a minute's), a package's when its file is (looked
/// up file by file through the keys).
pub(in crate::pages) const SEARCH_SQL: &str = concat!(
    "SELECT p.package, coalesce(d.recent, 0), coalesce(d.total, 0)
       FROM piw.packages p
       LEFT JOIN (SELECT x.package,
                         sum(x.downloads) FILTER (WHERE x.day >= (SELECT ",
    recent_from!(),
    "))::bigint AS recent,
                         sum(x.downloads)::bigint AS total
                    FROM (SELECT c.package, c.day, c.downloads FROM piw.download_counts c
                          UNION ALL
                          SELECT (SELECT b.package FROM piw.files f JOIN piw.builds b ON b.build_id = f.build_id
                                   WHERE f.filename = u.filename),
                                 u.day, u.downloads
                            FROM piw.uncounted_downloads() u) AS x
                   GROUP BY x.package) d ON d.package = p.package
      WHERE p.skip = ''
      ORDER BY p.package COLLATE \"C\""
);

/// `[package, downloads in the last 30 days, downloads ever]` for every package not skipped, in
/// order, handed to `each` as the rows arrive (no list of them is kept).
pub async fn search(client: &impl GenericClient, mut each: impl FnMut(SearchEntry) -> Result<()>) -> Result<()> {
    let mut rows = pin!(client.query_typed_raw(SEARCH_SQL, no_params()).await?);
    while let Some(row) = rows.try_next().await? {
        each(SearchEntry(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))?;
    }
    Ok(())
}

pub(in crate::pages) const SIMPLE_ROOT_SQL: &str = "SELECT package FROM piw.packages WHERE skip = '' ORDER BY package COLLATE \"C\"";

/// Every package not skipped, sorted, handed to `each` as the rows arrive.
pub async fn simple_root(client: &impl GenericClient, mut each: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut rows = pin!(client.query_typed_raw(SIMPLE_ROOT_SQL, no_params()).await?);
    while let Some(row) = rows.try_next().await? {
        each(row.try_get(0)?)?;
    }
    Ok(())
}
