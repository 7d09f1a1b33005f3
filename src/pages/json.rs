//! The JSON documents: `packages.json` and `project/PACKAGE/json/index.json`. Map keys come out
//! in byte order and object fields in one fixed order, the same every time.

#[cfg(test)]
use std::collections::BTreeMap;

use serde::Serialize;

#[cfg(test)]
use super::data::Build;
use super::data::{Project, Release, SearchEntry};
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
///
/// Written out here, in the order `serde_json` gives the maps (keys in byte order) and structs
/// (fields as declared): building the maps first was a third of the page's time. Relies on what
/// [`super::data`] guarantees: versions unique, each release's files unique and by filename.
pub fn project(project: &Project) -> Result<Vec<u8>> {
    let sizes: usize = project.releases.iter().map(|r| 160 + r.files.len() * 360 + r.builds.len() * 100).sum();
    let mut out = Vec::with_capacity(96 + project.description.len() + sizes);
    out.extend_from_slice(b"{\"package\":");
    string(&mut out, &project.package)?;
    out.extend_from_slice(b",\"description\":");
    string(&mut out, &project.description)?;
    out.extend_from_slice(b",\"skip\":");
    string(&mut out, &project.skip)?;
    out.extend_from_slice(b",\"releases\":{");
    let mut releases: Vec<&Release> = project.releases.iter().collect();
    releases.sort_unstable_by(|a, b| a.version.cmp(&b.version));
    for (i, release) in releases.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(&mut out, &release.version)?;
        out.extend_from_slice(b":{\"released\":");
        value(&mut out, &release.released.as_deref())?;
        out.extend_from_slice(if release.yanked { b",\"yanked\":true,\"skip\":" } else { b",\"yanked\":false,\"skip\":" });
        string(&mut out, &release.skip)?;
        out.extend_from_slice(b",\"files\":{");
        for (j, file) in release.files.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            string(&mut out, &file.filename)?;
            out.extend_from_slice(b":{\"filesize\":");
            value(&mut out, &file.filesize)?;
            out.extend_from_slice(b",\"filehash\":");
            string(&mut out, &file.filehash)?;
            out.extend_from_slice(b",\"abi_tag\":");
            string(&mut out, &file.abi_tag)?;
            out.extend_from_slice(b",\"platform_tag\":");
            string(&mut out, &file.platform_tag)?;
            out.extend_from_slice(b",\"requires_python\":");
            value(&mut out, &file.requires_python.as_deref())?;
            out.extend_from_slice(b",\"apt_dependencies\":");
            value(&mut out, &file.apt_dependencies)?;
            out.push(b'}');
        }
        out.extend_from_slice(b"},\"builds\":");
        value(&mut out, &release.builds)?;
        out.push(b'}');
    }
    out.extend_from_slice(b"}}\n");
    Ok(out)
}

/// A JSON string, escaped as `serde_json` escapes it.
fn string(out: &mut Vec<u8>, text: &str) -> Result<()> {
    value(out, &text)
}

/// Any value as `serde_json` writes it (numbers, null, builds: its choices, not ours).
fn value(out: &mut Vec<u8>, value: &impl Serialize) -> Result<()> {
    serde_json::to_writer(out, value).map_err(|e| Error::io("rendering project json", e.into()))
}

#[cfg(test)]
#[derive(Serialize)]
struct ProjectJson<'a> {
    package: &'a str,
    description: &'a str,
    skip: &'a str,
    releases: BTreeMap<&'a str, ReleaseJson<'a>>,
}

#[cfg(test)]
#[derive(Serialize)]
struct ReleaseJson<'a> {
    released: Option<&'a str>,
    yanked: bool,
    skip: &'a str,
    files: BTreeMap<&'a str, FileJson<'a>>,
    builds: &'a [Build],
}

#[cfg(test)]
#[derive(Serialize)]
struct FileJson<'a> {
    filesize: i64,
    filehash: &'a str,
    abi_tag: &'a str,
    platform_tag: &'a str,
    requires_python: Option<&'a str>,
    apt_dependencies: &'a [String],
}

/// [`project`] the way it was first written: `serde_json` over maps. The tests hold the two
/// byte for byte equal.
#[cfg(test)]
pub(super) fn project_by_serde(project: &Project) -> Result<Vec<u8>> {
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

#[cfg(test)]
fn to_bytes(what: &str, value: &impl Serialize) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(value).map_err(|e| Error::io(format!("rendering {what}"), e.into()))?;
    bytes.push(b'\n');
    Ok(bytes)
}
