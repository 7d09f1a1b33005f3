//! Creating and upgrading the schema: running it twice changes nothing (pg_dump says so), the
//! piw-initdb binary works on an empty database and fails in one line, and psql's `\df+` is a manual.
mod support;

use std::{
    process::Output,
    sync::atomic::{AtomicUsize, Ordering},
};

use support::{cluster, fixtures::*, TestDb};
use tokio::process::Command;

static NEXT_EMPTY: AtomicUsize = AtomicUsize::new(0);

/// A brand-new database with nothing of piw in it; returns its name.
async fn empty_database() -> String {
    let name = format!("empty_{}_{}", std::process::id(), NEXT_EMPTY.fetch_add(1, Ordering::SeqCst));
    let admin = piw::db::connect_with(&cluster().cluster.config("postgres")).await.unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0")).await.unwrap();
    name
}

/// `pg_dump --schema-only` of a database, without the lines that carry a random key.
async fn schema_dump(dbname: &str) -> String {
    let pg_dump = piw::cluster::server_bindir().unwrap().join("pg_dump");
    let output = Command::new(pg_dump).args(["-s", "-d", &cluster().cluster.dsn(dbname)]).output().await.unwrap();
    assert!(output.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&output.stderr));
    let dump = String::from_utf8(output.stdout).unwrap();
    let kept: Vec<&str> = dump.lines().filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict")).collect();
    assert!(kept.iter().any(|l| l.starts_with("CREATE TABLE piw.jobs")), "the dump shows the schema");
    kept.join("\n")
}

async fn initdb(dsn: &str) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_piw-initdb"))
        .args(["--dsn", dsn])
        .env_remove("PIW_DSN")
        .env("PIW_HOME", home.path())
        .output()
        .await
        .expect("run piw-initdb")
}

#[tokio::test]
async fn migrating_twice_leaves_the_schema_unchanged() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    let first = piw::schema::migrate(&mut client).await.unwrap();
    assert!(first.applied.is_empty(), "the template is current: {:?}", first.applied);
    assert!(first.procedures > 0);
    let before = schema_dump(&db.name).await;

    let second = piw::schema::migrate(&mut client).await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(schema_dump(&db.name).await, before);
}

#[tokio::test]
async fn migrating_an_empty_database_twice_gives_the_same_schema_as_the_template() {
    let name = empty_database().await;
    let mut client = piw::db::connect_with(&cluster().cluster.config(&name)).await.unwrap();
    let first = piw::schema::migrate(&mut client).await.unwrap();
    assert!(first.applied.len() >= 3, "every migration applied: {:?}", first.applied);
    let after_first = schema_dump(&name).await;

    let second = piw::schema::migrate(&mut client).await.unwrap();
    assert!(second.applied.is_empty(), "{:?}", second.applied);
    assert_eq!(schema_dump(&name).await, after_first);
    assert_eq!(schema_dump(&TestDb::new().await.name).await, after_first, "a fresh schema equals an upgraded one");
}

#[tokio::test]
async fn data_survives_a_second_migration() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    small_repository(&client).await;
    client.batch_execute("CALL piw.skip_package('bar', 'kept')").await.unwrap();
    let before = support::snapshot_all(&client).await;
    piw::schema::migrate(&mut client).await.unwrap();
    assert_eq!(support::snapshot_all(&client).await, before);
}

#[tokio::test]
async fn piw_initdb_creates_the_schema_on_an_empty_database() {
    let name = empty_database().await;
    let dsn = cluster().cluster.dsn(&name);

    let output = initdb(&dsn).await;
    assert!(output.status.success(), "piw-initdb failed: {}", String::from_utf8_lossy(&output.stderr));
    let client = piw::db::connect_with(&cluster().cluster.config(&name)).await.unwrap();
    assert_eq!(text(&client, "SELECT to_regclass('piw.packages')::text").await.as_deref(), Some("piw.packages"));
    let dump = schema_dump(&name).await;

    let again = initdb(&dsn).await;
    assert!(again.status.success(), "second run: {}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(schema_dump(&name).await, dump, "a second run changes nothing");
}

#[tokio::test]
async fn piw_initdb_with_a_bad_dsn_fails_in_one_line() {
    let output = initdb("host=/nonexistent-piw-socket-dir port=5432 user=postgres dbname=nope").await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("piw-initdb: "), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
}

#[tokio::test]
async fn every_procedure_is_commented_and_the_set_is_the_contracts() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let rows = client
        .query(
            "SELECT p.proname::text, d.description
               FROM pg_proc p
               JOIN pg_namespace n ON n.oid = p.pronamespace
               LEFT JOIN pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass AND d.objsubid = 0
              WHERE n.nspname = 'piw' AND p.prokind = 'p'
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        names,
        [
            "cancel_jobs",
            "hold_version",
            "rebuild",
            "recount_downloads",
            "release_version",
            "remove_package",
            "remove_version",
            "retry_failed",
            "retry_jobs",
            "set_site_url",
            "skip_package",
            "skip_version",
            "unskip_package",
            "unskip_version",
            "unyank_version",
            "yank_version",
        ]
    );
    for row in &rows {
        let (name, comment): (String, Option<String>) = (row.get(0), row.get(1));
        assert!(comment.is_some_and(|c| c.len() > 20), "piw.{name} has a COMMENT");
    }
    let uncommented: Vec<String> = client
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'piw' AND obj_description(p.oid, 'pg_proc') IS NULL ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(uncommented, Vec::<String>::new(), "functions without a COMMENT");
}
