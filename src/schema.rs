//! Creating and upgrading the `piw` schema: refinery migrations (history), then the procedure
//! sources and grants (behaviour), all embedded in the binary.

use tokio_postgres::Client;

use crate::error::{Error, Result};

mod embedded {
    refinery::embed_migrations!("migrations");
}

include!(concat!(env!("OUT_DIR"), "/procedures.rs"));

const PRELUDE: &str = include_str!("../sql/prelude.sql");
const GRANTS: &str = include_str!("../sql/grants.sql");
/// Refinery's history table lives in our schema, so that PUBLIC's schema stays untouched.
const HISTORY_TABLE: &str = "piw.refinery_schema_history";
/// Two initdb runs at once would race on refinery's history table.
const MIGRATION_LOCK: i64 = 0x0070_6977_5f6d_6967; // "piw_mig"

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Names of the migrations applied by this run (empty when the schema was current).
    pub applied: Vec<String>,
    /// How many procedure sources were (re)applied.
    pub procedures: usize,
}

/// Create the schema on an empty database or upgrade an older one. Running it twice changes nothing.
pub async fn migrate(client: &mut Client) -> Result<MigrationReport> {
    client.execute("SELECT pg_catalog.pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let outcome = migrate_locked(client).await;
    let unlocked = client.execute("SELECT pg_catalog.pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    let report = outcome?;
    unlocked?;
    Ok(report)
}

async fn migrate_locked(client: &mut Client) -> Result<MigrationReport> {
    client.batch_execute(PRELUDE).await?;
    let report =
        embedded::migrations::runner().set_migration_table_name(HISTORY_TABLE).run_async(client).await.map_err(Error::Migration)?;
    let applied = report.applied_migrations().iter().map(|m| m.to_string()).collect();
    // Procedures may refer to each other in any order: bodies are checked when first run.
    let transaction = client.transaction().await?;
    transaction.batch_execute("SET LOCAL check_function_bodies = off").await?;
    for (name, source) in PROCEDURES {
        transaction.batch_execute(source).await.map_err(|e| {
            let error = Error::from(e);
            tracing::error!(procedure = name, "cannot apply sql/procedures/{name}: {error}");
            error
        })?;
    }
    transaction.batch_execute(GRANTS).await?;
    transaction.commit().await?;
    Ok(MigrationReport { applied, procedures: PROCEDURES.len() })
}

#[cfg(test)]
mod tests {
    use super::PROCEDURES;

    /// The block of `procedure` from the `BEGIN` before its wake-lock attempt to the `END;` after
    /// it, whitespace folded.
    fn wake_decision(procedure: &str) -> String {
        let (_, source) = PROCEDURES.iter().find(|(name, _)| *name == procedure).expect("the procedure source");
        let lock = source.find("LOCK TABLE piw.wake_lock IN ROW EXCLUSIVE MODE NOWAIT").expect("a wake-lock attempt");
        let begin = source[..lock].rfind("BEGIN").expect("BEGIN before it");
        let end = lock + source[lock..].find("END;").expect("END; after it") + "END;".len();
        source[begin..end].split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// piw.rebuild makes piw._wake_listeners's decision written out (a nested call was a tenth of
    /// its cost): the two must stay the same decision.
    #[test]
    fn rebuild_wakes_listeners_exactly_as_wake_listeners_does() {
        assert_eq!(wake_decision("rebuild.sql"), wake_decision("_wake_listeners.sql"));
    }
}
