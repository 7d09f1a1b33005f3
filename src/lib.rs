//! piw: the control plane of a piwheels-style Python wheel repository, built around PostgreSQL.
//!
//! Admin requests are SQL procedure calls (see [`admin`]) that change the database in one
//! transaction and queue durable work ([`queue`]); the listener daemon carries it out on disk.

pub mod admin;
pub mod audit;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connect;
pub mod db;
pub mod error;
pub mod hashing;
pub mod import;
pub mod listener;
pub mod pages;
pub mod queue;
pub mod request;
pub mod schema;
pub mod site;
pub mod status;
pub mod wheel;

pub use error::{Error, Result};
