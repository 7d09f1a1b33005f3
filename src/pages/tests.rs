//! Pure rendering: data structs in, bytes out.

use super::{data::*, json, templates};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn file(filename: &str, requires_python: Option<&str>, yanked: bool) -> SimpleFile {
    SimpleFile { filename: filename.to_owned(), filehash: "ab".repeat(32), requires_python: requires_python.map(str::to_owned), yanked }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("pages are UTF-8")
}

fn hostile_project() -> Project {
    Project {
        package: "foo".into(),
        skip: "<b>license</b> & \"reasons\"".into(),
        description: "<script>alert(1)</script>".into(),
        releases: vec![
            Release {
                version: "1.0".into(),
                released: Some("2023-05-06T07:08:09Z".into()),
                skip: String::new(),
                yanked: true,
                builds: vec![Build {
                    build_id: 1,
                    abi_tag: "cp311".into(),
                    status: false,
                    duration_seconds: 125.0,
                    built_at: "2023-05-06T08:00:00Z".into(),
                }],
                files: vec![File {
                    filename: "foo-1.0+local-cp311-cp311-linux_armv7l.whl".into(),
                    filesize: 1536,
                    filehash: "cd".repeat(32),
                    abi_tag: "cp311".into(),
                    platform_tag: "linux_armv7l".into(),
                    requires_python: Some(">=3.7".into()),
                    apt_dependencies: vec!["libfoo1".into(), "<libbar>".into()],
                }],
            },
            Release {
                version: "0.9<i>".into(),
                released: None,
                skip: "broken <setup.py>".into(),
                yanked: false,
                builds: vec![],
                files: vec![],
            },
        ],
    }
}

#[test]
fn simple_page_is_pep_503_with_hashes_requires_python_and_yanked() -> TestResult {
    let page = SimplePage {
        package: "foo".into(),
        files: vec![file("foo-1.0-py3-none-any.whl", Some(">=3.7"), false), file("foo-2.0-py3-none-any.whl", None, true)],
    };
    let html = text(templates::simple(&page)?);
    assert!(html.starts_with("<!DOCTYPE html>\n"), "{html}");
    assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.0\">"), "{html}");
    let hash = "ab".repeat(32);
    assert!(
        html.contains(&format!(
            "<a href=\"foo-1.0-py3-none-any.whl#sha256={hash}\" data-requires-python=\"&gt;=3.7\">foo-1.0-py3-none-any.whl</a>"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("<a href=\"foo-2.0-py3-none-any.whl#sha256={hash}\" data-yanked=\"\">foo-2.0-py3-none-any.whl</a>")),
        "{html}"
    );
    assert_eq!(html.matches("<a ").count(), 2);
    Ok(())
}

#[test]
fn simple_page_percent_encodes_hrefs_and_escapes_text() -> TestResult {
    let page = SimplePage { package: "foo".into(), files: vec![file("foo-1.0+local%1-py3-none-any.whl", None, false)] };
    let html = text(templates::simple(&page)?);
    assert!(html.contains("href=\"foo-1.0%2Blocal%251-py3-none-any.whl#sha256="), "{html}");
    assert!(html.contains(">foo-1.0+local%1-py3-none-any.whl</a>"), "{html}");

    let page = SimplePage { package: "foo".into(), files: vec![file("foo\"<x>.whl", Some("\"><script>"), false)] };
    let html = text(templates::simple(&page)?);
    assert!(!html.contains("<script>") && !html.contains("<x>"), "{html}");
    assert!(html.contains("href=\"foo%22%3Cx%3E.whl#sha256="), "{html}");
    assert!(html.contains("data-requires-python=\"&quot;&gt;&lt;script&gt;\""), "{html}");
    Ok(())
}

#[test]
fn empty_simple_page_has_no_links() -> TestResult {
    let html = text(templates::simple(&SimplePage { package: "foo".into(), files: vec![] })?);
    assert!(!html.contains("<a "), "{html}");
    assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.0\">"), "{html}");
    Ok(())
}

#[test]
fn simple_root_links_every_package() -> TestResult {
    let html = text(templates::simple_root(&["bar".into(), "foo-bar".into()])?);
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.0\">"));
    assert!(html.contains("<a href=\"bar/\">bar</a>"), "{html}");
    assert!(html.contains("<a href=\"foo-bar/\">foo-bar</a>"), "{html}");
    assert!(html.find("bar/").ok_or("bar/")? < html.find("foo-bar/").ok_or("foo-bar/")?);
    Ok(())
}

#[test]
fn project_page_escapes_everything_users_supply() -> TestResult {
    let html = text(templates::project(&hostile_project())?);
    assert!(!html.contains("<script>alert(1)</script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{html}");
    assert!(!html.contains("<b>license</b>"), "{html}");
    assert!(html.contains("&lt;b&gt;license&lt;&#x2f;b&gt; &amp; &quot;reasons&quot;"), "{html}");
    assert!(!html.contains("0.9<i>") && html.contains("0.9&lt;i&gt;"), "{html}");
    assert!(!html.contains("<setup.py>") && !html.contains("<libbar>"), "{html}");
    assert!(html.contains("&gt;=3.7"), "{html}");
    assert!(html.contains("pip install foo"), "{html}");
    assert!(html.contains("yanked"), "{html}");
    assert!(html.contains("failed"), "{html}");
    assert!(html.contains("2 min 5 s"), "{html}");
    assert!(html.contains("1.5 KiB"), "{html}");
    assert!(html.contains("libfoo1"), "{html}");
    assert!(html.contains("href=\"../../simple/foo/foo-1.0%2Blocal-cp311-cp311-linux_armv7l.whl#sha256="), "{html}");
    Ok(())
}

#[test]
fn project_json_has_the_documented_shape() -> TestResult {
    let bytes = json::project(&hostile_project())?;
    assert_eq!(bytes.last(), Some(&b'\n'));
    let value: serde_json::Value = serde_json::from_slice(&bytes)?;
    assert_eq!(value["package"], "foo");
    assert_eq!(value["description"], "<script>alert(1)</script>");
    let release = &value["releases"]["1.0"];
    assert_eq!(release["released"], "2023-05-06T07:08:09Z");
    assert_eq!(release["yanked"], true);
    assert_eq!(release["skip"], "");
    let file = &release["files"]["foo-1.0+local-cp311-cp311-linux_armv7l.whl"];
    assert_eq!(file["filesize"], 1536);
    assert_eq!(file["requires_python"], ">=3.7");
    assert_eq!(file["apt_dependencies"], serde_json::json!(["libfoo1", "<libbar>"]));
    assert_eq!(
        release["builds"],
        serde_json::json!([{"abi_tag": "cp311", "status": false, "duration_seconds": 125.0, "built_at": "2023-05-06T08:00:00Z"}])
    );
    assert_eq!(value["releases"]["0.9<i>"]["released"], serde_json::Value::Null);
    // Keys in a fixed order: the same rows give the same bytes.
    let text = text(bytes);
    assert!(text.starts_with("{\"package\":\"foo\",\"description\":"), "{text}");
    Ok(())
}

#[test]
fn search_index_is_an_array_of_triples() -> TestResult {
    let bytes = json::search(&[SearchEntry("bar".into(), 0, 1), SearchEntry("foo".into(), 5, 7)])?;
    assert_eq!(text(bytes), "[[\"bar\",0,1],[\"foo\",5,7]]\n");
    Ok(())
}

#[test]
fn home_page_puts_the_time_built_on_one_line() -> TestResult {
    let home =
        Home { packages: 2, versions: 3, files: 4, downloads_all: 1234567, downloads_30_days: 5, built_at: "2024-01-02T03:04:05Z".into() };
    let html = text(templates::home(&home)?);
    assert!(html.contains("1,234,567"), "{html}");
    let built: Vec<&str> = html.lines().filter(|l| l.contains("2024-01-02")).collect();
    assert_eq!(built.len(), 1, "{html}");
    assert!(built[0].trim_start().starts_with(super::HOME_BUILT_LINE_PREFIX), "{html}");
    Ok(())
}

#[test]
fn human_readable_figures() {
    assert_eq!(templates::filesize(0), "0 B");
    assert_eq!(templates::filesize(1023), "1023 B");
    assert_eq!(templates::filesize(1024), "1.0 KiB");
    assert_eq!(templates::filesize(5 * 1024 * 1024), "5.0 MiB");
    assert_eq!(templates::filesize(1536), "1.5 KiB");
    assert_eq!(templates::filesize(1024 * 1024 - 1), "1024.0 KiB");
    assert_eq!(templates::filesize(-1), "-1 B");
    assert_eq!(templates::filesize(i64::MAX), "8192.0 PiB");
    assert_eq!(templates::duration(0.25), "0.3 s");
    assert_eq!(templates::duration(9.96), "10 s");
    assert_eq!(templates::duration(42.0), "42 s");
    assert_eq!(templates::duration(3725.0), "1 h 2 min");
    assert_eq!(templates::duration(f64::NAN), "?");
    assert_eq!(templates::datetime("2024-01-02T03:04:05Z"), "2024-01-02 03:04 UTC");
    assert_eq!(templates::thousands(0), "0");
    assert_eq!(templates::thousands(-1000), "-1,000");
    assert_eq!(templates::thousands(999), "999");
}

#[test]
fn package_names_are_single_path_components() {
    for good in ["foo", "foo-bar", "a1-2b"] {
        assert!(crate::site::layout::is_package_name(good), "{good}");
    }
    for bad in ["", "..", "../etc", "Foo", "foo_bar", "-foo", "foo-", "foo--bar", "foo/bar", "foo.bar"] {
        assert!(!crate::site::layout::is_package_name(bad), "{bad}");
    }
}
