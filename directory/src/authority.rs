//! Directory authorities (docs/spec.md §12.4): their keys, the certificate
//! by which an offline identity key delegates to a signing key, and the set
//! of authorities a client or an authority is configured with.

use serde::{Deserialize, Serialize};
use warren_crypto::Signature;

use crate::DirectoryError;
use crate::descriptor::check_version;
use crate::signed::{
    Envelope, Sealed, Unchecked, Validity, Verifiable, Window, check_signature, envelope_body,
};
use crate::wire;

mod keys;

pub use keys::{
    AuthorityIdentity, AuthorityIdentityKeypair, AuthoritySigningKey, AuthoritySigningKeypair,
};

/// The domain-separation label of authority certificates (§12.1).
pub const AUTHORITY_CERT_LABEL: &[u8] = b"warren-authority-cert-v1";
/// The certificate format version this software writes and reads.
pub const AUTHORITY_CERT_VERSION: u8 = 1;
/// The most authorities one configuration may name.
pub const MAX_AUTHORITIES: usize = 32;

/// What certificates are called in errors.
const DOCUMENT: &str = "authority certificate";

/// The wire form of a certificate body (§12.4).
#[derive(Debug, Serialize, Deserialize)]
struct WireCertBody {
    version: u8,
    identity: [u8; 32],
    signing_key: [u8; 32],
    published: u64,
    expires: u64,
}

/// An authority's identity key certifying its signing key from `published`
/// until `expires` (§12.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityCert {
    identity: AuthorityIdentity,
    signing_key: AuthoritySigningKey,
    published: u64,
    expires: u64,
    signer: [u8; 32],
    signature: Signature,
    bytes: Vec<u8>,
    body_len: usize,
}

impl AuthorityCert {
    /// `identity` certifies `signing_key` for `[published, expires]`.
    pub fn issue(
        identity: &AuthorityIdentityKeypair,
        signing_key: AuthoritySigningKey,
        published: u64,
        expires: u64,
    ) -> Result<Self, DirectoryError> {
        let body = encode_body(&identity.public(), &signing_key, published, expires)?;
        let sealed = Sealed::seal(AUTHORITY_CERT_LABEL, &body, identity.ed25519())?;
        Ok(Self {
            identity: identity.public(),
            signing_key,
            published,
            expires,
            signer: sealed.signer,
            signature: sealed.signature,
            bytes: sealed.bytes,
            body_len: body.len(),
        })
    }

    /// Decodes a certificate; its signature is checked by
    /// [`Unchecked::verify`] with the expected identity.
    pub fn decode(bytes: &[u8]) -> Result<Unchecked<Self>, DirectoryError> {
        Self::decode_inner(bytes).map(Unchecked::new)
    }

    /// Decodes a certificate without checking its signature.
    pub(crate) fn decode_inner(bytes: &[u8]) -> Result<Self, DirectoryError> {
        let env: Envelope<'_> = wire::decode(bytes, DOCUMENT)?;
        check_version(env.body, DOCUMENT, AUTHORITY_CERT_VERSION)?;
        let body: WireCertBody = wire::decode(env.body, DOCUMENT)?;
        check_times(body.published, body.expires)?;
        let bad = |field| {
            move |source| DirectoryError::BadKey {
                document: DOCUMENT,
                field,
                source,
            }
        };
        Ok(Self {
            identity: AuthorityIdentity::from_bytes(&body.identity).map_err(bad("identity"))?,
            signing_key: AuthoritySigningKey::from_bytes(&body.signing_key)
                .map_err(bad("signing key"))?,
            published: body.published,
            expires: body.expires,
            signer: env.signer,
            signature: wire::sig_from_wire(&env.signature),
            bytes: bytes.to_vec(),
            body_len: env.body.len(),
        })
    }

    /// The authority whose identity key issued the certificate.
    pub fn identity(&self) -> AuthorityIdentity {
        self.identity
    }

    /// The certified signing key.
    pub fn signing_key(&self) -> AuthoritySigningKey {
        self.signing_key
    }

    /// The first second the signing key may be used.
    pub fn published(&self) -> u64 {
        self.published
    }

    /// The last second the signing key may be used.
    pub fn expires(&self) -> u64 {
        self.expires
    }

    /// `[published, expires]`.
    pub fn validity(&self) -> Window {
        Window {
            start: self.published,
            end: self.expires,
        }
    }

    /// The signed bytes, as made or received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Encodes the certificate again from its fields. For a decoded one this
    /// gives back exactly the bytes it came from (the form is canonical).
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        let body = encode_body(
            &self.identity,
            &self.signing_key,
            self.published,
            self.expires,
        )?;
        Ok(Sealed::from_parts(&body, self.signer, self.signature)?.bytes)
    }

    /// Checks that the identity key the certificate names signed it.
    pub(crate) fn check_self_signed(&self) -> Result<(), DirectoryError> {
        if self.signer != *self.identity.as_bytes() {
            return Err(DirectoryError::ForgedSigner {
                document: DOCUMENT,
                claimed: self.identity.to_string(),
                signer: wire::hex(&self.signer),
            });
        }
        check_signature(
            AUTHORITY_CERT_LABEL,
            envelope_body(&self.bytes, self.body_len)?,
            self.identity.ed25519(),
            &self.signature,
            DOCUMENT,
        )
    }
}

/// The canonical body bytes of a certificate.
fn encode_body(
    identity: &AuthorityIdentity,
    signing_key: &AuthoritySigningKey,
    published: u64,
    expires: u64,
) -> Result<Vec<u8>, DirectoryError> {
    check_times(published, expires)?;
    wire::encode(&WireCertBody {
        version: AUTHORITY_CERT_VERSION,
        identity: *identity.as_bytes(),
        signing_key: *signing_key.as_bytes(),
        published,
        expires,
    })
}

/// Refuses a certificate that expires before it starts.
fn check_times(published: u64, expires: u64) -> Result<(), DirectoryError> {
    if expires <= published {
        return Err(DirectoryError::BadTimes {
            document: DOCUMENT,
            reason: "the certificate expires before it is published",
        });
    }
    Ok(())
}

impl Verifiable for AuthorityCert {
    type Keys = AuthorityIdentity;

    /// The certificate must be for `expected` and signed by its identity key.
    fn check_signatures(&self, expected: &AuthorityIdentity) -> Result<Validity, DirectoryError> {
        if self.identity != *expected {
            return Err(DirectoryError::WrongAuthority {
                expected: *expected,
                found: self.identity,
            });
        }
        self.check_self_signed()?;
        Ok(Validity::new(DOCUMENT, self.validity()))
    }
}

/// The directory authorities a node trusts: their identity keys, sorted,
/// each once (§12.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthoritySet {
    ids: Vec<AuthorityIdentity>,
}

impl AuthoritySet {
    /// A set of 1 to [`MAX_AUTHORITIES`] distinct authorities.
    pub fn new(ids: impl IntoIterator<Item = AuthorityIdentity>) -> Result<Self, DirectoryError> {
        let mut ids: Vec<_> = ids.into_iter().collect();
        ids.sort_unstable();
        if let Some(dup) = ids.windows(2).find_map(|w| match w {
            [a, b] if a == b => Some(*a),
            _ => None,
        }) {
            return Err(DirectoryError::DuplicateAuthority {
                what: "configured authority set",
                authority: dup,
            });
        }
        if ids.is_empty() || ids.len() > MAX_AUTHORITIES {
            return Err(DirectoryError::field(
                "authority set",
                "authorities",
                format!("{} configured, 1 to {MAX_AUTHORITIES} allowed", ids.len()),
            ));
        }
        Ok(Self { ids })
    }

    /// How many authorities are configured (`N`).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always false: a set has at least one authority.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// More than half of them: `N / 2 + 1` (§12.7, §12.8).
    pub fn needed(&self) -> usize {
        self.ids.len() / 2 + 1
    }

    /// Whether `id` is one of them.
    pub fn contains(&self, id: &AuthorityIdentity) -> bool {
        self.ids.binary_search(id).is_ok()
    }

    /// The identities, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = &AuthorityIdentity> {
        self.ids.iter()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn keys(n: u8) -> (AuthorityIdentityKeypair, AuthoritySigningKeypair) {
        (
            AuthorityIdentityKeypair::from_secret_bytes([n; 32]),
            AuthoritySigningKeypair::from_secret_bytes([n + 100; 32]),
        )
    }

    #[test]
    fn certificate_round_trip_and_expiry() {
        let (id, sk) = keys(1);
        let cert = AuthorityCert::issue(&id, sk.public(), 1_000, 2_000).unwrap();
        let decoded = AuthorityCert::decode(cert.as_bytes()).unwrap();
        let checked = decoded.verify(&id.public()).unwrap();
        assert_eq!(
            (checked.valid_after(), checked.valid_until()),
            (1_000, 2_000)
        );
        let cert2 = checked.clone().check_valid_at(1_500).unwrap();
        assert_eq!(cert2, cert);
        assert_eq!(cert2.signing_key(), sk.public());
        assert_eq!(
            checked.clone().check_valid_at(2_100),
            Err(DirectoryError::Expired {
                document: DOCUMENT,
                valid_until: 2_000,
                now: 2_100,
                by: 100
            })
        );
        assert!(matches!(
            checked.check_valid_at(999),
            Err(DirectoryError::NotYetValid { wait: 1, .. })
        ));
    }

    #[test]
    fn certificate_rejections() {
        let (id, sk) = keys(1);
        let (other, _) = keys(2);
        let cert = AuthorityCert::issue(&id, sk.public(), 1_000, 2_000).unwrap();
        let decoded = AuthorityCert::decode(cert.as_bytes()).unwrap();
        assert_eq!(
            decoded.verify(&other.public()).unwrap_err(),
            DirectoryError::WrongAuthority {
                expected: other.public(),
                found: id.public()
            }
        );
        // The identity key of another authority signs a certificate naming `id`.
        let body = wire::encode(&WireCertBody {
            version: 1,
            identity: *id.public().as_bytes(),
            signing_key: *sk.public().as_bytes(),
            published: 1_000,
            expires: 2_000,
        })
        .unwrap();
        let forged = Sealed::seal(AUTHORITY_CERT_LABEL, &body, other.ed25519()).unwrap();
        let err = AuthorityCert::decode(&forged.bytes)
            .unwrap()
            .verify(&id.public())
            .unwrap_err();
        assert!(matches!(err, DirectoryError::ForgedSigner { .. }), "{err}");
        // A flipped bit in the expiry.
        let mut altered = cert.as_bytes().to_vec();
        // The envelope ends with the signer (32) and the signature (64); the
        // byte before them is the last of the expiry's varint.
        let pos = altered.len() - 97;
        altered[pos] ^= 1;
        let err = AuthorityCert::decode(&altered)
            .map(|u| u.verify(&id.public()))
            .unwrap();
        assert!(
            matches!(err, Err(DirectoryError::BadSignature { .. })),
            "{err:?}"
        );
        assert!(matches!(
            AuthorityCert::issue(&id, sk.public(), 2_000, 2_000),
            Err(DirectoryError::BadTimes { .. })
        ));
    }

    #[test]
    fn sets() {
        let ids: Vec<_> = (1..=5).map(|n| keys(n).0.public()).collect();
        let set = AuthoritySet::new(ids.clone()).unwrap();
        assert_eq!((set.len(), set.needed()), (5, 3));
        assert!(set.contains(&ids[3]));
        assert!(!set.contains(&keys(9).0.public()));
        assert_eq!(AuthoritySet::new(ids[..4].to_vec()).unwrap().needed(), 3);
        assert_eq!(AuthoritySet::new(ids[..1].to_vec()).unwrap().needed(), 1);
        assert!(matches!(
            AuthoritySet::new([ids[0], ids[1], ids[0]]),
            Err(DirectoryError::DuplicateAuthority { .. })
        ));
        assert!(AuthoritySet::new([]).is_err());
    }
}
