//! The relay's long-term keys in its data directory (docs/spec.md §2.2,
//! §2.3, §2.5): created on first start, reused afterwards.

use std::path::Path;

use warren_crypto::{OnionKeypair, RelayIdentityKeypair};
use warren_net::keystore::load_or_create_key_file;

use crate::RelayError;

/// The identity and the current onion key.
pub(crate) struct RelayKeys {
    pub(crate) identity: RelayIdentityKeypair,
    pub(crate) onion: OnionKeypair,
}

impl RelayKeys {
    /// Loads the keys from `dir`, creating any that are missing.
    pub(crate) fn load_or_create(dir: &Path) -> Result<Self, RelayError> {
        let (identity, created) = load_or_create_key_file(&dir.join("identity.key"), || {
            RelayIdentityKeypair::generate(&mut rand::rng())
        })
        .map_err(RelayError::Keys)?;
        if created {
            tracing::info!("created a new relay identity key");
        }
        let (onion, _) = load_or_create_key_file(&dir.join("onion.key"), || {
            OnionKeypair::generate(&mut rand::rng())
        })
        .map_err(RelayError::Keys)?;
        Ok(Self { identity, onion })
    }
}
