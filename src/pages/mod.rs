//! The published website, rendered from the database: home page, search index, PEP 503 simple
//! pages and project pages. This module only reads rows and produces bytes; writing them to disk
//! (atomically, inside the output path) is the listener's job.
//!
//! INTERFACE CONTRACT (used by src/listener/): keep these signatures.

use std::path::PathBuf;

use tokio_postgres::GenericClient;

use crate::error::Result;

/// What the output directory should hold at one path after a render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes at this path (relative to the output path), replacing what is there.
    Write { path: PathBuf, bytes: Vec<u8> },
    /// Nothing belongs at this path (relative to the output path) any more: remove the file.
    Remove { path: PathBuf },
}

/// `index.html`.
pub async fn home(_client: &impl GenericClient) -> Result<Vec<Output>> {
    todo!("pages::home")
}

/// `packages.json`.
pub async fn search(_client: &impl GenericClient) -> Result<Vec<Output>> {
    todo!("pages::search")
}

/// `simple/index.html`.
pub async fn simple_root(_client: &impl GenericClient) -> Result<Vec<Output>> {
    todo!("pages::simple_root")
}

/// `simple/PACKAGE/index.html` (Remove when the package no longer exists).
pub async fn simple(_client: &impl GenericClient, _package: &str) -> Result<Vec<Output>> {
    todo!("pages::simple")
}

/// `project/PACKAGE/index.html` and `project/PACKAGE/json/index.json` (Remove both when the
/// package no longer exists).
pub async fn project(_client: &impl GenericClient, _package: &str) -> Result<Vec<Output>> {
    todo!("pages::project")
}

/// Every package's simple page, streamed: `sink` is called once per page, in package order.
pub async fn all_simple(_client: &impl GenericClient, _sink: &mut (dyn FnMut(Output) -> Result<()> + Send)) -> Result<()> {
    todo!("pages::all_simple")
}

/// Every package's project pages, streamed: `sink` is called once per page, in package order.
pub async fn all_project(_client: &impl GenericClient, _sink: &mut (dyn FnMut(Output) -> Result<()> + Send)) -> Result<()> {
    todo!("pages::all_project")
}
