//! The site on disk: every write and deletion of the listener and the importer goes through
//! here, and nothing here touches anything outside the output path.
//!
//! The output path is opened once; every other directory is opened from its parent's handle
//! without following symbolic links (see [`fs`]), so no component of any path (a package's
//! directory, a page, a wheel, a temporary file) can lead a write or a deletion elsewhere, and
//! no FIFO or device in the tree is ever opened. Pages are replaced atomically: the bytes go to a
//! temporary file in the same directory, created exclusively, then renamed over the page, so a
//! reader (or a crash) never sees half a page. The queue never lets two jobs write one page at
//! once, so a temporary file that exists when a page is written was left by a writer that died:
//! it is removed (never opened) first.

mod durable;
pub mod fs;
pub mod layout;

pub use durable::Syncer;

use std::{
    ffi::{OsStr, OsString},
    io::{self, Write},
    os::fd::{AsFd, OwnedFd},
    path::{Component, Path, PathBuf},
    sync::Arc,
};

use self::fs::{OpenDirError, RemoveError};

/// Why a path was refused or an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("refusing {path}: {reason}")]
    Refused { path: PathBuf, reason: &'static str },
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

impl OutputError {
    fn io(action: &'static str, path: &Path, source: impl Into<io::Error>) -> Self {
        OutputError::Io { action, path: path.to_owned(), source: source.into() }
    }

    fn refused(path: &Path, reason: &'static str) -> Self {
        OutputError::Refused { path: path.to_owned(), reason }
    }

    fn removing(path: &Path, error: RemoveError) -> Self {
        match error {
            RemoveError::IsADirectory => OutputError::refused(path, "a directory is in the way"),
            RemoveError::TooDeep => OutputError::refused(path, "a directory tree deeper than the site's is in the way"),
            RemoveError::Other(e) => OutputError::io("cannot delete", path, e),
        }
    }
}

/// What [`OutputError::Refused`] says of a symbolic link where a directory or file was expected.
const SYMLINK_IN_THE_WAY: &str = "a symbolic link is in the way (links in the output path are never followed)";

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The file was (re)written.
    Changed,
    /// The file already held exactly these bytes; it was left alone.
    Unchanged,
}

/// The output path, opened once.
#[derive(Debug, Clone)]
pub struct OutputDir {
    root: PathBuf,
    handle: Arc<OwnedFd>,
}

impl OutputDir {
    /// Open (creating if needed) the output directory. The path itself may lead through links
    /// (it is the operator's choice); nothing below it is followed.
    pub fn open(path: &Path) -> Result<Self, OutputError> {
        std::fs::create_dir_all(path).map_err(|e| OutputError::io("cannot create", path, e))?;
        let root = std::fs::canonicalize(path).map_err(|e| OutputError::io("cannot resolve", path, e))?;
        let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC;
        let handle = rustix::fs::open(&root, flags, rustix::fs::Mode::empty()).map_err(|e| OutputError::io("cannot open", &root, e))?;
        Ok(OutputDir { root, handle: Arc::new(handle) })
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

    /// [`OutputDir::write`] for a writer of many pages: the directories it opened (or made)
    /// lately are in `checked`, and are not opened again.
    pub fn write_checked(&self, relative: &Path, bytes: &[u8], checked: &mut CheckedDirs) -> Result<Written, OutputError> {
        let Some(Parent { dir, name, made }) = self.parent(relative, true, checked)? else {
            return Err(OutputError::refused(relative, "its directory vanished while it was made"));
        };
        let dir = dir.as_fd();
        let temporary = fs::temporary_name(name);
        // In a directory this writer made, nothing was there to compare with.
        if !made && fs::holds(dir, name, bytes) {
            // A writer killed between writing the temporary file and renaming it left it behind;
            // no one else writes this page now (one writer per page).
            let _ = fs::remove_file(dir, &temporary);
            return Ok(Written::Unchanged);
        }
        let mut file = self.create_temporary(dir, relative, &temporary)?;
        if let Err(e) = file.write_all(bytes) {
            let _ = fs::remove_file(dir, &temporary);
            return Err(OutputError::io("cannot write", &relative.with_file_name(&temporary), e));
        }
        drop(file);
        self.rename_into_place(dir, relative, &temporary, name)?;
        Ok(Written::Changed)
    }

    /// A new file at `relative`, written through the returned [`PendingFile`] and put in place by
    /// [`PendingFile::publish`] (for the importer: a wheel is copied in before its rows commit,
    /// and published once they are in). Until published it lives under its temporary name, and
    /// is removed if dropped.
    pub fn create_pending(&self, relative: &Path) -> Result<PendingFile, OutputError> {
        let Some(Parent { dir, name, .. }) = self.parent(relative, true, &mut CheckedDirs::new(0))? else {
            return Err(OutputError::refused(relative, "its directory vanished while it was made"));
        };
        let temporary = fs::temporary_name(name);
        let file = self.create_temporary(dir.as_fd(), relative, &temporary)?;
        Ok(PendingFile { dir, temporary, name: name.to_owned(), relative: relative.to_owned(), file: Some(file) })
    }

    /// Create `temporary` beside `relative`'s last component, exclusively: a stale temporary file
    /// (or link, or FIFO) by that name is removed first, never opened.
    fn create_temporary(&self, dir: std::os::fd::BorrowedFd<'_>, relative: &Path, temporary: &OsStr) -> Result<std::fs::File, OutputError> {
        let shown = relative.with_file_name(temporary);
        fs::remove_file(dir, temporary).map_err(|e| OutputError::removing(&shown, e))?;
        fs::create_new(dir, temporary).map_err(|e| OutputError::io("cannot create", &shown, e))
    }

    fn rename_into_place(
        &self,
        dir: std::os::fd::BorrowedFd<'_>,
        relative: &Path,
        temporary: &OsStr,
        name: &OsStr,
    ) -> Result<(), OutputError> {
        // rename replaces a link, FIFO or file at `name` itself, never what a link points to.
        rustix::fs::renameat(dir, temporary, dir, name).map_err(|e| {
            let _ = fs::remove_file(dir, temporary);
            match e {
                rustix::io::Errno::ISDIR | rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST => {
                    OutputError::refused(relative, "a directory is in the way")
                }
                e => OutputError::io("cannot rename into place", relative, e),
            }
        })
    }

    /// The regular file at `relative`, open for reading; `None` when there is none (a link there
    /// is not followed, a directory component that is a link is refused: nothing outside the
    /// output path is ever read through it).
    pub fn open_file(&self, relative: &Path) -> Result<Option<std::fs::File>, OutputError> {
        let Some(Parent { dir, name, .. }) = self.parent(relative, false, &mut CheckedDirs::new(0))? else {
            return Ok(None);
        };
        fs::open_regular(dir.as_fd(), name).map_err(|e| OutputError::io("cannot open", relative, e))
    }

    /// Remove the file at `relative` (and any temporary file of it); a file already gone is fine.
    /// A link there is removed itself. Returns whether something was removed.
    pub fn remove_file(&self, relative: &Path) -> Result<bool, OutputError> {
        let Some(Parent { dir, name, .. }) = self.parent(relative, false, &mut CheckedDirs::new(0))? else {
            return Ok(false);
        };
        let dir = dir.as_fd();
        let _ = fs::remove_file(dir, &fs::temporary_name(name));
        fs::remove_file(dir, name).map_err(|e| OutputError::removing(relative, e))
    }

    /// Remove the directory at `relative` with everything in it; a directory already gone is fine.
    /// Links inside (or the directory's own name as a link) are removed, never followed.
    pub fn remove_dir(&self, relative: &Path) -> Result<bool, OutputError> {
        let Some(Parent { dir, name, .. }) = self.parent(relative, false, &mut CheckedDirs::new(0))? else {
            return Ok(false);
        };
        fs::remove_tree(dir.as_fd(), name).map_err(|e| OutputError::removing(relative, e))
    }

    /// Take the file or directory at `relative` out of the site: renamed to its retired name (see
    /// [`fs::retired_name`]) until [`Retired::discard`] deletes it or [`Retired::restore`] puts
    /// it back. `None` when nothing is there. A deletion that must commit in the database before
    /// it is final (a wheel: its row must still be gone) retires first, then commits, then
    /// discards, and restores if the commit fails.
    pub fn retire(&self, relative: &Path) -> Result<Option<Retired>, OutputError> {
        let Some(Parent { dir, name, .. }) = self.parent(relative, false, &mut CheckedDirs::new(0))? else {
            return Ok(None);
        };
        let retired = fs::retired_name(name);
        // One left by a deletion killed before it could discard it: its commit is long past.
        fs::remove_tree(dir.as_fd(), &retired).map_err(|e| OutputError::removing(&relative.with_file_name(&retired), e))?;
        match rustix::fs::renameat(dir.as_fd(), name, dir.as_fd(), &retired) {
            Ok(()) => Ok(Some(Retired { dir, retired, name: name.to_owned(), relative: relative.to_owned() })),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(OutputError::io("cannot delete", relative, e)),
        }
    }

    /// Move the file at `from` to `to` (its directory made if needed), unless something is at `to`
    /// already; a link at `from` is moved itself, never followed.
    pub fn move_file(&self, from: &Path, to: &Path) -> Result<Moved, OutputError> {
        let Some(Parent { dir: from_dir, name: from_name, .. }) = self.parent(from, false, &mut CheckedDirs::new(0))? else {
            return Ok(Moved::SourceMissing);
        };
        if fs::kind_at(from_dir.as_fd(), from_name).map_err(|e| OutputError::io("cannot inspect", from, e))?.is_none() {
            return Ok(Moved::SourceMissing);
        }
        let Some(Parent { dir: to_dir, name: to_name, .. }) = self.parent(to, true, &mut CheckedDirs::new(0))? else {
            return Err(OutputError::refused(to, "its directory vanished while it was made"));
        };
        match rustix::fs::renameat_with(from_dir.as_fd(), from_name, to_dir.as_fd(), to_name, rustix::fs::RenameFlags::NOREPLACE) {
            Ok(()) => Ok(Moved::Moved),
            Err(rustix::io::Errno::EXIST) => Ok(Moved::TargetExists),
            Err(rustix::io::Errno::NOENT) => Ok(Moved::SourceMissing),
            Err(e) => Err(OutputError::io("cannot move", from, e)),
        }
    }

    /// The names in the directory at `relative` and what each is (links not followed), in no
    /// order; `None` when there is no such directory.
    pub fn list(&self, relative: &Path) -> Result<Option<Vec<(OsString, fs::Kind)>>, OutputError> {
        let directory = match relative.file_name() {
            // The output path itself.
            None if relative.as_os_str().is_empty() => self.handle.clone(),
            None => return Err(OutputError::refused(relative, "only plain names are allowed")),
            Some(_) => {
                let Some(Parent { dir, name, .. }) = self.parent(relative, false, &mut CheckedDirs::new(0))? else {
                    return Ok(None);
                };
                match fs::open_dir(dir.as_fd(), name) {
                    Ok(handle) => Arc::new(handle),
                    Err(OpenDirError::Missing) => return Ok(None),
                    Err(OpenDirError::Symlink) => return Err(OutputError::refused(relative, SYMLINK_IN_THE_WAY)),
                    Err(OpenDirError::NotADirectory) => return Err(OutputError::refused(relative, "not a directory")),
                    Err(OpenDirError::Other(e)) => return Err(OutputError::io("cannot open", relative, e)),
                }
            }
        };
        fs::list(directory.as_fd()).map(Some).map_err(|e| OutputError::io("cannot list", relative, e))
    }

    /// Flush every write and deletion made so far under the output path to stable storage (one
    /// `syncfs` of its file system).
    pub fn sync(&self) -> Result<(), OutputError> {
        rustix::fs::syncfs(self.handle.as_fd()).map_err(|e| OutputError::io("cannot sync", &self.root, e))
    }

    /// The directory that holds `relative`'s last component (opened, never through a link;
    /// created if `create`, else `None` when it does not exist), that component, and whether the
    /// directory was made by the writer that keeps `checked` (made empty, so nothing in it needs
    /// comparing). Refuses anything but plain names.
    fn parent<'a>(&self, relative: &'a Path, create: bool, checked: &mut CheckedDirs) -> Result<Option<Parent<'a>>, OutputError> {
        let mut components = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(name) if name.len() <= fs::NAME_MAX => components.push(name),
                Component::Normal(_) => return Err(OutputError::refused(relative, "a name longer than 255 bytes")),
                _ => return Err(OutputError::refused(relative, "only plain names are allowed")),
            }
        }
        let Some((name, parents)) = components.split_last() else {
            return Err(OutputError::refused(relative, "empty path"));
        };
        let mut dir = self.handle.clone();
        let mut made = false;
        let mut prefix = PathBuf::new();
        for parent in parents {
            prefix.push(parent);
            if let Some(known) = checked.get(&prefix) {
                (dir, made) = (known.handle.clone(), known.made);
                continue;
            }
            // In a directory this writer made, only what it made is there: make, don't look.
            let parent_made = std::mem::take(&mut made);
            if parent_made && create {
                made = fs::make_dir(dir.as_fd(), parent).map_err(|e| OutputError::io("cannot create", &prefix, e))?;
            }
            let opened = match fs::open_dir(dir.as_fd(), parent) {
                Err(OpenDirError::Missing) if create => {
                    // Made by someone else meanwhile: not empty for all we know.
                    made = fs::make_dir(dir.as_fd(), parent).map_err(|e| OutputError::io("cannot create", &prefix, e))?;
                    fs::open_dir(dir.as_fd(), parent)
                }
                other => other,
            };
            dir = Arc::new(match opened {
                Ok(handle) => handle,
                Err(OpenDirError::Missing) if !create => return Ok(None),
                Err(OpenDirError::Missing) => return Err(OutputError::io("cannot open", &prefix, io::ErrorKind::NotFound)),
                Err(OpenDirError::Symlink) => return Err(OutputError::refused(&prefix, SYMLINK_IN_THE_WAY)),
                Err(OpenDirError::NotADirectory) => {
                    return Err(OutputError::io("cannot use", &prefix, io::Error::other("a file is in the way of a directory")))
                }
                Err(OpenDirError::Other(e)) => return Err(OutputError::io("cannot open", &prefix, e)),
            });
            checked.insert(&prefix, &dir, made);
        }
        Ok(Some(Parent { dir, name, made }))
    }
}

/// A file or directory taken out of the site by [`OutputDir::retire`], not yet deleted.
#[derive(Debug)]
pub struct Retired {
    dir: Arc<OwnedFd>,
    retired: OsString,
    name: OsString,
    relative: PathBuf,
}

impl Retired {
    /// Delete it for good.
    pub fn discard(self) -> Result<(), OutputError> {
        fs::remove_tree(self.dir.as_fd(), &self.retired).map(drop).map_err(|e| OutputError::removing(&self.relative, e))
    }

    /// Put it back where it was. Where something new is there meanwhile, that stays: a retired
    /// directory's entries go back one by one where their names are free, the rest is deleted.
    pub fn restore(self) -> Result<(), OutputError> {
        let dir = self.dir.as_fd();
        let flags = rustix::fs::RenameFlags::NOREPLACE;
        match rustix::fs::renameat_with(dir, &self.retired, dir, &self.name, flags) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(OutputError::io("cannot restore", &self.relative, e)),
        }
        if let (Ok(retired), Ok(current)) = (fs::open_dir(dir, &self.retired), fs::open_dir(dir, &self.name)) {
            let entries = fs::list(retired.as_fd()).map_err(|e| OutputError::io("cannot list", &self.relative, e))?;
            for (entry, _) in entries {
                match rustix::fs::renameat_with(retired.as_fd(), &entry, current.as_fd(), &entry, flags) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(OutputError::io("cannot restore", &self.relative.join(&entry), e)),
                }
            }
        }
        self.discard()
    }
}

/// What [`OutputDir::move_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    Moved,
    /// Nothing was at the source.
    SourceMissing,
    /// Something is at the target already; the source was left where it is.
    TargetExists,
}

/// The directory that holds a path's last component (see [`OutputDir::parent`]).
struct Parent<'a> {
    dir: Arc<OwnedFd>,
    name: &'a OsStr,
    made: bool,
}

/// A file being written under its temporary name, not yet in place (see
/// [`OutputDir::create_pending`]); removed if dropped unpublished.
#[derive(Debug)]
pub struct PendingFile {
    dir: Arc<OwnedFd>,
    temporary: OsString,
    name: OsString,
    relative: PathBuf,
    file: Option<std::fs::File>,
}

impl PendingFile {
    /// Put the file in place: its bytes and then its name on stable storage (fsync of the file,
    /// rename, fsync of the directory), so that what is published survives a crash.
    pub fn publish(mut self) -> Result<(), OutputError> {
        let shown = self.relative.with_file_name(&self.temporary);
        if let Some(file) = self.file.take() {
            file.sync_all().map_err(|e| OutputError::io("cannot sync", &shown, e))?;
        }
        let dir = self.dir.as_fd();
        rustix::fs::renameat(dir, &self.temporary, dir, &self.name).map_err(|e| match e {
            rustix::io::Errno::ISDIR | rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST => {
                OutputError::refused(&self.relative, "a directory is in the way")
            }
            e => OutputError::io("cannot rename into place", &self.relative, e),
        })?;
        // Renamed: nothing is left to remove on drop.
        self.temporary.clear();
        rustix::fs::fsync(dir).map_err(|e| OutputError::io("cannot sync the directory of", &self.relative, e))
    }
}

impl Write for PendingFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.file.as_mut().ok_or_else(|| io::Error::other("written after publishing"))?.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.temporary.is_empty() {
            let _ = fs::remove_file(self.dir.as_fd(), &self.temporary);
        }
    }
}

/// The directories one writer opened (or made) lately, most recent first: a writer of many pages
/// (a full rebuild writes three per package, in three directories of that package under two
/// top-level ones) opens each directory once, not once per page. A few are kept, not every one
/// of a big site's. A handle keeps naming the directory it opened, whatever is put at its name
/// meanwhile.
#[derive(Debug)]
pub struct CheckedDirs {
    capacity: usize,
    recent: Vec<CheckedDir>,
}

#[derive(Debug)]
struct CheckedDir {
    relative: PathBuf,
    handle: Arc<OwnedFd>,
    /// Made by this writer, so it held nothing but what this writer put there.
    made: bool,
}

impl CheckedDirs {
    /// Keeps at most `capacity` directories (0: opens every directory every time).
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

    fn insert(&mut self, relative: &Path, handle: &Arc<OwnedFd>, made: bool) {
        if self.capacity == 0 {
            return;
        }
        if self.recent.len() == self.capacity {
            self.recent.pop();
        }
        self.recent.insert(0, CheckedDir { relative: relative.to_owned(), handle: handle.clone(), made });
    }
}

#[cfg(test)]
mod tests;
