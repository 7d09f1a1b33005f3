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
/// joins); downloads from each package's totals (piw.download_totals) and the few rows logged
/// since the last count.
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

/// Whether the totals' recent figures are the last 30 days' (the day's fold is done, and not
/// tomorrow's, for a page whose transaction began before midnight): otherwise the pages sum the
/// per-day counts instead (see V021).
macro_rules! folded {
    () => {
        concat!("(SELECT k.folded_before = ", recent_from!(), " FROM piw.download_counting k)")
    };
}

pub(in crate::pages) const HOME_SQL: &str = concat!(
    "WITH t AS (SELECT coalesce(sum(t.recent), 0) AS recent, coalesce(sum(t.total), 0) AS total
                  FROM piw.download_totals t),
          u AS (SELECT coalesce(sum(u.downloads) FILTER (WHERE u.day >= ",
    recent_from!(),
    "), 0) AS recent,
                       coalesce(sum(u.downloads), 0) AS total
                  FROM piw.uncounted_downloads() u)
     SELECT (SELECT count(*) FROM piw.packages WHERE skip = ''),
            (SELECT count(*) FROM piw.versions WHERE skip = ''),
            (SELECT count(*) FROM piw.files),
            (t.total + u.total)::bigint,
            (CASE WHEN ",
    folded!(),
    " THEN t.recent
                  ELSE (SELECT coalesce(sum(c.downloads), 0) FROM piw.download_counts c WHERE c.day >= ",
    recent_from!(),
    ") END + u.recent)::bigint, ",
    utc!("now()"),
    ", (SELECT s.url FROM piw.site s)
       FROM t, u"
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

/// Downloads counted (piw.download_totals, one row a package: piw.count_downloads() keeps it) plus
/// those logged since the last count (few: a minute's), a package's when its file is (looked up
/// file by file through the keys). Its cost follows the packages, not the downloads.
pub(in crate::pages) const SEARCH_SQL: &str = concat!(
    "SELECT p.package,
            (CASE WHEN ",
    folded!(),
    " THEN coalesce(t.recent, 0)
                  ELSE (SELECT coalesce(sum(c.downloads), 0) FROM piw.download_counts c
                         WHERE c.package = p.package AND c.day >= ",
    recent_from!(),
    ") END + coalesce(u.recent, 0))::bigint,
            (coalesce(t.total, 0) + coalesce(u.total, 0))::bigint
       FROM piw.packages p
       LEFT JOIN piw.download_totals t ON t.package = p.package
       LEFT JOIN (SELECT x.package,
                         sum(x.downloads) FILTER (WHERE x.day >= ",
    recent_from!(),
    ") AS recent,
                         sum(x.downloads) AS total
                    FROM (SELECT (SELECT b.package FROM piw.files f JOIN piw.builds b ON b.build_id = f.build_id
                                   WHERE f.filename = u.filename) AS package,
                                 u.day, u.downloads
                            FROM piw.uncounted_downloads() u) AS x
                   GROUP BY x.package) u ON u.package = p.package
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
