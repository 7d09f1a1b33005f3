//! The audit log (`piw.audit`): who did what, read back for `piw-log` and `piw-status`.

use std::{fmt, time::SystemTime};

use tokio_postgres::{types::Type, GenericClient, Row};

use crate::error::{Error, Result};

/// One entry of the audit log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub audit_id: i64,
    /// When, to the second, in UTC (`2026-12-07 16:47:11 UTC`).
    pub logged_at: String,
    pub role_name: String,
    pub application_name: String,
    pub client_addr: Option<String>,
    pub action: String,
    pub package: Option<String>,
    pub version: Option<String>,
    pub reason: Option<String>,
    pub changed: serde_json::Value,
    pub request_id: String,
}

const COLUMNS: &str = "a.audit_id, piw._when(a.logged_at), a.role_name, a.application_name, host(a.client_addr), a.action,
                       a.package, a.version, a.reason, a.changed::text, a.request_id::text";

impl Entry {
    fn from_row(row: &Row) -> Result<Self> {
        let changed: String = row.try_get(9)?;
        Ok(Entry {
            audit_id: row.try_get(0)?,
            logged_at: row.try_get(1)?,
            role_name: row.try_get(2)?,
            application_name: row.try_get(3)?,
            client_addr: row.try_get(4)?,
            action: row.try_get(5)?,
            package: row.try_get(6)?,
            version: row.try_get(7)?,
            reason: row.try_get(8)?,
            changed: serde_json::from_str(&changed).map_err(|e| Error::Unexpected(format!("audit changes {changed:?}: {e}")))?,
            request_id: row.try_get(10)?,
        })
    }
}

impl fmt::Display for Entry {
    /// `2026-12-07 16:47:11 UTC alice (piw-remove) remove_version foo 1.0: files deleted 2, ... [request 753]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.logged_at, self.role_name)?;
        match (&self.application_name[..], &self.client_addr) {
            ("", None) => {}
            (application, None) => write!(f, " ({application})")?,
            ("", Some(address)) => write!(f, " ({address})")?,
            (application, Some(address)) => write!(f, " ({application}, {address})")?,
        }
        write!(f, " {}", self.action)?;
        for part in [&self.package, &self.version].into_iter().flatten() {
            write!(f, " {part}")?;
        }
        if let Some(reason) = self.reason.as_deref().filter(|reason| !reason.is_empty()) {
            write!(f, " \"{}\"", reason.replace('\n', " "))?;
        }
        if let Some(changes) = self.changed.as_object().filter(|changes| !changes.is_empty()) {
            let listed: Vec<String> = changes
                .iter()
                .map(|(what, value)| match value.as_str() {
                    Some(text) => format!("{what} {text}"),
                    None => format!("{what} {value}"),
                })
                .collect();
            write!(f, ": {}", listed.join(", "))?;
        }
        write!(f, " [request {}]", self.request_id)
    }
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entries about this package (its PEP 503 name).
    pub package: Option<String>,
    /// Entries logged at or after this time.
    pub since: Option<SystemTime>,
    /// At most this many, the newest.
    pub limit: Option<i64>,
}

/// The entries `filter` selects, oldest first.
pub async fn entries(client: &impl GenericClient, filter: &Filter) -> Result<Vec<Entry>> {
    let sql = format!(
        "SELECT * FROM (
             SELECT {COLUMNS}
               FROM piw.audit a
              WHERE ($1::text IS NULL OR a.package = piw.normalize_name($1))
                AND ($2::timestamptz IS NULL OR a.logged_at >= $2)
              ORDER BY a.audit_id DESC
              LIMIT $3) AS newest
          ORDER BY 1"
    );
    let rows =
        client.query_typed(&sql, &[(&filter.package, Type::TEXT), (&filter.since, Type::TIMESTAMPTZ), (&filter.limit, Type::INT8)]).await?;
    rows.iter().map(Entry::from_row).collect()
}

/// A time as an operator writes it: anything PostgreSQL reads as a time (`2026-12-01`,
/// `2026-12-01 12:00+01`, `yesterday`) or as a span back from now (`2 hours`, `7 days`, `1h`).
pub async fn parse_since(client: &impl GenericClient, text: &str) -> Result<SystemTime> {
    // One cast, then the other (pg_input_is_valid would do it in one statement, from PostgreSQL
    // 16 only). Outside a transaction, a failed cast leaves the session as it was.
    for sql in ["SELECT $1::timestamptz", "SELECT now() - $1::interval"] {
        match client.query_typed_one(sql, &[(&text, Type::TEXT)]).await {
            Ok(row) => return Ok(row.try_get(0)?),
            Err(error) if error.as_db_error().is_some() => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(not_a_time(text))
}

fn not_a_time(text: &str) -> Error {
    Error::Usage(format!("--since {text:?} is neither a time (2026-12-01, yesterday) nor a span back from now (2 hours, 7 days)"))
}
