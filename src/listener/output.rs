//! The output directory: every write and deletion the listener makes goes through here, and
//! nothing here touches a path outside it.
//!
//! Pages are replaced atomically: the bytes go to a temporary file in the same directory, which is
//! then renamed over the page, so a reader (or a crash) never sees half a page. The temporary name
//! is fixed per page (`.NAME.piw-tmp`): the queue never lets two jobs write one page at once, so a
//! temporary file left by a killed listener is simply overwritten when the page is written again.

use std::{
    fs,
    io::{self, Write},
    path::{Component, Path, PathBuf},
};

/// Why a path was refused or an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("refusing path {path:?}: {reason}")]
    Refused { path: PathBuf, reason: &'static str },
    #[error("refusing {path}: a symbolic link leading outside the output path")]
    SymlinkEscape { path: PathBuf },
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

impl OutputError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        OutputError::Io { action, path: path.to_owned(), source }
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The file was (re)written.
    Changed,
    /// The file already held exactly these bytes; it was left alone.
    Unchanged,
}

/// The listener's output path, resolved once.
#[derive(Debug, Clone)]
pub struct OutputDir {
    root: PathBuf,
}

impl OutputDir {
    /// Open (creating if needed) the output directory.
    pub fn open(path: &Path) -> Result<Self, OutputError> {
        fs::create_dir_all(path).map_err(|e| OutputError::io("cannot create", path, e))?;
        let root = fs::canonicalize(path).map_err(|e| OutputError::io("cannot resolve", path, e))?;
        Ok(OutputDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Write `bytes` at `relative`, atomically, unless the file already holds exactly them.
    /// Comparing with the file itself (not a remembered hash) means a rebuild repairs pages that
    /// someone changed by hand.
    pub fn write(&self, relative: &Path, bytes: &[u8]) -> Result<Written, OutputError> {
        let (dir, name) = self.parent_dir(relative, true)?;
        let target = dir.join(name);
        if let Ok(meta) = fs::symlink_metadata(&target) {
            if meta.is_file() && meta.len() == bytes.len() as u64 && holds(&target, bytes) {
                // A listener killed between writing the temporary file and renaming it
                // left it behind; no one else writes this page now (one writer per page).
                let _ = fs::remove_file(dir.join(temporary_name(name)));
                return Ok(Written::Unchanged);
            }
        }
        let temporary = dir.join(temporary_name(name));
        let mut file = fs::File::create(&temporary).map_err(|e| OutputError::io("cannot create", &temporary, e))?;
        if let Err(e) = file.write_all(bytes) {
            let _ = fs::remove_file(&temporary);
            return Err(OutputError::io("cannot write", &temporary, e));
        }
        drop(file);
        // rename replaces a symlink at `target` itself, never the file it points to.
        fs::rename(&temporary, &target).map_err(|e| {
            let _ = fs::remove_file(&temporary);
            OutputError::io("cannot rename into place", &target, e)
        })?;
        Ok(Written::Changed)
    }

    /// Remove the file at `relative` (and any temporary file of it); a file already gone is fine.
    /// Returns whether something was removed.
    pub fn remove_file(&self, relative: &Path) -> Result<bool, OutputError> {
        let Some((dir, name)) = self.existing_parent(relative)? else {
            return Ok(false);
        };
        let _ = fs::remove_file(dir.join(temporary_name(name)));
        let target = dir.join(name);
        match fs::symlink_metadata(&target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(OutputError::io("cannot inspect", &target, e)),
            Ok(meta) if meta.is_dir() => Err(OutputError::Refused { path: relative.to_owned(), reason: "a directory is in the way" }),
            // A symlink is removed itself; its target, wherever it is, is untouched.
            Ok(_) => match fs::remove_file(&target) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(OutputError::io("cannot delete", &target, e)),
            },
        }
    }

    /// Remove the directory at `relative` with everything in it; a directory already gone is fine.
    /// Symlinks inside are removed, never followed.
    pub fn remove_dir(&self, relative: &Path) -> Result<bool, OutputError> {
        let Some((dir, name)) = self.existing_parent(relative)? else {
            return Ok(false);
        };
        let target = dir.join(name);
        match fs::symlink_metadata(&target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(OutputError::io("cannot inspect", &target, e)),
            Ok(meta) if meta.is_dir() => {
                fs::remove_dir_all(&target).map(|()| true).map_err(|e| OutputError::io("cannot delete", &target, e))
            }
            Ok(_) => fs::remove_file(&target).map(|()| true).map_err(|e| OutputError::io("cannot delete", &target, e)),
        }
    }

    /// The real directory that holds `relative`'s last component, created if `create`, and that
    /// component. Refuses anything but plain names, and intermediate symlinks that lead outside.
    fn parent_dir<'a>(&self, relative: &'a Path, create: bool) -> Result<(PathBuf, &'a std::ffi::OsStr), OutputError> {
        let refused = |reason| OutputError::Refused { path: relative.to_owned(), reason };
        let mut components = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(name) => components.push(name),
                _ => return Err(refused("only plain names are allowed")),
            }
        }
        let Some((name, parents)) = components.split_last() else {
            return Err(refused("empty path"));
        };
        let mut dir = self.root.clone();
        for parent in parents {
            let next = dir.join(parent);
            match fs::symlink_metadata(&next) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let real = fs::canonicalize(&next).map_err(|e| OutputError::io("cannot resolve", &next, e))?;
                    if !real.starts_with(&self.root) {
                        return Err(OutputError::SymlinkEscape { path: next });
                    }
                    dir = real;
                }
                Ok(meta) if meta.is_dir() => dir = next,
                Ok(_) => return Err(OutputError::io("cannot use", &next, io::Error::other("a file is in the way of a directory"))),
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    fs::create_dir(&next)
                        .or_else(|e| if e.kind() == io::ErrorKind::AlreadyExists { Ok(()) } else { Err(e) })
                        .map_err(|e| OutputError::io("cannot create", &next, e))?;
                    dir = next;
                }
                Err(e) => return Err(OutputError::io("cannot inspect", &next, e)),
            }
        }
        Ok((dir, name))
    }

    /// Like `parent_dir` without creating anything: `None` when a parent does not exist.
    fn existing_parent<'a>(&self, relative: &'a Path) -> Result<Option<(PathBuf, &'a std::ffi::OsStr)>, OutputError> {
        match self.parent_dir(relative, false) {
            Ok(found) => Ok(Some(found)),
            Err(OutputError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Whether the file at `path` holds exactly `bytes`, read a piece at a time (the simple root and
/// the search index of a big site are tens of megabytes).
fn holds(path: &Path, bytes: &[u8]) -> bool {
    use std::io::Read;
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    let mut buffer = vec![0; bytes.len().clamp(1, 1 << 16)];
    let mut offset = 0;
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return offset == bytes.len(),
            Ok(n) if offset + n <= bytes.len() && buffer[..n] == bytes[offset..offset + n] => offset += n,
            Ok(_) => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// `.NAME.piw-tmp`: hidden, and never a name the site publishes (filenames cannot start with ".").
pub fn temporary_name(name: &std::ffi::OsStr) -> PathBuf {
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(".piw-tmp");
    PathBuf::from(temporary)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn output() -> (tempfile::TempDir, OutputDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = OutputDir::open(dir.path()).expect("open");
        (dir, output)
    }

    #[test]
    fn write_creates_directories_and_replaces_atomically() -> TestResult {
        let (_dir, out) = output();
        assert_eq!(out.write(Path::new("simple/foo/index.html"), b"one")?, Written::Changed);
        assert_eq!(out.write(Path::new("simple/foo/index.html"), b"one")?, Written::Unchanged);
        assert_eq!(out.write(Path::new("simple/foo/index.html"), b"two")?, Written::Changed);
        assert_eq!(fs::read(out.root().join("simple/foo/index.html"))?, b"two");
        let names = fs::read_dir(out.root().join("simple/foo"))?.map(|e| e.map(|e| e.file_name())).collect::<Result<Vec<_>, _>>()?;
        assert_eq!(names, ["index.html"], "no temporary file remains");
        Ok(())
    }

    #[test]
    fn write_repairs_a_page_changed_by_hand() -> TestResult {
        let (_dir, out) = output();
        out.write(Path::new("index.html"), b"page")?;
        fs::write(out.root().join("index.html"), b"pagX")?;
        assert_eq!(out.write(Path::new("index.html"), b"page")?, Written::Changed);
        assert_eq!(fs::read(out.root().join("index.html"))?, b"page");
        Ok(())
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused() {
        let (_dir, out) = output();
        for bad in ["../x", "/etc/passwd", "a/../../x", "", "./x"] {
            assert!(out.write(Path::new(bad), b"x").is_err(), "{bad:?} refused");
            assert!(out.remove_file(Path::new(bad)).is_err() || bad.is_empty(), "{bad:?} refused for removal");
        }
    }

    #[test]
    fn symlinked_directory_leading_outside_is_refused() -> TestResult {
        let outside = tempfile::tempdir()?;
        fs::write(outside.path().join("victim.whl"), b"keep")?;
        let (_dir, out) = output();
        fs::create_dir(out.root().join("simple"))?;
        std::os::unix::fs::symlink(outside.path(), out.root().join("simple/evil"))?;
        assert!(matches!(out.remove_file(Path::new("simple/evil/victim.whl")), Err(OutputError::SymlinkEscape { .. })));
        assert!(matches!(out.write(Path::new("simple/evil/index.html"), b"x"), Err(OutputError::SymlinkEscape { .. })));
        assert_eq!(fs::read(outside.path().join("victim.whl"))?, b"keep");
        assert!(!outside.path().join("index.html").exists());
        Ok(())
    }

    #[test]
    fn symlinked_file_is_replaced_or_removed_not_followed() -> TestResult {
        let outside = tempfile::tempdir()?;
        fs::write(outside.path().join("target"), b"keep")?;
        let (_dir, out) = output();
        std::os::unix::fs::symlink(outside.path().join("target"), out.root().join("index.html"))?;
        out.write(Path::new("index.html"), b"page")?;
        assert_eq!(fs::read(outside.path().join("target"))?, b"keep");
        std::os::unix::fs::symlink(outside.path().join("target"), out.root().join("x.whl"))?;
        assert!(out.remove_file(Path::new("x.whl"))?);
        assert_eq!(fs::read(outside.path().join("target"))?, b"keep");
        Ok(())
    }

    #[test]
    fn removing_what_is_gone_is_success() -> TestResult {
        let (_dir, out) = output();
        assert!(!out.remove_file(Path::new("simple/nope/x.whl"))?);
        assert!(!out.remove_dir(Path::new("project/nope"))?);
        Ok(())
    }
}
