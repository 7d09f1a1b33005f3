//! The HTML pages, rendered by askama from `templates/*.html` (compiled into the library: each
//! template becomes code that pushes text and escaped values into one buffer).
//!
//! Every value printed is escaped by [`NamedEntities`], but for what the `href`, `filesize`,
//! `duration` and `thousands` filters write (see `filters.rs`: nothing in it could need escaping).

use std::fmt::{self, Write};

use askama::Template;

use super::{
    data::{Home, Project, SimpleLink},
    filters,
};
use crate::error::{Error, Result};

/// HTML escaping with named entities: `&`, `<`, `>`, `"`, `'` and `/` become `&amp;`, `&lt;`,
/// `&gt;`, `&quot;`, `&#x27;` and `&#x2f;`, in text and in attribute values alike. (askama's own
/// escaper writes numeric entities; these are the ones piw's pages have always had.)
#[derive(Debug, Clone, Copy, Default)]
pub struct NamedEntities;

impl askama::filters::Escaper for NamedEntities {
    fn write_escaped_str<W: Write>(&self, mut out: W, text: &str) -> fmt::Result {
        let mut start = 0;
        for (i, &byte) in text.as_bytes().iter().enumerate() {
            // One table load per byte: a `match` on the six bytes compiled to an indirect jump
            // for every digit, `-` and `.`, which most of a page is made of.
            let entity = ENTITY_OF[usize::from(byte)];
            if entity == 0 {
                continue;
            }
            // `i` is the index of an ASCII byte: a character boundary.
            out.write_str(&text[start..i])?;
            out.write_str(ENTITIES[usize::from(entity)])?;
            start = i + 1;
        }
        out.write_str(&text[start..])
    }
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

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    home: &'a Home,
}

#[derive(Template)]
#[template(path = "simple.html")]
struct SimplePage<'a> {
    package: &'a str,
    links: &'a [SimpleLink<'a>],
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage<'a> {
    project: &'a Project,
}

#[derive(Template)]
#[template(path = "simple_root.html", block = "head")]
struct SimpleRootHead;

#[derive(Template)]
#[template(path = "simple_root.html", block = "link")]
struct SimpleRootLink<'a> {
    package: &'a str,
}

#[derive(Template)]
#[template(path = "simple_root.html", block = "tail")]
struct SimpleRootTail;

/// `index.html`.
pub fn home(home: &Home) -> Result<Vec<u8>> {
    render("index.html", &HomePage { home }, 4096)
}

/// `simple/PACKAGE/index.html` of `package`, listing `links` in the order given.
pub fn simple(package: &str, links: &[SimpleLink<'_>]) -> Result<Vec<u8>> {
    render("a simple page", &SimplePage { package, links }, 256 + links.len() * 192)
}

/// `project/PACKAGE/index.html`.
pub fn project(project: &Project) -> Result<Vec<u8>> {
    let files: usize = project.releases.iter().map(|r| r.files.len() + r.builds.len()).sum();
    render("a project page", &ProjectPage { project }, 3072 + project.description.len() + files * 320)
}

/// `simple/index.html`, written as the package names arrive (600,000 of them on a big site: no
/// list of them is kept).
pub struct SimpleRoot {
    out: String,
}

impl SimpleRoot {
    pub fn new() -> Result<Self> {
        let mut out = String::with_capacity(64 * 1024);
        render_into("simple/index.html", &SimpleRootHead, &mut out)?;
        Ok(SimpleRoot { out })
    }

    pub fn push(&mut self, package: &str) -> Result<()> {
        render_into("simple/index.html", &SimpleRootLink { package }, &mut self.out)
    }

    pub fn finish(mut self) -> Result<Vec<u8>> {
        render_into("simple/index.html", &SimpleRootTail, &mut self.out)?;
        Ok(self.out.into_bytes())
    }
}

fn render(page: &str, template: &impl Template, capacity: usize) -> Result<Vec<u8>> {
    let mut out = String::with_capacity(capacity);
    render_into(page, template, &mut out)?;
    Ok(out.into_bytes())
}

/// Rendering only fails when writing into the buffer does (it cannot) or a value's `Display`
/// does (none of the pages' values can): still an error, never a panic.
fn render_into(page: &str, template: &impl Template, out: &mut String) -> Result<()> {
    template.render_into(out).map_err(|e| Error::Render { page: page.to_owned(), reason: e.to_string() })
}
