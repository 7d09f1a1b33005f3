//! A built wheel, read before it is imported (PEP 427): a zip archive whose one `.dist-info`
//! directory matches the file name (names compared PEP 503-normalized, versions as PEP 440
//! versions), with core metadata (`METADATA`) whose `Name` and `Version` say the same, and a
//! `RECORD` that every file of the archive matches, size and hash, where the wheel has one.
//!
//! Read a piece at a time: memory stays bounded whatever the wheel's size (the archive's
//! directory, one buffer, and METADATA, which is refused past [`METADATA_LIMIT`]).

use std::{
    collections::HashSet,
    io::{Read, Seek},
    str::FromStr,
};

use base64::Engine as _;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The largest METADATA accepted (it is kept in memory and served as `FILENAME.metadata`).
pub const METADATA_LIMIT: u64 = 16 * 1024 * 1024;

/// What a wheel says of itself, from its METADATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreMetadata {
    /// `Name` as the project spells it (`Jinja2`, `zope.event`): the display name.
    pub name: String,
    /// `Version` as written.
    pub version: String,
    pub requires_python: Option<String>,
    pub summary: Option<String>,
    /// The METADATA file, byte for byte (PEP 658 serves it beside the wheel).
    pub bytes: Vec<u8>,
}

/// Why a file is not a wheel piw imports.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    #[error("not a zip archive ({0})")]
    NotZip(String),
    #[error("no .dist-info directory in the archive")]
    NoDistInfo,
    #[error("more than one .dist-info directory ({0} and {1})")]
    SeveralDistInfo(String, String),
    #[error("its .dist-info directory {found:?} is not for {expected}")]
    DistInfoMismatch { found: String, expected: String },
    #[error("no {0}/METADATA")]
    NoMetadata(String),
    #[error("METADATA is larger than {METADATA_LIMIT} bytes")]
    MetadataTooLarge,
    #[error("METADATA cannot be read: {0}")]
    BadMetadata(String),
    #[error("METADATA has no {0} field")]
    MissingField(&'static str),
    #[error("METADATA names {found:?}, the file name {expected:?}")]
    NameMismatch { found: String, expected: String },
    #[error("METADATA says version {found:?}, the file name {expected:?}")]
    VersionMismatch { found: String, expected: String },
    #[error("RECORD: {0}")]
    Record(String),
    #[error("reading the archive: {0}")]
    Io(#[from] std::io::Error),
}

/// Read `archive`, the wheel named `distribution`-`version`-... (as its file name spells them),
/// and check it: see the module's documentation.
pub fn read(archive: impl Read + Seek, distribution: &str, version: &str) -> Result<CoreMetadata, WheelError> {
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| WheelError::NotZip(e.to_string()))?;
    let dist_info = dist_info_dir(&zip)?;
    let (info_name, info_version) = dist_info.rsplit_once('-').ok_or_else(|| WheelError::DistInfoMismatch {
        found: format!("{dist_info}.dist-info"),
        expected: format!("{distribution} {version}"),
    })?;
    if normalize(info_name) != normalize(distribution) || !same_version(info_version, version) {
        return Err(WheelError::DistInfoMismatch {
            found: format!("{dist_info}.dist-info"),
            expected: format!("{distribution} {version}"),
        });
    }
    let dist_info = format!("{dist_info}.dist-info");
    let metadata = read_metadata(&mut zip, &dist_info)?;
    if normalize(&metadata.name) != normalize(distribution) {
        return Err(WheelError::NameMismatch { found: metadata.name, expected: distribution.to_owned() });
    }
    if !same_version(&metadata.version, version) {
        return Err(WheelError::VersionMismatch { found: metadata.version, expected: version.to_owned() });
    }
    check_record(&mut zip, &dist_info)?;
    Ok(metadata)
}

/// The one top-level `NAME-VERSION.dist-info` directory, without its suffix.
fn dist_info_dir<R: Read + Seek>(zip: &zip::ZipArchive<R>) -> Result<String, WheelError> {
    let mut found: Option<&str> = None;
    for name in zip.file_names() {
        let Some((top, _)) = name.split_once('/') else { continue };
        let Some(stem) = top.strip_suffix(".dist-info") else { continue };
        match found {
            None => found = Some(stem),
            Some(seen) if seen == stem => {}
            Some(seen) => return Err(WheelError::SeveralDistInfo(format!("{seen}.dist-info"), top.to_owned())),
        }
    }
    found.map(str::to_owned).ok_or(WheelError::NoDistInfo)
}

fn read_metadata<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, dist_info: &str) -> Result<CoreMetadata, WheelError> {
    let path = format!("{dist_info}/METADATA");
    let entry = match zip.by_name(&path) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Err(WheelError::NoMetadata(dist_info.to_owned())),
        Err(e) => return Err(WheelError::NotZip(e.to_string())),
    };
    let mut bytes = Vec::new();
    // One byte past the limit tells a file at the limit from a larger one.
    entry.take(METADATA_LIMIT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > METADATA_LIMIT {
        return Err(WheelError::MetadataTooLarge);
    }
    let (headers, _) = mailparse::parse_headers(&bytes).map_err(|e| WheelError::BadMetadata(e.to_string()))?;
    let field = |name: &str| {
        use mailparse::MailHeaderMap as _;
        headers.get_first_value(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
    };
    let name = field("Name").ok_or(WheelError::MissingField("Name"))?;
    let version = field("Version").ok_or(WheelError::MissingField("Version"))?;
    let requires_python = field("Requires-Python");
    let summary = field("Summary");
    Ok(CoreMetadata { name, version, requires_python, summary, bytes })
}

/// Every file of the archive is in RECORD with the size and hash it has, and every file RECORD
/// names is in the archive (RECORD itself, and its signatures, are not hashed). A wheel without
/// RECORD is not checked.
fn check_record<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, dist_info: &str) -> Result<(), WheelError> {
    let record_path = format!("{dist_info}/RECORD");
    let record = match zip.by_name(&record_path) {
        Ok(entry) => {
            let mut text = Vec::new();
            entry.take(METADATA_LIMIT + 1).read_to_end(&mut text)?;
            if text.len() as u64 > METADATA_LIMIT {
                return Err(WheelError::Record("larger than 16 MiB".into()));
            }
            text
        }
        Err(zip::result::ZipError::FileNotFound) => return Ok(()),
        Err(e) => return Err(WheelError::NotZip(e.to_string())),
    };
    let unsigned: HashSet<String> = ["RECORD", "RECORD.jws", "RECORD.p7s"].iter().map(|name| format!("{dist_info}/{name}")).collect();
    let mut listed = HashSet::new();
    let mut rows = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(record.as_slice());
    for row in rows.records() {
        let row = row.map_err(|e| WheelError::Record(e.to_string()))?;
        let path = row.get(0).unwrap_or_default();
        if path.is_empty() {
            continue;
        }
        if !listed.insert(path.to_owned()) {
            return Err(WheelError::Record(format!("{path:?} is listed twice")));
        }
        if unsigned.contains(path) {
            continue;
        }
        let hash = row.get(1).unwrap_or_default();
        let Some((algorithm, expected)) = hash.split_once('=') else {
            return Err(WheelError::Record(format!("{path:?} has no hash")));
        };
        let expected_size = row.get(2).unwrap_or_default();
        let mut entry = match zip.by_name(path) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Err(WheelError::Record(format!("{path:?} is not in the archive"))),
            Err(e) => return Err(WheelError::NotZip(e.to_string())),
        };
        let (size, digest) = match algorithm {
            "sha256" => hash_entry::<Sha256>(&mut entry)?,
            "sha384" => hash_entry::<Sha384>(&mut entry)?,
            "sha512" => hash_entry::<Sha512>(&mut entry)?,
            other => return Err(WheelError::Record(format!("{path:?}: hash algorithm {other:?} (sha256, sha384 or sha512)"))),
        };
        if base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) != expected.trim_end_matches('=') {
            return Err(WheelError::Record(format!("{path:?} does not match its hash")));
        }
        if !expected_size.is_empty() && expected_size != size.to_string() {
            return Err(WheelError::Record(format!("{path:?} is {size} bytes, RECORD says {expected_size}")));
        }
    }
    for name in zip.file_names() {
        if !name.ends_with('/') && !listed.contains(name) {
            return Err(WheelError::Record(format!("{name:?} is in the archive but not in RECORD")));
        }
    }
    Ok(())
}

/// Size and digest of an entry's contents, a piece at a time.
fn hash_entry<D: Digest>(entry: &mut impl Read) -> Result<(u64, Vec<u8>), WheelError> {
    let mut hashing = crate::hashing::HashingWriter::<_, D>::new(std::io::sink());
    // A deflate stream that does not decode, a CRC that does not match: the entry cannot be read.
    let size = std::io::copy(entry, &mut hashing).map_err(|e| WheelError::Record(format!("an entry cannot be read: {e}")))?;
    Ok((size, hashing.finalize()))
}

/// PEP 503: lower case, runs of `-`, `_` and `.` as one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !out.is_empty() {
            out.push('-');
        }
        separator = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// Whether two versions are the same PEP 440 version (`1.0` and `1.0.0`, `1.0_post1` as a file
/// name escapes `1.0-post1`); as text when either is not a PEP 440 version.
fn same_version(a: &str, b: &str) -> bool {
    let parse = |v: &str| pep440_rs::Version::from_str(&v.replace('_', "-"));
    match (parse(a), parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
