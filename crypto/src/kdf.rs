//! HMAC-SHA256 and HKDF-SHA256 over inputs given in parts
//! (docs/spec.md §4.2).
//!
//! The handshake's inputs are concatenations of keys and labels; feeding the
//! parts one after another hashes exactly the concatenation without copying
//! secret bytes into a buffer.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// HMAC-SHA256(key, parts[0] | parts[1] | …).
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| CryptoError::Internal {
            what: "HMAC key setup",
        })?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

/// HKDF-SHA256 (RFC 5869) with `salt`, IKM = parts[0] | parts[1] | …, and
/// `info`, expanded to `N` bytes.
pub(crate) fn hkdf_sha256<const N: usize>(
    salt: &[u8],
    ikm_parts: &[&[u8]],
    info: &[u8],
) -> Result<Zeroizing<[u8; N]>, CryptoError> {
    let mut extract = hkdf::HkdfExtract::<Sha256>::new(Some(salt));
    for part in ikm_parts {
        extract.input_ikm(part);
    }
    let (_prk, hkdf) = extract.finalize();
    let mut okm = Zeroizing::new([0u8; N]);
    hkdf.expand(info, &mut okm[..])
        .map_err(|_| CryptoError::Internal {
            what: "HKDF expansion length",
        })?;
    Ok(okm)
}

#[cfg(test)]
mod test {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn rfc5869_case_1_in_parts() {
        let ikm = [0x0bu8; 22];
        let (a, b) = ikm.split_at(5);
        let okm: Zeroizing<[u8; 42]> = hkdf_sha256(
            &hex!("000102030405060708090a0b0c"),
            &[a, b],
            &hex!("f0f1f2f3f4f5f6f7f8f9"),
        )
        .unwrap();
        assert_eq!(
            *okm,
            hex!(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                "34007208d5b887185865"
            )
        );
    }

    #[test]
    fn rfc4231_case_2_in_parts() {
        let tag = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]).unwrap();
        assert_eq!(
            tag,
            hex!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }
}
