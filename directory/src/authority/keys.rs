//! Directory authority keys (docs/spec.md §12.4): a long-term identity key,
//! kept offline, and a medium-term signing key that it certifies.
//!
//! Both are Ed25519 keys with the checks of §2.1. They wrap the relay key
//! types of `warren-crypto` (the same curve, encoding and key files) in
//! types of their own, so that an authority's identity cannot be passed
//! where its signing key is meant, nor either where a relay's identity is.

use core::fmt;
use core::str::FromStr;

use rand_core::CryptoRng;
use warren_crypto::keyfile::{KeyFile, KeyKind, decode_key_file, encode_key_file};
use warren_crypto::{CryptoError, RelayIdentity, RelayIdentityKeypair};
use zeroize::Zeroizing;

/// Defines an authority keypair type over [`RelayIdentityKeypair`] and its
/// public-key type over [`RelayIdentity`].
macro_rules! authority_key {
    ($(#[$kmeta:meta])* $Keypair:ident, $(#[$pmeta:meta])* $Public:ident) => {
        $(#[$kmeta])*
        #[derive(Debug)]
        pub struct $Keypair(RelayIdentityKeypair);

        impl $Keypair {
            /// Generates a fresh keypair from `rng`.
            pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
                Self(RelayIdentityKeypair::generate(rng))
            }

            /// Rebuilds a keypair from its 32-byte Ed25519 seed.
            pub fn from_secret_bytes(bytes: [u8; 32]) -> Self {
                Self(RelayIdentityKeypair::from_secret_bytes(bytes))
            }

            /// The 32-byte secret seed, the form a key file stores (§2.5).
            pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
                self.0.secret_bytes()
            }

            /// The public half.
            pub fn public(&self) -> $Public {
                $Public(self.0.public())
            }

            /// The underlying Ed25519 keypair.
            pub(crate) fn ed25519(&self) -> &RelayIdentityKeypair {
                &self.0
            }
        }

        $(#[$pmeta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $Public(RelayIdentity);

        impl $Public {
            /// Parses a public key with the checks of §2.1.
            pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, CryptoError> {
                RelayIdentity::from_bytes(bytes).map(Self)
            }

            /// The 32-byte encoding.
            pub fn as_bytes(&self) -> &[u8; 32] {
                self.0.as_bytes()
            }

            /// The underlying Ed25519 public key.
            pub(crate) fn ed25519(&self) -> &RelayIdentity {
                &self.0
            }
        }

        impl fmt::Display for $Public {
            /// The 64-character lowercase hex form used in configuration.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $Public {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($Public), "({})"), self.0)
            }
        }

        impl FromStr for $Public {
            type Err = CryptoError;

            /// Parses the 64-digit hex form (either case).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

/// Implements [`KeyFile`] (§2.5) for an authority keypair type.
macro_rules! authority_key_file {
    ($Keypair:ty, $kind:expr) => {
        impl KeyFile for $Keypair {
            const KIND: KeyKind = $kind;

            fn to_key_file(&self) -> Zeroizing<String> {
                encode_key_file(Self::KIND, &self.secret_bytes())
            }

            fn from_key_file(text: &str) -> Result<Self, CryptoError> {
                decode_key_file(Self::KIND, text).map(|s| Self::from_secret_bytes(*s))
            }
        }
    };
}

authority_key!(
    /// An authority's long-term identity keypair (§12.4): it signs only
    /// authority certificates, so it can be kept offline.
    AuthorityIdentityKeypair,
    /// An authority's long-term identity: what clients configure.
    AuthorityIdentity
);

authority_key!(
    /// An authority's medium-term signing keypair (§12.4): it signs votes
    /// and consensus documents while its certificate is valid.
    AuthoritySigningKeypair,
    /// The public half of an [`AuthoritySigningKeypair`].
    AuthoritySigningKey
);

authority_key_file!(AuthorityIdentityKeypair, KeyKind::AuthorityIdentity);
authority_key_file!(AuthoritySigningKeypair, KeyKind::AuthoritySigning);

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn key_files_round_trip_and_name_their_kind() {
        let id = AuthorityIdentityKeypair::from_secret_bytes([7; 32]);
        let text = id.to_key_file();
        assert!(text.starts_with("warren-key v1 authority-identity\n"));
        let back = AuthorityIdentityKeypair::from_key_file(&text).unwrap();
        assert_eq!(back.public(), id.public());
        assert!(AuthoritySigningKeypair::from_key_file(&text).is_err());
    }

    #[test]
    fn text_forms() {
        let id = AuthorityIdentityKeypair::from_secret_bytes([5; 32]).public();
        let text = id.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<AuthorityIdentity>().unwrap(), id);
        assert!(format!("{id:?}").starts_with("AuthorityIdentity("));
        assert!("zz".parse::<AuthoritySigningKey>().is_err());
        let kp = AuthoritySigningKeypair::from_secret_bytes([6; 32]);
        assert_eq!(
            AuthoritySigningKeypair::from_secret_bytes(*kp.secret_bytes()).public(),
            kp.public()
        );
        assert_eq!(
            AuthoritySigningKey::from_bytes(kp.public().as_bytes()).unwrap(),
            kp.public()
        );
    }
}
