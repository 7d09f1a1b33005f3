//! The HTML templates, compiled once into a shared environment.
//!
//! Every template name ends in `.html`, so minijinja escapes every value it prints: descriptions,
//! skip reasons, versions and `requires_python` reach the page as text, never as markup. Values
//! that must not be escaped again (a percent-encoded href) are produced by the filters here, which
//! only ever emit characters that need no escaping.

use std::{fmt::Write as _, sync::LazyLock};

#[cfg(test)]
use minijinja::context;
use minijinja::{
    syntax::SyntaxConfig,
    value::{Serde, Value},
    Environment,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::data::Home;
#[cfg(test)]
use super::data::{Project, SimplePage};
use crate::error::{Error, Result};

/// Characters of a filename kept as they are in an href: RFC 3986 "unreserved". Everything else
/// (`+`, `%`, `#`, `?`, spaces, non-ASCII ...) is percent-encoded, which static servers and pip
/// decode back to the filename.
pub(super) const HREF_KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

static ENVIRONMENT: LazyLock<Result<Environment<'static>, String>> = LazyLock::new(|| {
    let mut env = Environment::new();
    let syntax =
        SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).keep_trailing_newline(true).build().map_err(|e| e.to_string())?;
    env.set_syntax(syntax);
    env.add_filter("urlpath", urlpath);
    env.add_filter("filesize", filesize);
    env.add_filter("duration", duration);
    env.add_filter("datetime", datetime);
    env.add_filter("thousands", thousands);
    for (name, source) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("home.html", include_str!("templates/home.html")),
        ("simple_root.html", include_str!("templates/simple_root.html")),
        ("simple.html", include_str!("templates/simple.html")),
        ("project.html", include_str!("templates/project.html")),
    ] {
        env.add_template(name, source).map_err(|e| format!("template {name}: {e:#}"))?;
    }
    Ok(env)
});

fn render(name: &str, context: Value) -> Result<Vec<u8>> {
    let env = ENVIRONMENT.as_ref().map_err(|e| render_error(name, e.clone()))?;
    let template = env.get_template(name).map_err(|e| render_error(name, format!("{e:#}")))?;
    let text = template.render(context).map_err(|e| render_error(name, format!("{e:#}")))?;
    Ok(text.into_bytes())
}

fn render_error(name: &str, message: String) -> Error {
    Error::io(format!("rendering {name}"), std::io::Error::other(message))
}

/// `index.html`.
pub fn home(home: &Home) -> Result<Vec<u8>> {
    render("home.html", Value::from(Serde(home)))
}

/// Render `source`, a template given as text, in the pages' environment (it may extend
/// `layout.html`; it is not auto-escaped, so it should print no values).
pub(super) fn render_source(source: &str) -> Result<String> {
    let env = ENVIRONMENT.as_ref().map_err(|e| render_error("a template", e.clone()))?;
    env.render_str(source, ()).map_err(|e| render_error("a template", format!("{e:#}")))
}

// The pages rendered by the thousand are written by `super::direct`; these template renders are
// the reference it is tested against.

/// `simple/index.html`.
#[cfg(test)]
pub fn simple_root(packages: &[String]) -> Result<Vec<u8>> {
    render("simple_root.html", context! { packages => Value::from(Serde(packages)) })
}

/// `simple/PACKAGE/index.html`.
#[cfg(test)]
pub fn simple(page: &SimplePage) -> Result<Vec<u8>> {
    render("simple.html", Value::from(Serde(page)))
}

/// `project/PACKAGE/index.html`.
#[cfg(test)]
pub fn project(project: &Project) -> Result<Vec<u8>> {
    render("project.html", Value::from(Serde(project)))
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

/// A filename as an href path segment (safe: only unreserved characters and `%XX`).
fn urlpath(filename: &str) -> Value {
    Value::from_safe_string(utf8_percent_encode(filename, HREF_KEEP).to_string())
}

/// Bytes, human readable: `999 B`, `1.2 KiB`, `3.4 MiB`, `1.0 GiB`. Integer arithmetic: float
/// formatting with a precision is slow, and this runs for every file of every page.
pub(crate) fn filesize(bytes: i64) -> String {
    let mut out = String::new();
    write_filesize(&mut out, bytes);
    out
}

/// [`filesize`] appended to `out` (digits, `.`, a space and a unit: nothing to escape).
pub(crate) fn write_filesize(out: &mut String, bytes: i64) {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    // Writing into a String cannot fail.
    let _ = match u64::try_from(bytes) {
        Ok(bytes) if bytes >= 1024 => {
            let mut unit = 1;
            while unit + 1 < UNITS.len() && bytes >= 1024u64.pow(unit as u32 + 1) {
                unit += 1;
            }
            let scale = u128::from(1024u64.pow(unit as u32));
            // Tenths of the unit, rounded half up.
            let tenths = (u128::from(bytes) * 10 + scale / 2) / scale;
            write!(out, "{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
        }
        _ => write!(out, "{bytes} B"),
    };
}

/// Seconds, human readable: `0.4 s`, `12 s`, `3 min 5 s`, `2 h 1 min`.
pub(crate) fn duration(seconds: f64) -> String {
    let mut out = String::new();
    write_duration(&mut out, seconds);
    out
}

/// [`duration`] appended to `out` (digits, `.`, spaces, units and `?`: nothing to escape).
pub(crate) fn write_duration(out: &mut String, seconds: f64) {
    if !seconds.is_finite() || seconds < 0.0 {
        out.push('?');
        return;
    }
    let tenths = (seconds * 10.0).round() as u64;
    // Writing into a String cannot fail.
    let _ = if tenths < 100 {
        write!(out, "{}.{} s", tenths / 10, tenths % 10)
    } else {
        let whole = seconds.round() as u64;
        match (whole / 3600, whole % 3600 / 60, whole % 60) {
            (0, 0, s) => write!(out, "{s} s"),
            (0, m, s) => write!(out, "{m} min {s} s"),
            (h, m, _) => write!(out, "{h} h {m} min"),
        }
    };
}

/// `2024-01-02T03:04:05Z` → `2024-01-02 03:04 UTC`; anything else unchanged.
pub(crate) fn datetime(iso: &str) -> String {
    match (iso.get(..10), iso.get(11..16)) {
        (Some(date), Some(time)) if iso.len() == 20 && iso.ends_with('Z') => format!("{date} {time} UTC"),
        _ => iso.to_owned(),
    }
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(number: i64) -> String {
    let digits = number.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if number < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
