//! Tests of the password file.
use super::*;
use std::ffi::CString;
use std::fs::Permissions;
use std::os::unix::ffi::OsStrExt;
use tempfile::TempDir;

fn query<'a>(host: &'a str, port: &'a str, dbname: &'a str, user: &'a str) -> PassfileQuery<'a> {
    PassfileQuery { host, port, dbname, user }
}

fn passfile(contents: &[u8], mode: u32) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(".pgpass");
    fs::write(&path, contents).expect("write the password file");
    fs::set_permissions(&path, Permissions::from_mode(mode)).expect("set the password file's mode");
    (dir, path)
}

/// The password `contents` gives for `q`, from a properly private file.
fn find(contents: &str, q: PassfileQuery<'_>) -> Option<String> {
    let (_dir, path) = passfile(contents.as_bytes(), 0o600);
    lookup(&path, &q).unwrap_or_else(|e| panic!("lookup in a private file: {e}"))
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
        assert_eq!(lookup(&path, &query("h", "1", "d", "u")).map_err(|e| e.to_string()), Ok(some("pw")), "mode {mode:o}");
    }
}

#[test]
fn missing_file_is_none() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    assert!(matches!(lookup(&dir.path().join("absent"), &query("h", "1", "d", "u")), Ok(None)));
}

#[test]
fn directory_is_an_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::set_permissions(dir.path(), Permissions::from_mode(0o700)).expect("set the directory's mode");
    let err = lookup(dir.path(), &query("h", "1", "d", "u")).unwrap_err();
    assert!(matches!(err, PassfileError::NotPlainFile { .. }), "{err:?}");
    assert!(err.to_string().ends_with("is not a plain file"), "{err}");
}

#[test]
fn fifo_is_an_error_without_blocking() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("fifo");
    let c_path = CString::new(path.as_os_str().as_bytes()).expect("a path without NUL");
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    assert!(matches!(lookup(&path, &query("h", "1", "d", "u")), Err(PassfileError::NotPlainFile { .. })));
}

#[test]
fn symlink_to_a_private_file_is_followed() {
    let (dir, target) = passfile(b"*:*:*:*:pw\n", 0o600);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).expect("make the symbolic link");
    assert_eq!(lookup(&link, &query("h", "1", "d", "u")).map_err(|e| e.to_string()), Ok(some("pw")));
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
    assert_eq!(lookup(&path, &query("h", "1", "d", "u")).map_err(|e| e.to_string()), Ok(some("pw")));
}
