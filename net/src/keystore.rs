//! Long-term keys on disk (docs/spec.md §2.5).
//!
//! A key file holds one secret key in the text form of
//! [`warren_crypto::KeyFile`]. Files are created with mode 0600 through a
//! temporary file and a hard link (which, unlike a rename, never replaces an existing
//! file), so a crash never leaves half a key behind, and
//! a file that other users can read is refused rather than used.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use warren_crypto::KeyFile;
use zeroize::Zeroizing;

use crate::NetError;

/// Permission bits a key file must not have: any access by group or others.
const FORBIDDEN_MODE_BITS: u32 = 0o077;

/// Writes `key` to a new file at `path` with mode 0600.
///
/// Refuses to replace an existing file. The parent directory must exist.
pub fn create_key_file<K: KeyFile>(path: &Path, key: &K) -> Result<(), NetError> {
    if path.exists() {
        return Err(NetError::KeyFileExists {
            path: path.to_path_buf(),
        });
    }
    let text = key.to_key_file();
    let tmp = temporary_path(path);
    let io = |action, source| NetError::KeyFileIo {
        path: path.to_path_buf(),
        action,
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io("create", e))?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io("write", e));
    }
    fs::hard_link(&tmp, path)
        .map_err(|e| io("link", e))
        .and_then(|()| fs::remove_file(&tmp).map_err(|e| io("remove temporary", e)))
}

/// Reads the key of type `K` stored at `path`.
///
/// Fails when the file is readable by group or others, or holds a key of
/// another kind.
pub fn read_key_file<K: KeyFile>(path: &Path) -> Result<K, NetError> {
    let io = |action, source| NetError::KeyFileIo {
        path: path.to_path_buf(),
        action,
        source,
    };
    let meta = fs::metadata(path).map_err(|e| io("stat", e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & FORBIDDEN_MODE_BITS != 0 {
        return Err(NetError::KeyFileTooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| io("read", e))?);
    K::from_key_file(&text).map_err(|source| NetError::KeyFileInvalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the key at `path`, or creates it with `generate` when there is no
/// file yet. Returns the key and whether it was created now.
pub fn load_or_create_key_file<K: KeyFile>(
    path: &Path,
    generate: impl FnOnce() -> K,
) -> Result<(K, bool), NetError> {
    if path.exists() {
        return read_key_file(path).map(|k| (k, false));
    }
    let key = generate();
    create_key_file(path, &key)?;
    Ok((key, true))
}

/// `path` with a `.tmp` suffix, in the same directory (so the link is atomic).
fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod test {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use warren_crypto::{OnionKeypair, RelayIdentityKeypair};

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(7)
    }

    #[test]
    fn created_file_is_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let key = RelayIdentityKeypair::generate(&mut rng());
        create_key_file(&path, &key).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back: RelayIdentityKeypair = read_key_file(&path).unwrap();
        assert_eq!(back.public(), key.public());
        assert!(!temporary_path(&path).exists());
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let key = RelayIdentityKeypair::generate(&mut rng());
        create_key_file(&path, &key).unwrap();
        let again = create_key_file(&path, &key);
        assert!(matches!(again, Err(NetError::KeyFileExists { .. })));
    }

    #[test]
    fn refuses_world_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        create_key_file(&path, &RelayIdentityKeypair::generate(&mut rng())).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file::<RelayIdentityKeypair>(&path).unwrap_err();
        assert!(matches!(err, NetError::KeyFileTooOpen { mode: 0o644, .. }));
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn refuses_key_of_other_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onion.key");
        create_key_file(&path, &OnionKeypair::generate(&mut rng())).unwrap();
        let err = read_key_file::<RelayIdentityKeypair>(&path).unwrap_err();
        assert!(matches!(err, NetError::KeyFileInvalid { .. }), "{err}");
    }

    #[test]
    fn load_or_create_creates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let (first, created) =
            load_or_create_key_file(&path, || RelayIdentityKeypair::generate(&mut rng())).unwrap();
        assert!(created);
        let (second, created) = load_or_create_key_file(&path, || -> RelayIdentityKeypair {
            unreachable!("the key exists")
        })
        .unwrap();
        assert!(!created);
        assert_eq!(first.public(), second.public());
    }
}
