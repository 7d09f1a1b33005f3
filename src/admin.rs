//! Admin requests: thin wrappers over the SQL procedures. Each takes any client or transaction,
//! so a caller can put several requests in one transaction.

use tokio_postgres::GenericClient;

use crate::error::Result;

/// A part of the website that `piw.rebuild` can queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The home page (index.html).
    Home,
    /// The JSON search index (packages.json).
    Search,
    /// Project pages (project/PACKAGE/index.html and its JSON).
    Project,
    /// Simple index pages and project pages (simple/PACKAGE/index.html, project/PACKAGE/...).
    Index,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Home => "home",
            Part::Search => "search",
            Part::Project => "project",
            Part::Index => "index",
        }
    }

    /// Whether the part is per package (and so may be asked for every package at once).
    pub fn takes_package(self) -> bool {
        matches!(self, Part::Project | Part::Index)
    }
}

/// `CALL piw.remove_version(package, version, skip)`.
pub async fn remove_version(client: &impl GenericClient, package: &str, version: &str, skip: bool) -> Result<()> {
    client.execute("CALL piw.remove_version($1, $2, $3)", &[&package, &version, &skip]).await?;
    Ok(())
}

/// `CALL piw.remove_package(package, skip)`.
pub async fn remove_package(client: &impl GenericClient, package: &str, skip: bool) -> Result<()> {
    client.execute("CALL piw.remove_package($1, $2)", &[&package, &skip]).await?;
    Ok(())
}

/// `CALL piw.skip_package(package, reason)`.
pub async fn skip_package(client: &impl GenericClient, package: &str, reason: &str) -> Result<()> {
    client.execute("CALL piw.skip_package($1, $2)", &[&package, &reason]).await?;
    Ok(())
}

/// `CALL piw.unskip_package(package)`.
pub async fn unskip_package(client: &impl GenericClient, package: &str) -> Result<()> {
    client.execute("CALL piw.unskip_package($1)", &[&package]).await?;
    Ok(())
}

/// `CALL piw.skip_version(package, version, reason)`.
pub async fn skip_version(client: &impl GenericClient, package: &str, version: &str, reason: &str) -> Result<()> {
    client.execute("CALL piw.skip_version($1, $2, $3)", &[&package, &version, &reason]).await?;
    Ok(())
}

/// `CALL piw.unskip_version(package, version)`.
pub async fn unskip_version(client: &impl GenericClient, package: &str, version: &str) -> Result<()> {
    client.execute("CALL piw.unskip_version($1, $2)", &[&package, &version]).await?;
    Ok(())
}

/// `CALL piw.yank_version(package, version)`.
pub async fn yank_version(client: &impl GenericClient, package: &str, version: &str) -> Result<()> {
    client.execute("CALL piw.yank_version($1, $2)", &[&package, &version]).await?;
    Ok(())
}

/// `CALL piw.unyank_version(package, version)`.
pub async fn unyank_version(client: &impl GenericClient, package: &str, version: &str) -> Result<()> {
    client.execute("CALL piw.unyank_version($1, $2)", &[&package, &version]).await?;
    Ok(())
}

/// `CALL piw.rebuild(part, package)`; `None` with project or index means every package.
pub async fn rebuild(client: &impl GenericClient, part: Part, package: Option<&str>) -> Result<()> {
    client.execute("CALL piw.rebuild($1, $2)", &[&part.as_str(), &package]).await?;
    Ok(())
}

/// `CALL piw.retry_failed()`.
pub async fn retry_failed(client: &impl GenericClient) -> Result<()> {
    client.execute("CALL piw.retry_failed()", &[]).await?;
    Ok(())
}

/// `piw.normalize_name(name)`: the PEP 503 form, as the database computes it.
pub async fn normalize_name(client: &impl GenericClient, name: &str) -> Result<String> {
    Ok(client.query_one("SELECT piw.normalize_name($1)", &[&name]).await?.try_get(0)?)
}
