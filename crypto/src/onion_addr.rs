//! `.warren` onion service addresses (docs/spec.md §3).
//!
//! ```text
//! address  = base32(PUBKEY (32) | CHECKSUM (2) | VERSION (1)) ".warren"
//! CHECKSUM = SHA3-256(".warren checksum" | PUBKEY | VERSION)[..2]
//! VERSION  = 0x01
//! ```
//!
//! Base32 is RFC 4648 without padding, written in lower case: exactly 56
//! characters before `.warren`. Parsing accepts either case and explains
//! what is wrong with a mistyped address.

use core::fmt;
use core::str::FromStr;

use data_encoding::{BASE32_NOPAD, BASE32_NOPAD_NOCASE};
use sha3::{Digest, Sha3_256};

use crate::error::CryptoError;
use crate::keys::{KEY_LEN, ServiceIdentity};

/// The suffix every address ends in.
pub const SUFFIX: &str = ".warren";
/// Number of base32 characters before the suffix.
pub const ENCODED_LEN: usize = 56;
/// The only address version defined.
pub const VERSION: u8 = 1;

/// Length of PUBKEY | CHECKSUM | VERSION.
const PAYLOAD_LEN: usize = KEY_LEN + 2 + 1;
/// The checksum's domain string.
const CHECKSUM_STRING: &[u8] = b".warren checksum";

/// A `.warren` address: the onion service identity key it names (§3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HsAddress {
    identity: ServiceIdentity,
}

impl HsAddress {
    /// The address of the service with identity `identity`.
    pub fn from_identity(identity: ServiceIdentity) -> Self {
        Self { identity }
    }

    /// The service identity key the address names.
    pub fn identity(&self) -> &ServiceIdentity {
        &self.identity
    }

    /// PUBKEY | CHECKSUM | VERSION.
    fn payload(&self) -> [u8; PAYLOAD_LEN] {
        let pubkey = self.identity.as_bytes();
        let mut out = [0u8; PAYLOAD_LEN];
        let (key, rest) = out.split_at_mut(KEY_LEN);
        key.copy_from_slice(pubkey);
        let (sum, version) = rest.split_at_mut(2);
        sum.copy_from_slice(&checksum(pubkey, VERSION));
        version.fill(VERSION);
        out
    }
}

/// CHECKSUM = SHA3-256(".warren checksum" | PUBKEY | VERSION)[..2] (§3.1).
fn checksum(pubkey: &[u8; KEY_LEN], version: u8) -> [u8; 2] {
    let digest = Sha3_256::new()
        .chain_update(CHECKSUM_STRING)
        .chain_update(pubkey)
        .chain_update([version])
        .finalize();
    let mut out = [0u8; 2];
    out.iter_mut().zip(digest).for_each(|(o, d)| *o = d);
    out
}

impl fmt::Display for HsAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; ENCODED_LEN];
        BASE32_NOPAD.encode_mut(&self.payload(), &mut text);
        for c in text {
            write!(f, "{}", char::from(c.to_ascii_lowercase()))?;
        }
        f.write_str(SUFFIX)
    }
}

impl FromStr for HsAddress {
    type Err = CryptoError;

    /// Parses `<56 base32 characters>.warren`, in either case (§3.2).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let encoded = strip_suffix(s)?;
        check_characters(encoded)?;
        let mut payload = [0u8; PAYLOAD_LEN];
        BASE32_NOPAD_NOCASE
            .decode_mut(encoded.as_bytes(), &mut payload)
            .map_err(|_| CryptoError::Internal {
                what: "base32 decoding of a checked address",
            })?;
        let (pubkey, rest) = payload.split_at(KEY_LEN);
        let (sum, version) = rest.split_at(2);
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(pubkey);
        let version = version.first().copied().unwrap_or_default();
        if checksum(&key, version) != sum {
            return Err(CryptoError::HsAddressChecksum);
        }
        if version != VERSION {
            return Err(CryptoError::HsAddressVersion { version });
        }
        ServiceIdentity::from_bytes(&key).map(Self::from_identity)
    }
}

/// Returns what precedes `.warren` (either case); says when the suffix is
/// missing or when the address is a Tor `.onion` one.
fn strip_suffix(s: &str) -> Result<&str, CryptoError> {
    let has_suffix = |suffix: &str| {
        let cut = s.len().checked_sub(suffix.len());
        cut.and_then(|cut| s.get(cut..).map(|tail| (cut, tail)))
            .filter(|(_, tail)| tail.eq_ignore_ascii_case(suffix))
            .and_then(|(cut, _)| s.get(..cut))
    };
    if let Some(encoded) = has_suffix(SUFFIX) {
        return Ok(encoded);
    }
    if has_suffix(".onion").is_some() {
        return Err(CryptoError::HsAddressIsOnion);
    }
    Err(CryptoError::HsAddressSuffix)
}

/// Checks the length (in characters) and that each is in the base32
/// alphabet, so that errors name the position of a typo.
fn check_characters(encoded: &str) -> Result<(), CryptoError> {
    let found = encoded.chars().count();
    if found != ENCODED_LEN {
        return Err(CryptoError::HsAddressLength { found });
    }
    let bad = encoded
        .chars()
        .enumerate()
        .find(|(_, c)| !matches!(c.to_ascii_lowercase(), 'a'..='z' | '2'..='7'));
    match bad {
        Some((i, ch)) => Err(CryptoError::HsAddressChar {
            ch,
            position: i.saturating_add(1),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::keys::ServiceIdentityKeypair;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

    fn address(seed: u8) -> HsAddress {
        HsAddress::from_identity(ServiceIdentityKeypair::from_secret_bytes([seed; 32]).public())
    }

    fn err(s: &str) -> String {
        s.parse::<HsAddress>().unwrap_err().to_string()
    }

    #[test]
    fn round_trip_both_cases() {
        let a = address(1);
        let text = a.to_string();
        assert_eq!(text.len(), ENCODED_LEN + SUFFIX.len());
        assert!(text.ends_with(".warren"));
        assert_eq!(text.parse::<HsAddress>().unwrap(), a);
        assert_eq!(text.to_uppercase().parse::<HsAddress>().unwrap(), a);
    }

    #[test]
    fn mistakes_are_explained() {
        let text = address(2).to_string();
        let body = &text[..ENCODED_LEN];
        assert!(err(body).contains("must end in \".warren\""));
        assert!(err(&format!("{body}.onion")).contains("Tor .onion address"));
        assert_eq!(
            err(&format!("{}.warren", &body[1..])),
            "expected 56 characters before \".warren\", found 55"
        );
        let typo = format!("0{}.warren", &body[1..]);
        assert!(err(&typo).starts_with("invalid character '0' at position 1 "));
        let typo = format!("{}é.warren", &body[..55]);
        assert!(err(&typo).starts_with("invalid character 'é' at position 56 "));
        assert!(err("").contains("must end in"));
    }

    #[test]
    fn version_and_key_are_checked() {
        let a = address(3);
        let mut payload = a.payload();
        payload[34] = 2;
        let sum = checksum(a.identity().as_bytes(), 2);
        payload[32..34].copy_from_slice(&sum);
        let text = BASE32_NOPAD.encode(&payload) + ".warren";
        assert_eq!(
            err(&text),
            "unknown address version 2: this software understands version 1 only"
        );

        // The identity point is not a usable key, even with a good checksum.
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = 1;
        let key: [u8; 32] = payload[..32].try_into().unwrap();
        payload[32..34].copy_from_slice(&checksum(&key, 1));
        payload[34] = 1;
        let text = BASE32_NOPAD.encode(&payload) + ".warren";
        assert!(err(&text).contains("small order"));
    }

    /// Every single-character substitution of one address is caught.
    #[test]
    fn every_substitution_is_caught() {
        let text = address(4).to_string();
        for i in 0..ENCODED_LEN {
            for &c in ALPHABET {
                let mut typo = text.clone().into_bytes();
                if typo[i] == c {
                    continue;
                }
                typo[i] = c;
                let typo = String::from_utf8(typo).unwrap();
                assert!(typo.parse::<HsAddress>().is_err(), "{typo} was accepted");
            }
        }
    }

    proptest! {
        #[test]
        fn encode_parse_round_trip(secret in any::<[u8; 32]>()) {
            let a = HsAddress::from_identity(ServiceIdentityKeypair::from_secret_bytes(secret).public());
            prop_assert_eq!(a.to_string().parse::<HsAddress>().unwrap(), a);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,70}") {
            let _ = s.parse::<HsAddress>();
        }
    }

    proptest! {
        // A typo passes a 16-bit checksum with probability 2^-16; a fixed
        // seed keeps this test deterministic.
        #![proptest_config(ProptestConfig { rng_seed: RngSeed::Fixed(20), ..ProptestConfig::default() })]
        #[test]
        fn single_typos_are_detected(secret in any::<[u8; 32]>(), pos in 0..ENCODED_LEN,
                                     c in 0..ALPHABET.len() + 4, kind in 0..3u8) {
            let text = HsAddress::from_identity(ServiceIdentityKeypair::from_secret_bytes(secret).public()).to_string();
            let mut chars: Vec<char> = text.chars().collect();
            let new = *b"abcdefghijklmnopqrstuvwxyz2345670189".get(c).unwrap() as char;
            match kind {
                0 if chars[pos] != new => chars[pos] = new,
                0 => return Ok(()),
                1 => { chars.remove(pos); }
                _ => chars.insert(pos, new),
            }
            let typo: String = chars.into_iter().collect();
            let got = typo.parse::<HsAddress>().unwrap_err();
            prop_assert!(matches!(got,
                CryptoError::HsAddressChecksum
                | CryptoError::HsAddressChar { .. }
                | CryptoError::HsAddressLength { .. }), "{}: {:?}", typo, got);
            if let CryptoError::HsAddressChar { position, .. } = got {
                prop_assert_eq!(position, pos + 1);
            }
        }
    }
}
