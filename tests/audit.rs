//! Who did what: the audit log after every procedure and after direct row changes, by two login
//! roles; append-only; errors that name the state they found; and every role against every
//! routine.
mod support;

use support::{fixtures::*, snapshot_all, TestDb};
use tokio_postgres::{error::SqlState, Client};

async fn repository() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let client = db.connect().await;
    small_repository(&client).await;
    clear_jobs(&client).await;
    (db, client)
}

/// The audit rows after `after_id`, as (role, action, package, version, reason, changed).
async fn audit_since(
    client: &Client,
    after_id: i64,
) -> Vec<(String, String, Option<String>, Option<String>, Option<String>, serde_json::Value)> {
    client
        .query(
            "SELECT role_name, action, package, version, reason, changed::text FROM piw.audit WHERE audit_id > $1 ORDER BY audit_id",
            &[&after_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), serde_json::from_str(r.get::<_, &str>(5)).unwrap()))
        .collect()
}

async fn last_audit_id(client: &Client) -> i64 {
    scalar(client, "SELECT coalesce(max(audit_id), 0) FROM piw.audit").await
}

#[tokio::test]
async fn each_call_and_each_direct_change_is_logged_with_its_role() {
    let (db, owner) = repository().await;
    let alice = db.connect_as("piw_audit_alice", Some("piw_admin")).await;
    let bob = db.connect_as("piw_audit_bob", Some("piw_admin")).await;
    let start = last_audit_id(&owner).await;

    alice.batch_execute("CALL piw.remove_version('Foo', '1.0')").await.unwrap();
    bob.batch_execute("DELETE FROM piw.downloads WHERE filename LIKE 'foo-2.0-%'").await.unwrap();
    bob.batch_execute("BEGIN; UPDATE piw.versions SET released = now() WHERE package = 'bar'; UPDATE piw.builds SET duration = '2 s' WHERE package = 'bar'; COMMIT").await.unwrap();
    alice.batch_execute("CALL piw.skip_package('bar', 'license forbids it')").await.unwrap();

    let rows = audit_since(&owner, start).await;
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let (role, action, package, version, reason, changed) = &rows[0];
    assert_eq!(
        (role.as_str(), action.as_str(), package.as_deref(), version.as_deref(), reason),
        ("piw_audit_alice", "remove_version", Some("foo"), Some("1.0"), &None)
    );
    assert_eq!(
        changed,
        &serde_json::json!({"downloads deleted": 3, "files deleted": 1, "builds deleted": 1, "versions deleted": 1}),
        "counted by the triggers into the procedure's own row"
    );
    let (role, action, package, version, _, changed) = &rows[1];
    assert_eq!(
        (role.as_str(), action.as_str(), package.as_deref(), version.as_deref()),
        ("piw_audit_bob", "direct", Some("foo"), Some("2.0"))
    );
    assert_eq!(changed, &serde_json::json!({"downloads deleted": 2}));
    let (role, action, package, version, _, changed) = &rows[2];
    assert_eq!(
        (role.as_str(), action.as_str(), package.as_deref(), version.as_deref()),
        ("piw_audit_bob", "direct", Some("bar"), Some("0.1"))
    );
    assert_eq!(changed, &serde_json::json!({"versions updated": 1, "builds updated": 1}), "one row for the transaction");
    let (role, action, package, _, reason, changed) = &rows[3];
    assert_eq!(
        (role.as_str(), action.as_str(), package.as_deref(), reason.as_deref()),
        ("piw_audit_alice", "skip_package", Some("bar"), Some("license forbids it"))
    );
    assert_eq!(changed, &serde_json::json!({"packages updated": 1}));

    // The request id of an entry is the transaction's, and its work is found by it.
    let request: String = owner
        .query_one("SELECT request_id::text FROM piw.audit WHERE action = 'remove_version' ORDER BY audit_id DESC LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    let jobs: Vec<String> = owner
        .query("SELECT kind FROM piw.request_jobs($1::text::xid8) ORDER BY 1", &[&request])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(jobs, ["delete_wheel", "home", "project", "search", "simple"]);
}

#[tokio::test]
async fn every_procedure_appends_one_entry_and_a_failed_call_none() {
    let (db, owner) = repository().await;
    let admin = db.connect_as("piw_audit_admin", Some("piw_admin")).await;
    let calls = [
        ("CALL piw.skip_package('bar')", "skip_package"),
        ("CALL piw.unskip_package('bar')", "unskip_package"),
        ("CALL piw.skip_version('foo', '2.0', 'why')", "skip_version"),
        ("CALL piw.unskip_version('foo', '2.0')", "unskip_version"),
        ("CALL piw.yank_version('foo', '2.0', 'broken')", "yank_version"),
        ("CALL piw.unyank_version('foo', '2.0')", "unyank_version"),
        ("CALL piw.hold_version('foo', '2.0', 'review')", "hold_version"),
        ("CALL piw.release_version('foo', '2.0')", "release_version"),
        ("CALL piw.rebuild('home')", "rebuild"),
        ("CALL piw.rebuild('index', 'foo')", "rebuild"),
        ("CALL piw.retry_failed()", "retry_failed"),
        ("CALL piw.retry_jobs(package => 'foo')", "retry_jobs"),
        ("CALL piw.cancel_jobs('foo')", "cancel_jobs"),
        ("CALL piw.set_site_url('https://wheels.example.org')", "set_site_url"),
        ("CALL piw.remove_version('foo', '1.0')", "remove_version"),
        ("CALL piw.remove_package('foo', true)", "remove_package"),
        ("CALL piw.remove_package('bar')", "remove_package"),
    ];
    for (sql, action) in calls {
        let before = last_audit_id(&owner).await;
        admin.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = audit_since(&owner, before).await;
        assert_eq!(rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect::<Vec<_>>(), [("piw_audit_admin", action)], "{sql}");
    }
    // Refused calls leave no entry: their transaction rolled back.
    let before = snapshot_all(&owner).await;
    for sql in ["CALL piw.remove_version('nope', '1.0')", "CALL piw.rebuild('nonsense')", "CALL piw.retry_jobs(job_id => 999999)"] {
        admin.batch_execute(sql).await.expect_err(sql);
    }
    assert_eq!(snapshot_all(&owner).await, before);
}

#[tokio::test]
async fn the_audit_is_append_only_but_readable() {
    let (db, owner) = repository().await;
    owner.batch_execute("CALL piw.rebuild('home')").await.unwrap();
    let admin = db.connect_as("piw_audit_admin2", Some("piw_admin")).await;
    let reader = db.connect_as("piw_audit_reader", Some("piw_reader")).await;
    let operator = db.connect_as("piw_audit_operator", Some("piw_operator")).await;
    let before = snapshot_all(&owner).await;
    for client in [&admin, &reader, &operator] {
        for sql in [
            "UPDATE piw.audit SET role_name = 'someone else'",
            "DELETE FROM piw.audit",
            "TRUNCATE piw.audit",
            "INSERT INTO piw.audit (action) VALUES ('forged')",
        ] {
            let error = client.batch_execute(sql).await.expect_err(sql);
            assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error}");
        }
        assert!(scalar(client, "SELECT count(*) FROM piw.audit").await > 0);
    }
    // A setting pointing the triggers at an old entry cannot make them change it.
    admin
        .batch_execute("BEGIN; SELECT set_config('piw.audit_id', (SELECT min(audit_id)::text FROM piw.audit), true); DELETE FROM piw.downloads; COMMIT")
        .await
        .unwrap();
    let after = snapshot_all(&owner).await;
    let old_entries: Vec<&String> = before.iter().skip_while(|l| *l != "-- audit").collect();
    assert!(old_entries.iter().all(|entry| after.contains(entry)), "old entries unchanged");
    assert_eq!(scalar(&owner, "SELECT count(*) FROM piw.audit WHERE action = 'direct' AND changed ? 'downloads deleted'").await, 1);
}

#[tokio::test]
async fn wrong_states_are_named_with_their_own_sqlstate_and_change_nothing() {
    let (_db, client) = repository().await;
    client.batch_execute("CALL piw.yank_version('foo', '1.0', 'bad build')").await.unwrap();
    client.batch_execute("CALL piw.remove_version('foo', '2.0', skip => true)").await.unwrap();
    client.batch_execute("CALL piw.remove_version('bar', '0.1')").await.unwrap();
    client.batch_execute("INSERT INTO piw.jobs (kind) VALUES ('home')").await.unwrap();
    let job = scalar(&client, "SELECT max(job_id) FROM piw.jobs").await;
    let retry = format!("CALL piw.retry_jobs(job_id => {job})");
    let cases = [
        ("CALL piw.unskip_package('foo')", "PW001", "package foo is not skipped".to_owned()),
        ("CALL piw.unskip_version('foo', '1.0')", "PW001", "version 1.0 of package foo is not skipped".to_owned()),
        ("CALL piw.yank_version('foo', '1.0', 'again')", "PW004", "version 1.0 of package foo is already yanked (bad build)".to_owned()),
        ("CALL piw.unyank_version('foo', '2.0')", "PW005", "version 2.0 of package foo is not yanked".to_owned()),
        ("CALL piw.remove_version('foo', '2.0', skip => true)", "PW003", "version 2.0 of package foo was removed at ".to_owned()),
        ("CALL piw.remove_version('bar', '0.1')", "P0002", "version 0.1 of package bar was removed at ".to_owned()),
        ("CALL piw.skip_version('bar', '0.1')", "P0002", "version 0.1 of package bar was removed at ".to_owned()),
        ("CALL piw.remove_version('bar', '9.9')", "P0002", "version 9.9 of package bar does not exist".to_owned()),
        (retry.as_str(), "PW007", format!("job {job} is pending, not failed")),
    ];
    for (sql, code, message) in cases {
        let before = snapshot_all(&client).await;
        let error = client.batch_execute(sql).await.expect_err(sql);
        let db_error = error.as_db_error().unwrap();
        assert_eq!(db_error.code().code(), code, "{sql}: {db_error:?}");
        assert!(db_error.message().starts_with(&message), "{sql}: {}", db_error.message());
        assert!(!db_error.message().contains('\n'));
        if message.contains("removed at") {
            assert!(db_error.message().ends_with(" UTC by postgres"), "{}", db_error.message());
        }
        assert_eq!(snapshot_all(&client).await, before, "{sql} changed nothing");
    }
}

/// Each routine called in a transaction rolled back: allowed or refused for lack of privilege.
async fn allowed(client: &Client, sql: &str) -> bool {
    client.batch_execute("BEGIN").await.unwrap();
    let outcome = client.batch_execute(sql).await;
    client.batch_execute("ROLLBACK").await.unwrap();
    match outcome {
        Ok(()) => true,
        Err(error) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => false,
        Err(error) => panic!("{sql}: {error}"),
    }
}

#[tokio::test]
async fn every_role_against_every_routine() {
    let (db, _owner) = repository().await;
    let roles = [
        ("piw_roles_nobody", None),
        ("piw_roles_reader", Some("piw_reader")),
        ("piw_roles_operator", Some("piw_operator")),
        ("piw_roles_admin", Some("piw_admin")),
    ];
    // (routine call, who may: nobody, reader, operator, admin)
    let matrix: [(&str, [bool; 4]); 27] = [
        ("SELECT * FROM piw.queue_status()", [false, true, true, true]),
        ("SELECT * FROM piw.listener_status()", [false, true, true, true]),
        ("SELECT * FROM piw.request_jobs('1'::xid8)", [false, true, true, true]),
        ("SELECT * FROM piw.plan()", [false, true, true, true]),
        ("SELECT * FROM piw.uncounted_downloads()", [false, true, true, true]),
        ("SELECT piw.normalize_name('A_b')", [false, true, true, true]),
        ("SELECT * FROM piw.audit", [false, true, true, true]),
        ("CALL piw.rebuild('home')", [false, false, true, true]),
        ("CALL piw.rebuild('index', 'foo')", [false, false, true, true]),
        ("CALL piw.retry_failed()", [false, false, true, true]),
        ("CALL piw.retry_jobs(package => 'foo')", [false, false, true, true]),
        ("CALL piw.cancel_jobs('foo')", [false, false, true, true]),
        ("SELECT * FROM piw.count_downloads('0')", [false, false, true, true]),
        ("CALL piw.recount_downloads()", [false, false, false, true]),
        ("CALL piw.remove_version('foo', '1.0')", [false, false, false, true]),
        ("CALL piw.remove_package('foo')", [false, false, false, true]),
        ("CALL piw.skip_package('foo')", [false, false, false, true]),
        ("CALL piw.unskip_package('foo')", [false, false, false, false]),
        ("CALL piw.skip_version('foo', '1.0')", [false, false, false, true]),
        ("CALL piw.yank_version('foo', '1.0')", [false, false, false, true]),
        ("CALL piw.hold_version('foo', '1.0', 'review')", [false, false, true, true]),
        ("CALL piw.release_version('foo', '1.0')", [false, false, false, false]),
        ("CALL piw.set_site_url('https://example.org')", [false, false, false, true]),
        ("SELECT * FROM piw.claim_jobs('L1')", [false, false, false, true]),
        ("SELECT piw.listener_heartbeat('L1', true)", [false, false, false, true]),
        ("DELETE FROM piw.downloads", [false, false, false, true]),
        ("INSERT INTO piw.packages (package) VALUES ('new')", [false, false, false, true]),
    ];
    for (index, (role, member_of)) in roles.iter().enumerate() {
        let client = db.connect_as(role, *member_of).await;
        for (sql, may) in &matrix {
            // unskip_package and release_version of what is not skipped or held: the state error
            // comes after the privilege check, so only the privilege is asked here.
            let sql = if sql.contains("unskip_package") { "CALL piw.unskip_package('nope')" } else { sql };
            let sql = if sql.contains("release_version") { "CALL piw.release_version('nope', '1.0')" } else { sql };
            if sql.contains("unskip_package") || sql.contains("release_version") {
                let outcome = client.batch_execute(sql).await.expect_err(sql);
                let may = if sql.contains("release_version") { index >= 2 } else { index == 3 };
                let expected = if may { SqlState::NO_DATA_FOUND } else { SqlState::INSUFFICIENT_PRIVILEGE };
                assert_eq!(outcome.code(), Some(&expected), "{role}: {sql}");
                continue;
            }
            assert_eq!(allowed(&client, sql).await, may[index], "{role}: {sql}");
        }
    }
}
