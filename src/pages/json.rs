//! The JSON documents: `packages.json` and `project/PACKAGE/json/index.json`. Maps are
//! `BTreeMap`s and objects are structs, so keys come out in the same order every time.

use std::collections::BTreeMap;

use serde::Serialize;

use super::data::{Build, Project, SearchEntry};
use crate::error::{Error, Result};

/// `[[package, downloads_last_30_days, downloads_all], ...]`, then a newline.
#[cfg(test)]
pub fn search(entries: &[SearchEntry]) -> Result<Vec<u8>> {
    let mut json = SearchJson::new();
    for entry in entries {
        json.push(entry)?;
    }
    Ok(json.finish())
}

/// `packages.json` written as the entries arrive (no list of them is kept): the bytes
/// `serde_json` gives the whole array, then a newline.
pub struct SearchJson {
    bytes: Vec<u8>,
    empty: bool,
}

impl SearchJson {
    pub fn new() -> Self {
        SearchJson { bytes: vec![b'['], empty: true }
    }

    pub fn push(&mut self, entry: &SearchEntry) -> Result<()> {
        if !std::mem::replace(&mut self.empty, false) {
            self.bytes.push(b',');
        }
        serde_json::to_writer(&mut self.bytes, entry).map_err(|e| Error::io("rendering packages.json", e.into()))
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(b"]\n");
        self.bytes
    }
}

#[derive(Serialize)]
struct ProjectJson<'a> {
    package: &'a str,
    description: &'a str,
    skip: &'a str,
    releases: BTreeMap<&'a str, ReleaseJson<'a>>,
}

#[derive(Serialize)]
struct ReleaseJson<'a> {
    released: Option<&'a str>,
    yanked: bool,
    skip: &'a str,
    files: BTreeMap<&'a str, FileJson<'a>>,
    builds: &'a [Build],
}

#[derive(Serialize)]
struct FileJson<'a> {
    filesize: i64,
    filehash: &'a str,
    abi_tag: &'a str,
    platform_tag: &'a str,
    requires_python: Option<&'a str>,
    apt_dependencies: &'a [String],
}

/// `project/PACKAGE/json/index.json`, then a newline:
///
/// ```json
/// {"package": "foo", "description": "...", "skip": "",
///  "releases": {"1.0": {"released": "2024-01-02T03:04:05Z" or null, "yanked": false, "skip": "",
///      "files": {"foo-1.0-py3-none-any.whl": {"filesize": 1234, "filehash": "<sha256 hex>",
///                "abi_tag": "none", "platform_tag": "any", "requires_python": ">=3.7" or null,
///                "apt_dependencies": ["libfoo1"]}},
///      "builds": [{"abi_tag": "none", "status": true, "duration_seconds": 12.5,
///                  "built_at": "2024-01-02T03:04:05Z"}]}}}
/// ```
pub fn project(project: &Project) -> Result<Vec<u8>> {
    let document = ProjectJson {
        package: &project.package,
        description: &project.description,
        skip: &project.skip,
        releases: project
            .releases
            .iter()
            .map(|r| {
                let files = r
                    .files
                    .iter()
                    .map(|f| {
                        let file = FileJson {
                            filesize: f.filesize,
                            filehash: &f.filehash,
                            abi_tag: &f.abi_tag,
                            platform_tag: &f.platform_tag,
                            requires_python: f.requires_python.as_deref(),
                            apt_dependencies: &f.apt_dependencies,
                        };
                        (f.filename.as_str(), file)
                    })
                    .collect();
                let release = ReleaseJson { released: r.released.as_deref(), yanked: r.yanked, skip: &r.skip, files, builds: &r.builds };
                (r.version.as_str(), release)
            })
            .collect(),
    };
    to_bytes("project json", &document)
}

fn to_bytes(what: &str, value: &impl Serialize) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(value).map_err(|e| Error::io(format!("rendering {what}"), e.into()))?;
    bytes.push(b'\n');
    Ok(bytes)
}
