//! Who this process runs as, as libpq asks: the user name (default of `user`) and the home
//! directory (for `~/.pgpass` and `~/.postgresql/`).

use std::{
    ffi::{CStr, OsStr, OsString},
    os::unix::ffi::OsStrExt,
    path::PathBuf,
};

/// Bounds the retries of `getpwuid_r` on a broken name service that keeps asking for more room.
const MAX_PASSWD_BUF: usize = 1 << 20;

/// libpq's `pqGetHomeDirectory`: `$HOME` when set and not empty, else the password database's.
pub fn home_dir() -> Option<PathBuf> {
    choose_home(std::env::var_os("HOME"), || passwd_entry().and_then(|(_, home)| home))
}

/// The effective user's login name.
pub fn os_user_name() -> Option<String> {
    passwd_entry().map(|(name, _)| name)
}

fn choose_home(home_env: Option<OsString>, passwd: impl FnOnce() -> Option<PathBuf>) -> Option<PathBuf> {
    match home_env {
        Some(home) if !home.is_empty() => Some(PathBuf::from(home)),
        _ => passwd(),
    }
}

/// The effective user's name and home directory (if not empty), by the reentrant call: other
/// threads may be using `getpw*` too.
fn passwd_entry() -> Option<(String, Option<PathBuf>)> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: passwd is integers and pointers, for which all-zero is a valid value.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to a live local, and buf.len() is the true size of buf.
        let rc = unsafe { libc::getpwuid_r(libc::geteuid(), &mut entry, buf.as_mut_ptr().cast(), buf.len(), &mut found) };
        if rc == libc::ERANGE && buf.len() < MAX_PASSWD_BUF {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || entry.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name and pw_dir point to NUL-terminated strings inside buf, alive here.
        let name = unsafe { CStr::from_ptr(entry.pw_name) }.to_str().ok()?.to_owned();
        let dir = (!entry.pw_dir.is_null())
            // SAFETY: as above.
            .then(|| PathBuf::from(OsStr::from_bytes(unsafe { CStr::from_ptr(entry.pw_dir) }.to_bytes())))
            .filter(|dir| !dir.as_os_str().is_empty());
        return Some((name, dir));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_prefers_a_non_empty_home_variable() {
        let from_passwd = || Some(PathBuf::from("/from/passwd"));
        assert_eq!(choose_home(Some("/from/env".into()), from_passwd), Some(PathBuf::from("/from/env")));
        assert_eq!(choose_home(Some("".into()), from_passwd), Some(PathBuf::from("/from/passwd")));
        assert_eq!(choose_home(None, from_passwd), Some(PathBuf::from("/from/passwd")));
        assert_eq!(choose_home(None, || None), None);
    }

    #[test]
    fn the_password_database_agrees_with_etc_passwd() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() }.to_string();
        let etc_passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let listed = etc_passwd.lines().map(|line| line.split(':').collect::<Vec<_>>()).find(|f| f.len() >= 7 && f[2] == uid);
        match listed {
            Some(fields) => {
                let (name, home) = passwd_entry().expect("an entry for our uid");
                assert_eq!(name, fields[0]);
                assert_eq!(home, (!fields[5].is_empty()).then(|| PathBuf::from(fields[5])));
            }
            // Not in /etc/passwd (another name service, or none): whatever comes back must be a real path.
            None => assert!(passwd_entry().and_then(|(_, home)| home).is_none_or(|home| home.is_absolute())),
        }
    }
}
