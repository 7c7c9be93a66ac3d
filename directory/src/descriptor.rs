//! Relay descriptors (docs/spec.md §12.2): what a relay says about itself,
//! signed with its identity key and uploaded to every authority.
//!
//! A relay builds a [`RelayDescriptor`] and signs it
//! ([`RelayDescriptor::sign`]); an authority decodes the bytes
//! ([`SignedDescriptor::decode`]), verifies them (`.verify(&())`: the
//! descriptor is self-signed) and checks them against the time.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warren_crypto::{OnionPublicKey, RelayIdentity, RelayIdentityKeypair, Signature};

use crate::DirectoryError;
use crate::exit_policy::{ExitPolicy, WireRule};
use crate::fields::{MAX_FAMILY, check_addresses, check_family, check_software};
use crate::roles::Roles;
use crate::signed::{
    Envelope, Sealed, Unchecked, Validity, Verifiable, Window, check_signature, envelope_body,
};
use crate::wire::{self, family_from_wire, family_to_wire};

mod onion_cert;

use onion_cert::WireOnionCert;
pub use onion_cert::{ONION_CERT_LABEL, OnionKeyCert};

/// The domain-separation label of descriptor signatures (§12.1).
pub const DESCRIPTOR_LABEL: &[u8] = b"warren-relay-descriptor-v1";
/// The descriptor format version this software writes and reads.
pub const DESCRIPTOR_VERSION: u8 = 1;
/// How long after publication a descriptor stays valid, in seconds (48 h).
pub const DESCRIPTOR_LIFETIME: u64 = 48 * 3600;
/// How far in the future a publication time may lie, in seconds (1 h): the
/// allowance for a relay whose clock is ahead.
pub const DESCRIPTOR_MAX_SKEW: u64 = 3600;

/// What descriptors are called in errors.
const DOCUMENT: &str = "relay descriptor";

/// A relay's description of itself (§12.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayDescriptor {
    /// The relay's long-term identity, which signs the descriptor (§2.2).
    pub identity: RelayIdentity,
    /// The current onion key, certified by the identity (§2.3).
    pub onion_cert: OnionKeyCert,
    /// Where to reach the relay: libp2p multiaddrs in text form, in order of
    /// preference; at most 8, each at most 128 bytes.
    pub addresses: Vec<String>,
    /// The bandwidth the relay offers, in bytes per second.
    pub bandwidth: u64,
    /// Relays run by the same operator, never used together in a circuit;
    /// at most 32.
    pub family: BTreeSet<RelayIdentity>,
    /// Where the relay lets streams exit (§12.3).
    pub exit_policy: ExitPolicy,
    /// The roles the relay offers.
    pub roles: Roles,
    /// The relay's software and version, e.g. `warren 0.1.0`.
    pub software: String,
    /// When the descriptor was made, in Unix seconds.
    pub published: u64,
}

/// The wire form of a descriptor body (§12.2), in field order.
#[derive(Debug, Serialize, Deserialize)]
struct WireDescriptor<'a> {
    version: u8,
    identity: [u8; 32],
    onion_cert: WireOnionCert,
    #[serde(borrow)]
    addresses: Vec<&'a str>,
    bandwidth: u64,
    family: Vec<[u8; 32]>,
    exit_policy: Vec<WireRule>,
    roles: u8,
    software: &'a str,
    published: u64,
}

impl RelayDescriptor {
    /// The certified onion key.
    pub fn onion_key(&self) -> OnionPublicKey {
        self.onion_cert.onion_key
    }

    /// Checks the limits of §12.2 (signatures aside).
    pub fn validate(&self) -> Result<(), DirectoryError> {
        check_addresses(&self.addresses, DOCUMENT)?;
        check_family(&self.identity, &self.family, DOCUMENT)?;
        check_software(&self.software, DOCUMENT)?;
        if self.onion_cert.expires <= self.published {
            return Err(DirectoryError::BadTimes {
                document: DOCUMENT,
                reason: "the onion key's certificate expires before the descriptor is published",
            });
        }
        Ok(())
    }

    /// When the descriptor may be used: from [`DESCRIPTOR_MAX_SKEW`] before
    /// its publication until [`DESCRIPTOR_LIFETIME`] after it, and never
    /// after its onion key expires.
    pub fn validity(&self) -> Window {
        Window {
            start: self.published.saturating_sub(DESCRIPTOR_MAX_SKEW),
            end: self
                .published
                .saturating_add(DESCRIPTOR_LIFETIME)
                .min(self.onion_cert.expires),
        }
    }

    /// Signs the descriptor with the relay's identity key. Fails when the
    /// descriptor breaks a limit of §12.2 or names another identity.
    pub fn sign(&self, key: &RelayIdentityKeypair) -> Result<SignedDescriptor, DirectoryError> {
        if key.public() != self.identity {
            return Err(DirectoryError::KeyMismatch {
                document: DOCUMENT,
                expected: self.identity.to_string(),
                found: key.public().to_string(),
            });
        }
        let body = self.encode_body()?;
        let sealed = Sealed::seal(DESCRIPTOR_LABEL, &body, key)?;
        Ok(SignedDescriptor {
            descriptor: self.clone(),
            signer: sealed.signer,
            signature: sealed.signature,
            bytes: sealed.bytes,
            body_len: body.len(),
        })
    }

    /// The canonical body bytes, after [`RelayDescriptor::validate`].
    fn encode_body(&self) -> Result<Vec<u8>, DirectoryError> {
        self.validate()?;
        wire::encode(&WireDescriptor {
            version: DESCRIPTOR_VERSION,
            identity: *self.identity.as_bytes(),
            onion_cert: self.onion_cert.to_wire(),
            addresses: self.addresses.iter().map(String::as_str).collect(),
            bandwidth: self.bandwidth,
            family: family_to_wire(&self.family),
            exit_policy: self.exit_policy.to_wire(),
            roles: self.roles.bits(),
            software: &self.software,
            published: self.published,
        })
    }

    /// Decodes and checks a body (signatures aside).
    fn decode_body(bytes: &[u8]) -> Result<Self, DirectoryError> {
        check_version(bytes, DOCUMENT, DESCRIPTOR_VERSION)?;
        let w: WireDescriptor<'_> = wire::decode(bytes, DOCUMENT)?;
        let identity = wire::relay_identity(&w.identity, DOCUMENT, "identity")?;
        let descriptor = Self {
            identity,
            onion_cert: OnionKeyCert::from_wire(&w.onion_cert, DOCUMENT)?,
            addresses: w.addresses.iter().map(|a| (*a).to_string()).collect(),
            bandwidth: w.bandwidth,
            family: family_from_wire(&w.family, MAX_FAMILY, DOCUMENT)?,
            exit_policy: ExitPolicy::from_wire(&w.exit_policy, DOCUMENT)?,
            roles: roles_from_wire(w.roles, DOCUMENT)?,
            software: w.software.to_string(),
            published: w.published,
        };
        descriptor.validate()?;
        Ok(descriptor)
    }
}

/// Refuses a body whose first byte (its format version) is not `supported`,
/// before decoding a layout this version may not know.
pub(crate) fn check_version(
    bytes: &[u8],
    document: &'static str,
    supported: u8,
) -> Result<(), DirectoryError> {
    match bytes.first() {
        Some(&v) if v == supported => Ok(()),
        Some(&found) => Err(DirectoryError::UnsupportedVersion {
            document,
            found,
            supported,
        }),
        None => Err(DirectoryError::Malformed {
            document,
            reason: "the document is empty",
        }),
    }
}

/// Parses the roles byte; refuses unknown bits.
pub(crate) fn roles_from_wire(bits: u8, document: &'static str) -> Result<Roles, DirectoryError> {
    Roles::from_bits(bits).ok_or_else(|| {
        DirectoryError::field(
            document,
            "roles",
            format!(
                "unknown role bits {:#04x} are set",
                bits & !Roles::ALL.bits()
            ),
        )
    })
}

/// A relay descriptor with its signature and its exact bytes (§12.2).
///
/// Only [`RelayDescriptor::sign`] makes one directly; decoded ones come
/// wrapped in [`Unchecked`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDescriptor {
    descriptor: RelayDescriptor,
    signer: [u8; 32],
    signature: Signature,
    bytes: Vec<u8>,
    body_len: usize,
}

impl SignedDescriptor {
    /// Decodes a signed descriptor; its signatures are checked by
    /// [`Unchecked::verify`].
    pub fn decode(bytes: &[u8]) -> Result<Unchecked<Self>, DirectoryError> {
        let env: Envelope<'_> = wire::decode(bytes, DOCUMENT)?;
        Ok(Unchecked::new(Self {
            descriptor: RelayDescriptor::decode_body(env.body)?,
            signer: env.signer,
            signature: wire::sig_from_wire(&env.signature),
            bytes: bytes.to_vec(),
            body_len: env.body.len(),
        }))
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &RelayDescriptor {
        &self.descriptor
    }

    /// The descriptor, without its signature.
    pub fn into_descriptor(self) -> RelayDescriptor {
        self.descriptor
    }

    /// The signed bytes, as made or received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Encodes the document again from its fields. For a decoded descriptor
    /// this gives back exactly the bytes it came from (the form is
    /// canonical).
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        let body = self.descriptor.encode_body()?;
        Ok(Sealed::from_parts(&body, self.signer, self.signature)?.bytes)
    }

    /// The descriptor digest that votes list: SHA-256 of the signed bytes.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(&self.bytes).into()
    }
}

impl Verifiable for SignedDescriptor {
    type Keys = ();

    /// The envelope's signer must be the descriptor's identity (else the
    /// identity is forged), its signature must verify, and so must the
    /// onion-key certificate under the same identity.
    fn check_signatures(&self, _: &()) -> Result<Validity, DirectoryError> {
        let d = &self.descriptor;
        if self.signer != *d.identity.as_bytes() {
            return Err(DirectoryError::ForgedSigner {
                document: DOCUMENT,
                claimed: d.identity.to_string(),
                signer: wire::hex(&self.signer),
            });
        }
        let body = envelope_body(&self.bytes, self.body_len)?;
        check_signature(
            DESCRIPTOR_LABEL,
            body,
            &d.identity,
            &self.signature,
            DOCUMENT,
        )?;
        d.onion_cert.verify(&d.identity)?;
        Ok(Validity::new(DOCUMENT, d.validity()))
    }
}

#[cfg(test)]
mod test;
