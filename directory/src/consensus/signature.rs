//! Consensus signatures (docs/spec.md §12.8): each authority signs the
//! canonical body bytes with its signing key, and sends the signature with
//! the certificate of that key to the others.

use serde::{Deserialize, Serialize};
use warren_crypto::Signature;

use super::{CONSENSUS_LABEL, ConsensusBody};
use crate::DirectoryError;
use crate::authority::{AuthorityCert, AuthorityIdentity, AuthoritySet, AuthoritySigningKeypair};
use crate::signed::{Window, check_signature};
use crate::wire::{self, SigBytes};

/// What a detached signature is called in errors.
const DOCUMENT: &str = "consensus signature";

/// One authority's signature on a consensus body, with its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusSignature {
    cert: AuthorityCert,
    signature: Signature,
}

/// The wire form of a [`ConsensusSignature`] (§12.8).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireSignature<'a> {
    #[serde(borrow)]
    pub(crate) cert: &'a [u8],
    pub(crate) signature: SigBytes,
}

impl ConsensusSignature {
    /// Signs `body` with `key`, which `cert` must certify.
    pub fn sign(
        body: &ConsensusBody,
        cert: &AuthorityCert,
        key: &AuthoritySigningKeypair,
    ) -> Result<Self, DirectoryError> {
        Self::sign_encoded(&body.encode()?, cert, key)
    }

    /// Signs the encoded body `body_bytes` (see [`ConsensusBody::encode`]).
    pub fn sign_encoded(
        body_bytes: &[u8],
        cert: &AuthorityCert,
        key: &AuthoritySigningKeypair,
    ) -> Result<Self, DirectoryError> {
        if key.public() != cert.signing_key() {
            return Err(DirectoryError::KeyMismatch {
                document: "consensus",
                expected: cert.signing_key().to_string(),
                found: key.public().to_string(),
            });
        }
        let msg = wire::signing_message(CONSENSUS_LABEL, body_bytes);
        Ok(Self {
            cert: cert.clone(),
            signature: key.ed25519().sign(&msg),
        })
    }

    /// The signing authority.
    pub fn authority(&self) -> AuthorityIdentity {
        self.cert.identity()
    }

    /// The certificate of the signing key.
    pub fn cert(&self) -> &AuthorityCert {
        &self.cert
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The detached signature's bytes, for sending to other authorities.
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        wire::encode(&self.to_wire())
    }

    /// Decodes a detached signature. It is checked when the consensus that
    /// it joins is verified.
    pub fn decode(bytes: &[u8]) -> Result<Self, DirectoryError> {
        Self::from_wire(&wire::decode(bytes, DOCUMENT)?)
    }

    /// The wire form.
    pub(crate) fn to_wire(&self) -> WireSignature<'_> {
        WireSignature {
            cert: self.cert.as_bytes(),
            signature: wire::sig_to_wire(&self.signature),
        }
    }

    /// From the wire form (nothing verified).
    pub(crate) fn from_wire(w: &WireSignature<'_>) -> Result<Self, DirectoryError> {
        Ok(Self {
            cert: AuthorityCert::decode_inner(w.cert)?,
            signature: wire::sig_from_wire(&w.signature),
        })
    }

    /// Checks this signature on `body_bytes` for a member of `set`; returns
    /// the window of its certificate. Authorities check each signature they
    /// receive this way before they add it to a consensus.
    pub fn check(&self, body_bytes: &[u8], set: &AuthoritySet) -> Result<Window, DirectoryError> {
        let authority = self.authority();
        if !set.contains(&authority) {
            return Err(DirectoryError::UnknownAuthority {
                document: "consensus",
                authority,
                configured: set.len(),
            });
        }
        self.cert.check_self_signed()?;
        check_signature(
            CONSENSUS_LABEL,
            body_bytes,
            self.cert.signing_key().ed25519(),
            &self.signature,
            "consensus",
        )?;
        Ok(self.cert.validity())
    }
}
