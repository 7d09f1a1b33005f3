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
        .execute("INSERT INTO piw.downloads (filename, accessed_at) SELECT $1, now() FROM generate_series(1, $2)", &[&filename, &count])
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

/// Forget every queued request and job (tests that look at what one call queues start from an
/// empty queue).
pub async fn clear_jobs(client: &impl GenericClient) {
    client.batch_execute("DELETE FROM piw.requests; DELETE FROM piw.jobs").await.expect("clear jobs");
}

/// The targets waiting to be done (requested, or pending jobs) as (kind, package, filename),
/// sorted, each once: what the listener will do (a request for a package's `index` is its
/// `simple` and `project` jobs).
pub async fn queued(client: &impl GenericClient) -> Vec<(String, String, String)> {
    client
        .query(
            "SELECT k.kind, r.package, r.filename
               FROM piw.requests r CROSS JOIN LATERAL unnest(piw._request_kinds(r.kind)) AS k (kind)
              UNION
             SELECT kind, package, filename FROM piw.jobs WHERE state = 'pending'
              ORDER BY 1, 2, 3",
            &[],
        )
        .await
        .expect("read jobs")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn fxhash(text: &str) -> u128 {
    text.bytes().fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d_u128, |h, b| {
        (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b)
    })
}

/// One job target as `queued` reports it: (kind, package, filename).
pub fn job(kind: &str, package: &str, filename: &str) -> (String, String, String) {
    (kind.to_owned(), package.to_owned(), filename.to_owned())
}

/// The jobs the pages of `packages` need (simple and project pages, home, search), sorted as
/// `queued` sorts; `with_root` adds the simple root index.
pub fn page_jobs(packages: &[&str], with_root: bool) -> Vec<(String, String, String)> {
    let mut jobs = vec![job("home", "", ""), job("search", "", "")];
    if with_root {
        jobs.push(job("simple_root", "", ""));
    }
    for package in packages {
        jobs.push(job("simple", package, ""));
        jobs.push(job("project", package, ""));
    }
    jobs.sort();
    jobs
}

/// The jobs of the simple and project pages of `packages` alone, sorted as `queued` sorts: what
/// a new version or wheel of a listed package queues (the home page follows at the next count).
pub fn package_page_jobs(packages: &[&str]) -> Vec<(String, String, String)> {
    let mut jobs: Vec<_> = packages.iter().flat_map(|p| [job("simple", p, ""), job("project", p, "")]).collect();
    jobs.sort();
    jobs
}

/// The single bigint (count, id ...) a query returns.
pub async fn scalar(client: &impl GenericClient, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

/// The single text value (possibly null) a query returns.
pub async fn text(client: &impl GenericClient, sql: &str) -> Option<String> {
    client.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

/// A package, a version and a successful build, without files. Returns the build's id.
pub async fn add_build(client: &impl GenericClient, package: &str, version: &str) -> i64 {
    client
        .batch_execute(&format!(
            "INSERT INTO piw.packages (package) VALUES ('{package}') ON CONFLICT DO NOTHING;
             INSERT INTO piw.versions (package, version) VALUES ('{package}', '{version}') ON CONFLICT DO NOTHING;"
        ))
        .await
        .expect("insert package and version");
    client
        .query_one("INSERT INTO piw.builds (package, version) VALUES ($1, $2) RETURNING build_id", &[&package, &version])
        .await
        .expect("insert build")
        .get(0)
}

/// Insert one file row of a build, as an importer would; the error is the caller's to judge.
pub async fn insert_file(client: &impl GenericClient, build_id: i64, filename: &str) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO piw.files (filename, build_id, filesize, filehash, package_tag, package_version_tag,
                                    py_version_tag, abi_tag, platform_tag)
             VALUES ($1, $2, 1, repeat('a', 64), 'foo', '1.0', 'py3', 'none', 'any')",
            &[&filename, &build_id],
        )
        .await
}

/// Run `sql` expecting it to fail with `code` (and `message`, when given), and assert that no row
/// of any piw table (jobs included) changed.
pub async fn assert_fails_unchanged(
    client: &tokio_postgres::Client,
    sql: &str,
    code: &tokio_postgres::error::SqlState,
    message: Option<&str>,
) {
    let before = super::snapshot_all(client).await;
    let error = match client.batch_execute(sql).await {
        Ok(()) => panic!("{sql}: succeeded, expected {}", code.code()),
        Err(error) => error,
    };
    assert_eq!(error.code(), Some(code), "{sql}: {error:?}");
    if let Some(message) = message {
        assert_eq!(error.as_db_error().map(|e| e.message()), Some(message), "{sql}");
    }
    assert_eq!(super::snapshot_all(client).await, before, "{sql} changed rows");
}

/// A dedicated connection that LISTENs on the queue's channel and hands over what it hears.
pub struct Listener {
    pub client: tokio_postgres::Client,
    heard: tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
}

/// A connection driven by `poll_message`, so that what the server sends unasked (notifications,
/// notices) is not discarded: `keep` picks what is handed over.
pub async fn connect_keeping<T: Send + 'static>(
    config: &tokio_postgres::Config,
    keep: impl Fn(tokio_postgres::AsyncMessage) -> Option<T> + Send + 'static,
) -> (tokio_postgres::Client, tokio::sync::mpsc::UnboundedReceiver<T>) {
    use futures_util::StreamExt;
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await.expect("connects");
    let (tx, kept) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let Some(item) = keep(message) {
                let _ = tx.send(item);
            }
        }
    });
    (client, kept)
}

impl Listener {
    /// Connect with `config` and LISTEN piw_jobs, keeping the notifications.
    pub async fn start(config: &tokio_postgres::Config) -> Listener {
        let (client, heard) = connect_keeping(config, |message| match message {
            tokio_postgres::AsyncMessage::Notification(n) => Some((n.channel().to_owned(), n.payload().to_owned())),
            _ => None,
        })
        .await;
        client.batch_execute(&format!("LISTEN {}", piw::queue::CHANNEL)).await.expect("LISTEN");
        Listener { client, heard }
    }

    /// The next notification as (channel, payload). The limit only keeps a broken test from
    /// hanging: a notification that arrives at all arrives within milliseconds.
    pub async fn next(&mut self) -> (String, String) {
        tokio::time::timeout(std::time::Duration::from_secs(60), self.heard.recv())
            .await
            .expect("a notification within a minute")
            .expect("listener connection open")
    }
}

/// What the streamed full rebuilds render, every simple page, then every project page: the
/// outputs [`piw::pages::all_simple`] and [`piw::pages::all_project`] hand their sinks.
pub async fn streamed_pages(client: &impl GenericClient) -> (Vec<piw::pages::Output>, Vec<piw::pages::Output>) {
    let (mut simple, mut project) = (Vec::new(), Vec::new());
    piw::pages::all_simple(client, &mut |output| {
        simple.push(output);
        Ok(())
    })
    .await
    .expect("all simple pages");
    piw::pages::all_project(client, &mut |output| {
        project.push(output);
        Ok(())
    })
    .await
    .expect("all project pages");
    (simple, project)
}

/// From now on, transactions that insert into piw.files wait at their commit (a deferred trigger
/// takes an advisory lock this session holds) until [`release_file_commits`]: an importer stopped
/// between putting its wheel in place and committing its rows.
pub async fn hold_file_commits(client: &impl GenericClient) {
    client
        .batch_execute(
            "CREATE FUNCTION public.hold_commit() RETURNS trigger LANGUAGE plpgsql AS
                 $$BEGIN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); RETURN NULL; END$$;
             CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON piw.files
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.hold_commit();
             SELECT pg_advisory_lock(4242);",
        )
        .await
        .expect("hold commits");
}

/// Let the commits [`hold_file_commits`] held go on.
pub async fn release_file_commits(client: &impl GenericClient) {
    client.batch_execute("SELECT pg_advisory_unlock(4242)").await.expect("release commits");
}
