//! An authority's keys in its data directory (docs/spec.md §12.4):
//! `identity.key` (the long-term identity, needed only to certify),
//! `signing.key` and `authority.cert` (what the daemon signs with), and
//! `host.key` (its libp2p host).

use std::path::Path;

use warren_crypto::{RelayIdentity, RelayIdentityKeypair};
use warren_directory::{
    AuthorityCert, AuthorityIdentity, AuthorityIdentityKeypair, AuthoritySigningKeypair,
};
use warren_net::keystore::{create_key_file, load_or_create_key_file, read_key_file};

use crate::RelayError;

const IDENTITY: &str = "identity.key";
const SIGNING: &str = "signing.key";
const CERT: &str = "authority.cert";
const HOST: &str = "host.key";

/// What the daemon needs.
pub(crate) struct AuthorityKeys {
    pub(crate) host: RelayIdentityKeypair,
    pub(crate) signing: AuthoritySigningKeypair,
    pub(crate) cert: AuthorityCert,
}

/// Who an authority is, for the other nodes' configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthoritySummary {
    /// The identity that signs.
    pub identity: AuthorityIdentity,
    /// The host identity that answers.
    pub peer: RelayIdentity,
    /// When the signing key's certificate expires (Unix seconds).
    pub cert_expires: u64,
}

/// Creates an authority's keys in `dir` (the identity and host keys are
/// kept if present) and certifies a fresh signing key from `now` for
/// `lifetime` seconds.
pub fn init(dir: &Path, now: u64, lifetime: u64) -> Result<AuthoritySummary, RelayError> {
    std::fs::create_dir_all(dir).map_err(|source| RelayError::State {
        path: dir.to_path_buf(),
        source,
    })?;
    let (identity, _) = load_or_create_key_file(&dir.join(IDENTITY), || {
        AuthorityIdentityKeypair::generate(&mut rand::rng())
    })
    .map_err(RelayError::Keys)?;
    let (host, _) = load_or_create_key_file(&dir.join(HOST), || {
        RelayIdentityKeypair::generate(&mut rand::rng())
    })
    .map_err(RelayError::Keys)?;
    let signing = AuthoritySigningKeypair::generate(&mut rand::rng());
    let expires = now.saturating_add(lifetime);
    let cert = AuthorityCert::issue(&identity, signing.public(), now, expires)
        .map_err(|e| RelayError::Config(format!("cannot certify the signing key: {e}")))?;
    let signing_path = dir.join(SIGNING);
    if signing_path.exists() {
        std::fs::remove_file(&signing_path).map_err(|source| RelayError::State {
            path: signing_path.clone(),
            source,
        })?;
    }
    create_key_file(&signing_path, &signing).map_err(RelayError::Keys)?;
    let cert_path = dir.join(CERT);
    std::fs::write(&cert_path, cert.as_bytes()).map_err(|source| RelayError::State {
        path: cert_path,
        source,
    })?;
    Ok(AuthoritySummary {
        identity: identity.public(),
        peer: host.public(),
        cert_expires: expires,
    })
}

impl AuthorityKeys {
    /// Loads the keys [`init`] made.
    pub(crate) fn load(dir: &Path) -> Result<Self, RelayError> {
        let missing = |what: &str| {
            RelayError::Config(format!(
                "no {what} in {}: run `warren authority init --data-dir {}` first",
                dir.display(),
                dir.display()
            ))
        };
        if !dir.join(CERT).exists() {
            return Err(missing("authority certificate"));
        }
        let host = read_key_file(&dir.join(HOST)).map_err(RelayError::Keys)?;
        let signing: AuthoritySigningKeypair =
            read_key_file(&dir.join(SIGNING)).map_err(RelayError::Keys)?;
        let cert_path = dir.join(CERT);
        let bytes = std::fs::read(&cert_path).map_err(|source| RelayError::State {
            path: cert_path.clone(),
            source,
        })?;
        let unchecked = AuthorityCert::decode(&bytes)
            .map_err(|e| RelayError::Config(format!("{}: {e}", cert_path.display())))?;
        let claimed = unchecked.dangerously_peek().identity();
        let cert = unchecked
            .verify(&claimed)
            .map_err(|e| RelayError::Config(format!("{}: {e}", cert_path.display())))?
            .dangerously_assume_timely();
        if cert.signing_key() != signing.public() {
            return Err(RelayError::Config(format!(
                "{} certifies another signing key than {}; run `warren authority init` again",
                cert_path.display(),
                dir.join(SIGNING).display()
            )));
        }
        Ok(Self {
            host,
            signing,
            cert,
        })
    }
}
