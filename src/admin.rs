//! Admin requests: thin wrappers over the SQL procedures. Each takes any client or transaction,
//! so a caller can put several requests in one transaction.
//!
//! Every statement is sent as an unnamed statement with its parameter types (one round trip, no
//! prepared statement left on the server), so the calls work through a transaction-mode pooler
//! such as PgBouncer, which may hand each transaction to another server connection.

use tokio_postgres::{
    types::{ToSql, Type},
    GenericClient,
};

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
    call(client, "CALL piw.remove_version($1, $2, $3)", &[(&package, Type::TEXT), (&version, Type::TEXT), (&skip, Type::BOOL)]).await
}

/// `CALL piw.remove_package(package, skip)`.
pub async fn remove_package(client: &impl GenericClient, package: &str, skip: bool) -> Result<()> {
    call(client, "CALL piw.remove_package($1, $2)", &[(&package, Type::TEXT), (&skip, Type::BOOL)]).await
}

/// `CALL piw.skip_package(package, reason)`.
pub async fn skip_package(client: &impl GenericClient, package: &str, reason: &str) -> Result<()> {
    call(client, "CALL piw.skip_package($1, $2)", &[(&package, Type::TEXT), (&reason, Type::TEXT)]).await
}

/// `CALL piw.unskip_package(package)`.
pub async fn unskip_package(client: &impl GenericClient, package: &str) -> Result<()> {
    call(client, "CALL piw.unskip_package($1)", &[(&package, Type::TEXT)]).await
}

/// `CALL piw.skip_version(package, version, reason)`.
pub async fn skip_version(client: &impl GenericClient, package: &str, version: &str, reason: &str) -> Result<()> {
    call(client, "CALL piw.skip_version($1, $2, $3)", &[(&package, Type::TEXT), (&version, Type::TEXT), (&reason, Type::TEXT)]).await
}

/// `CALL piw.unskip_version(package, version)`.
pub async fn unskip_version(client: &impl GenericClient, package: &str, version: &str) -> Result<()> {
    call(client, "CALL piw.unskip_version($1, $2)", &[(&package, Type::TEXT), (&version, Type::TEXT)]).await
}

/// `CALL piw.set_site_url(url)`.
pub async fn set_site_url(client: &impl GenericClient, url: &str) -> Result<()> {
    call(client, "CALL piw.set_site_url($1)", &[(&url, Type::TEXT)]).await
}

/// `CALL piw.yank_version(package, version, reason)`.
pub async fn yank_version(client: &impl GenericClient, package: &str, version: &str, reason: &str) -> Result<()> {
    call(client, "CALL piw.yank_version($1, $2, $3)", &[(&package, Type::TEXT), (&version, Type::TEXT), (&reason, Type::TEXT)]).await
}

/// `CALL piw.unyank_version(package, version)`.
pub async fn unyank_version(client: &impl GenericClient, package: &str, version: &str) -> Result<()> {
    call(client, "CALL piw.unyank_version($1, $2)", &[(&package, Type::TEXT), (&version, Type::TEXT)]).await
}

/// `CALL piw.hold_version(package, version, reason)`.
pub async fn hold_version(client: &impl GenericClient, package: &str, version: &str, reason: &str) -> Result<()> {
    call(client, "CALL piw.hold_version($1, $2, $3)", &[(&package, Type::TEXT), (&version, Type::TEXT), (&reason, Type::TEXT)]).await
}

/// `CALL piw.release_version(package, version)`.
pub async fn release_version(client: &impl GenericClient, package: &str, version: &str) -> Result<()> {
    call(client, "CALL piw.release_version($1, $2)", &[(&package, Type::TEXT), (&version, Type::TEXT)]).await
}

/// `CALL piw.rebuild(part, package)`; `None` with project or index means every package.
pub async fn rebuild(client: &impl GenericClient, part: Part, package: Option<&str>) -> Result<()> {
    call(client, "CALL piw.rebuild($1, $2)", &[(&part.as_str(), Type::TEXT), (&package, Type::TEXT)]).await
}

/// `CALL piw.retry_failed()`.
pub async fn retry_failed(client: &impl GenericClient) -> Result<()> {
    call(client, "CALL piw.retry_failed()", &[]).await
}

/// `CALL piw.retry_jobs(package, job_id)`: one failed job, a package's, or (both `None`) all.
pub async fn retry_jobs(client: &impl GenericClient, package: Option<&str>, job_id: Option<i64>) -> Result<()> {
    call(client, "CALL piw.retry_jobs($1, $2)", &[(&package, Type::TEXT), (&job_id, Type::INT8)]).await
}

/// `CALL piw.cancel_jobs(package)`.
pub async fn cancel_jobs(client: &impl GenericClient, package: &str) -> Result<()> {
    call(client, "CALL piw.cancel_jobs($1)", &[(&package, Type::TEXT)]).await
}

/// `piw.normalize_name(name)`: the PEP 503 form, as the database computes it.
pub async fn normalize_name(client: &impl GenericClient, name: &str) -> Result<String> {
    Ok(client.query_typed_one("SELECT piw.normalize_name($1)", &[(&name, Type::TEXT)]).await?.try_get(0)?)
}

/// One procedure call, unnamed (see the module's comment).
async fn call(client: &impl GenericClient, sql: &str, params: &[(&(dyn ToSql + Sync), Type)]) -> Result<()> {
    client.query_typed(sql, params).await?;
    Ok(())
}
