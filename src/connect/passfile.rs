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
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::fs::Permissions;
    use std::os::unix::ffi::OsStrExt;
    use tempfile::TempDir;

    fn query<'a>(host: &'a str, port: &'a str, dbname: &'a str, user: &'a str) -> PassfileQuery<'a> {
        PassfileQuery { host, port, dbname, user }
    }

    fn passfile(contents: &[u8], mode: u32) -> (TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".pgpass");
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    /// The password `contents` gives for `q`, from a properly private file.
    fn find(contents: &str, q: PassfileQuery<'_>) -> Option<String> {
        let (_dir, path) = passfile(contents.as_bytes(), 0o600);
        lookup(&path, &q).unwrap()
    }

    fn some(password: &str) -> Option<String> {
        Some(password.to_owned())
    }

    #[test]
    fn exact_match() {
        let file = "db.example:5432:app:alice:s3cret\n";
        assert_eq!(find(file, query("db.example", "5432", "app", "alice")), some("s3cret"));
        assert_eq!(find(file, query("db.example", "5432", "app", "bob")), None);
        assert_eq!(find(file, query("db.example", "5433", "app", "alice")), None);
        assert_eq!(find(file, query("db.example", "5432", "other", "alice")), None);
        assert_eq!(find(file, query("db.exampl", "5432", "app", "alice")), None);
        assert_eq!(find(file, query("db.example.org", "5432", "app", "alice")), None);
    }

    #[test]
    fn wildcards() {
        let file = "*:*:*:*:any\n";
        assert_eq!(find(file, query("h", "1", "d", "u")), some("any"));
        let file = "h:*:d:*:pw\n";
        assert_eq!(find(file, query("h", "6000", "d", "anyone")), some("pw"));
        assert_eq!(find(file, query("other", "6000", "d", "anyone")), None);
    }

    #[test]
    fn star_is_a_wildcard_only_as_a_whole_field() {
        let file = "*x:1:d:u:pw\n";
        assert_eq!(find(file, query("ax", "1", "d", "u")), None);
        assert_eq!(find(file, query("*x", "1", "d", "u")), some("pw"));
        let file = "\\*:1:d:u:pw\n";
        assert_eq!(find(file, query("h", "1", "d", "u")), None);
        assert_eq!(find(file, query("*", "1", "d", "u")), some("pw"));
    }

    #[test]
    fn escapes_in_fields_and_password() {
        let file = format!("{}\n", r"a\:b:1:d\\e:u:p\:w\\d");
        assert_eq!(find(&file, query("a:b", "1", r"d\e", "u")), some(r"p:w\d"));
        assert_eq!(find(&file, query("a", "1", r"d\e", "u")), None);
        // An escaped ordinary character is just that character.
        assert_eq!(find(r"h\x:1:d:u:\pw", query("hx", "1", "d", "u")), some("pw"));
    }

    #[test]
    fn password_ends_at_an_unescaped_colon_and_keeps_a_trailing_backslash() {
        assert_eq!(find("h:1:d:u:pa:ss\n", query("h", "1", "d", "u")), some("pa"));
        assert_eq!(find("h:1:d:u:pa\\\n", query("h", "1", "d", "u")), some("pa\\"));
    }

    #[test]
    fn comments_are_skipped() {
        let file = "#h:1:d:u:commented\nh:1:d:u:real\n";
        assert_eq!(find(file, query("h", "1", "d", "u")), some("real"));
        assert_eq!(find(file, query("#h", "1", "d", "u")), None);
    }

    #[test]
    fn short_lines_are_skipped() {
        let file = "h:1:d:u\n*:*:*:*\nh:1:d\n\nh\nh:1:d:u:pw\n";
        assert_eq!(find(file, query("h", "1", "d", "u")), some("pw"));
    }

    #[test]
    fn first_match_wins() {
        let file = "h:1:d:u:first\n*:*:*:*:second\nh:1:d:u:third\n";
        assert_eq!(find(file, query("h", "1", "d", "u")), some("first"));
        assert_eq!(find(file, query("x", "1", "d", "u")), some("second"));
    }

    #[test]
    fn empty_password_ends_the_search_with_none() {
        let file = "h:1:d:u:\nh:1:d:u:later\n";
        assert_eq!(find(file, query("h", "1", "d", "u")), None);
    }

    #[test]
    fn carriage_returns_and_missing_final_newline() {
        assert_eq!(find("h:1:d:u:pw\r\n", query("h", "1", "d", "u")), some("pw"));
        assert_eq!(find("h:1:d:u:pw\r\r\n", query("h", "1", "d", "u")), some("pw"));
        assert_eq!(find("x:1:d:u:a\nh:1:d:u:pw", query("h", "1", "d", "u")), some("pw"));
    }

    #[test]
    fn empty_host_and_port_mean_localhost_and_5432() {
        let file = "localhost:5432:d:u:pw\n";
        assert_eq!(find(file, query("", "", "d", "u")), some("pw"));
        assert_eq!(find(file, query("", "5433", "d", "u")), None);
    }

    #[test]
    fn empty_dbname_or_user_does_not_read_the_file() {
        // World-readable, which would be an Err if it were looked at.
        let (_dir, path) = passfile(b"*:*:*:*:pw\n", 0o644);
        assert!(matches!(lookup(&path, &query("h", "1", "", "u")), Ok(None)));
        assert!(matches!(lookup(&path, &query("h", "1", "d", "")), Ok(None)));
    }

    #[test]
    fn group_or_world_access_is_an_error() {
        for mode in [0o644, 0o640, 0o604, 0o610, 0o601] {
            let (_dir, path) = passfile(b"*:*:*:*:pw\n", mode);
            match lookup(&path, &query("h", "1", "d", "u")) {
                Err(err @ PassfileError::InsecurePermissions { mode: got, .. }) => {
                    assert_eq!(got, mode);
                    let message = err.to_string();
                    assert!(message.contains(&path.display().to_string()), "{message}");
                    assert!(message.ends_with("has group or world access; permissions should be u=rw (0600) or less"), "{message}");
                }
                other => panic!("mode {mode:o}: expected InsecurePermissions, got {other:?}"),
            }
        }
    }

    #[test]
    fn owner_only_access_is_fine() {
        for mode in [0o600, 0o400, 0o700] {
            let (_dir, path) = passfile(b"*:*:*:*:pw\n", mode);
            assert_eq!(lookup(&path, &query("h", "1", "d", "u")).unwrap(), some("pw"), "mode {mode:o}");
        }
    }

    #[test]
    fn missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(lookup(&dir.path().join("absent"), &query("h", "1", "d", "u")), Ok(None)));
    }

    #[test]
    fn directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), Permissions::from_mode(0o700)).unwrap();
        let err = lookup(dir.path(), &query("h", "1", "d", "u")).unwrap_err();
        assert!(matches!(err, PassfileError::NotPlainFile { .. }), "{err:?}");
        assert!(err.to_string().ends_with("is not a plain file"), "{err}");
    }

    #[test]
    fn fifo_is_an_error_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
        assert!(matches!(lookup(&path, &query("h", "1", "d", "u")), Err(PassfileError::NotPlainFile { .. })));
    }

    #[test]
    fn symlink_to_a_private_file_is_followed() {
        let (dir, target) = passfile(b"*:*:*:*:pw\n", 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(lookup(&link, &query("h", "1", "d", "u")).unwrap(), some("pw"));
    }

    #[test]
    fn other_read_failures_are_errors() {
        // A path through a regular file fails with ENOTDIR: not "missing", so not silent.
        let (_dir, file) = passfile(b"", 0o600);
        let path = file.join(".pgpass");
        let err = lookup(&path, &query("h", "1", "d", "u")).unwrap_err();
        assert!(matches!(err, PassfileError::Read { .. }), "{err:?}");
        assert!(err.to_string().starts_with("could not read password file"), "{err}");
    }

    #[test]
    fn non_utf8_password_is_an_error() {
        let (_dir, path) = passfile(b"h:1:d:u:\xff\xfe\n", 0o600);
        assert!(matches!(lookup(&path, &query("h", "1", "d", "u")), Err(PassfileError::NotUtf8 { .. })));
    }

    #[test]
    fn non_utf8_in_lines_that_do_not_match_is_fine() {
        let (_dir, path) = passfile(b"\xff:1:d:u:x\nh:1:d:u:pw\n", 0o600);
        assert_eq!(lookup(&path, &query("h", "1", "d", "u")).unwrap(), some("pw"));
    }
}
