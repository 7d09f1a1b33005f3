//! The password file (`~/.pgpass`), checked, read and matched the way libpq's `passwordFromFile` does.
//!
//! Users keep one password file for every PostgreSQL client they run, so a line must match here
//! exactly when it matches for `psql`, including libpq's escaping quirks.

use std::fs::{self, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// What libpq matches when no host or port was given.
const DEFAULT_HOST: &str = "localhost";
const DEFAULT_PORT: &str = "5432";

/// Why the file was not used. None of these is fatal: libpq warns and connects without a password,
/// and so should the caller.
#[derive(Debug, Error)]
pub enum PassfileError {
    #[error("password file \"{}\" is not a plain file", path.display())]
    NotPlainFile { path: PathBuf },
    #[error("password file \"{}\" has group or world access; permissions should be u=rw (0600) or less", path.display())]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("could not read password file \"{}\": {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("the matching password in password file \"{}\" is not valid UTF-8", path.display())]
    NotUtf8 { path: PathBuf },
}

/// What to look a password up for. `host` is the host name as given, or "localhost" when the
/// connection goes to a Unix socket (the caller maps that, as libpq does); `port` as a decimal string.
#[derive(Debug, Clone, Copy)]
pub struct PassfileQuery<'a> {
    pub host: &'a str,
    pub port: &'a str,
    pub dbname: &'a str,
    pub user: &'a str,
}

/// The password of the first line that matches, if any.
/// A missing file is Ok(None) silently (the common case). A file libpq would ignore — not a regular
/// file, or readable/writable/executable by group or others (mode & 0o077 != 0) — is an Err naming the
/// path and why, which the caller logs as a warning and then carries on without a password (libpq
/// prints: `WARNING: password file "%s" has group or world access; permissions should be u=rw (0600) or less`).
///
/// As in libpq, an empty `host` or `port` is looked up as `localhost` or `5432`, an empty `dbname` or
/// `user` finds nothing (without reading the file), and a matching line with an empty password ends
/// the search with no password, since libpq drops an empty password after finding it.
pub fn lookup(path: &Path, query: &PassfileQuery<'_>) -> Result<Option<String>, PassfileError> {
    if query.dbname.is_empty() || query.user.is_empty() {
        return Ok(None);
    }
    let host = if query.host.is_empty() { DEFAULT_HOST } else { query.host };
    let port = if query.port.is_empty() { DEFAULT_PORT } else { query.port };
    let Some(mut contents) = read_private(path)? else {
        return Ok(None);
    };
    let found = find_password(&contents, [host, port, query.dbname, query.user]);
    wipe(&mut contents);
    match found {
        Some(password) if !password.is_empty() => {
            String::from_utf8(password).map(Some).map_err(|_| PassfileError::NotUtf8 { path: path.to_owned() })
        }
        _ => Ok(None),
    }
}

/// The file's contents if it exists and passes libpq's checks. It is checked before opening, as
/// libpq does, and again on the open handle, which is non-blocking so that a FIFO swapped in between
/// cannot hang the caller.
fn read_private(path: &Path) -> Result<Option<Vec<u8>>, PassfileError> {
    let read_error = |source| PassfileError::Read { path: path.to_owned(), source };
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    check_private(path, &metadata)?;
    let mut file = match OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    let metadata = file.metadata().map_err(read_error)?;
    check_private(path, &metadata)?;
    // Sized up front so that reading does not leave copies of the passwords in freed buffers.
    let mut contents = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0).saturating_add(1));
    if let Err(e) = file.read_to_end(&mut contents) {
        wipe(&mut contents);
        return Err(read_error(e));
    }
    Ok(Some(contents))
}

fn check_private(path: &Path, metadata: &Metadata) -> Result<(), PassfileError> {
    if !metadata.is_file() {
        return Err(PassfileError::NotPlainFile { path: path.to_owned() });
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PassfileError::InsecurePermissions { path: path.to_owned(), mode });
    }
    Ok(())
}

/// The file holds passwords for other servers too, so libpq clears its buffer; `black_box` keeps the
/// writes from being optimised away as dead.
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(buf);
}

/// The unescaped password of the first line whose four fields match `tokens`. Only a `#`
/// in the very first column makes a comment; a line too short to reach a password matches nothing.
fn find_password(contents: &[u8], tokens: [&str; 4]) -> Option<Vec<u8>> {
    contents.split(|&b| b == b'\n').filter(|line| !line.starts_with(b"#")).find_map(|line| {
        let line = strip_crlf(line);
        if line.is_empty() {
            return None;
        }
        let password = tokens.iter().try_fold(line, |rest, token| match_field(rest, token.as_bytes()))?;
        Some(unescape_password(password))
    })
}

fn strip_crlf(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = line {
        line = rest;
    }
    line
}

/// libpq's `pwdfMatchesString`: the rest of the line after the field if the field is `*` or equals
/// `token` once `\` escapes are removed; None if it differs or the line ends before a `:`.
fn match_field<'l>(line: &'l [u8], token: &[u8]) -> Option<&'l [u8]> {
    if let Some(rest) = line.strip_prefix(b"*:") {
        return Some(rest);
    }
    let (mut i, mut t) = (0, 0);
    while i < line.len() {
        let escaped = line[i] == b'\\';
        if escaped {
            i += 1;
        }
        let c = line.get(i).copied();
        if t == token.len() {
            return (c == Some(b':') && !escaped).then(|| &line[i + 1..]);
        }
        if c != Some(token[t]) {
            return None;
        }
        i += 1;
        t += 1;
    }
    None
}

/// The password field with `\` escapes removed. Like libpq it stops at an unescaped `:`, so anything
/// after a sixth field separator is ignored; a `\` at the very end is kept.
fn unescape_password(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while let Some(&c) = field.get(i) {
        if c == b':' {
            break;
        }
        match field.get(i + 1) {
            Some(&next) if c == b'\\' => {
                out.push(next);
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "passfile_tests.rs"]
mod tests;
