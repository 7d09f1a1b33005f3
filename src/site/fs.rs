//! The few file-system calls the site is made of, each relative to a directory handle and none of
//! them following a symbolic link or opening anything but a directory or a regular file.
//!
//! Paths are never resolved by name from the root: every component is opened from the handle of
//! the one before it with `O_NOFOLLOW`, so a symbolic link planted anywhere in the tree (in place
//! of a directory, a page, a wheel or a temporary file) is an error, never a way out. Files are
//! created with `O_CREAT | O_EXCL | O_NOFOLLOW`: a name that exists (a link, a FIFO, a device, a
//! file someone else made) is never opened for writing. `O_NONBLOCK` everywhere a name is opened,
//! so a FIFO or a device swapped in between a look and an open cannot hang the caller.

use std::{
    ffi::{OsStr, OsString},
    io::{self, Read},
    os::{
        fd::{AsFd, BorrowedFd, OwnedFd},
        unix::ffi::{OsStrExt, OsStringExt},
    },
};

use rustix::{
    fs::{AtFlags, Dir, FileType, Mode, OFlags},
    io::Errno,
};

/// Longest name a directory entry can have (Linux, and every file system piw is likely to meet).
pub const NAME_MAX: usize = 255;

/// What a name in a directory is, looked at without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device: never opened.
    Other,
}

impl Kind {
    fn of(file_type: FileType) -> Kind {
        match file_type {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        }
    }
}

/// Why a directory could not be opened.
#[derive(Debug)]
pub enum OpenDirError {
    /// Nothing by that name.
    Missing,
    /// A symbolic link is there: never followed.
    Symlink,
    /// Something that is not a directory is there.
    NotADirectory,
    Other(io::Error),
}

/// Open the directory `name` in `dir`, never following a symbolic link.
pub fn open_dir(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, OpenDirError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOENT) => Err(OpenDirError::Missing),
        // O_NOFOLLOW on a link gives ELOOP; O_DIRECTORY on a link or a file gives ENOTDIR. Which
        // of the two is there decides the message.
        Err(Errno::LOOP | Errno::NOTDIR) => match kind_at(dir, name) {
            Ok(Some(Kind::Symlink)) => Err(OpenDirError::Symlink),
            Ok(Some(Kind::Dir)) => Err(OpenDirError::Other(io::Error::other("a directory that cannot be opened"))),
            Ok(None) => Err(OpenDirError::Missing),
            Ok(Some(_)) => Err(OpenDirError::NotADirectory),
            Err(e) => Err(OpenDirError::Other(e)),
        },
        Err(e) => Err(OpenDirError::Other(e.into())),
    }
}

/// Make the directory `name` in `dir`; false when something by that name exists already.
pub fn make_dir(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<bool> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o777)) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// What `name` in `dir` is, not following it; `None` when there is nothing by that name.
pub fn kind_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<Kind>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(Kind::of(FileType::from_raw_mode(stat.st_mode)))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Create `name` in `dir` for writing: exclusively (nothing by that name may exist, not even a
/// dangling link), never through a link, never blocking.
pub fn create_new(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<std::fs::File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o666))?;
    Ok(std::fs::File::from(fd))
}

/// `name` in `dir` opened for reading when it is a regular file; `None` when it is missing or
/// anything else (a link is not followed, a FIFO or device not opened for long: NONBLOCK, and
/// the type is checked on what was opened).
pub fn open_regular(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<std::fs::File>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::LOOP) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
        return Ok(None);
    }
    Ok(Some(std::fs::File::from(fd)))
}

/// Whether `name` in `dir` is a regular file holding exactly `bytes`, read a piece at a time (the
/// simple root and the search index of a big site are tens of megabytes). Anything else (a link,
/// a FIFO, a device, a directory, nothing) does not hold them and is not opened.
pub fn holds(dir: BorrowedFd<'_>, name: &OsStr, bytes: &[u8]) -> bool {
    let same_size_file = |stat: &rustix::fs::Stat| {
        FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile && u64::try_from(stat.st_size).ok() == Some(bytes.len() as u64)
    };
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) if same_size_file(&stat) => {}
        _ => return false,
    }
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::openat(dir, name, flags, Mode::empty()) else {
        return false;
    };
    // Swapped for something else between the look and the open: not ours to read.
    if !rustix::fs::fstat(&fd).is_ok_and(|stat| same_size_file(&stat)) {
        return false;
    }
    let mut file = std::fs::File::from(fd);
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

/// Why a name could not be removed.
#[derive(Debug)]
pub enum RemoveError {
    /// A directory is there (and a file was to be removed).
    IsADirectory,
    /// A directory tree deeper than anything piw makes: not walked.
    TooDeep,
    Other(io::Error),
}

impl From<Errno> for RemoveError {
    fn from(errno: Errno) -> Self {
        RemoveError::Other(errno.into())
    }
}

/// Remove the file, link, FIFO ... `name` from `dir` (a link itself, never what it points to);
/// false when nothing was there.
pub fn remove_file(dir: BorrowedFd<'_>, name: &OsStr) -> Result<bool, RemoveError> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        // Linux says EISDIR for a directory; POSIX allows EPERM.
        Err(Errno::ISDIR | Errno::PERM) if kind_at(dir, name).ok().flatten() == Some(Kind::Dir) => Err(RemoveError::IsADirectory),
        Err(e) => Err(e.into()),
    }
}

/// Deepest directory tree [`remove_tree`] walks: piw makes three levels below the root.
const MAX_TREE_DEPTH: usize = 16;

/// Remove `name` from `dir` whatever it is: a directory with everything in it (links inside are
/// removed themselves, never followed), or anything else as [`remove_file`] does. False when
/// nothing was there.
pub fn remove_tree(dir: BorrowedFd<'_>, name: &OsStr) -> Result<bool, RemoveError> {
    remove_tree_at(dir, name, 0)
}

fn remove_tree_at(dir: BorrowedFd<'_>, name: &OsStr, depth: usize) -> Result<bool, RemoveError> {
    match remove_file(dir, name) {
        Err(RemoveError::IsADirectory) => {}
        other => return other,
    }
    if depth >= MAX_TREE_DEPTH {
        return Err(RemoveError::TooDeep);
    }
    let inner = match open_dir(dir, name) {
        Ok(fd) => fd,
        Err(OpenDirError::Missing) => return Ok(false),
        // Replaced meanwhile by a file or a link: remove that instead.
        Err(OpenDirError::Symlink | OpenDirError::NotADirectory) => return remove_file(dir, name),
        Err(OpenDirError::Other(e)) => return Err(RemoveError::Other(e)),
    };
    for (child, _) in list(inner.as_fd()).map_err(RemoveError::Other)? {
        remove_tree_at(inner.as_fd(), &child, depth + 1)?;
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The names in the directory `dir` (without `.` and `..`) and what each is, in no order.
pub fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<(OsString, Kind)>> {
    let mut entries = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsString::from_vec(name.to_vec());
        // Some file systems do not say in the entry itself.
        let kind = match entry.file_type() {
            FileType::Unknown => kind_at(dir, &name)?.unwrap_or(Kind::Other),
            known => Kind::of(known),
        };
        entries.push((name, kind));
    }
    Ok(entries)
}

/// Suffix of a temporary name (a file being written): no name the site publishes ends so and
/// starts with a dot.
pub const TEMPORARY_SUFFIX: &str = ".piw-tmp";

/// Suffix of a name being deleted (see [`retired_name`]).
pub const RETIRED_SUFFIX: &str = ".piw-del";

/// The temporary name of `name` while it is written: `.NAME.piw-tmp`, hidden and never a name the
/// site publishes (no published name starts with a dot). Fixed per name, so a temporary file left
/// by a writer that was killed is found and removed by the next writer of the same name; a name
/// too long for that (a wheel's filename may have 255 bytes) is replaced by its hash.
pub fn temporary_name(name: &OsStr) -> OsString {
    hidden_name(name, TEMPORARY_SUFFIX)
}

/// The name of `name` between its deletion and the commit that makes it final: `.NAME.piw-del`
/// (or a hash, as [`temporary_name`]). A deletion that does not commit renames it back.
pub fn retired_name(name: &OsStr) -> OsString {
    hidden_name(name, RETIRED_SUFFIX)
}

fn hidden_name(name: &OsStr, suffix: &str) -> OsString {
    let mut hidden = OsString::from(".");
    if 1 + name.len() + suffix.len() <= NAME_MAX {
        hidden.push(name);
    } else {
        hidden.push(format!("{:016x}", fnv1a(name.as_bytes())));
    }
    hidden.push(suffix);
    hidden
}

/// Whether `name` is one of [`temporary_name`]'s or [`retired_name`]'s: left behind only by a
/// writer or a deletion that was killed.
pub fn is_temporary_name(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    let hidden_with = |suffix: &str| bytes.len() > 1 + suffix.len() && bytes.starts_with(b".") && bytes.ends_with(suffix.as_bytes());
    hidden_with(TEMPORARY_SUFFIX) || hidden_with(RETIRED_SUFFIX)
}

/// A stable 64-bit FNV-1a hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_fit_in_a_directory_entry_whatever_the_name() {
        assert_eq!(temporary_name(OsStr::new("index.html")), ".index.html.piw-tmp");
        for length in [1, 200, 246, 247, 255] {
            let name = OsString::from("a".repeat(length));
            let temporary = temporary_name(&name);
            assert!(temporary.len() <= NAME_MAX, "{length}: {} bytes", temporary.len());
            assert!(is_temporary_name(&temporary));
            assert_ne!(temporary, name);
        }
        assert_ne!(temporary_name(&OsString::from("b".repeat(250))), temporary_name(&OsString::from("c".repeat(250))));
        assert!(!is_temporary_name(OsStr::new("index.html")) && !is_temporary_name(OsStr::new(".piw-tmp")));
    }
}
