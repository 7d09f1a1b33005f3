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
        self.write_checked(relative, bytes, &mut CheckedDirs::new(0))
    }

    /// [`OutputDir::write`] for a writer of many pages: the directories it checked or made lately
    /// are in `checked`, and are not looked at again.
    pub fn write_checked(&self, relative: &Path, bytes: &[u8], checked: &mut CheckedDirs) -> Result<Written, OutputError> {
        let (dir, name, made) = self.parent_dir(relative, true, checked)?;
        let target = dir.join(name);
        // In a directory this writer made, nothing was there to compare with.
        if !made {
            if let Ok(meta) = fs::symlink_metadata(&target) {
                if meta.is_file() && meta.len() == bytes.len() as u64 && holds(&target, bytes) {
                    // A listener killed between writing the temporary file and renaming it
                    // left it behind; no one else writes this page now (one writer per page).
                    let _ = fs::remove_file(dir.join(temporary_name(name)));
                    return Ok(Written::Unchanged);
                }
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

    /// The real directory that holds `relative`'s last component, created if `create`, that
    /// component, and whether the directory was made by the writer that keeps `checked` (made
    /// empty, so nothing in it needs comparing). Refuses anything but plain names, and
    /// intermediate symlinks that lead outside.
    fn parent_dir<'a>(
        &self,
        relative: &'a Path,
        create: bool,
        checked: &mut CheckedDirs,
    ) -> Result<(PathBuf, &'a std::ffi::OsStr, bool), OutputError> {
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
        let mut made = false;
        let mut prefix = PathBuf::new();
        for parent in parents {
            prefix.push(parent);
            if let Some(known) = checked.get(&prefix) {
                (dir, made) = (known.real.clone(), known.made);
                continue;
            }
            let next = dir.join(parent);
            // In a directory this writer made, only what it made is there: make, don't look.
            if std::mem::take(&mut made) && create {
                match fs::create_dir(&next) {
                    Ok(()) => {
                        (dir, made) = (next, true);
                        checked.insert(&prefix, &dir, made);
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(OutputError::io("cannot create", &next, e)),
                }
            }
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
                    // Made by someone else meanwhile: not empty for all we know.
                    made = fs::create_dir(&next)
                        .map(|()| true)
                        .or_else(|e| if e.kind() == io::ErrorKind::AlreadyExists { Ok(false) } else { Err(e) })
                        .map_err(|e| OutputError::io("cannot create", &next, e))?;
                    dir = next;
                }
                Err(e) => return Err(OutputError::io("cannot inspect", &next, e)),
            }
            checked.insert(&prefix, &dir, made);
        }
        Ok((dir, name, made))
    }

    /// Like `parent_dir` without creating anything: `None` when a parent does not exist.
    fn existing_parent<'a>(&self, relative: &'a Path) -> Result<Option<(PathBuf, &'a std::ffi::OsStr)>, OutputError> {
        match self.parent_dir(relative, false, &mut CheckedDirs::new(0)) {
            Ok((dir, name, _)) => Ok(Some((dir, name))),
            Err(OutputError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The directories one writer checked (or made) lately, most recent first: a writer of many pages
/// (a full rebuild writes three per package, in three directories of that package under two
/// top-level ones) looks at each directory once, not once per page. A few are kept, not every one
/// of a big site's. A directory is trusted for as long as it stays here: a symlink planted in its
/// place meanwhile is not seen, as it would not be between a check and the write after it.
#[derive(Debug)]
pub struct CheckedDirs {
    capacity: usize,
    recent: Vec<CheckedDir>,
}

#[derive(Debug)]
struct CheckedDir {
    relative: PathBuf,
    real: PathBuf,
    /// Made by this writer, so it held nothing but what this writer put there.
    made: bool,
}

impl CheckedDirs {
    /// Keeps at most `capacity` directories (0: checks every directory every time).
    pub fn new(capacity: usize) -> Self {
        CheckedDirs { capacity, recent: Vec::with_capacity(capacity) }
    }

    fn get(&mut self, relative: &Path) -> Option<&CheckedDir> {
        // Byte equality: the prefixes are built the same way every time, and `Path`'s own `==`
        // parses both into components first.
        let index = self.recent.iter().position(|dir| dir.relative.as_os_str() == relative.as_os_str())?;
        // Most recent first: the top-level directories, used by every page, stay.
        self.recent[..=index].rotate_right(1);
        self.recent.first()
    }

    fn insert(&mut self, relative: &Path, real: &Path, made: bool) {
        if self.capacity == 0 {
            return;
        }
        if self.recent.len() == self.capacity {
            self.recent.pop();
        }
        self.recent.insert(0, CheckedDir { relative: relative.to_owned(), real: real.to_owned(), made });
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
    fn a_writer_of_many_pages_looks_at_each_directory_once_and_keeps_a_few() -> TestResult {
        let (_dir, out) = output();
        let mut checked = CheckedDirs::new(4);
        for package in ["a", "b", "c"] {
            for page in ["index.html", "json/index.json"] {
                let path = Path::new("project").join(package).join(page);
                assert_eq!(out.write_checked(&path, package.as_bytes(), &mut checked)?, Written::Changed);
                assert_eq!(fs::read(out.root().join(&path))?, package.as_bytes());
            }
        }
        assert_eq!(checked.recent.len(), 4, "no more than its capacity");
        assert!(checked.recent.iter().any(|d| d.relative == Path::new("project")), "the top level stays: used by every page");
        assert!(!checked.recent.iter().any(|d| d.relative == Path::new("project/a")), "an old package's directory goes");
        assert!(checked.recent.iter().all(|d| d.made), "every directory here was made by this writer");
        // The next pass compares with what is there, and repairs a page changed by hand.
        fs::write(out.root().join("project/b/index.html"), b"B")?;
        let mut next_pass = CheckedDirs::new(4);
        assert_eq!(out.write_checked(Path::new("project/a/index.html"), b"a", &mut next_pass)?, Written::Unchanged);
        assert_eq!(out.write_checked(Path::new("project/b/index.html"), b"b", &mut next_pass)?, Written::Changed);
        assert_eq!(fs::read(out.root().join("project/b/index.html"))?, b"b");
        assert!(next_pass.recent.iter().all(|d| !d.made), "found, not made");
        Ok(())
    }

    #[test]
    fn a_writer_of_many_pages_refuses_a_symlink_leading_outside() -> TestResult {
        let outside = tempfile::tempdir()?;
        let (_dir, out) = output();
        let mut checked = CheckedDirs::new(8);
        out.write_checked(Path::new("simple/good/index.html"), b"x", &mut checked)?;
        std::os::unix::fs::symlink(outside.path(), out.root().join("simple/evil"))?;
        assert!(matches!(
            out.write_checked(Path::new("simple/evil/index.html"), b"x", &mut checked),
            Err(OutputError::SymlinkEscape { .. })
        ));
        assert!(!outside.path().join("index.html").exists());
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
