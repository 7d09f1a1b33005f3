//! Real wheel files for tests: zip archives with a `.dist-info` (METADATA, WHEEL, RECORD) and a
//! module, as a build backend writes them; and the ways a hostile or broken one differs.
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
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let method = if self.stored { zip::CompressionMethod::Stored } else { zip::CompressionMethod::Deflated };
        let options = zip::write::SimpleFileOptions::default().compression_method(method).large_file(self.stored);
        for (path, contents) in &files {
            zip.start_file(path.as_str(), options).expect("start a zip entry");
            zip.write_all(contents).expect("write a zip entry");
        }
        zip.finish().expect("finish the zip").into_inner()
    }
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
    let import = std::process::Command::new(super::tool_exe("piw-import"))
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
