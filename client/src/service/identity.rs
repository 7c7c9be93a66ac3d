//! A service's identity key (docs/spec.md §2.4, §3): made on first start,
//! kept 0600 in its data directory, and the `.warren` address it gives.

use std::path::Path;

use warren_crypto::{HsAddress, ServiceIdentityKeypair};
use warren_net::keystore::load_or_create_key_file;

use crate::ClientError;

/// The identity key file in a service's data directory.
pub const IDENTITY_FILE: &str = "identity.key";

/// Loads the service identity in `dir`, making it on first use. Returns
/// the key, its address, and whether it was made now.
pub fn load_or_create_identity(
    dir: &Path,
) -> Result<(ServiceIdentityKeypair, HsAddress, bool), ClientError> {
    std::fs::create_dir_all(dir).map_err(|source| ClientError::State {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(IDENTITY_FILE);
    let (key, created) =
        load_or_create_key_file(&path, || ServiceIdentityKeypair::generate(&mut rand::rng()))
            .map_err(|e| ClientError::Config(e.to_string()))?;
    let address = HsAddress::from_identity(key.public());
    Ok((key, address, created))
}
