//! Key files and key sources.
use cairn_attest::{Error, KEY_ENV, Key, SECRET_KEY_PREFIX};

#[test]
fn key_file_round_trip_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signer.key");
    let key = Key::generate().unwrap();
    key.write_file(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(SECRET_KEY_PREFIX) && text.ends_with('\n'));
    assert_eq!(text.lines().count(), 1);
    let back = Key::read_file(&path).unwrap();
    assert_eq!(back.public(), key.public());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
}

#[test]
fn write_file_never_overwrites_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signer.key");
    let first = Key::generate().unwrap();
    first.write_file(&path).unwrap();
    let err = Key::generate().unwrap().write_file(&path).unwrap_err();
    assert!(matches!(err, Error::KeyFileExists { .. }), "{err}");
    assert_eq!(Key::read_file(&path).unwrap().public(), first.public());
    let missing_dir = dir.path().join("no/such/dir/key");
    assert!(matches!(
        first.write_file(&missing_dir),
        Err(Error::KeyFile { .. })
    ));
}

#[test]
fn generated_keys_differ() {
    assert_ne!(
        Key::generate().unwrap().public(),
        Key::generate().unwrap().public()
    );
}

#[test]
fn debug_of_a_key_never_contains_the_seed() {
    let seed = [0x5a; 32];
    let key = Key::from_seed(&seed);
    let debug = format!("{key:?} {:#?}", key);
    let line = key.to_secret_line();
    let encoded = line.strip_prefix(SECRET_KEY_PREFIX).unwrap();
    assert!(!debug.contains(&hex::encode(seed)), "{debug}");
    assert!(!debug.contains(encoded), "{debug}");
    assert!(!debug.contains("5a5a5a"), "{debug}");
    assert!(debug.contains(&key.key_id()), "{debug}");
}

#[test]
fn bad_key_files_and_env_vars_fail_without_echoing_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.key");
    std::fs::write(&path, "super-secret-garbage\n").unwrap();
    let err = Key::read_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("bad.key") && err.contains("does not start with"),
        "{err}"
    );
    assert!(!err.contains("super-secret-garbage"), "{err}");

    let missing = Key::read_file(&dir.path().join("absent")).unwrap_err();
    assert!(matches!(missing, Error::KeyFile { .. }), "{missing}");

    let var = "CAIRN_ATTEST_TEST_SURELY_UNSET_VARIABLE";
    let err = Key::from_env(var).unwrap_err();
    assert!(
        matches!(&err, Error::KeyEnvMissing { var: v } if v == var),
        "{err}"
    );
    // A set variable that is not a key names the variable, not its value.
    let path_value = std::env::var("PATH").unwrap_or_default();
    if !path_value.is_empty() {
        let err = Key::from_env("PATH").unwrap_err().to_string();
        assert!(err.contains("$PATH") && !err.contains(&path_value), "{err}");
    }
    assert_eq!(KEY_ENV, "CAIRN_ATTEST_KEY");
}
