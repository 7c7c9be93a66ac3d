//! Onion service key blinding per time period (docs/spec.md §6), following
//! Tor's rend-spec-v3 appendix A.2 with Warren's own domain strings.
//!
//! For identity key `A = a·G` and time period `N`, the blinding factor is
//! `h = clamp(SHA3-256(BLIND_STRING | A | B | N))`; the blinded key is
//! `A' = h·A` with secret scalar `a' = h·a mod ℓ`. Anyone who knows `A` (the
//! address) computes `A'`; only the service can sign with it; and `A'` of
//! different periods cannot be linked without `A`.

use core::fmt;

use curve25519_dalek::scalar::{Scalar, clamp_integer};
use ed25519_dalek::VerifyingKey;
use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
use sha2::{Digest, Sha512};
use sha3::Sha3_256;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;
use crate::keys::{
    KEY_LEN, ServiceIdentity, ServiceIdentityKeypair, Signature, decompress_checked, parse_ed25519,
    verify_ed25519, write_short_hex,
};

/// Offset of period 0 from the Unix epoch, in minutes (12 hours, as Tor).
const ROTATION_OFFSET_MINUTES: u64 = 12 * 60;

/// BLIND_STRING (§6.2): the label, then one zero byte.
const BLIND_STRING: &[u8] = b"warren-blind-key\0";
/// The prefix of N (§6.2).
const PERIOD_STRING: &[u8] = b"warren-key-blind";
/// B (§6.2): the Ed25519 base point as Tor writes it, in decimal.
const BASEPOINT_STRING: &[u8] = b"(15112221349535400772501151409588531511454012693041857206046113283949847762202, 46316835694926478169428394003475163141307993866256225615783033603165251855960)";
/// Label for the blinded nonce prefix (§6.3).
const PREFIX_STRING: &[u8] = b"warren-blind-prefix";
/// Labels for the subcredential (§6.4).
const CREDENTIAL_STRING: &[u8] = b"warren-credential";
const SUBCREDENTIAL_STRING: &[u8] = b"warren-subcredential";

/// What a blinded public key is called in errors.
const BLINDED_WHAT: &str = "blinded onion service key";

/// A time period: period `number` of `length_minutes` minutes, counted from
/// 12:00 UTC on 1970-01-01 (§6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimePeriod {
    /// The period number.
    pub number: u64,
    /// The period length in minutes (1440 on the public network).
    pub length_minutes: u32,
}

impl TimePeriod {
    /// The period of length `length_minutes` that contains `unix_secs`:
    /// `number = (unix_secs / 60 - 720) / length_minutes`.
    pub fn containing(unix_secs: u64, length_minutes: u32) -> Result<Self, CryptoError> {
        if length_minutes == 0 {
            return Err(CryptoError::TimePeriodLength);
        }
        let since_offset = (unix_secs / 60)
            .checked_sub(ROTATION_OFFSET_MINUTES)
            .ok_or(CryptoError::TimeBeforeFirstPeriod { unix_secs })?;
        Ok(Self {
            number: since_offset / u64::from(length_minutes),
            length_minutes,
        })
    }

    /// When this period starts, in seconds since the Unix epoch (saturating
    /// at `u64::MAX` for absurd period numbers).
    pub fn start_unix_secs(&self) -> u64 {
        self.number
            .saturating_mul(u64::from(self.length_minutes))
            .saturating_add(ROTATION_OFFSET_MINUTES)
            .saturating_mul(60)
    }

    /// The following period (the last period number is its own successor).
    pub fn next(&self) -> Self {
        Self {
            number: self.number.saturating_add(1),
            length_minutes: self.length_minutes,
        }
    }

    /// N = "warren-key-blind" | INT_8(number) | INT_8(length_minutes) (§6.2).
    fn nonce_parts(&self) -> [[u8; 8]; 2] {
        [
            self.number.to_be_bytes(),
            u64::from(self.length_minutes).to_be_bytes(),
        ]
    }
}

/// The unclamped blinding hash SHA3-256(BLIND_STRING | A | B | N) (§6.2).
fn blinding_hash(identity: &[u8; KEY_LEN], period: TimePeriod) -> [u8; 32] {
    let [number, length] = period.nonce_parts();
    Sha3_256::new()
        .chain_update(BLIND_STRING)
        .chain_update(identity)
        .chain_update(BASEPOINT_STRING)
        .chain_update(PERIOD_STRING)
        .chain_update(number)
        .chain_update(length)
        .finalize()
        .into()
}

/// An onion service's blinded public key for one time period (§6.2): the
/// 32-byte encoding, checked when parsed (§2.1).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlindedPublicKey {
    bytes: [u8; KEY_LEN],
}

impl BlindedPublicKey {
    /// Parses a blinded key: the canonical encoding of a point of large
    /// order (§2.1).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Result<Self, CryptoError> {
        parse_ed25519(bytes, BLINDED_WHAT)?;
        Ok(Self { bytes: *bytes })
    }

    /// The 32-byte encoding.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Verifies `sig` over `msg` with strict RFC 8032 rules.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), CryptoError> {
        verify_ed25519(&self.bytes, msg, sig, BLINDED_WHAT)
    }
}

impl fmt::Debug for BlindedPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindedPublicKey(")?;
        write_short_hex(f, self.as_bytes())?;
        f.write_str(")")
    }
}

/// An onion service's blinded signing key for one time period: scalar `a'`
/// and nonce prefix (§6.3).
pub struct BlindedKeypair {
    /// Zeroized on drop by `ed25519-dalek`.
    secret: ExpandedSecretKey,
    /// `A' = a'·G`.
    public: VerifyingKey,
}

impl BlindedKeypair {
    /// Signs `msg`: Ed25519 (RFC 8032) with scalar `a'` and the blinded
    /// nonce prefix, so the signature verifies under [`Self::public`].
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(raw_sign::<Sha512>(&self.secret, msg, &self.public).to_bytes())
    }

    /// The blinded public key `A'`.
    pub fn public(&self) -> BlindedPublicKey {
        BlindedPublicKey {
            bytes: self.public.to_bytes(),
        }
    }
}

impl ZeroizeOnDrop for BlindedKeypair {}

impl fmt::Debug for BlindedKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindedKeypair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

impl ServiceIdentityKeypair {
    /// The blinded signing key for `period` (§6.3).
    pub fn blind(&self, period: TimePeriod) -> BlindedKeypair {
        let h = blinding_hash(self.public().as_bytes(), period);
        let esk = ExpandedSecretKey::from(self.signing_key().as_bytes());
        let factor = Zeroizing::new(Scalar::from_bytes_mod_order(clamp_integer(h)));
        let prefix: Zeroizing<[u8; 64]> = Zeroizing::new(
            Sha512::new()
                .chain_update(PREFIX_STRING)
                .chain_update(esk.hash_prefix)
                .chain_update(h)
                .finalize()
                .into(),
        );
        let mut hash_prefix = [0u8; 32];
        hash_prefix.copy_from_slice(prefix.get(..32).unwrap_or_default());
        let secret = ExpandedSecretKey {
            scalar: *factor * esk.scalar,
            hash_prefix,
        };
        let public = VerifyingKey::from(&secret);
        BlindedKeypair { secret, public }
    }
}

impl ServiceIdentity {
    /// The blinded public key `A' = h·A` for `period` (§6.2).
    pub fn blind(&self, period: TimePeriod) -> Result<BlindedPublicKey, CryptoError> {
        let h = blinding_hash(self.as_bytes(), period);
        let point = decompress_checked(self.as_bytes())?.to_edwards();
        let key = VerifyingKey::from(point.mul_clamped(h));
        if key.is_weak() {
            return Err(CryptoError::InvalidPublicKey {
                what: BLINDED_WHAT,
                reason: "blinding gave a point of small order",
            });
        }
        Ok(BlindedPublicKey {
            bytes: key.to_bytes(),
        })
    }

    /// The subcredential for `period` (§6.4):
    /// `SHA3-256("warren-subcredential" | SHA3-256("warren-credential" | A) | A')`.
    pub fn subcredential(&self, period: TimePeriod) -> Result<[u8; 32], CryptoError> {
        let blinded = self.blind(period)?;
        let credential = Sha3_256::new()
            .chain_update(CREDENTIAL_STRING)
            .chain_update(self.as_bytes())
            .finalize();
        Ok(Sha3_256::new()
            .chain_update(SUBCREDENTIAL_STRING)
            .chain_update(credential)
            .chain_update(blinded.as_bytes())
            .finalize()
            .into())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    const DAY: u32 = 1440;

    #[test]
    fn time_periods() {
        let p = TimePeriod::containing(1_700_000_000, DAY).unwrap();
        // 1_700_000_000 s = 28_333_333 min; minus 720 = 28_332_613; / 1440 = 19_675.
        assert_eq!(p.number, 19_675);
        assert_eq!(p.start_unix_secs(), (19_675 * 1440 + 720) * 60);
        assert!(p.start_unix_secs() <= 1_700_000_000);
        assert!(p.next().start_unix_secs() > 1_700_000_000);
        assert_eq!(TimePeriod::containing(43_200, DAY).unwrap().number, 0);
        assert_eq!(
            TimePeriod::containing(43_199, DAY),
            Err(CryptoError::TimeBeforeFirstPeriod { unix_secs: 43_199 })
        );
        assert_eq!(
            TimePeriod::containing(1, 0),
            Err(CryptoError::TimePeriodLength)
        );
        let last = TimePeriod {
            number: u64::MAX,
            length_minutes: DAY,
        };
        assert_eq!(last.start_unix_secs(), u64::MAX);
        assert_eq!(last.next(), last);
    }

    #[test]
    fn blinded_signatures() {
        let kp = ServiceIdentityKeypair::from_secret_bytes([0x11; 32]);
        let now = TimePeriod {
            number: 20_000,
            length_minutes: DAY,
        };
        let blinded = kp.blind(now);
        assert_eq!(blinded.public(), kp.public().blind(now).unwrap());
        let sig = blinded.sign(b"descriptor");
        blinded.public().verify(b"descriptor", &sig).unwrap();
        assert!(blinded.public().verify(b"descriptoR", &sig).is_err());
        let later = kp.public().blind(now.next()).unwrap();
        assert_ne!(later, blinded.public());
        assert!(later.verify(b"descriptor", &sig).is_err());
        assert!(kp.public().verify(b"descriptor", &sig).is_err());
        let parsed = BlindedPublicKey::from_bytes(blinded.public().as_bytes()).unwrap();
        assert_eq!(parsed, blinded.public());
    }

    #[test]
    fn nonces_differ_between_periods() {
        let kp = ServiceIdentityKeypair::from_secret_bytes([0x22; 32]);
        let p = TimePeriod {
            number: 5,
            length_minutes: DAY,
        };
        let a = kp.blind(p).sign(b"same message");
        let b = kp.blind(p.next()).sign(b"same message");
        // R (the first half) must differ, or the two signatures would leak `a`.
        assert_ne!(a.0[..32], b.0[..32]);
    }

    #[test]
    fn subcredentials_differ_by_period() {
        let id = ServiceIdentityKeypair::from_secret_bytes([0x33; 32]).public();
        let p = TimePeriod {
            number: 5,
            length_minutes: DAY,
        };
        assert_ne!(
            id.subcredential(p).unwrap(),
            id.subcredential(p.next()).unwrap()
        );
        let other = TimePeriod {
            number: 5,
            length_minutes: 60,
        };
        assert_ne!(
            id.subcredential(p).unwrap(),
            id.subcredential(other).unwrap()
        );
    }

    #[test]
    fn debug_is_redacted() {
        let kp = ServiceIdentityKeypair::from_secret_bytes([0x44; 32]);
        let text = format!(
            "{:?}",
            kp.blind(TimePeriod {
                number: 1,
                length_minutes: DAY
            })
        );
        assert!(
            text.starts_with("BlindedKeypair { public: BlindedPublicKey("),
            "{text}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn blinding_commutes(secret in any::<[u8; 32]>(), number in any::<u64>(), len in 1u32..100_000) {
            let kp = ServiceIdentityKeypair::from_secret_bytes(secret);
            let p = TimePeriod { number, length_minutes: len };
            let blinded = kp.blind(p);
            prop_assert_eq!(blinded.public(), kp.public().blind(p).unwrap());
            let sig = blinded.sign(&secret);
            prop_assert!(blinded.public().verify(&secret, &sig).is_ok());
        }
    }
}
