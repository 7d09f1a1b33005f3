//! The listener needs sessions of its own: its LISTEN connection must stay on one server session
//! for notifications to reach it, and its presence session holds a transaction open for the
//! listener's life. A pooler in transaction mode (PgBouncer's `pool_mode = transaction`) hands each
//! transaction to whichever server connection is free, so LISTEN would be lost without a word.
//! This looks for such a pooler at start-up and refuses to run behind one.

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::{connect::Connector, error::Error, Result};

/// Whether the sessions `connector` opens keep their server connection between transactions.
///
/// Session A LISTENs and learns its server process; session B then holds a transaction open,
/// which a transaction pooler serves with the server connection A has just released (PgBouncer
/// hands out the most recently used one first). A then asks again: a different process, or a
/// server session that is not listening, means A's session state did not survive. Only simple
/// queries are used: a transaction pooler would lose a prepared statement between Parse and Bind.
pub async fn sessions_are_kept(connector: &Connector) -> Result<bool> {
    let channel = format!("piw_pooler_probe_{:016x}", fastrand::u64(..));
    let a = connector.connect().await?;
    a.batch_execute(&format!("LISTEN {channel}")).await?;
    let (first_pid, _) = probe(&a, &channel).await?;
    let b = connector.connect().await?;
    b.batch_execute("BEGIN").await?;
    let _ = probe(&b, &channel).await?;
    let (second_pid, listening) = probe(&a, &channel).await?;
    b.batch_execute("ROLLBACK").await?;
    a.batch_execute(&format!("UNLISTEN {channel}")).await?;
    Ok(first_pid == second_pid && listening)
}

/// The refusal, in one line.
pub fn refusal(connector: &Connector) -> Error {
    Error::Usage(format!(
        "{} does not keep a session on one server connection (a pooler in transaction or statement mode?): \
         piw-listener needs its own sessions (LISTEN, its presence); connect it to the server directly or \
         through a session-mode pool",
        connector.target()
    ))
}

/// This session's server process, and whether it is listening on `channel`.
async fn probe(client: &Client, channel: &str) -> Result<(String, bool)> {
    let sql = format!("SELECT pg_backend_pid()::text, ('{channel}' = ANY (ARRAY(SELECT pg_listening_channels())))::text");
    for message in client.simple_query(&sql).await? {
        if let SimpleQueryMessage::Row(row) = message {
            let pid = row.get(0).unwrap_or_default().to_owned();
            let listening = row.get(1) == Some("true");
            return Ok((pid, listening));
        }
    }
    Err(Error::Unexpected("the pooler probe returned no row".into()))
}
