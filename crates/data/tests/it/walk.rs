//! Walking rules: symlinks, special files, non-UTF-8 names, ordering.

use std::os::unix::ffi::OsStrExt;

use cairn_data::{Error, Options, SymlinkPolicy, add};

use crate::util::write;

#[test]
fn symlinks_are_an_error_by_default_and_can_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "real.txt", b"data");
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("escape")).unwrap();
    match add(dir.path(), &Options::default()) {
        Err(e @ Error::Symlink { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("escape") && msg.contains("symbolic link"),
                "{msg}"
            );
        }
        r => panic!("expected a symlink error, got {r:?}"),
    }
    let r = add(
        dir.path(),
        &Options::default().with_symlinks(SymlinkPolicy::Skip),
    )
    .unwrap();
    let paths: Vec<&str> = r.manifest.files().iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["real.txt"]);
    assert_eq!(r.stats.skipped_symlinks, ["escape"]);
}

#[test]
fn non_utf8_names_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name");
    std::fs::write(dir.path().join(name), b"x").unwrap();
    match add(dir.path(), &Options::default()) {
        Err(e @ Error::NonUtf8Path { .. }) => assert!(e.to_string().contains("bad-"), "{e}"),
        r => panic!("expected NonUtf8Path, got {r:?}"),
    }
}

#[test]
fn fifos_are_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success());
    if !matches!(ok, Ok(true)) {
        return; // no mkfifo on this system
    }
    match add(dir.path(), &Options::default()) {
        Err(Error::UnsupportedFileType { path, kind }) => {
            assert_eq!(path, fifo);
            assert_eq!(kind, "FIFO");
        }
        r => panic!("expected UnsupportedFileType, got {r:?}"),
    }
}

#[test]
fn unreadable_files_name_the_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("secret.bin");
    std::fs::write(&p, b"x").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&p).is_ok() {
        return; // running as root: permissions do not apply
    }
    let e = add(dir.path(), &Options::default()).unwrap_err();
    assert!(matches!(e, Error::Io { op: "open", .. }));
    assert!(e.to_string().contains("secret.bin"), "{e}");
}

#[test]
fn missing_path_is_a_clear_error() {
    let e = add(
        std::path::Path::new("/nonexistent/cairn-data-test"),
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("/nonexistent/cairn-data-test"),
        "{e}"
    );
}

#[test]
fn paths_sort_bytewise_as_whole_strings() {
    let dir = tempfile::tempdir().unwrap();
    for p in ["a/b", "a-b", "B", "a.c", "é", "z"] {
        write(dir.path(), p, p.as_bytes());
    }
    let m = add(dir.path(), &Options::default()).unwrap().manifest;
    let paths: Vec<&str> = m.files().iter().map(|f| f.path.as_str()).collect();
    // '-' (0x2d) < '.' (0x2e) < '/' (0x2f); uppercase before lowercase; UTF-8 last.
    assert_eq!(paths, ["B", "a-b", "a.c", "a/b", "z", "é"]);
}

#[test]
fn empty_directories_contribute_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f", b"1");
    let before = add(dir.path(), &Options::default())
        .unwrap()
        .manifest
        .root();
    std::fs::create_dir_all(dir.path().join("empty/also-empty")).unwrap();
    assert_eq!(
        add(dir.path(), &Options::default())
            .unwrap()
            .manifest
            .root(),
        before
    );
    let empty = tempfile::tempdir().unwrap();
    let m = add(empty.path(), &Options::default()).unwrap().manifest;
    assert_eq!(m.root(), cairn_data::Format::V2.empty_dataset_root());
}
