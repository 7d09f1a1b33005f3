//! The pages rebuilt by the thousand (simple pages, project pages, the simple root), written
//! straight into a buffer: byte for byte what their templates (`templates/*.html`, rendered by
//! minijinja with HTML auto-escaping) produce, several times faster and without building a
//! template value per page. The templates stay the reference: the tests below render random
//! pages both ways and compare the bytes, so a template changed without this file fails them.
//!
//! The layout around a project page comes from the templates themselves (rendered once).

use std::sync::LazyLock;

use percent_encoding::utf8_percent_encode;

use super::{
    data::{Project, SimpleLink, SimplePage},
    templates::{self, datetime, write_duration, write_filesize, HREF_KEEP},
};
use crate::error::{Error, Result};

/// minijinja's HTML escaping: `&`, `<`, `>`, `"`, `'` and `/` become entities.
fn escape(out: &mut String, text: &str) {
    let mut start = 0;
    for (i, &byte) in text.as_bytes().iter().enumerate() {
        // One table load per byte: a `match` on the six bytes compiled to an indirect jump for
        // every digit, `-` and `.`, which most of a page is made of.
        let entity = ENTITY_OF[usize::from(byte)];
        if entity == 0 {
            continue;
        }
        // `i` is the index of an ASCII byte: a character boundary.
        out.push_str(&text[start..i]);
        out.push_str(ENTITIES[usize::from(entity)]);
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

const ENTITIES: [&str; 7] = ["", "&lt;", "&gt;", "&amp;", "&quot;", "&#x27;", "&#x2f;"];

/// For each byte, its entity's index in [`ENTITIES`]; 0 for a byte written as it is.
const ENTITY_OF: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b'<' as usize] = 1;
    table[b'>' as usize] = 2;
    table[b'&' as usize] = 3;
    table[b'"' as usize] = 4;
    table[b'\'' as usize] = 5;
    table[b'/' as usize] = 6;
    table
};

/// The `urlpath` filter: a filename as an href path segment (needs no escaping).
fn urlpath(out: &mut String, filename: &str) {
    for part in utf8_percent_encode(filename, HREF_KEEP) {
        out.push_str(part);
    }
}

// -------------------------------------------------------------------------------------------------
// simple/index.html
// -------------------------------------------------------------------------------------------------

const SIMPLE_ROOT_HEAD: &str = "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.0\">\n<title>Simple index</title>\n</head>\n<body>\n";
const SIMPLE_ROOT_TAIL: &str = "</body>\n</html>\n";

/// `simple/index.html`, written as the package names arrive (600,000 of them on a big site: no
/// list of them is kept).
pub struct SimpleRoot {
    out: String,
}

impl SimpleRoot {
    pub fn new() -> Self {
        SimpleRoot { out: String::from(SIMPLE_ROOT_HEAD) }
    }

    pub fn push(&mut self, package: &str) {
        let out = &mut self.out;
        out.push_str("<a href=\"");
        escape(out, package);
        out.push_str("/\">");
        escape(out, package);
        out.push_str("</a><br>\n");
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.push_str(SIMPLE_ROOT_TAIL);
        self.out.into_bytes()
    }
}

// -------------------------------------------------------------------------------------------------
// simple/PACKAGE/index.html
// -------------------------------------------------------------------------------------------------

/// `simple/PACKAGE/index.html`.
pub fn simple(page: &SimplePage) -> Vec<u8> {
    simple_links(&page.package, &page.links())
}

/// `simple/PACKAGE/index.html` of `package`, listing `links` in the order given.
pub fn simple_links(package: &str, links: &[SimpleLink<'_>]) -> Vec<u8> {
    let mut out = String::with_capacity(256 + links.len() * 192);
    out.push_str("<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.0\">\n<title>Links for ");
    escape(&mut out, package);
    out.push_str("</title>\n</head>\n<body>\n<h1>Links for ");
    escape(&mut out, package);
    out.push_str("</h1>\n");
    for file in links {
        out.push_str("<a href=\"");
        urlpath(&mut out, file.filename);
        out.push_str("#sha256=");
        escape(&mut out, file.filehash);
        out.push('"');
        if let Some(requires) = file.requires_python.filter(|r| !r.is_empty()) {
            out.push_str(" data-requires-python=\"");
            escape(&mut out, requires);
            out.push('"');
        }
        if file.yanked {
            out.push_str(" data-yanked=\"\"");
        }
        out.push('>');
        escape(&mut out, file.filename);
        out.push_str("</a><br>\n");
    }
    out.push_str("</body>\n</html>\n");
    out.into_bytes()
}

// -------------------------------------------------------------------------------------------------
// project/PACKAGE/index.html
// -------------------------------------------------------------------------------------------------

/// The layout around a project page's content, cut from the layout template rendered once:
/// (before the title, between the title and the content, after the content).
static PROJECT_LAYOUT: LazyLock<std::result::Result<[String; 3], String>> = LazyLock::new(|| {
    const TITLE: char = '\u{1}';
    const CONTENT: char = '\u{2}';
    let page = templates::render_source(
        "{% extends \"layout.html\" %}{% block title %}\u{1}{% endblock %}{% block root %}../../{% endblock %}{% block content %}\u{2}{% endblock %}",
    )
    .map_err(|e| e.to_string())?;
    let (head, rest) = page.split_once(TITLE).ok_or("no title in the layout")?;
    let (middle, tail) = rest.split_once(CONTENT).ok_or("no content in the layout")?;
    Ok([head.to_owned(), middle.to_owned(), tail.to_owned()])
});

/// `project/PACKAGE/index.html`.
pub fn project(project: &Project) -> Result<Vec<u8>> {
    let [head, middle, tail] =
        PROJECT_LAYOUT.as_ref().map_err(|e| Error::io("rendering project.html", std::io::Error::other(e.clone())))?;
    let files: usize = project.releases.iter().map(|r| r.files.len() + r.builds.len()).sum();
    let mut out = String::with_capacity(head.len() + tail.len() + 1024 + project.description.len() + files * 320);
    let package = project.package.as_str();
    out.push_str(head);
    escape(&mut out, package);
    out.push_str(middle);
    out.push_str("<h1>");
    escape(&mut out, package);
    out.push_str("</h1>\n");
    if !project.skip.is_empty() {
        out.push_str("<p class=\"notice\">This package is skipped (");
        escape(&mut out, &project.skip);
        out.push_str("): no files are published for it.</p>\n");
    }
    if !project.description.is_empty() {
        out.push_str("<p class=\"description\">");
        escape(&mut out, &project.description);
        out.push_str("</p>\n");
    }
    out.push_str("<h2>Installation</h2>\n<pre>pip install ");
    escape(&mut out, package);
    out.push_str("</pre>\n<p class=\"muted\">With this repository as an extra index (<code>pip install --extra-index-url URL/simple/ ");
    escape(&mut out, package);
    out.push_str("</code>); its files are listed at <a href=\"../../simple/");
    escape(&mut out, package);
    out.push_str("/\">simple/");
    escape(&mut out, package);
    out.push_str("/</a>.</p>\n<h2>Releases</h2>\n");
    for release in &project.releases {
        out.push_str("<section class=\"release\" id=\"v");
        escape(&mut out, &release.version);
        out.push_str("\">\n<h3>");
        escape(&mut out, &release.version);
        if release.yanked {
            out.push_str(" <span class=\"tag yanked\">yanked</span>");
        }
        if !release.skip.is_empty() {
            out.push_str(" <span class=\"tag skipped\">skipped: ");
            escape(&mut out, &release.skip);
            out.push_str("</span>");
        }
        out.push_str("</h3>\n<p class=\"muted\">");
        match release.released.as_deref().filter(|r| !r.is_empty()) {
            Some(released) => {
                out.push_str("Released <time datetime=\"");
                escape(&mut out, released);
                out.push_str("\">");
                // `released[:10]` slices characters.
                let cut = released.char_indices().nth(10).map_or(released.len(), |(i, _)| i);
                escape(&mut out, &released[..cut]);
                out.push_str("</time>");
            }
            None => out.push_str("Release date unknown"),
        }
        out.push_str("</p>\n");
        if release.builds.is_empty() {
            out.push_str("<p class=\"muted\">No builds.</p>\n");
        } else {
            out.push_str("<table>\n<caption>Builds</caption>\n<tr><th>ABI</th><th>Status</th><th>Duration</th><th>Built</th></tr>\n");
            for build in &release.builds {
                out.push_str("<tr><td>");
                escape(&mut out, &build.abi_tag);
                out.push_str(if build.status { "</td><td class=\"ok\">ok</td>" } else { "</td><td class=\"failed\">failed</td>" });
                out.push_str("<td class=\"num\">");
                write_duration(&mut out, build.duration_seconds);
                out.push_str("</td><td><time datetime=\"");
                escape(&mut out, &build.built_at);
                out.push_str("\">");
                escape(&mut out, &datetime(&build.built_at));
                out.push_str("</time></td></tr>\n");
            }
            out.push_str("</table>\n");
        }
        if !release.files.is_empty() {
            out.push_str("<table>\n<caption>Files</caption>\n<tr><th>File</th><th>Size</th><th>ABI</th><th>Platform</th><th>Requires Python</th><th>apt dependencies</th></tr>\n");
            for file in &release.files {
                out.push_str("<tr><td class=\"filename\"><a href=\"../../simple/");
                escape(&mut out, package);
                out.push('/');
                urlpath(&mut out, &file.filename);
                out.push_str("#sha256=");
                escape(&mut out, &file.filehash);
                out.push_str("\">");
                escape(&mut out, &file.filename);
                out.push_str("</a></td><td class=\"num\">");
                write_filesize(&mut out, file.filesize);
                out.push_str("</td><td>");
                escape(&mut out, &file.abi_tag);
                out.push_str("</td><td>");
                escape(&mut out, &file.platform_tag);
                out.push_str("</td><td>");
                escape(&mut out, file.requires_python.as_deref().unwrap_or(""));
                out.push_str("</td><td>");
                escape(&mut out, &file.apt_dependencies.join(" "));
                out.push_str("</td></tr>\n");
            }
            out.push_str("</table>\n");
        }
        out.push_str("</section>\n");
    }
    if project.releases.is_empty() {
        out.push_str("<p class=\"muted\">No releases.</p>\n");
    }
    out.push_str("<p class=\"muted\">Machine-readable: <a href=\"json/\">json/</a></p>\n");
    out.push_str(tail);
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::pages::data::{Build, File, Release, SimpleFile};

    /// Text that exercises escaping and non-ASCII: what users and importers may put in a row.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z0-9.-]{1,12}", "[ -~]{0,24}", "[<>&\"'/ a\u{e9}\u{1f600}\n]{0,16}",]
    }

    fn iso() -> impl Strategy<Value = String> {
        prop_oneof!["20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z", text(),]
    }

    fn build() -> impl Strategy<Value = Build> {
        (any::<i64>(), text(), any::<bool>(), prop_oneof![Just(0.0), 0.0..100_000.0f64, Just(f64::NAN), Just(-1.0)], iso()).prop_map(
            |(build_id, abi_tag, status, duration_seconds, built_at)| Build { build_id, abi_tag, status, duration_seconds, built_at },
        )
    }

    fn file() -> impl Strategy<Value = File> {
        (text(), any::<i64>(), text(), text(), text(), proptest::option::of(text()), proptest::collection::vec(text(), 0..3)).prop_map(
            |(filename, filesize, filehash, abi_tag, platform_tag, requires_python, apt_dependencies)| File {
                filename,
                filesize,
                filehash,
                abi_tag,
                platform_tag,
                requires_python,
                apt_dependencies,
            },
        )
    }

    fn release() -> impl Strategy<Value = Release> {
        (
            text(),
            proptest::option::of(iso()),
            text(),
            any::<bool>(),
            proptest::collection::vec(build(), 0..3),
            proptest::collection::vec(file(), 0..3),
        )
            .prop_map(|(version, released, skip, yanked, builds, files)| Release {
                version,
                released,
                skip,
                yanked,
                builds,
                files,
            })
    }

    fn project() -> impl Strategy<Value = Project> {
        (text(), text(), text(), proptest::collection::vec(release(), 0..4)).prop_map(|(package, skip, description, releases)| Project {
            package,
            skip,
            description,
            releases,
        })
    }

    fn simple_page() -> impl Strategy<Value = SimplePage> {
        let file = (text(), text(), proptest::option::of(text()), any::<bool>())
            .prop_map(|(filename, filehash, requires_python, yanked)| SimpleFile { filename, filehash, requires_python, yanked });
        (text(), proptest::collection::vec(file, 0..4)).prop_map(|(package, files)| SimplePage { package, files })
    }

    /// What the project data always is (see `data::ProjectRows::assemble`): each version once, each
    /// release's files once and by filename.
    fn as_assembled(mut project: Project) -> Project {
        let mut seen = std::collections::HashSet::new();
        project.releases.retain(|release| seen.insert(release.version.clone()));
        for release in &mut project.releases {
            release.files.sort_by(|a, b| a.filename.cmp(&b.filename));
            release.files.dedup_by(|a, b| a.filename == b.filename);
        }
        project
    }

    fn fail(e: impl std::fmt::Display) -> TestCaseError {
        TestCaseError::fail(e.to_string())
    }

    fn same(direct: Vec<u8>, template: Vec<u8>) -> std::result::Result<(), TestCaseError> {
        let (direct, template) = (String::from_utf8(direct).map_err(fail)?, String::from_utf8(template).map_err(fail)?);
        prop_assert_eq!(direct, template);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn project_page_is_the_template_byte_for_byte(project in project()) {
            same(super::project(&project).map_err(fail)?, templates::project(&project).map_err(fail)?)?;
        }

        #[test]
        fn project_json_is_serde_jsons_byte_for_byte(project in project()) {
            let project = as_assembled(project);
            same(crate::pages::json::project(&project).map_err(fail)?, crate::pages::json::project_by_serde(&project).map_err(fail)?)?;
        }

        #[test]
        fn simple_page_is_the_template_byte_for_byte(page in simple_page()) {
            same(simple(&page), templates::simple(&page).map_err(fail)?)?;
        }

        #[test]
        fn simple_root_is_the_template_byte_for_byte(packages in proptest::collection::vec(text(), 0..6)) {
            let mut root = SimpleRoot::new();
            for package in &packages {
                root.push(package);
            }
            same(root.finish(), templates::simple_root(&packages).map_err(fail)?)?;
        }
    }
}
