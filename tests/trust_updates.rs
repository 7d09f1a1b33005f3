//! UPDATEs that move rows between packages: a package renamed, a build, a version or a dependency
//! moved to another package. Both sides are queued, the old package's directories go when it no
//! longer exists, a moved build's wheels follow it on disk, and the invariant holds.
mod support;

use support::{bulk, daemon::output_dir, fixtures::*, invariant, process::ListenerProcess, TestDb};

#[tokio::test]
async fn renaming_a_package_queues_the_removal_of_the_old_and_the_pages_of_the_new() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    client.batch_execute("INSERT INTO piw.packages (package) VALUES ('old-name')").await.unwrap();
    clear_jobs(&client).await;
    client.batch_execute("UPDATE piw.packages SET package = 'new-name' WHERE package = 'old-name'").await.unwrap();
    let mut expected = page_jobs(&["new-name"], true);
    expected.push(job("delete_package", "old-name", ""));
    expected.sort();
    assert_eq!(queued(&client).await, expected);
}

#[tokio::test]
async fn moving_a_build_queues_both_packages_and_the_move_of_its_wheel() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let wheel = add_wheel(&client, "foo", "1.0", "none").await;
    add_wheel(&client, "bar", "2.0", "none").await;
    clear_jobs(&client).await;
    client.batch_execute("UPDATE piw.builds SET package = 'bar', version = '2.0' WHERE package = 'foo'").await.unwrap();
    let mut expected = page_jobs(&["bar", "foo"], false);
    expected.push(job("delete_wheel", "foo", &wheel));
    expected.sort();
    assert_eq!(queued(&client).await, expected);
}

#[tokio::test]
async fn moving_a_version_or_a_dependency_queues_both_packages() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let foo = add_wheel(&client, "foo", "1.0", "none").await;
    let bar = add_wheel(&client, "bar", "1.0", "none").await;
    client
        .batch_execute(&format!(
            "INSERT INTO piw.versions (package, version) VALUES ('foo', '9.9');
             INSERT INTO piw.dependencies (filename, tool, dependency) VALUES ('{foo}', 'apt', 'libfoo1');"
        ))
        .await
        .unwrap();
    clear_jobs(&client).await;
    client.batch_execute("UPDATE piw.versions SET package = 'bar' WHERE package = 'foo' AND version = '9.9'").await.unwrap();
    assert_eq!(queued(&client).await, page_jobs(&["bar", "foo"], false));
    clear_jobs(&client).await;
    client.batch_execute(&format!("UPDATE piw.dependencies SET filename = '{bar}' WHERE filename = '{foo}'")).await.unwrap();
    assert_eq!(queued(&client).await, [job("project", "bar", ""), job("project", "foo", "")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_moved_between_packages_leave_the_tree_a_render_of_the_rows() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let out = output_dir();
    let root = out.path();
    bulk::repository(&client, 3).await;
    client.batch_execute("INSERT INTO piw.packages (package) VALUES ('lonely')").await.unwrap();
    let mut placed = bulk::place_wheels(&client, root).await;
    let listener = ListenerProcess::start(&db, root);
    bulk::wait_drained(&client, || listener.log()).await;
    assert!(root.join("project/lonely/index.html").is_file());

    // A package renamed; a build moved to a version of another package (its wheel follows);
    // a version without builds moved; a dependency moved to another package's file.
    let moved = "pkg_1-1.0-cp311-cp311-linux_armv7l.whl";
    client
        .batch_execute(
            "UPDATE piw.packages SET package = 'renamed' WHERE package = 'lonely';
             INSERT INTO piw.versions (package, version) VALUES ('pkg-2', '9.0'), ('pkg-3', '5.0');
             UPDATE piw.builds SET package = 'pkg-2', version = '9.0' WHERE package = 'pkg-1' AND version = '1.0';
             UPDATE piw.versions SET package = 'pkg-1' WHERE package = 'pkg-3' AND version = '5.0';
             INSERT INTO piw.dependencies (filename, tool, dependency)
             VALUES ('pkg_3-1.0-cp311-cp311-linux_armv7l.whl', 'apt', 'libmoved1');
             UPDATE piw.dependencies SET filename = 'pkg_2-2.0-cp311-cp311-linux_armv7l.whl' WHERE dependency = 'libmoved1';",
        )
        .await
        .unwrap();
    bulk::wait_drained(&client, || listener.log()).await;
    listener.stop();

    assert!(!root.join("project/lonely").exists() && !root.join("simple/lonely").exists(), "the old name's directories went");
    assert_eq!(std::fs::read(root.join("simple/pkg-2").join(moved)).unwrap(), b"wheel bytes", "the wheel moved with its build");
    placed.remove(&("pkg-1".to_owned(), moved.to_owned()));
    placed.insert(("pkg-2".to_owned(), moved.to_owned()));
    invariant::assert_holds(&client, root, &placed).await;
}
