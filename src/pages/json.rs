//! The JSON documents, written by `serde_json`: `packages.json` and
//! `project/PACKAGE/json/index.json`. Map keys come out in byte order and object fields in one
//! fixed order, the same every time.

use serde::{ser::SerializeStruct, Serialize, Serializer};

use super::data::{Build, File, Project, Release, SearchEntry};
use crate::error::{Error, Result};

/// `packages.json` written as the entries arrive (no list of them is kept):
/// `[[package, downloads_last_30_days, downloads_all], ...]`, then a newline.
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
        serde_json::to_writer(&mut self.bytes, entry).map_err(|e| render_error("packages.json", &e))
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
///  "releases": {"1.0": {"released": "2024-01-02T03:04:05Z" or null, "yanked": false,
///      "yank_reason": "", "skip": "", "held": "",
///      "files": {"foo-1.0-py3-none-any.whl": {"filesize": 1234, "filehash": "<sha256 hex>",
///                "abi_tag": "none", "platform_tag": "any", "requires_python": ">=3.7" or null,
///                "apt_dependencies": ["libfoo1"]}},
///      "builds": [{"abi_tag": "none", "status": true, "duration_seconds": 12.5,
///                  "built_at": "2024-01-02T03:04:05Z"}]}}}
/// ```
///
/// The maps are written from the project's own lists, in order, without building maps first (a
/// third of the page's time when it did): releases sorted by version here, files already by
/// filename. Relies on what [`super::data`] guarantees: versions unique, each release's files
/// unique and by filename.
pub fn project(project: &Project) -> Result<Vec<u8>> {
    let sizes: usize = project.releases.iter().map(|r| 160 + r.files.len() * 360 + r.builds.len() * 100).sum();
    let mut out = Vec::with_capacity(96 + project.description.len() + sizes);
    let mut releases: Vec<&Release> = project.releases.iter().collect();
    releases.sort_unstable_by(|a, b| a.version.cmp(&b.version));
    let document = ProjectJson { package: &project.package, description: &project.description, skip: &project.skip, releases };
    serde_json::to_writer(&mut out, &document).map_err(|e| render_error("a project's json", &e))?;
    out.push(b'\n');
    Ok(out)
}

fn render_error(page: &str, error: &serde_json::Error) -> Error {
    Error::Render { page: page.to_owned(), reason: error.to_string() }
}

#[derive(Serialize)]
struct ProjectJson<'a> {
    package: &'a str,
    description: &'a str,
    skip: &'a str,
    #[serde(serialize_with = "releases_by_version")]
    releases: Vec<&'a Release>,
}

fn releases_by_version<S: Serializer>(releases: &[&Release], serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_map(releases.iter().map(|release| (release.version.as_str(), ReleaseJson(release))))
}

/// A release, without its version (its key in `releases`).
struct ReleaseJson<'a>(&'a Release);

impl Serialize for ReleaseJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let release = self.0;
        let mut fields = serializer.serialize_struct("Release", 7)?;
        fields.serialize_field("released", &release.released)?;
        fields.serialize_field("yanked", &release.yanked)?;
        fields.serialize_field("yank_reason", &release.yank_reason)?;
        fields.serialize_field("skip", &release.skip)?;
        fields.serialize_field("held", &release.held)?;
        fields.serialize_field("files", &FilesJson(&release.files))?;
        fields.serialize_field("builds", &BuildsJson(&release.builds))?;
        fields.end()
    }
}

/// A release's files by filename (they are in that order already).
struct FilesJson<'a>(&'a [File]);

impl Serialize for FilesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|file| (file.filename.as_str(), FileJson(file))))
    }
}

/// A file, without its filename (its key in `files`).
struct FileJson<'a>(&'a File);

impl Serialize for FileJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let file = self.0;
        let mut fields = serializer.serialize_struct("File", 6)?;
        fields.serialize_field("filesize", &file.filesize)?;
        fields.serialize_field("filehash", &file.filehash)?;
        fields.serialize_field("abi_tag", &file.abi_tag)?;
        fields.serialize_field("platform_tag", &file.platform_tag)?;
        fields.serialize_field("requires_python", &file.requires_python)?;
        fields.serialize_field("apt_dependencies", &file.apt_dependencies)?;
        fields.end()
    }
}

/// A release's builds in their order, without the internal build id.
struct BuildsJson<'a>(&'a [Build]);

impl Serialize for BuildsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|build| {
            #[derive(Serialize)]
            struct BuildJson<'a> {
                abi_tag: &'a str,
                status: bool,
                duration_seconds: f64,
                built_at: &'a str,
            }
            BuildJson { abi_tag: &build.abi_tag, status: build.status, duration_seconds: build.duration_seconds, built_at: &build.built_at }
        }))
    }
}

/// The PEP 691 API version the simple pages speak (1.1: PEP 700's `versions`, `size` and
/// `upload-time`); the HTML pages say the same in their `pypi:repository-version` meta.
pub const SIMPLE_API_VERSION: &str = "1.1";

#[derive(Serialize)]
struct Meta {
    #[serde(rename = "api-version")]
    api_version: &'static str,
}

const META: Meta = Meta { api_version: SIMPLE_API_VERSION };

/// `simple/index.json` written as the package names arrive (no list of them is kept):
/// `{"meta": {"api-version": "1.1"}, "projects": [{"name": "foo"}, ...]}`, then a newline.
pub struct SimpleRootJson {
    bytes: Vec<u8>,
    empty: bool,
}

impl SimpleRootJson {
    pub fn new() -> Result<Self> {
        let mut bytes = b"{\"meta\":".to_vec();
        serde_json::to_writer(&mut bytes, &META).map_err(|e| render_error("simple/index.json", &e))?;
        bytes.extend_from_slice(b",\"projects\":[");
        Ok(SimpleRootJson { bytes, empty: true })
    }

    pub fn push(&mut self, package: &str) -> Result<()> {
        #[derive(Serialize)]
        struct Project<'a> {
            name: &'a str,
        }
        if !std::mem::replace(&mut self.empty, false) {
            self.bytes.push(b',');
        }
        serde_json::to_writer(&mut self.bytes, &Project { name: package }).map_err(|e| render_error("simple/index.json", &e))
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(b"]}\n");
        self.bytes
    }
}

/// `simple/PACKAGE/index.json` (PEP 691 with PEP 700), from the same links as the HTML page
/// beside it, then a newline:
///
/// ```json
/// {"meta": {"api-version": "1.1"}, "name": "foo", "versions": ["1.0", "2.0"],
///  "files": [{"filename": "foo-1.0-py3-none-any.whl", "url": "foo-1.0-py3-none-any.whl",
///             "hashes": {"sha256": "..."}, "requires-python": ">=3.8",
///             "core-metadata": {"sha256": "..."} or false, "dist-info-metadata": the same,
///             "yanked": false, true or "the reason", "size": 1234,
///             "upload-time": "2024-01-02T03:04:05Z"}]}
/// ```
///
/// `requires-python` and `upload-time` are left out when unknown; `versions` holds each version
/// of a listed file once, in byte order.
pub fn simple(package: &str, links: &[super::data::SimpleLink<'_>]) -> Result<Vec<u8>> {
    let mut versions: Vec<&str> = links.iter().map(|link| link.version).collect();
    versions.sort_unstable();
    versions.dedup();
    let files: Vec<SimpleFileJson<'_>> = links.iter().map(SimpleFileJson).collect();
    let document = SimpleJson { meta: META, name: package, versions, files };
    let mut out = Vec::with_capacity(128 + links.len() * 400);
    serde_json::to_writer(&mut out, &document).map_err(|e| render_error("a simple page's json", &e))?;
    out.push(b'\n');
    Ok(out)
}

#[derive(Serialize)]
struct SimpleJson<'a> {
    meta: Meta,
    name: &'a str,
    versions: Vec<&'a str>,
    files: Vec<SimpleFileJson<'a>>,
}

struct SimpleFileJson<'a>(&'a super::data::SimpleLink<'a>);

impl Serialize for SimpleFileJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Sha256<'a> {
            sha256: &'a str,
        }
        let link = self.0;
        let requires_python = link.requires_python.filter(|r| !r.is_empty());
        let uploaded = Some(link.uploaded).filter(|u| !u.is_empty());
        let mut fields = serializer.serialize_struct("File", 10)?;
        fields.serialize_field("filename", link.filename)?;
        // Relative to the page, as in the HTML: the href's percent-encoding.
        fields.serialize_field("url", &super::filters::Href(link.filename).to_string())?;
        fields.serialize_field("hashes", &Sha256 { sha256: link.filehash })?;
        match requires_python {
            Some(requires) => fields.serialize_field("requires-python", requires)?,
            None => fields.skip_field("requires-python")?,
        }
        match link.metadata_hash {
            Some(hash) => {
                fields.serialize_field("core-metadata", &Sha256 { sha256: hash })?;
                fields.serialize_field("dist-info-metadata", &Sha256 { sha256: hash })?;
            }
            None => {
                fields.serialize_field("core-metadata", &false)?;
                fields.serialize_field("dist-info-metadata", &false)?;
            }
        }
        // PEP 691: the reason, or true when there is none to give.
        match (link.yanked, link.yank_reason) {
            (true, "") | (false, _) => fields.serialize_field("yanked", &link.yanked)?,
            (true, reason) => fields.serialize_field("yanked", reason)?,
        }
        fields.serialize_field("size", &link.filesize)?;
        match uploaded {
            Some(uploaded) => fields.serialize_field("upload-time", uploaded)?,
            None => fields.skip_field("upload-time")?,
        }
        fields.end()
    }
}
