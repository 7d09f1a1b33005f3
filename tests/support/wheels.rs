//! Real wheel files for tests: zip archives with a `.dist-info` (METADATA, WHEEL, RECORD) and a
//! module, as a build backend writes them; and the ways a hostile or broken one differs. The
//! benchmark's replay imports these too (it includes the file by path, so nothing here names
//! `super`).
#![allow(dead_code)]

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// What goes into a wheel. `Wheel::new("foo", "1.0")` is a valid `foo-1.0-py3-none-any.whl`.
#[derive(Debug, Clone)]
pub struct Wheel {
    /// The distribution as the file name spells it (`foo_bar`).
    pub distribution: String,
    pub version: String,
    pub tags: String,
    /// `Name` in METADATA (default: the distribution).
    pub name: Option<String>,
    /// `Version` in METADATA (default: the version).
    pub metadata_version: Option<String>,
    /// The `.dist-info` directory's stem (default: `DIST-VERSION`).
    pub dist_info: Option<String>,
    pub requires_python: Option<String>,
    pub summary: Option<String>,
    /// Leave METADATA out.
    pub no_metadata: bool,
    /// Leave RECORD out.
    pub no_record: bool,
    /// Write RECORD, then change the module's contents.
    pub tamper_after_record: bool,
    /// Extra files (path, contents).
    pub extra: Vec<(String, Vec<u8>)>,
    /// Store the files uncompressed (a big wheel is written without deflating it).
    pub stored: bool,
}

impl Wheel {
    pub fn new(distribution: &str, version: &str) -> Wheel {
        Wheel {
            distribution: distribution.to_owned(),
            version: version.to_owned(),
            tags: "py3-none-any".to_owned(),
            name: None,
            metadata_version: None,
            dist_info: None,
            requires_python: None,
            summary: None,
            no_metadata: false,
            no_record: false,
            tamper_after_record: false,
            extra: Vec::new(),
            stored: false,
        }
    }

    pub fn filename(&self) -> String {
        format!("{}-{}-{}.whl", self.distribution, self.version, self.tags)
    }

    pub fn metadata(&self) -> String {
        let mut text = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name.as_deref().unwrap_or(&self.distribution),
            self.metadata_version.as_deref().unwrap_or(&self.version)
        );
        if let Some(summary) = &self.summary {
            text.push_str(&format!("Summary: {summary}\n"));
        }
        if let Some(requires) = &self.requires_python {
            text.push_str(&format!("Requires-Python: {requires}\n"));
        }
        text.push_str("\nA long description.\n");
        text
    }

    /// Write the wheel into `dir`; its path.
    pub fn write_into(&self, dir: &Path) -> PathBuf {
        let path = dir.join(self.filename());
        std::fs::write(&path, self.bytes()).expect("write the wheel");
        path
    }

    pub fn bytes(&self) -> Vec<u8> {
        let files = self.files(None);
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let method = if self.stored { zip::CompressionMethod::Stored } else { zip::CompressionMethod::Deflated };
        let options = zip::write::SimpleFileOptions::default().compression_method(method).large_file(self.stored);
        for (path, contents) in &files {
            zip.start_file(path.as_str(), options).expect("start a zip entry");
            zip.write_all(contents).expect("write a zip entry");
        }
        zip.finish().expect("finish the zip").into_inner()
    }

    /// Every entry of the wheel, RECORD last; `hole` (path, size, urlsafe-base64 sha256) is one
    /// more entry listed in RECORD, whose contents the caller writes.
    fn files(&self, hole: Option<(&str, u64, &str)>) -> Vec<(String, Vec<u8>)> {
        let dist_info =
            format!("{}.dist-info", self.dist_info.clone().unwrap_or_else(|| format!("{}-{}", self.distribution, self.version)));
        let module = format!("{}/__init__.py", self.distribution);
        let mut files: Vec<(String, Vec<u8>)> = vec![(module.clone(), format!("VERSION = {:?}\n", self.version).into_bytes())];
        files.extend(self.extra.iter().cloned());
        if !self.no_metadata {
            files.push((format!("{dist_info}/METADATA"), self.metadata().into_bytes()));
        }
        files.push((
            format!("{dist_info}/WHEEL"),
            format!("Wheel-Version: 1.0\nGenerator: piw-tests\nRoot-Is-Purelib: true\nTag: {}\n", self.tags).into_bytes(),
        ));
        let mut record = String::new();
        if let Some((path, size, digest)) = hole {
            record.push_str(&format!("{path},sha256={digest},{size}\n"));
        }
        for (path, contents) in &files {
            let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(contents));
            record.push_str(&format!("{path},sha256={digest},{}\n", contents.len()));
        }
        record.push_str(&format!("{dist_info}/RECORD,,\n"));
        if self.tamper_after_record {
            files[0].1 = b"VERSION = 'tampered'\n".to_vec();
        }
        if !self.no_record {
            files.push((format!("{dist_info}/RECORD"), record.into_bytes()));
        }
        files
    }

    /// Write the wheel into `dir` with one more entry, `path`: `size` zero bytes, stored, and
    /// left as a hole in the file. A wheel of a gigabyte takes no room on disk and no time to
    /// write. The zip is written here (no ZIP64: `size` must stay under 4 GiB), every entry
    /// stored. Its path.
    pub fn write_sparse(&self, dir: &Path, path: &str, size: u64) -> PathBuf {
        use std::io::{Seek, SeekFrom};
        let size32 = u32::try_from(size).expect("a hole under 4 GiB");
        // The digests of `size` zero bytes, a piece at a time.
        let (mut sha, mut crc, zeros) = (Sha256::new(), crc32fast::Hasher::new(), vec![0u8; 1 << 20]);
        let mut left = size;
        while left > 0 {
            let piece = &zeros[..usize::try_from(left.min(1 << 20)).expect("a piece")];
            sha.update(piece);
            crc.update(piece);
            left -= piece.len() as u64;
        }
        let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha.finalize());
        let mut entries: Vec<(String, u32, u32)> = vec![(path.to_owned(), crc.finalize(), size32)];
        let files = self.files(Some((path, size, &digest)));
        for (name, contents) in &files {
            entries.push((name.clone(), crc32fast::hash(contents), u32::try_from(contents.len()).expect("a small entry")));
        }

        let target = dir.join(self.filename());
        let mut out = std::io::BufWriter::new(std::fs::File::create(&target).expect("create the wheel"));
        let mut offsets = Vec::new();
        let mut at = 0u64;
        for (i, (name, crc, len)) in entries.iter().enumerate() {
            offsets.push(u32::try_from(at).expect("an offset under 4 GiB"));
            let header = local_header(name, *crc, *len);
            out.write_all(&header).expect("write a local header");
            at += header.len() as u64;
            if i == 0 {
                out.seek(SeekFrom::Current(i64::from(*len))).expect("leave the hole");
            } else {
                out.write_all(&files[i - 1].1).expect("write an entry");
            }
            at += u64::from(*len);
        }
        let directory_at = u32::try_from(at).expect("an offset under 4 GiB");
        let mut directory = Vec::new();
        for ((name, crc, len), offset) in entries.iter().zip(&offsets) {
            directory.extend_from_slice(&central_header(name, *crc, *len, *offset));
        }
        let count = u16::try_from(entries.len()).expect("few entries");
        out.write_all(&directory).expect("write the central directory");
        let mut end = Vec::new();
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&[0, 0, 0, 0]);
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&u32::try_from(directory.len()).expect("a small directory").to_le_bytes());
        end.extend_from_slice(&directory_at.to_le_bytes());
        end.extend_from_slice(&[0, 0]);
        out.write_all(&end).expect("write the end of the directory");
        out.flush().expect("write the wheel");
        target
    }
}

/// The fields a local file header and a central directory header share, from "version needed":
/// stored, no flags, 1980-01-01 00:00.
fn common_fields(name: &str, crc: u32, len: u32) -> Vec<u8> {
    let mut fields = Vec::new();
    fields.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0
    fields.extend_from_slice(&0u16.to_le_bytes()); // flags
    fields.extend_from_slice(&0u16.to_le_bytes()); // stored
    fields.extend_from_slice(&0u16.to_le_bytes()); // time
    fields.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
    fields.extend_from_slice(&crc.to_le_bytes());
    fields.extend_from_slice(&len.to_le_bytes()); // compressed
    fields.extend_from_slice(&len.to_le_bytes()); // uncompressed
    fields.extend_from_slice(&u16::try_from(name.len()).expect("a short name").to_le_bytes());
    fields.extend_from_slice(&0u16.to_le_bytes()); // extra field length
    fields
}

fn local_header(name: &str, crc: u32, len: u32) -> Vec<u8> {
    let mut header = 0x0403_4b50u32.to_le_bytes().to_vec();
    header.extend_from_slice(&common_fields(name, crc, len));
    header.extend_from_slice(name.as_bytes());
    header
}

fn central_header(name: &str, crc: u32, len: u32, offset: u32) -> Vec<u8> {
    let mut header = 0x0201_4b50u32.to_le_bytes().to_vec();
    header.extend_from_slice(&(0x0300u16 | 20).to_le_bytes()); // made by: Unix, 2.0
    header.extend_from_slice(&common_fields(name, crc, len));
    header.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // comment length, disk, internal attributes
    header.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes()); // a regular file, rw-r--r--
    header.extend_from_slice(&offset.to_le_bytes());
    header.extend_from_slice(name.as_bytes());
    header
}

/// Import with `piw-import` (into the database `dsn`, the tree `output`) the wheels that
/// `examples/sample_wheels.py` writes, as the README's quick start does: hello-world 1.0 and 2.0
/// (Requires-Python >=3.7) and piw-demo 0.1, real wheels pip installs.
pub fn import_samples(dsn: &str, output: &Path) {
    let wheels = tempfile::tempdir().expect("a directory for the sample wheels");
    let made = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample_wheels.py"))
        .arg(wheels.path())
        .output()
        .expect("python3 examples/sample_wheels.py");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let import = std::process::Command::new(env!("CARGO_BIN_EXE_piw-import"))
        .args(["-q", "--output-path"])
        .arg(output)
        .arg("--dsn")
        .arg(dsn)
        .args(std::fs::read_dir(wheels.path()).expect("the sample wheels").map(|e| e.expect("a sample wheel").path()))
        .env_remove("PIW_DSN")
        .output()
        .expect("run piw-import");
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
}
