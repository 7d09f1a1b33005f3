//! The download figures three ways, for the tests of the counts: as the whole log says they are,
//! as the pages render them, and as the counts hold them.
#![allow(dead_code)]

use piw::pages;
use tokio_postgres::Client;

/// The home page's download figures and the search index as the whole log says they are: the
/// queries the pages ran before counts were kept (per UTC day, as the counts are).
pub async fn from_the_log(client: &Client) -> (i64, i64, Vec<(String, i64, i64)>) {
    let recent = "(d.accessed_at AT TIME ZONE 'UTC')::date >= (now() AT TIME ZONE 'UTC')::date - 29";
    let home = client.query_one(&format!("SELECT count(*), count(*) FILTER (WHERE {recent}) FROM piw.downloads d"), &[]).await.unwrap();
    let search = client
        .query(
            &format!(
                "SELECT p.package, coalesce(x.recent, 0), coalesce(x.total, 0)
                   FROM piw.packages p
                   LEFT JOIN (SELECT b.package, count(*) FILTER (WHERE {recent}) AS recent, count(*) AS total
                                FROM piw.downloads d
                                JOIN piw.files f ON f.filename = d.filename
                                JOIN piw.builds b ON b.build_id = f.build_id
                               GROUP BY b.package) x ON x.package = p.package
                  WHERE p.skip = '' ORDER BY p.package COLLATE \"C\""
            ),
            &[],
        )
        .await
        .unwrap();
    (home.get(0), home.get(1), search.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// The same figures as the pages render them.
pub async fn on_the_pages(client: &Client) -> (i64, i64, Vec<(String, i64, i64)>) {
    let home = page_text(&pages::home(client).await.unwrap(), "index.html");
    let figure = |label: &str| -> i64 {
        let start = format!(r#"<tr><th>{label}</th><td class="num">"#);
        let at = home.find(&start).unwrap_or_else(|| panic!("{label} on {home}")) + start.len();
        home[at..].split('<').next().unwrap().replace(',', "").parse().unwrap()
    };
    let search = page_text(&pages::search(client).await.unwrap(), "packages.json");
    (figure("Downloads (all time)"), figure("Downloads (last 30 days)"), serde_json::from_str(&search).unwrap())
}

fn page_text(outputs: &[pages::Output], path: &str) -> String {
    outputs
        .iter()
        .find_map(|o| match o {
            pages::Output::Write { path: p, bytes } if p == std::path::Path::new(path) => Some(String::from_utf8(bytes.clone()).unwrap()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no write of {path}"))
}

pub async fn assert_pages_match_the_log(client: &Client, when: &str) {
    assert_eq!(on_the_pages(client).await, from_the_log(client).await, "{when}");
    assert_eq!(super::invariant::download_count_violations(client).await, Vec::<String>::new(), "{when}");
}

/// Downloads added by the count, and whether it was due.
pub async fn count(client: &Client, every: &str) -> i64 {
    let row = client.query_one("SELECT counted FROM piw.count_downloads($1::text::interval)", &[&every]).await.unwrap();
    row.get(0)
}

pub async fn counted_total(client: &Client) -> i64 {
    super::fixtures::scalar(client, "SELECT coalesce(sum(downloads), 0)::bigint FROM piw.download_counts").await
}

pub fn wheel(package: &str, version: &str) -> String {
    format!("{package}-{version}-py3-none-any.whl")
}
