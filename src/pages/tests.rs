//! Pure rendering: data structs in, bytes out.

use super::{data::*, filters::*, html, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn file(filename: &str, requires_python: Option<&str>, yanked: bool) -> SimpleFile {
    SimpleFile {
        filename: filename.to_owned(),
        filehash: "ab".repeat(32),
        requires_python: requires_python.map(str::to_owned),
        yanked,
        yank_reason: String::new(),
        metadata_hash: None,
        version: filename.split('-').nth(1).unwrap_or_default().to_owned(),
        filesize: 1234,
        uploaded: "2024-01-02T03:04:05Z".into(),
    }
}

fn simple(page: &SimplePage) -> crate::error::Result<Vec<u8>> {
    html::simple(&page.package, &page.links())
}

fn simple_root(packages: &[&str]) -> crate::error::Result<Vec<u8>> {
    let mut root = html::SimpleRoot::new()?;
    for package in packages {
        root.push(package)?;
    }
    root.finish()
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("pages are UTF-8")
}

fn hostile_project() -> Project {
    Project {
        package: "foo".into(),
        display_name: String::new(),
        site_url: String::new(),
        skip: "<b>license</b> & \"reasons\"".into(),
        description: "<script>alert(1)</script>".into(),
        releases: vec![
            Release {
                version: "1.0".into(),
                released: Some("2023-05-06T07:08:09Z".into()),
                skip: String::new(),
                yanked: true,
                yank_reason: "<b>broken</b> on \"3.12\"".into(),
                held: String::new(),
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
                    metadata_hash: Some("ef".repeat(32)),
                    uploaded: "2023-05-06T08:00:00Z".into(),
                }],
            },
            Release {
                version: "0.9<i>".into(),
                released: None,
                skip: "broken <setup.py>".into(),
                yanked: false,
                yank_reason: String::new(),
                held: String::new(),
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
    let html = text(simple(&page)?);
    assert!(html.starts_with("<!DOCTYPE html>\n"), "{html}");
    assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.1\">"), "{html}");
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
fn simple_page_links_the_core_metadata_of_files_that_have_it() -> TestResult {
    let mut with = file("foo-1.0-py3-none-any.whl", None, false);
    with.metadata_hash = Some("ef".repeat(32));
    let page = SimplePage { package: "foo".into(), files: vec![with, file("foo-2.0-py3-none-any.whl", None, false)] };
    let html = text(simple(&page)?);
    let hash = "ef".repeat(32);
    let attributes = format!(" data-dist-info-metadata=\"sha256={hash}\" data-core-metadata=\"sha256={hash}\">");
    assert!(html.contains(&format!("{attributes}foo-1.0-py3-none-any.whl</a>")), "{html}");
    assert_eq!(html.matches("data-core-metadata").count(), 1, "only the file with metadata says so: {html}");
    Ok(())
}

#[test]
fn simple_json_is_pep_691_with_pep_700_and_says_what_the_html_says() -> TestResult {
    let mut with = file("foo-1.0+local-py3-none-any.whl", Some(">=3.8"), false);
    with.metadata_hash = Some("ef".repeat(32));
    let page = SimplePage { package: "foo".into(), files: vec![with, file("foo-2.0-py3-none-any.whl", None, true)] };
    let value: serde_json::Value = serde_json::from_slice(&json::simple(&page.package, &page.links())?)?;
    assert_eq!(value["meta"]["api-version"], json::SIMPLE_API_VERSION);
    assert_eq!(value["name"], "foo");
    assert_eq!(value["versions"], serde_json::json!(["1.0+local", "2.0"]));
    let files = value["files"].as_array().ok_or("files")?;
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["filename"], "foo-1.0+local-py3-none-any.whl");
    assert_eq!(files[0]["url"], "foo-1.0%2Blocal-py3-none-any.whl");
    assert_eq!(files[0]["hashes"]["sha256"], "ab".repeat(32));
    assert_eq!(files[0]["requires-python"], ">=3.8");
    assert_eq!(files[0]["core-metadata"]["sha256"], "ef".repeat(32));
    assert_eq!(files[0]["dist-info-metadata"]["sha256"], "ef".repeat(32));
    assert_eq!(files[0]["yanked"], false);
    assert_eq!(files[0]["size"], 1234);
    assert_eq!(files[0]["upload-time"], "2024-01-02T03:04:05Z");
    assert!(files[1].get("requires-python").is_none(), "left out when unknown");
    assert_eq!(files[1]["core-metadata"], false);
    assert_eq!(files[1]["yanked"], true, "yanked for no stated reason");
    let mut reasoned = page.clone();
    reasoned.files[1].yank_reason = "broken on 3.12".into();
    let value: serde_json::Value = serde_json::from_slice(&json::simple(&reasoned.package, &reasoned.links())?)?;
    assert_eq!(value["files"][1]["yanked"], "broken on 3.12");
    let html = text(simple(&reasoned)?);
    assert!(html.contains("data-yanked=\"broken on 3.12\""), "{html}");
    // The HTML beside it speaks the same version of the API.
    let html = text(simple(&page)?);
    assert!(html.contains(&format!("<meta name=\"pypi:repository-version\" content=\"{}\">", json::SIMPLE_API_VERSION)), "{html}");
    Ok(())
}

#[test]
fn simple_page_percent_encodes_hrefs_and_escapes_text() -> TestResult {
    let page = SimplePage { package: "foo".into(), files: vec![file("foo-1.0+local%1-py3-none-any.whl", None, false)] };
    let html = text(simple(&page)?);
    assert!(html.contains("href=\"foo-1.0%2Blocal%251-py3-none-any.whl#sha256="), "{html}");
    assert!(html.contains(">foo-1.0+local%1-py3-none-any.whl</a>"), "{html}");

    let page = SimplePage { package: "foo".into(), files: vec![file("foo\"<x>.whl", Some("\"><script>"), false)] };
    let html = text(simple(&page)?);
    assert!(!html.contains("<script>") && !html.contains("<x>"), "{html}");
    assert!(html.contains("href=\"foo%22%3Cx%3E.whl#sha256="), "{html}");
    assert!(html.contains("data-requires-python=\"&quot;&gt;&lt;script&gt;\""), "{html}");
    Ok(())
}

#[test]
fn empty_simple_page_has_no_links() -> TestResult {
    let html = text(simple(&SimplePage { package: "foo".into(), files: vec![] })?);
    assert!(!html.contains("<a "), "{html}");
    assert!(
        html.ends_with("</html>\n") && !html.ends_with("\n\n"),
        "one newline at the end (askama drops a template's last one): {html:?}"
    );
    assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.1\">"), "{html}");
    Ok(())
}

#[test]
fn simple_root_links_every_package() -> TestResult {
    let html = text(simple_root(&["bar", "foo-bar"])?);
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.1\">"));
    assert!(html.contains("<a href=\"bar/\">bar</a>"), "{html}");
    assert!(html.contains("<a href=\"foo-bar/\">foo-bar</a>"), "{html}");
    assert!(html.find("bar/").ok_or("bar/")? < html.find("foo-bar/").ok_or("foo-bar/")?);
    Ok(())
}

#[test]
fn project_page_escapes_everything_users_supply() -> TestResult {
    let html = text(html::project(&hostile_project())?);
    assert!(html.ends_with("</html>\n") && !html.ends_with("\n\n"), "one newline at the end: {html:?}");
    assert!(!html.contains("<script>alert(1)</script>"), "{html}");
    assert!(html.contains("yanked: &lt;b&gt;broken&lt;&#x2f;b&gt; on &quot;3.12&quot;"), "the yank reason, escaped: {html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{html}");
    assert!(!html.contains("<b>license</b>"), "{html}");
    assert!(html.contains("&lt;b&gt;license&lt;&#x2f;b&gt; &amp; &quot;reasons&quot;"), "{html}");
    assert!(!html.contains("0.9<i>") && html.contains("0.9&lt;i&gt;"), "{html}");
    assert!(!html.contains("<setup.py>") && !html.contains("<libbar>"), "{html}");
    assert!(html.contains("&gt;=3.7"), "{html}");
    assert!(!html.contains("pip install"), "a skipped package offers no install line: {html}");
    let mut unskipped = hostile_project();
    unskipped.skip.clear();
    let html_unskipped = text(html::project(&unskipped)?);
    assert!(html_unskipped.contains("pip install --index-url <span class=\"site-url\">"), "worked out by the page: {html_unskipped}");
    unskipped.site_url = "https://wheels.example.org".into();
    let html_unskipped = text(html::project(&unskipped)?);
    assert!(
        html_unskipped.contains("<pre>pip install --index-url https:&#x2f;&#x2f;wheels.example.org/simple/ foo</pre>"),
        "{html_unskipped}"
    );
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
    let mut search = json::SearchJson::new();
    for entry in [SearchEntry("bar".into(), 0, 1), SearchEntry("foo".into(), 5, 7)] {
        search.push(&entry)?;
    }
    let bytes = search.finish();
    assert_eq!(text(bytes), "[[\"bar\",0,1],[\"foo\",5,7]]\n");
    Ok(())
}

#[test]
fn home_page_puts_the_time_built_on_one_line() -> TestResult {
    let home = Home {
        packages: 2,
        versions: 3,
        files: 4,
        downloads_all: 1234567,
        downloads_30_days: 5,
        built_at: "2024-01-02T03:04:05Z".into(),
        site_url: String::new(),
    };
    let html = text(html::home(&home)?);
    assert!(html.contains("1,234,567"), "{html}");
    let built: Vec<&str> = html.lines().filter(|l| l.contains("2024-01-02")).collect();
    assert_eq!(built.len(), 1, "{html}");
    assert!(built[0].trim_start().starts_with(super::HOME_BUILT_LINE_PREFIX), "{html}");
    Ok(())
}

#[test]
fn human_readable_figures() {
    assert_eq!(FileSize(0).to_string(), "0 B");
    assert_eq!(FileSize(1023).to_string(), "1023 B");
    assert_eq!(FileSize(1024).to_string(), "1.0 KiB");
    assert_eq!(FileSize(5 * 1024 * 1024).to_string(), "5.0 MiB");
    assert_eq!(FileSize(1536).to_string(), "1.5 KiB");
    assert_eq!(FileSize(1024 * 1024 - 1).to_string(), "1024.0 KiB");
    assert_eq!(FileSize(-1).to_string(), "-1 B");
    assert_eq!(FileSize(i64::MAX).to_string(), "8192.0 PiB");
    assert_eq!(Duration(0.25).to_string(), "0.3 s");
    assert_eq!(Duration(9.96).to_string(), "10 s");
    assert_eq!(Duration(42.0).to_string(), "42 s");
    assert_eq!(Duration(3725.0).to_string(), "1 h 2 min");
    assert_eq!(Duration(f64::NAN).to_string(), "?");
    assert_eq!(Minute("2024-01-02T03:04:05Z").to_string(), "2024-01-02 03:04 UTC");
    assert_eq!(Thousands(0).to_string(), "0");
    assert_eq!(Thousands(-1000).to_string(), "-1,000");
    assert_eq!(Thousands(999).to_string(), "999");
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

mod properties {
    //! Whatever users and importers put in a row: every page renders, user text never becomes
    //! markup, and the JSON says exactly what the rows say.

    use proptest::prelude::*;

    use super::*;

    /// Text that exercises escaping and non-ASCII.
    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z0-9.-]{1,12}", "[ -~]{0,24}", "[<>&\"'/ a\u{e9}\u{1f600}\n]{0,16}",]
    }

    fn iso() -> impl Strategy<Value = String> {
        prop_oneof!["20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z", any_text(),]
    }

    fn build() -> impl Strategy<Value = Build> {
        (any::<i64>(), any_text(), any::<bool>(), prop_oneof![Just(0.0), 0.0..100_000.0f64, Just(-1.0)], iso()).prop_map(
            |(build_id, abi_tag, status, duration_seconds, built_at)| Build { build_id, abi_tag, status, duration_seconds, built_at },
        )
    }

    fn file() -> impl Strategy<Value = File> {
        (
            any_text(),
            any::<i64>(),
            any_text(),
            any_text(),
            any_text(),
            proptest::option::of(any_text()),
            proptest::collection::vec(any_text(), 0..3),
        )
            .prop_map(|(filename, filesize, filehash, abi_tag, platform_tag, requires_python, apt_dependencies)| File {
                metadata_hash: None,
                uploaded: String::new(),
                filename,
                filesize,
                filehash,
                abi_tag,
                platform_tag,
                requires_python,
                apt_dependencies,
            })
    }

    fn release() -> impl Strategy<Value = Release> {
        (
            any_text(),
            proptest::option::of(iso()),
            any_text(),
            any::<bool>(),
            proptest::collection::vec(build(), 0..3),
            proptest::collection::vec(file(), 0..3),
        )
            .prop_map(|(version, released, skip, yanked, builds, mut files)| {
                // What `data` guarantees: each release's files once, by filename.
                files.sort_by(|a, b| a.filename.cmp(&b.filename));
                files.dedup_by(|a, b| a.filename == b.filename);
                Release { version, released, skip, yanked, yank_reason: String::new(), held: String::new(), builds, files }
            })
    }

    fn project() -> impl Strategy<Value = Project> {
        (any_text(), any_text(), any_text(), proptest::collection::vec(release(), 0..4)).prop_map(
            |(package, skip, description, mut releases)| {
                // What `data` guarantees: each version once.
                let mut seen = std::collections::HashSet::new();
                releases.retain(|release| seen.insert(release.version.clone()));
                Project { package, display_name: String::new(), site_url: String::new(), skip, description, releases }
            },
        )
    }

    /// The markup the templates write themselves; any other `<` came from a value.
    const TAGS: &[&str] = &[
        "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "main", "a", "h1", "h2", "h3", "p", "pre", "code",
        "section", "span", "table", "caption", "tr", "th", "td", "time", "br", "div", "script",
    ];

    fn markup_is_the_templates_own(html: &str) -> std::result::Result<(), TestCaseError> {
        for (i, _) in html.match_indices('<') {
            let rest = html[i + 1..].trim_start_matches('/');
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '!').collect();
            prop_assert!(TAGS.contains(&name.as_str()), "markup `<{}` not from a template in {}", name, html);
        }
        Ok(())
    }

    fn fail(e: impl std::fmt::Display) -> TestCaseError {
        TestCaseError::fail(e.to_string())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn project_pages_never_turn_values_into_markup(project in project()) {
            let page = String::from_utf8(html::project(&project).map_err(fail)?).map_err(fail)?;
            markup_is_the_templates_own(&page)?;
            // The template's one script (working out the install address) at most: no value's.
            prop_assert!(page.matches("<script").count() <= 1, "{}", page);
            let files: usize = project.releases.iter().map(|r| r.files.len()).sum();
            prop_assert_eq!(page.matches("<td class=\"filename\">").count(), files);
            prop_assert_eq!(page.matches("<section class=\"release\"").count(), project.releases.len());
        }

        #[test]
        fn simple_pages_link_every_file_once_with_a_decodable_href(page in (any_text(), proptest::collection::vec(
                (any_text(), any_text(), proptest::option::of(any_text()), any::<bool>(), proptest::option::of(any_text()))
                    .prop_map(|(filename, filehash, requires_python, yanked, metadata_hash)| SimpleFile {
                        filename,
                        filehash,
                        requires_python,
                        yanked,
                        yank_reason: String::new(),
                        metadata_hash,
                        version: "1.0".into(),
                        filesize: 1,
                        uploaded: String::new(),
                    }), 0..4))
                .prop_map(|(package, files)| SimplePage { package, files })) {
            let html = String::from_utf8(simple(&page).map_err(fail)?).map_err(fail)?;
            markup_is_the_templates_own(&html)?;
            let hrefs: Vec<&str> = html.split("<a href=\"").skip(1).map(|rest| rest.split('#').next().unwrap_or_default()).collect();
            prop_assert_eq!(hrefs.len(), page.files.len());
            for (href, file) in hrefs.iter().zip(&page.files) {
                prop_assert!(href.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)), "{}", href);
                let decoded = percent_decode(href);
                prop_assert_eq!(decoded.as_deref(), Some(file.filename.as_str()));
            }
        }

        #[test]
        fn project_json_says_what_the_rows_say(project in project()) {
            let bytes = json::project(&project).map_err(fail)?;
            prop_assert_eq!(bytes.last(), Some(&b'\n'));
            let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(fail)?;
            prop_assert_eq!(&value["package"], &serde_json::json!(project.package));
            prop_assert_eq!(&value["description"], &serde_json::json!(project.description));
            let releases = value["releases"].as_object().ok_or_else(|| fail("releases is not an object"))?;
            prop_assert_eq!(releases.len(), project.releases.len());
            for release in &project.releases {
                let json = &releases[&release.version];
                prop_assert_eq!(&json["released"], &serde_json::json!(release.released));
                prop_assert_eq!(&json["yanked"], &serde_json::json!(release.yanked));
                prop_assert_eq!(json["files"].as_object().map(|files| files.len()), Some(release.files.len()));
                for file in &release.files {
                    let entry = &json["files"][&file.filename];
                    prop_assert_eq!(&entry["filesize"], &serde_json::json!(file.filesize));
                    prop_assert_eq!(&entry["requires_python"], &serde_json::json!(file.requires_python));
                    prop_assert_eq!(&entry["apt_dependencies"], &serde_json::json!(file.apt_dependencies));
                }
                prop_assert_eq!(json["builds"].as_array().map(Vec::len), Some(release.builds.len()));
            }
            // The same rows, the same bytes: keys in byte order whatever order the rows came in.
            let mut reversed = project.clone();
            reversed.releases.reverse();
            prop_assert_eq!(json::project(&reversed).map_err(fail)?, bytes);
        }
    }

    fn percent_decode(href: &str) -> Option<String> {
        let bytes = href.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }
}

#[test]
fn releases_are_ordered_by_pep_440_newest_first() {
    let release = |version: &str| Release {
        version: version.into(),
        released: Some("2024-01-01T00:00:00Z".into()),
        skip: String::new(),
        yanked: false,
        yank_reason: String::new(),
        held: String::new(),
        builds: vec![],
        files: vec![],
    };
    // Imported in this order: 1.9.0 after 1.17.0 used to go on top.
    let imported = ["1.17.0", "not-a-version", "1.9.0", "2.0rc1", "1.10", "2.0", "1.0.0", "1.0"].map(release).to_vec();
    let ordered: Vec<String> = super::data::newest_first(imported).into_iter().map(|r| r.version).collect();
    assert_eq!(ordered, ["2.0", "2.0rc1", "1.17.0", "1.10", "1.9.0", "1.0.0", "1.0", "not-a-version"]);
}
