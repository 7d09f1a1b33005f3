//! Who may do what: piw_admin everything, piw_reader reading only, PUBLIC nothing; procedures run as
//! SECURITY DEFINER with a fixed search_path. Login roles are cluster-wide, so each test has its own.
mod support;

use support::{fixtures::*, snapshot_all, TestDb};
use tokio_postgres::{error::SqlState, Client};

const TABLES: [&str; 10] =
    ["packages", "versions", "build_abis", "builds", "files", "dependencies", "downloads", "requests", "jobs", "listeners"];

/// One call of every procedure, valid against `small_repository`, in an order that works.
const PROCEDURE_CALLS: [&str; 16] = [
    "CALL piw.skip_package('bar')",
    "CALL piw.unskip_package('bar')",
    "CALL piw.skip_version('foo', '2.0', 'why')",
    "CALL piw.unskip_version('foo', '2.0')",
    "CALL piw.yank_version('foo', '2.0')",
    "CALL piw.unyank_version('foo', '2.0')",
    "CALL piw.rebuild('home')",
    "CALL piw.rebuild('search')",
    "CALL piw.rebuild('project', 'foo')",
    "CALL piw.rebuild('index')",
    "CALL piw.retry_failed()",
    "CALL piw.remove_version('foo', '1.0')",
    "CALL piw.remove_version('foo', '2.0', true)",
    "CALL piw.remove_package('foo', true)",
    "CALL piw.remove_package('bar')",
    "CALL piw.remove_package('foo')",
];

/// Writes to every table, each of which the caller must not be allowed.
fn table_writes() -> Vec<String> {
    let mut writes = vec![
        "INSERT INTO piw.packages (package) VALUES ('evil')".to_owned(),
        "INSERT INTO piw.jobs (kind) VALUES ('home')".to_owned(),
        "INSERT INTO piw.requests (kind) VALUES ('home')".to_owned(),
        "INSERT INTO piw.downloads (filename, accessed_at) VALUES ('x.whl', now())".to_owned(),
        "UPDATE piw.versions SET yanked = true".to_owned(),
        "UPDATE piw.jobs SET attempts = 0".to_owned(),
    ];
    writes.extend(TABLES.iter().map(|t| format!("DELETE FROM piw.{t}")));
    writes
}

async fn repository() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    (db, client)
}

async fn assert_denied(caller: &Client, owner: &Client, sql: &str) {
    let before = snapshot_all(owner).await;
    let error = caller.batch_execute(sql).await.expect_err(sql);
    assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error:?}");
    assert_eq!(snapshot_all(owner).await, before, "{sql} changed rows");
}

#[tokio::test]
async fn reader_reads_tables_and_queue_status_but_changes_nothing() {
    let (db, owner) = repository().await;
    let reader = db.connect_as("piw_test_reader", Some("piw_reader")).await;

    for table in TABLES {
        reader.query(&format!("SELECT * FROM piw.{table}"), &[]).await.unwrap_or_else(|e| panic!("{table}: {e}"));
    }
    assert_eq!(scalar(&reader, "SELECT count(*) FROM piw.files").await, 4);
    let status = reader.query_one("SELECT pending FROM piw.queue_status()", &[]).await.unwrap();
    assert!(status.get::<_, i64>(0) > 0);
    assert_eq!(text(&reader, "SELECT piw.normalize_name('Foo_Bar')").await.as_deref(), Some("foo-bar"));

    for sql in PROCEDURE_CALLS.iter().map(|s| s.to_string()).chain(table_writes()) {
        assert_denied(&reader, &owner, &sql).await;
    }
    for sql in ["SELECT * FROM piw.claim_jobs('L1')", "SELECT piw.listener_heartbeat('L1', true)", "SELECT piw._wake_listeners()"] {
        assert_denied(&reader, &owner, sql).await;
    }
}

#[tokio::test]
async fn reader_may_execute_only_queue_status_and_normalize_name() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let executable: Vec<String> = client
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'piw' AND has_function_privilege('piw_reader', p.oid, 'EXECUTE') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        executable,
        [
            "piw.listener_status()",
            "piw.normalize_name(text)",
            "piw.plan()",
            "piw.queue_status()",
            "piw.request_jobs(xid8)",
            "piw.uncounted_downloads()"
        ]
    );
}

#[tokio::test]
async fn public_gets_nothing() {
    let (db, owner) = repository().await;
    let nobody = db.connect_as("piw_test_nobody", None).await;
    for table in TABLES {
        assert_denied(&nobody, &owner, &format!("SELECT * FROM piw.{table}")).await;
    }
    assert_denied(&nobody, &owner, "SELECT * FROM piw.queue_status()").await;
    assert_denied(&nobody, &owner, "SELECT piw.normalize_name('x')").await;
    assert_denied(&nobody, &owner, "SELECT * FROM piw.claim_jobs('L1')").await;
    for sql in PROCEDURE_CALLS.iter().map(|s| s.to_string()).chain(table_writes()) {
        assert_denied(&nobody, &owner, &sql).await;
    }
    let public_routines = scalar(
        &owner,
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'piw' AND has_function_privilege('piw_test_nobody', p.oid, 'EXECUTE')",
    )
    .await;
    assert_eq!(public_routines, 0);
}

#[tokio::test]
async fn admin_calls_every_procedure() {
    let (db, owner) = repository().await;
    let admin = db.connect_as("piw_test_admin", Some("piw_admin")).await;
    for sql in PROCEDURE_CALLS {
        admin.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    assert_eq!(scalar(&owner, "SELECT count(*) FROM piw.packages").await, 0, "every package removed");
    assert!(queued(&owner).await.contains(&job("delete_package", "bar", "")));

    let claimed = admin.query("SELECT job_id FROM piw.claim_jobs('L1', 2)", &[]).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let (first, second): (i64, i64) = (claimed[0].get(0), claimed[1].get(0));
    admin.batch_execute(&format!("SELECT piw.complete_job({first}, 'L1')")).await.unwrap();
    admin.batch_execute(&format!("SELECT piw.fail_job({second}, 'L1', 'x', NULL)")).await.unwrap();
    admin
        .batch_execute("SELECT piw.listener_heartbeat('L1', false); SELECT piw.listener_leave('L1'); CALL piw.retry_failed()")
        .await
        .unwrap();
    assert_eq!(scalar(&admin, "SELECT failed FROM piw.queue_status()").await, 0);
}

#[tokio::test]
async fn admin_writes_tables_and_triggers_still_queue_work() {
    let db = TestDb::new().await;
    let owner = db.connect().await;
    let admin = db.connect_as("piw_test_importer", Some("piw_admin")).await;

    let wheel = add_wheel(&admin, "foo", "1.0", "none").await;
    admin.batch_execute("INSERT INTO piw.build_abis (abi_tag) VALUES ('cp311')").await.unwrap();
    add_downloads(&admin, &wheel, 2).await;
    let mut jobs = queued(&owner).await;
    jobs.dedup();
    assert_eq!(jobs, page_jobs(&["foo"], true));

    clear_jobs(&admin).await;
    admin.execute("DELETE FROM piw.files WHERE filename = $1", &[&wheel]).await.unwrap();
    assert!(queued(&owner).await.contains(&job("delete_wheel", "foo", &wheel)));
    admin.batch_execute("UPDATE piw.packages SET description = 'd'; DELETE FROM piw.packages").await.unwrap();
    assert!(queued(&owner).await.contains(&job("delete_package", "foo", "")));
    // Requests are written by piw's routines alone (one of an unknown kind would stop the listener
    // when it moves them into piw.jobs, which checks its rows).
    // The internal helper that writes them runs as its caller (it has no SECURITY DEFINER of its
    // own: piw's routines that call it are), so calling it directly writes nothing either.
    for sql in [
        "INSERT INTO piw.requests (kind) VALUES ('evil')",
        "UPDATE piw.requests SET kind = 'evil'",
        "SELECT piw._enqueue(ARRAY[ROW('evil', '', '')::piw.job_target])",
    ] {
        assert_denied(&admin, &owner, sql).await;
    }
}

#[tokio::test]
async fn security_definer_routines_have_a_fixed_search_path() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let rows = client
        .query(
            "SELECT p.oid::regprocedure::text, p.prokind::text, p.prosecdef, coalesce(p.proconfig, '{}')
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'piw' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut definers = 0;
    for row in &rows {
        let (name, kind, definer, config): (String, String, bool, Vec<String>) = (row.get(0), row.get(1), row.get(2), row.get(3));
        if kind == "p" {
            assert!(definer, "procedure {name} is SECURITY DEFINER");
        }
        if definer {
            definers += 1;
            assert!(config.contains(&"search_path=pg_catalog, pg_temp".to_owned()), "{name}: {config:?}");
        } else if name.starts_with("piw._") && kind == "f" && !config.is_empty() {
            // Internal helpers inherit their caller's search_path (see _enqueue.sql), except
            // trigger functions, which are entry points.
            let trigger = scalar(
                &client,
                &format!("SELECT count(*) FROM pg_proc WHERE oid = '{name}'::regprocedure AND prorettype = 'trigger'::regtype"),
            )
            .await;
            assert_eq!(trigger, 1, "{name} is a helper with a SET clause: {config:?}");
        }
    }
    assert!(definers >= 11, "every procedure and the listener API are SECURITY DEFINER ({definers})");
}

/// The listeners' API, the queue's internals and DDL: none of it for a reader or a role with nothing.
fn more_changes() -> Vec<String> {
    [
        "SELECT piw.complete_job(1, 'L1')",
        "SELECT piw.fail_job(1, 'L1', 'x', NULL)",
        "SELECT piw.listener_leave('L1')",
        "SELECT piw._enqueue(ARRAY[ROW('home', '', '')::piw.job_target])",
        "SELECT piw._existing_package('foo')",
        "TRUNCATE piw.jobs",
        "TRUNCATE piw.packages CASCADE",
        "LOCK TABLE piw.jobs IN ACCESS EXCLUSIVE MODE",
        "CREATE TABLE piw.evil (x int)",
        "CREATE FUNCTION piw.normalize_name(name varchar) RETURNS text LANGUAGE sql AS 'SELECT ''foo''::text'",
        "ALTER TABLE piw.packages DROP CONSTRAINT packages_package_normalized",
        "DROP TABLE piw.jobs",
        "COMMENT ON TABLE piw.jobs IS 'mine'",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test]
async fn reader_and_nobody_are_refused_the_listener_api_internals_and_ddl() {
    let (db, owner) = repository().await;
    let reader = db.connect_as("piw_test_reader2", Some("piw_reader")).await;
    let nobody = db.connect_as("piw_test_nobody2", None).await;
    for sql in more_changes() {
        for caller in [&reader, &nobody] {
            let before = snapshot_all(&owner).await;
            let error = caller.batch_execute(&format!("BEGIN; {sql}; COMMIT")).await.expect_err(&sql);
            caller.batch_execute("ROLLBACK").await.ok();
            assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error:?}");
            assert_eq!(snapshot_all(&owner).await, before, "{sql} changed rows");
        }
    }
}

#[tokio::test]
async fn admin_may_not_create_or_replace_anything_in_the_schema() {
    let (db, owner) = repository().await;
    let admin = db.connect_as("piw_test_admin2", Some("piw_admin")).await;
    for sql in more_changes().into_iter().skip(5) {
        if sql.starts_with("TRUNCATE") || sql.starts_with("LOCK") {
            continue; // piw_admin may delete every row anyway
        }
        let error = admin.batch_execute(&sql).await.expect_err(&sql);
        assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error:?}");
    }
    assert_eq!(
        scalar(
            &owner,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'piw' AND c.relname = 'evil'"
        )
        .await,
        0
    );
}

/// A piw_admin login that may create schemas in the database, as an attacker would like to be.
async fn attacker(db: &TestDb, owner: &Client, role: &str) -> Client {
    let attacker = db.connect_as(role, Some("piw_admin")).await;
    owner.batch_execute(&format!("GRANT CREATE ON DATABASE {} TO {role}", db.name)).await.unwrap();
    attacker
        .batch_execute(
            "CREATE SCHEMA evil;
             CREATE FUNCTION evil.always(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
             CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.always);
             CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE sql AS 'SELECT ''foo''::text';
             CREATE FUNCTION evil.regexp_replace(text, text, text, text) RETURNS text LANGUAGE sql AS 'SELECT ''foo''::text';
             CREATE FUNCTION evil.coalesce(boolean, boolean) RETURNS boolean LANGUAGE sql AS 'SELECT true';
             CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS 'SELECT ''-infinity''::timestamptz';
             CREATE TEMP TABLE packages (package text, skip text, description text);
             CREATE TEMP TABLE jobs (kind text, package text, filename text);
             SET search_path = evil, pg_temp, pg_catalog;",
        )
        .await
        .unwrap();
    attacker
}

#[tokio::test]
async fn security_definer_procedures_ignore_the_callers_search_path() {
    let (db, owner) = repository().await;
    let attacker = attacker(&db, &owner, "piw_test_attacker").await;
    // In the attacker's session, = is always true and lower() says 'foo'.
    assert_eq!(scalar(&attacker, "SELECT count(*) FROM piw.packages WHERE package = 'nothing-like-it'").await, 2);

    attacker.batch_execute("CALL piw.remove_version('bar', '0.1')").await.unwrap();
    attacker.batch_execute("CALL piw.skip_package('Foo', 'only foo')").await.unwrap();
    assert_eq!(text(&attacker, "SELECT piw.normalize_name('Bar_Baz')").await.as_deref(), Some("bar-baz"));
    let expect_unknown = attacker.batch_execute("CALL piw.remove_package('no-such-package')").await.expect_err("unknown package");
    assert_eq!(expect_unknown.code(), Some(&SqlState::NO_DATA_FOUND));

    // Only what was asked changed: foo keeps its versions, bar keeps its package row, the
    // attacker's temporary tables got nothing.
    assert_eq!(scalar(&owner, "SELECT count(*) FROM piw.versions WHERE package = 'foo'").await, 2);
    assert_eq!(scalar(&owner, "SELECT count(*) FROM piw.versions WHERE package = 'bar'").await, 0);
    assert_eq!(scalar(&owner, "SELECT count(*) FROM piw.packages").await, 2);
    assert_eq!(text(&owner, "SELECT skip FROM piw.packages WHERE package = 'foo'").await.as_deref(), Some("only foo"));
    assert_eq!(text(&owner, "SELECT skip FROM piw.packages WHERE package = 'bar'").await.as_deref(), Some(""));
    assert_eq!(
        scalar(&attacker, "SELECT count(*) FROM pg_temp.packages").await + scalar(&attacker, "SELECT count(*) FROM pg_temp.jobs").await,
        0
    );
    assert!(queued(&owner).await.contains(&job("delete_wheel", "bar", "bar-0.1-py3-none-any.whl")));
}

#[tokio::test]
async fn triggers_ignore_the_callers_search_path() {
    let (db, owner) = repository().await;
    clear_jobs(&owner).await;
    let attacker = attacker(&db, &owner, "piw_test_attacker2").await;
    attacker.batch_execute("DELETE FROM piw.files WHERE filename OPERATOR(pg_catalog.=) 'bar-0.1-py3-none-any.whl'").await.unwrap();
    let mut jobs = queued(&owner).await;
    jobs.retain(|j| j.0 == "delete_wheel");
    assert_eq!(jobs, [job("delete_wheel", "bar", "bar-0.1-py3-none-any.whl")]);
    assert_eq!(scalar(&owner, "SELECT count(*) FROM piw.files").await, 3);
}

#[tokio::test]
async fn arguments_are_data_never_sql() {
    let (db, owner) = repository().await;
    let admin = db.connect_as("piw_test_admin3", Some("piw_admin")).await;
    let injected = "x'); DROP TABLE piw.packages; --";
    admin.execute("CALL piw.skip_package('foo', $1)", &[&injected]).await.unwrap();
    admin.execute("CALL piw.skip_version('foo', '1.0', $1)", &[&injected]).await.unwrap();
    for sql in
        ["CALL piw.rebuild($1)", "CALL piw.remove_package($1)", "CALL piw.remove_version('foo', $1)", "CALL piw.yank_version($1, '1.0')"]
    {
        let error = admin.execute(sql, &[&injected]).await.expect_err(sql);
        assert!(matches!(error.code().map(|c| c.code()), Some("22023" | "P0002")), "{sql}: {error:?}");
    }
    assert_eq!(text(&owner, "SELECT skip FROM piw.packages WHERE package = 'foo'").await.as_deref(), Some(injected));
    assert_eq!(text(&owner, "SELECT skip FROM piw.versions WHERE package = 'foo' AND version = '1.0'").await.as_deref(), Some(injected));
    assert_eq!(scalar(&owner, "SELECT count(*) FROM piw.packages").await, 2, "piw.packages is still there");
    // No routine builds SQL from its arguments: the one EXECUTE (claim_jobs, for a plan made
    // afresh on every claim) runs a constant, with no USING and nothing appended.
    let dynamic = scalar(
        &owner,
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'piw' AND p.prosrc ~* '\\mEXECUTE\\M(?!\\s+\\$move\\$)'",
    )
    .await;
    assert_eq!(dynamic, 0, "a piw routine runs dynamic SQL");
    let constant = scalar(
        &owner,
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'piw' AND p.prosrc ~ 'EXECUTE \\$move\\$[^$]*\\$move\\$;'",
    )
    .await;
    assert_eq!(constant, 1, "claim_jobs executes one constant statement");
}
