use std::{ffi::CString, fs, io::Write, os::unix::fs::symlink, path::Path};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn output() -> (tempfile::TempDir, OutputDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = OutputDir::open(dir.path()).expect("open");
    (dir, output)
}

fn mkfifo(path: &Path) {
    let path = CString::new(path.to_str().expect("utf-8 path")).expect("no NUL");
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o666) }, 0, "mkfifo");
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).expect("read_dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn write_creates_directories_and_replaces_atomically() -> TestResult {
    let (_dir, out) = output();
    assert_eq!(out.write(Path::new("simple/foo/index.html"), b"one")?, Written::Changed);
    assert_eq!(out.write(Path::new("simple/foo/index.html"), b"one")?, Written::Unchanged);
    assert_eq!(out.write(Path::new("simple/foo/index.html"), b"two")?, Written::Changed);
    assert_eq!(fs::read(out.root().join("simple/foo/index.html"))?, b"two");
    assert_eq!(names(&out.root().join("simple/foo")), ["index.html"], "no temporary file remains");
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
fn a_symlinked_directory_is_never_followed_inside_or_outside() -> TestResult {
    let outside = tempfile::tempdir()?;
    fs::write(outside.path().join("victim.whl"), b"keep")?;
    let (_dir, out) = output();
    fs::create_dir_all(out.root().join("simple/real"))?;
    symlink(outside.path(), out.root().join("simple/evil"))?;
    // Inside the output path too: a link there could be swapped for one leading out between a
    // check and a write.
    symlink(out.root().join("simple/real"), out.root().join("simple/inner"))?;
    for package in ["evil", "inner"] {
        let page = format!("simple/{package}/index.html");
        for outcome in [out.write(Path::new(&page), b"x").map(drop), out.remove_file(Path::new(&page)).map(drop)] {
            assert!(
                matches!(&outcome, Err(OutputError::Refused { reason, .. }) if reason.contains("symbolic link")),
                "{package}: {outcome:?}"
            );
        }
    }
    assert!(matches!(out.remove_file(Path::new("simple/evil/victim.whl")), Err(OutputError::Refused { .. })));
    assert_eq!(fs::read(outside.path().join("victim.whl"))?, b"keep");
    assert_eq!(names(outside.path()), ["victim.whl"]);
    assert!(names(&out.root().join("simple/real")).is_empty());
    Ok(())
}

#[test]
fn symlinked_file_is_replaced_or_removed_not_followed() -> TestResult {
    let outside = tempfile::tempdir()?;
    fs::write(outside.path().join("target"), b"keep")?;
    let (_dir, out) = output();
    symlink(outside.path().join("target"), out.root().join("index.html"))?;
    out.write(Path::new("index.html"), b"page")?;
    assert_eq!(fs::read(outside.path().join("target"))?, b"keep");
    assert_eq!(fs::read(out.root().join("index.html"))?, b"page");
    symlink(outside.path().join("target"), out.root().join("x.whl"))?;
    assert!(out.remove_file(Path::new("x.whl"))?);
    assert_eq!(fs::read(outside.path().join("target"))?, b"keep");
    Ok(())
}

#[test]
fn a_symlink_at_the_temporary_name_is_removed_never_written_through() -> TestResult {
    let outside = tempfile::tempdir()?;
    fs::write(outside.path().join("victim"), b"keep")?;
    let (_dir, out) = output();
    fs::create_dir_all(out.root().join("project/pkg"))?;
    symlink(outside.path().join("victim"), out.root().join("project/pkg/.index.html.piw-tmp"))?;
    symlink(outside.path().join("absent"), out.root().join("project/pkg/.index.json.piw-tmp"))?;
    assert_eq!(out.write(Path::new("project/pkg/index.html"), b"page")?, Written::Changed);
    assert_eq!(out.write(Path::new("project/pkg/index.json"), b"json")?, Written::Changed);
    assert_eq!(fs::read(outside.path().join("victim"))?, b"keep");
    assert_eq!(names(outside.path()), ["victim"], "a dangling link made nothing outside");
    assert!(fs::symlink_metadata(out.root().join("project/pkg/index.html"))?.file_type().is_file());
    assert_eq!(names(&out.root().join("project/pkg")), ["index.html", "index.json"]);
    // The importer's way in: the same.
    symlink(outside.path().join("victim"), out.root().join("project/pkg/.w.whl.piw-tmp"))?;
    let mut pending = out.create_pending(Path::new("project/pkg/w.whl"))?;
    pending.write_all(b"wheel")?;
    pending.publish()?;
    assert_eq!(fs::read(outside.path().join("victim"))?, b"keep");
    assert_eq!(fs::read(out.root().join("project/pkg/w.whl"))?, b"wheel");
    Ok(())
}

#[test]
fn fifos_at_the_temporary_name_or_the_page_never_block() -> TestResult {
    let (_dir, out) = output();
    fs::create_dir_all(out.root().join("simple/pkg"))?;
    mkfifo(&out.root().join("simple/pkg/.index.html.piw-tmp"));
    mkfifo(&out.root().join("simple/pkg/index.html"));
    mkfifo(&out.root().join("simple/pkg/.w.whl.piw-tmp"));
    // Each of these would block for ever if it opened a FIFO.
    assert_eq!(out.write(Path::new("simple/pkg/index.html"), b"page")?, Written::Changed);
    assert_eq!(fs::read(out.root().join("simple/pkg/index.html"))?, b"page");
    let pending = out.create_pending(Path::new("simple/pkg/w.whl"))?;
    drop(pending);
    assert_eq!(names(&out.root().join("simple/pkg")), ["index.html"], "both FIFOs and the unpublished file are gone");
    Ok(())
}

#[test]
fn a_directory_in_the_way_is_an_error_not_a_hang() -> TestResult {
    let (_dir, out) = output();
    fs::create_dir_all(out.root().join("simple/pkg/index.html/inner"))?;
    let page = out.write(Path::new("simple/pkg/index.html"), b"page");
    assert!(matches!(&page, Err(OutputError::Refused { reason, .. }) if reason.contains("directory")), "{page:?}");
    fs::create_dir_all(out.root().join("simple/pkg/.other.html.piw-tmp"))?;
    assert!(out.write(Path::new("simple/pkg/other.html"), b"page").is_err());
    assert!(matches!(out.remove_file(Path::new("simple/pkg/index.html")), Err(OutputError::Refused { .. })));
    assert!(out.root().join("simple/pkg/index.html/inner").is_dir(), "nothing of it removed");
    Ok(())
}

#[test]
fn names_up_to_255_bytes_are_written_through_a_temporary_name_that_fits() -> TestResult {
    let (_dir, out) = output();
    let long = format!("{}-1.0-py3-none-any.whl", "a".repeat(255 - "-1.0-py3-none-any.whl".len()));
    assert_eq!(long.len(), 255);
    let relative = Path::new("simple/a").join(&long);
    assert_eq!(out.write(&relative, b"wheel")?, Written::Changed);
    let mut pending = out.create_pending(&relative)?;
    pending.write_all(b"wheel 2")?;
    pending.publish()?;
    assert_eq!(fs::read(out.root().join(&relative))?, b"wheel 2");
    assert_eq!(names(&out.root().join("simple/a")), std::slice::from_ref(&long));
    assert!(out.remove_file(&relative)?);
    assert!(matches!(out.write(&Path::new("simple/a").join("b".repeat(256)), b"x"), Err(OutputError::Refused { .. })));
    Ok(())
}

#[test]
fn remove_dir_removes_links_inside_never_what_they_point_to() -> TestResult {
    let outside = tempfile::tempdir()?;
    fs::create_dir(outside.path().join("tree"))?;
    fs::write(outside.path().join("tree/precious"), b"keep")?;
    let (_dir, out) = output();
    fs::create_dir_all(out.root().join("project/pkg/json"))?;
    fs::write(out.root().join("project/pkg/json/index.json"), b"{}")?;
    symlink(outside.path().join("tree"), out.root().join("project/pkg/json/link"))?;
    mkfifo(&out.root().join("project/pkg/fifo"));
    assert!(out.remove_dir(Path::new("project/pkg"))?);
    assert!(!out.root().join("project/pkg").exists());
    assert_eq!(fs::read(outside.path().join("tree/precious"))?, b"keep");
    // A package directory that is itself a link: the link goes.
    symlink(outside.path().join("tree"), out.root().join("project/other"))?;
    assert!(out.remove_dir(Path::new("project/other"))?);
    assert_eq!(fs::read(outside.path().join("tree/precious"))?, b"keep");
    Ok(())
}

#[test]
fn a_pending_file_is_invisible_until_published_and_gone_if_dropped() -> TestResult {
    let (_dir, out) = output();
    let mut pending = out.create_pending(Path::new("simple/pkg/w.whl"))?;
    pending.write_all(b"wheel")?;
    assert_eq!(names(&out.root().join("simple/pkg")), [".w.whl.piw-tmp"]);
    pending.publish()?;
    assert_eq!(names(&out.root().join("simple/pkg")), ["w.whl"]);
    let mut pending = out.create_pending(Path::new("simple/pkg/v.whl"))?;
    pending.write_all(b"wheel")?;
    drop(pending);
    assert_eq!(names(&out.root().join("simple/pkg")), ["w.whl"]);
    Ok(())
}

#[test]
fn a_writer_of_many_pages_opens_each_directory_once_and_keeps_a_few() -> TestResult {
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
fn a_writer_of_many_pages_refuses_a_symlinked_directory() -> TestResult {
    let outside = tempfile::tempdir()?;
    let (_dir, out) = output();
    let mut checked = CheckedDirs::new(8);
    out.write_checked(Path::new("simple/good/index.html"), b"x", &mut checked)?;
    symlink(outside.path(), out.root().join("simple/evil"))?;
    assert!(matches!(out.write_checked(Path::new("simple/evil/index.html"), b"x", &mut checked), Err(OutputError::Refused { .. })));
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
