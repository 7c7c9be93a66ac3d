//! Long-term keys: relay identity and onion keys, onion service identity
//! keys and client-authorisation keys (docs/spec.md §2).
//!
//! Every keypair type zeroizes its secret when dropped and prints only its
//! public half in `Debug`. Public Ed25519 keys are checked when parsed: the
//! bytes must be the canonical encoding of a curve point that is not of small
//! order (§2.1). Public X25519 keys are any 32 bytes; a low-order key is
//! caught where it is used, by the all-zero check of §4.3.

use core::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use x25519_dalek::{PublicKey, SharedSecret, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;

/// Length of every public and secret key in this module, in bytes.
pub const KEY_LEN: usize = 32;

/// Length of an Ed25519 signature, in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// An Ed25519 signature: `R` (32 bytes) then `S` (32 bytes), as RFC 8032.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    /// The 64 signature bytes.
    pub fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }

    /// The signature in the form `ed25519-dalek` verifies.
    pub(crate) fn to_dalek(self) -> ed25519_dalek::Signature {
        ed25519_dalek::Signature::from_bytes(&self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(")?;
        write_short_hex(f, &self.0)?;
        f.write_str(")")
    }
}

/// Writes the first 8 bytes of `bytes` as lowercase hex, then `…`.
pub(crate) fn write_short_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes.iter().take(8) {
        write!(f, "{b:02x}")?;
    }
    f.write_str("…")
}

/// Parses and checks an Ed25519 public key (docs/spec.md §2.1).
///
/// Rejects bytes that do not decompress to a point, non-canonical encodings
/// (so that one key has one encoding) and points of small order.
pub(crate) fn parse_ed25519(
    bytes: &[u8; KEY_LEN],
    what: &'static str,
) -> Result<VerifyingKey, CryptoError> {
    let invalid = |reason| CryptoError::InvalidPublicKey { what, reason };
    let key = VerifyingKey::from_bytes(bytes)
        .map_err(|_| invalid("the bytes are not a point on the Ed25519 curve"))?;
    if key.to_edwards().compress().as_bytes() != bytes {
        return Err(invalid("the point encoding is not canonical"));
    }
    if key.is_weak() {
        return Err(invalid("the point has small order"));
    }
    Ok(key)
}

/// Decompresses an Ed25519 public key that [`parse_ed25519`] has accepted.
pub(crate) fn decompress_checked(bytes: &[u8; KEY_LEN]) -> Result<VerifyingKey, CryptoError> {
    VerifyingKey::from_bytes(bytes).map_err(|_| CryptoError::Internal {
        what: "decompressing a checked Ed25519 key",
    })
}

/// Verifies `sig` over `msg` under the checked key `key` with RFC 8032 strict
/// rules (docs/spec.md §2.1).
pub(crate) fn verify_ed25519(
    key: &[u8; KEY_LEN],
    msg: &[u8],
    sig: &Signature,
    what: &'static str,
) -> Result<(), CryptoError> {
    decompress_checked(key)?
        .verify_strict(msg, &sig.to_dalek())
        .map_err(|_| CryptoError::BadSignature { what })
}

/// X25519 Diffie-Hellman that refuses the all-zero output (docs/spec.md §4.3).
pub(crate) fn x25519(
    secret: &StaticSecret,
    public: &[u8; KEY_LEN],
    what: &'static str,
) -> Result<SharedSecret, CryptoError> {
    let shared = secret.diffie_hellman(&PublicKey::from(*public));
    if shared.was_contributory() {
        Ok(shared)
    } else {
        Err(CryptoError::LowOrderPoint { what })
    }
}

/// Defines an Ed25519 keypair type and its public-key type.
macro_rules! ed25519_keys {
    (
        $(#[$kmeta:meta])* $Keypair:ident,
        $(#[$pmeta:meta])* $Public:ident,
        $what:literal
    ) => {
        $(#[$kmeta])*
        pub struct $Keypair {
            /// `ed25519-dalek` zeroizes its signing key when dropped.
            key: SigningKey,
        }

        impl $Keypair {
            /// Generates a fresh keypair from `rng`.
            pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
                Self { key: SigningKey::generate(rng) }
            }

            /// Rebuilds a keypair from its 32-byte secret seed (RFC 8032).
            pub fn from_secret_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
                let key = SigningKey::from_bytes(&bytes);
                bytes.zeroize();
                Self { key }
            }

            /// The 32-byte secret seed, the form a key file stores (§2.5).
            pub fn secret_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
                Zeroizing::new(self.key.to_bytes())
            }

            /// The public half.
            pub fn public(&self) -> $Public {
                $Public { bytes: self.key.verifying_key().to_bytes() }
            }

            /// Signs `msg` (pure Ed25519, RFC 8032).
            pub fn sign(&self, msg: &[u8]) -> Signature {
                Signature(self.key.sign(msg).to_bytes())
            }

            /// The `ed25519-dalek` signing key, for key blinding (§6).
            #[allow(dead_code, reason = "only some keypair types are blinded")]
            pub(crate) fn signing_key(&self) -> &SigningKey {
                &self.key
            }
        }

        impl ZeroizeOnDrop for $Keypair {}

        impl fmt::Debug for $Keypair {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($Keypair))
                    .field("public", &self.public())
                    .finish_non_exhaustive()
            }
        }

        $(#[$pmeta])*
        ///
        /// Holds the 32-byte encoding, checked by `from_bytes` (§2.1), so it
        /// is cheap to copy, compare and hash.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $Public {
            bytes: [u8; KEY_LEN],
        }

        impl $Public {
            /// Parses a public key: rejects bytes that are not the canonical
            /// encoding of a curve point of large order (§2.1).
            pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Result<Self, CryptoError> {
                parse_ed25519(bytes, concat!($what, " public key"))?;
                Ok(Self { bytes: *bytes })
            }

            /// The 32-byte encoding.
            pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
                &self.bytes
            }

            /// Verifies `sig` over `msg` with strict RFC 8032 rules.
            pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), CryptoError> {
                verify_ed25519(&self.bytes, msg, sig, $what)
            }
        }

        impl fmt::Debug for $Public {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($Public), "("))?;
                write_short_hex(f, self.as_bytes())?;
                f.write_str(")")
            }
        }
    };
}

/// Defines an X25519 keypair type and its public-key type.
macro_rules! x25519_keys {
    (
        $(#[$kmeta:meta])* $Keypair:ident,
        $(#[$pmeta:meta])* $Public:ident
    ) => {
        $(#[$kmeta])*
        pub struct $Keypair {
            /// `x25519-dalek` zeroizes its static secret when dropped.
            secret: StaticSecret,
            /// Computed once, so that a handshake never recomputes it.
            public: $Public,
        }

        impl $Keypair {
            /// Generates a fresh keypair from `rng`.
            pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
                Self::from_static(StaticSecret::random_from_rng(rng))
            }

            /// Rebuilds a keypair from its 32-byte secret (RFC 7748; any
            /// 32 bytes, clamped when used).
            pub fn from_secret_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
                let secret = StaticSecret::from(bytes);
                bytes.zeroize();
                Self::from_static(secret)
            }

            fn from_static(secret: StaticSecret) -> Self {
                let public = $Public(PublicKey::from(&secret).to_bytes());
                Self { secret, public }
            }

            /// The 32-byte secret, the form a key file stores (§2.5).
            pub fn secret_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
                Zeroizing::new(self.secret.to_bytes())
            }

            /// The public half.
            pub fn public(&self) -> $Public {
                self.public
            }

            /// The `x25519-dalek` secret.
            #[allow(dead_code, reason = "only some keypair types do handshakes")]
            pub(crate) fn static_secret(&self) -> &StaticSecret {
                &self.secret
            }
        }

        impl ZeroizeOnDrop for $Keypair {}

        impl fmt::Debug for $Keypair {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($Keypair))
                    .field("public", &self.public)
                    .finish_non_exhaustive()
            }
        }

        $(#[$pmeta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $Public([u8; KEY_LEN]);

        impl $Public {
            /// Wraps 32 bytes. Every value is accepted here; a low-order
            /// key is refused where it is used (§4.3).
            pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
                Self(bytes)
            }

            /// The 32-byte encoding.
            pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
                &self.0
            }
        }

        impl fmt::Debug for $Public {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($Public), "("))?;
                write_short_hex(f, &self.0)?;
                f.write_str(")")
            }
        }
    };
}

ed25519_keys!(
    /// A relay's long-term Ed25519 identity keypair (docs/spec.md §2.2).
    RelayIdentityKeypair,
    /// A relay's long-term Ed25519 identity: the name of the relay on the
    /// network (docs/spec.md §2.2).
    RelayIdentity,
    "relay identity"
);

ed25519_keys!(
    /// An onion service's long-term Ed25519 identity keypair
    /// (docs/spec.md §2.4). It signs nothing on the network itself: it is
    /// blinded per time period (§6).
    ServiceIdentityKeypair,
    /// An onion service's Ed25519 identity, the key a `.warren` address
    /// encodes (docs/spec.md §2.4, §3).
    ServiceIdentity,
    "onion service identity"
);

x25519_keys!(
    /// A relay's X25519 onion keypair, used in the circuit handshake and
    /// rotated (docs/spec.md §2.3, §4).
    OnionKeypair,
    /// A relay's X25519 onion public key, published in its descriptor
    /// (docs/spec.md §2.3).
    OnionPublicKey
);

x25519_keys!(
    /// A client's X25519 keypair for restricted discovery: a service lists
    /// the public half so that only this client can read its descriptor
    /// (docs/spec.md §2.4).
    ClientAuthKeypair,
    /// The public half of a [`ClientAuthKeypair`] (docs/spec.md §2.4).
    ClientAuthPublicKey
);

impl ClientAuthKeypair {
    /// X25519 with `peer`; refuses the all-zero output (docs/spec.md §4.3).
    pub fn diffie_hellman(
        &self,
        peer: &[u8; KEY_LEN],
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
        let shared = x25519(&self.secret, peer, "peer's X25519 key")?;
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

impl fmt::Display for RelayIdentity {
    /// The 64-character lowercase hex form used in configuration files.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&data_encoding::HEXLOWER.encode(self.as_bytes()))
    }
}

impl core::str::FromStr for RelayIdentity {
    type Err = CryptoError;

    /// Parses the 64-character hex form (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let what = "relay identity public key";
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .map_err(|_| CryptoError::InvalidPublicKey {
                what,
                reason: "expected 64 hexadecimal digits",
            })?;
        let bytes = <[u8; KEY_LEN]>::try_from(bytes).map_err(|b| CryptoError::BadLength {
            what,
            expected: KEY_LEN,
            found: b.len(),
        })?;
        Self::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(7)
    }

    #[test]
    fn sign_verify() {
        let kp = RelayIdentityKeypair::generate(&mut rng());
        let sig = kp.sign(b"hello");
        kp.public().verify(b"hello", &sig).unwrap();
        let err = kp.public().verify(b"hellp", &sig).unwrap_err();
        assert_eq!(
            err,
            CryptoError::BadSignature {
                what: "relay identity"
            }
        );
    }

    #[test]
    fn secret_round_trip() {
        let kp = ServiceIdentityKeypair::generate(&mut rng());
        let again = ServiceIdentityKeypair::from_secret_bytes(*kp.secret_bytes());
        assert_eq!(kp.public(), again.public());
        let ok = OnionKeypair::generate(&mut rng());
        let again = OnionKeypair::from_secret_bytes(*ok.secret_bytes());
        assert_eq!(ok.public(), again.public());
    }

    #[test]
    fn rfc8032_test_1() {
        // RFC 8032 §7.1, TEST 1.
        let kp = RelayIdentityKeypair::from_secret_bytes(hex_literal::hex!(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
        ));
        assert_eq!(
            kp.public().as_bytes(),
            &hex_literal::hex!("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        let sig = kp.sign(b"");
        assert_eq!(
            sig.0,
            hex_literal::hex!(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            )
        );
    }

    #[test]
    fn rejects_bad_points() {
        // y = 2 is not on the curve.
        let mut not_point = [0u8; 32];
        not_point[0] = 2;
        assert!(matches!(
            RelayIdentity::from_bytes(&not_point),
            Err(CryptoError::InvalidPublicKey { reason, .. }) if reason.contains("not a point")
        ));
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            ServiceIdentity::from_bytes(&identity),
            Err(CryptoError::InvalidPublicKey { reason, .. }) if reason.contains("small order")
        ));
        // y = p + 1 is a non-canonical encoding of the identity point.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert!(matches!(
            ServiceIdentity::from_bytes(&non_canonical),
            Err(CryptoError::InvalidPublicKey { reason, .. }) if reason.contains("canonical")
        ));
    }

    #[test]
    fn debug_is_redacted() {
        let kp = RelayIdentityKeypair::from_secret_bytes([0x42; 32]);
        let text = format!("{kp:?}");
        assert!(text.starts_with("RelayIdentityKeypair { public: RelayIdentity("));
        assert!(!text.contains("4242"));
        let ck = ClientAuthKeypair::from_secret_bytes([0x42; 32]);
        assert!(!format!("{ck:?}").contains("4242"));
    }

    #[test]
    fn relay_identity_text_round_trip() {
        let id = RelayIdentityKeypair::generate(&mut rng()).public();
        let text = id.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<RelayIdentity>().unwrap(), id);
        assert_eq!(text.to_uppercase().parse::<RelayIdentity>().unwrap(), id);
        assert!("abcd".parse::<RelayIdentity>().is_err());
    }

    #[test]
    fn client_auth_dh_agrees_and_refuses_zero() {
        let a = ClientAuthKeypair::generate(&mut rng());
        let b = ClientAuthKeypair::from_secret_bytes([9; 32]);
        let ab = a.diffie_hellman(b.public().as_bytes()).unwrap();
        let ba = b.diffie_hellman(a.public().as_bytes()).unwrap();
        assert_eq!(*ab, *ba);
        assert!(matches!(
            a.diffie_hellman(&[0; 32]),
            Err(CryptoError::LowOrderPoint { .. })
        ));
    }
}
