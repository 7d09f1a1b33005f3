//! Rows for tests: packages, versions, builds and files inserted the way an importer would.
#![allow(dead_code)]

use tokio_postgres::GenericClient;

/// Insert a package (if missing), a version (if missing), a successful build for `abi` and one
/// wheel file for it. Returns the wheel's filename.
pub async fn add_wheel(client: &impl GenericClient, package: &str, version: &str, abi: &str) -> String {
    let (py, platform) = if abi == "none" { ("py3", "any") } else { (abi, "linux_armv7l") };
    let filename = format!("{}-{version}-{py}-{abi}-{platform}.whl", package.replace('-', "_"));
    let hash = format!("{:064x}", fxhash(&filename));
    client
        .batch_execute(&format!(
            "INSERT INTO piw.packages (package) VALUES ('{package}') ON CONFLICT DO NOTHING;
             INSERT INTO piw.versions (package, version) VALUES ('{package}', '{version}') ON CONFLICT DO NOTHING;
             WITH b AS (
                 INSERT INTO piw.builds (package, version, abi_tag) VALUES ('{package}', '{version}', '{abi}')
                 RETURNING build_id)
             INSERT INTO piw.files (filename, build_id, filesize, filehash, package_tag, package_version_tag,
                                    py_version_tag, abi_tag, platform_tag)
             SELECT '{filename}', b.build_id, 1234, '{hash}', '{tag}', '{version}', '{py}', '{abi}', '{platform}'
               FROM b;",
            tag = package.replace('-', "_"),
        ))
        .await
        .expect("insert wheel rows");
    filename
}

/// Log `count` downloads of a file.
pub async fn add_downloads(client: &impl GenericClient, filename: &str, count: i32) {
    client
        .execute(
            "INSERT INTO piw.downloads (filename, accessed_at) SELECT $1, now() FROM generate_series(1, $2)",
            &[&filename, &count],
        )
        .await
        .expect("insert downloads");
}

/// A small repository: foo 1.0 and 2.0 (pure and compiled wheels, a dependency, downloads), bar 0.1.
pub async fn small_repository(client: &impl GenericClient) {
    let foo1 = add_wheel(client, "foo", "1.0", "none").await;
    add_wheel(client, "foo", "2.0", "none").await;
    let foo2c = add_wheel(client, "foo", "2.0", "cp311").await;
    add_wheel(client, "bar", "0.1", "none").await;
    client
        .execute("INSERT INTO piw.dependencies (filename, tool, dependency) VALUES ($1, 'apt', 'libfoo1')", &[&foo2c])
        .await
        .expect("insert dependency");
    add_downloads(client, &foo1, 3).await;
    add_downloads(client, &foo2c, 2).await;
}

/// Forget every queued job (tests that look at what one call queues start from an empty queue).
pub async fn clear_jobs(client: &impl GenericClient) {
    client.batch_execute("DELETE FROM piw.jobs").await.expect("clear jobs");
}

/// The queued jobs as (kind, package, filename), sorted, duplicates kept.
pub async fn queued(client: &impl GenericClient) -> Vec<(String, String, String)> {
    client
        .query("SELECT kind, package, filename FROM piw.jobs WHERE state = 'pending' ORDER BY 1, 2, 3", &[])
        .await
        .expect("read jobs")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn fxhash(text: &str) -> u128 {
    text.bytes().fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d_u128, |h, b| (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b))
}
