//! The onion-key certificate of a relay descriptor (docs/spec.md §12.2):
//! the relay's identity key certifies its current X25519 onion key until an
//! expiry time.
//!
//! The signed message is fixed-width rather than postcard:
//! `"warren-onion-key-cert-v1" | 0x00 | identity (32) | onion_key (32) |
//! expires (8, big endian)`.

use serde::{Deserialize, Serialize};
use warren_crypto::{OnionPublicKey, RelayIdentity, RelayIdentityKeypair, Signature};

use crate::DirectoryError;
use crate::signed::check_signature;
use crate::wire::{self, SigBytes};

/// The domain-separation label of the certificate signature (§12.1).
pub const ONION_CERT_LABEL: &[u8] = b"warren-onion-key-cert-v1";

/// What the certificate is called in errors.
const DOCUMENT: &str = "onion-key certificate";

/// A relay identity's signature on its onion key and that key's expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionKeyCert {
    /// The identity that issued the certificate.
    pub signed_by: RelayIdentity,
    /// The certified X25519 onion key (§2.3).
    pub onion_key: OnionPublicKey,
    /// The last second the onion key may be used, in Unix seconds.
    pub expires: u64,
    /// `signed_by`'s signature over the fields (module docs).
    pub signature: Signature,
}

/// The certified bytes: `identity | onion_key | expires`.
fn body(signed_by: &RelayIdentity, onion_key: &OnionPublicKey, expires: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(72);
    out.extend_from_slice(signed_by.as_bytes());
    out.extend_from_slice(onion_key.as_bytes());
    out.extend_from_slice(&expires.to_be_bytes());
    out
}

impl OnionKeyCert {
    /// `identity` certifies `onion_key` until `expires`.
    pub fn sign(identity: &RelayIdentityKeypair, onion_key: OnionPublicKey, expires: u64) -> Self {
        let signed_by = identity.public();
        let msg = wire::signing_message(ONION_CERT_LABEL, &body(&signed_by, &onion_key, expires));
        Self {
            signed_by,
            onion_key,
            expires,
            signature: identity.sign(&msg),
        }
    }

    /// Checks that `identity` issued this certificate (§12.2).
    pub fn verify(&self, identity: &RelayIdentity) -> Result<(), DirectoryError> {
        if self.signed_by != *identity {
            return Err(DirectoryError::OnionCertWrongSigner {
                identity: *identity,
                signer: self.signed_by,
            });
        }
        let body = body(&self.signed_by, &self.onion_key, self.expires);
        check_signature(ONION_CERT_LABEL, &body, identity, &self.signature, DOCUMENT)
    }

    /// The wire form.
    pub(crate) fn to_wire(&self) -> WireOnionCert {
        WireOnionCert {
            signed_by: *self.signed_by.as_bytes(),
            onion_key: *self.onion_key.as_bytes(),
            expires: self.expires,
            signature: wire::sig_to_wire(&self.signature),
        }
    }

    /// The certificate from its wire form (the signature is not checked).
    pub(crate) fn from_wire(
        w: &WireOnionCert,
        document: &'static str,
    ) -> Result<Self, DirectoryError> {
        Ok(Self {
            signed_by: wire::relay_identity(&w.signed_by, document, "onion-key certificate")?,
            onion_key: OnionPublicKey::from_bytes(w.onion_key),
            expires: w.expires,
            signature: wire::sig_from_wire(&w.signature),
        })
    }
}

/// The wire form of an [`OnionKeyCert`] inside a descriptor body (§12.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireOnionCert {
    signed_by: [u8; 32],
    onion_key: [u8; 32],
    expires: u64,
    signature: SigBytes,
}

#[cfg(test)]
mod test {
    use super::*;
    use warren_crypto::OnionKeypair;

    #[test]
    fn issued_by_the_identity_only() {
        let id = RelayIdentityKeypair::from_secret_bytes([1; 32]);
        let other = RelayIdentityKeypair::from_secret_bytes([2; 32]);
        let onion = OnionKeypair::from_secret_bytes([3; 32]).public();
        let cert = OnionKeyCert::sign(&id, onion, 1_000);
        cert.verify(&id.public()).unwrap();
        assert_eq!(
            cert.verify(&other.public()),
            Err(DirectoryError::OnionCertWrongSigner {
                identity: other.public(),
                signer: id.public()
            })
        );
        let mut later = cert.clone();
        later.expires += 1;
        assert_eq!(
            later.verify(&id.public()),
            Err(DirectoryError::BadSignature { document: DOCUMENT })
        );
        let round = OnionKeyCert::from_wire(&cert.to_wire(), "d").unwrap();
        assert_eq!(round, cert);
    }
}
