//! Where everything lives in the site: the one place that knows the tree's layout and which
//! names may become paths in it. Pages, the importer, the listener's deletions and the
//! reconciliation all ask here.

use std::path::{Path, PathBuf};

use super::OutputError;

/// The home page, at the top of the tree.
pub const HOME_PAGE: &str = "index.html";
/// The search index, at the top of the tree.
pub const SEARCH_INDEX: &str = "packages.json";
/// The PEP 503 index: `simple/index.html`, and a directory per package with its page and wheels.
pub const SIMPLE: &str = "simple";
/// The human pages: a directory per package with `index.html` and `json/index.json`.
pub const PROJECT: &str = "project";
/// The name of every page inside its directory.
pub const PAGE: &str = "index.html";
/// The name of a simple page's PEP 691 JSON twin, beside it.
pub const JSON_PAGE: &str = "index.json";
/// Withheld wheels (held versions, skipped packages and versions) and their metadata: a
/// directory per package, at the top of the tree but outside what is served (a dot name: the
/// nginx snippet answers 404 for every dot path; a server that serves dot paths would serve it).
pub const WITHHELD: &str = ".withheld";
/// The top-level directories that hold one directory per package.
pub const PACKAGE_TREES: [&str; 3] = [SIMPLE, PROJECT, WITHHELD];

/// `simple/index.html`.
pub fn simple_root() -> PathBuf {
    Path::new(SIMPLE).join(PAGE)
}

/// `simple/index.json` (PEP 691).
pub fn simple_root_json() -> PathBuf {
    Path::new(SIMPLE).join(JSON_PAGE)
}

/// `simple/PACKAGE`: the package's page and its wheels.
pub fn simple_dir(package: &str) -> PathBuf {
    Path::new(SIMPLE).join(package)
}

/// `simple/PACKAGE/index.html`.
pub fn simple_page(package: &str) -> PathBuf {
    simple_dir(package).join(PAGE)
}

/// `simple/PACKAGE/index.json` (PEP 691).
pub fn simple_json(package: &str) -> PathBuf {
    simple_dir(package).join(JSON_PAGE)
}

/// `project/PACKAGE`.
pub fn project_dir(package: &str) -> PathBuf {
    Path::new(PROJECT).join(package)
}

/// `project/PACKAGE/index.html` and `project/PACKAGE/json/index.json`.
pub fn project_pages(package: &str) -> [PathBuf; 2] {
    let dir = project_dir(package);
    [dir.join(PAGE), dir.join("json").join("index.json")]
}

/// `simple/PACKAGE/FILENAME`, only for a normalized package name and a plain file name that is not
/// a page beside the wheels. A job row is data (piw_admin may write one by hand): the output
/// directory stops paths that leave it, but `delete_package` of `""` would otherwise remove every
/// package's directory, and `delete_wheel` of `index.html` a page.
pub fn wheel_path(package: &str, filename: &str) -> Result<PathBuf, OutputError> {
    let path = simple_dir(package).join(filename);
    let plain = !filename.is_empty()
        && filename != PAGE
        && filename != JSON_PAGE
        && !filename.starts_with('.')
        && !filename.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    match (is_package_name(package), plain) {
        (false, _) => Err(OutputError::Refused { path, reason: "not a normalized package name" }),
        (_, false) => Err(OutputError::Refused { path, reason: "not a wheel's file name" }),
        _ => Ok(path),
    }
}

/// `.withheld/PACKAGE`: the package's withheld wheels.
pub fn withheld_dir(package: &str) -> PathBuf {
    Path::new(WITHHELD).join(package)
}

/// Where a wheel lives: `simple/PACKAGE/FILENAME` when `published`, else
/// `.withheld/PACKAGE/FILENAME`; the same names are refused as by [`wheel_path`].
pub fn placed_wheel_path(package: &str, filename: &str, published: bool) -> Result<PathBuf, OutputError> {
    let path = wheel_path(package, filename)?;
    Ok(if published { path } else { withheld_dir(package).join(filename) })
}

/// The metadata file beside a wheel placed as [`placed_wheel_path`] says.
pub fn placed_metadata_path(package: &str, filename: &str, published: bool) -> Result<PathBuf, OutputError> {
    placed_wheel_path(package, &format!("{filename}{METADATA_SUFFIX}"), published)
}

/// What PEP 658 appends to a wheel's file name for the file holding its core metadata.
pub const METADATA_SUFFIX: &str = ".metadata";

/// `simple/PACKAGE/FILENAME.metadata`: the wheel's METADATA, served beside it (PEP 658). It
/// lives and goes with its wheel.
pub fn metadata_path(package: &str, filename: &str) -> Result<PathBuf, OutputError> {
    wheel_path(package, &format!("{filename}{METADATA_SUFFIX}"))
}

/// The wheel whose metadata file `name` is (`foo-1.0-py3-none-any.whl.metadata` →
/// `foo-1.0-py3-none-any.whl`); `None` for any other name.
pub fn wheel_of_metadata(name: &str) -> Option<&str> {
    name.strip_suffix(METADATA_SUFFIX).filter(|wheel| wheel.ends_with(".whl"))
}

/// The shape `piw.packages` enforces (`^[a-z0-9]+(-[a-z0-9]+)*$`, at most 200 characters): a
/// single, harmless path component.
pub fn is_package_name(name: &str) -> bool {
    (1..=200).contains(&name.len())
        && name.split('-').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_are_single_harmless_components() {
        for good in ["a", "foo", "foo-bar", "a1-2b", &"x".repeat(200)] {
            assert!(is_package_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a.b", "..", "a/b", &"x".repeat(201)] {
            assert!(!is_package_name(bad), "{bad}");
        }
    }

    #[test]
    fn wheel_paths_refuse_pages_hidden_files_and_separators() {
        assert_eq!(wheel_path("foo", "foo-1.0-py3-none-any.whl").ok(), Some(PathBuf::from("simple/foo/foo-1.0-py3-none-any.whl")));
        for bad in ["", "index.html", ".x", "a/b", "a\\b", "a\nb"] {
            assert!(wheel_path("foo", bad).is_err(), "{bad:?}");
        }
        assert!(wheel_path("", "foo-1.0-py3-none-any.whl").is_err());
        assert_eq!(
            placed_wheel_path("foo", "foo-1.0-py3-none-any.whl", false).ok(),
            Some(PathBuf::from(".withheld/foo/foo-1.0-py3-none-any.whl"))
        );
        assert!(placed_wheel_path("foo", "index.html", false).is_err());
    }
}
