//! The README's psql examples work as written: each line of its "Admin requests in psql" block
//! runs on a fresh database holding the sample packages the quick start imports.
mod support;

use support::{fixtures::add_wheel, TestDb};

fn readme_sql_examples() -> Vec<String> {
    let readme = include_str!("../README.md");
    let section = readme.split("## Admin requests in psql").nth(1).expect("README has the psql section");
    let block = section.split("```sql").nth(1).and_then(|rest| rest.split("```").next()).expect("a sql block");
    block.lines().map(|line| line.split("--").next().unwrap_or("").trim().to_owned()).filter(|line| !line.is_empty()).collect()
}

#[tokio::test]
async fn every_psql_example_in_the_readme_runs() {
    let examples = readme_sql_examples();
    assert!(examples.len() >= 10, "found {} examples", examples.len());
    for example in examples {
        let db = TestDb::new().await;
        let client = db.connect().await;
        add_wheel(&client, "hello-world", "1.0", "none").await;
        add_wheel(&client, "hello-world", "2.0", "none").await;
        add_wheel(&client, "piw-demo", "0.1", "none").await;
        // The undoing calls refuse what is not done (PW001, PW005, PW002): do it first.
        let before = [
            ("unskip_package", "CALL piw.skip_package('piw-demo')"),
            ("unskip_version", "CALL piw.skip_version('hello-world', '2.0')"),
            ("unyank_version", "CALL piw.yank_version('hello-world', '2.0')"),
            ("release_version", "CALL piw.hold_version('hello-world', '2.0', 'review')"),
        ];
        for (call, first) in before {
            if example.contains(call) {
                client.execute(first, &[]).await.unwrap();
            }
        }
        client.batch_execute(&example).await.unwrap_or_else(|e| panic!("README example {example:?} fails: {e}"));
    }
}
