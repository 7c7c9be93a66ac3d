//! The encryption of onion-service descriptor layers (docs/spec.md §15.2):
//! a key per layer from HKDF-SHA256 over the layer's inputs, and
//! ChaCha20-Poly1305 with a zero nonce (each key seals one message only,
//! since every layer has a fresh random salt among its inputs).

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::kdf::hkdf_sha256;

/// The authentication tag added to every sealed layer.
pub const SEAL_TAG_LEN: usize = 16;

/// A layer key from HKDF-SHA256 with `label` as salt, the parts as input
/// keying material and info `"warren-hs-layer"`.
pub fn layer_key(label: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    hkdf_sha256::<32>(label, parts, b"warren-hs-layer")
}

/// `N` bytes of key material, for values that are not layer keys (the
/// client entries of restricted discovery).
pub fn derive<const N: usize>(
    label: &[u8],
    parts: &[&[u8]],
) -> Result<Zeroizing<[u8; N]>, CryptoError> {
    hkdf_sha256::<N>(label, parts, b"warren-hs-derive")
}

/// Seals `plaintext` under `key`: ciphertext then tag.
pub fn seal(key: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    ChaCha20Poly1305::new(&Key::from(*key))
        .encrypt(&Nonce::from([0u8; 12]), plaintext)
        .map_err(|_| CryptoError::Internal {
            what: "descriptor layer encryption",
        })
}

/// Opens what [`seal`] made; a wrong key or any altered byte is
/// [`CryptoError::SealedLayer`].
pub fn open(key: &[u8; 32], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    ChaCha20Poly1305::new(&Key::from(*key))
        .decrypt(&Nonce::from([0u8; 12]), sealed)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::SealedLayer)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_what_was_altered() {
        let key = layer_key(b"label", &[b"a", b"b"]).unwrap();
        let sealed = seal(&key, b"intro points").unwrap();
        assert_eq!(sealed.len(), 12 + SEAL_TAG_LEN);
        assert_eq!(&open(&key, &sealed).unwrap()[..], b"intro points");
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert_eq!(open(&key, &bad).unwrap_err(), CryptoError::SealedLayer);
        let other = layer_key(b"label", &[b"a", b"c"]).unwrap();
        assert_eq!(open(&other, &sealed).unwrap_err(), CryptoError::SealedLayer);
    }
}
