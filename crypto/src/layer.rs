//! Relay-layer crypto: one ChaCha20 layer per hop and direction, and a
//! Poly1305 tag that only the addressed hop checks (docs/spec.md §5).
//!
//! A relay body is 512 bytes, exactly 8 ChaCha20 blocks:
//!
//! ```text
//! body[0..8]    marker: all zero when the cell is addressed to this layer
//! body[8..24]   tag: Poly1305(otk, body[24..512])
//! body[24..512] covered bytes
//! ```
//!
//! Cell number `n` of a layer uses nonce `0x00000000 | n (u64, big endian)`.
//! Keystream block 0 gives the Poly1305 one-time key (as RFC 8439); blocks
//! 1..=8 are XORed over the body. A hop that passes a cell on spends one
//! ChaCha20 pass and, in [`LayerKey::open`], an 8-byte comparison: block 0
//! and the tag are computed only when the marker is zero (§5.3, §5.6).

use core::fmt;

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;

/// Length of a relay cell body: exactly 8 ChaCha20 blocks (§5.1).
pub const RELAY_BODY_LEN: usize = 512;
/// Length of the recognition marker, `body[0..8]` (§5.1).
pub const MARKER_LEN: usize = 8;
/// Length of the Poly1305 tag, `body[8..24]` (§5.1).
pub const TAG_LEN: usize = 16;
/// Length of marker and tag together; the tag covers `body[24..512]` (§5.1).
pub const AUTH_HEADER_LEN: usize = MARKER_LEN + TAG_LEN;

/// Length of one ChaCha20 keystream block.
const BLOCK_LEN: usize = 64;

const _: () = assert!(RELAY_BODY_LEN.is_multiple_of(BLOCK_LEN));
const _: () = assert!(AUTH_HEADER_LEN < RELAY_BODY_LEN);

/// A relay cell body (§5.1).
pub type RelayBody = [u8; RELAY_BODY_LEN];

/// A relay cell's Poly1305 tag (§5.1).
pub type CellTag = [u8; TAG_LEN];

/// What [`LayerKey::open`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recognized {
    /// The cell is addressed to this layer and its tag checked out; the tag
    /// is returned (flow-control acknowledgements quote it).
    Yes(CellTag),
    /// The marker is not zero: the cell is for a later hop (or, at the last
    /// hop, is garbage and the circuit must be torn down).
    No,
}

/// One hop's layer in one direction: a ChaCha20 key and the number of the
/// next cell (§5.2).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct LayerKey {
    key: [u8; 32],
    counter: u64,
}

impl LayerKey {
    /// A layer whose first cell is number 0.
    pub fn new(key: [u8; 32]) -> Self {
        Self::with_counter(key, 0)
    }

    /// A layer whose next cell is number `counter` (for test vectors, and to
    /// resume a layer).
    pub fn with_counter(key: [u8; 32], counter: u64) -> Self {
        Self { key, counter }
    }

    /// How many cells this layer has processed: the number of the next cell.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// Adds or removes this layer, for a cell that is passed on (§5.3).
    pub fn xor(&mut self, body: &mut RelayBody) -> Result<(), CryptoError> {
        let mut cipher = self.next_cipher()?;
        cipher.seek(BLOCK_LEN);
        cipher.apply_keystream(body);
        Ok(())
    }

    /// Originates a cell at this layer: zeroes the marker, writes the tag
    /// over `body[24..]` into `body[8..24]`, then encrypts (§5.4).
    pub fn seal(&mut self, body: &mut RelayBody) -> Result<CellTag, CryptoError> {
        let mut cipher = self.next_cipher()?;
        let otk = one_time_key(&mut cipher);
        let (header, covered) = body.split_at_mut(AUTH_HEADER_LEN);
        let tag = compute_tag(&otk, covered);
        let (marker, tag_slot) = header.split_at_mut(MARKER_LEN);
        marker.fill(0);
        tag_slot.copy_from_slice(&tag);
        cipher.apply_keystream(body);
        Ok(tag)
    }

    /// Removes this layer and checks whether the cell is addressed here
    /// (§5.5): a zero marker means it should be, and then the tag must match.
    pub fn open(&mut self, body: &mut RelayBody) -> Result<Recognized, CryptoError> {
        let mut cipher = self.next_cipher()?;
        cipher.seek(BLOCK_LEN);
        cipher.apply_keystream(body);
        let (header, covered) = body.split_at(AUTH_HEADER_LEN);
        let (marker, received) = header.split_at(MARKER_LEN);
        if marker.iter().any(|&b| b != 0) {
            return Ok(Recognized::No);
        }
        cipher.seek(0u64);
        let otk = one_time_key(&mut cipher);
        let tag = compute_tag(&otk, covered);
        if bool::from(tag.ct_eq(received)) {
            Ok(Recognized::Yes(tag))
        } else {
            Err(CryptoError::BadTag)
        }
    }

    /// A ChaCha20 instance for the next cell; advances the counter.
    fn next_cipher(&mut self) -> Result<ChaCha20, CryptoError> {
        let n = self.counter;
        if n == u64::MAX {
            return Err(CryptoError::CounterExhausted);
        }
        self.counter = n.wrapping_add(1);
        Ok(ChaCha20::new((&self.key).into(), &nonce(n).into()))
    }
}

/// Length of the key material a handshake yields: `Kf | Kb | KH` (§4.2).
pub const HOP_KEY_MATERIAL_LEN: usize = 96;

/// The keys one circuit hop shares with the client (§4.2, §5.2).
///
/// `forward` protects cells travelling away from the client: the client adds
/// the layer (`seal` or `xor`), the relay removes it (`open`). `backward`
/// protects cells travelling towards the client: the relay adds it, the
/// client removes it. Both sides hold identical values.
#[derive(Debug)]
pub struct HopKeys {
    /// Layer for cells away from the client, from `Kf`.
    pub forward: LayerKey,
    /// Layer for cells towards the client, from `Kb`.
    pub backward: LayerKey,
    /// `KH`, which binds this hop's handshake to later protocol steps.
    pub binding: CircuitBinding,
}

impl HopKeys {
    /// The far end's view of `from_key_material(okm)`: `Kf` and `Kb`
    /// exchanged. The two ends of an end-to-end virtual hop use one each,
    /// so that what one seals forward the other opens as coming towards it
    /// (§16.3).
    pub fn from_key_material_reversed(okm: &[u8; HOP_KEY_MATERIAL_LEN]) -> Self {
        let mut swapped = [0u8; HOP_KEY_MATERIAL_LEN];
        swapped
            .iter_mut()
            .zip(
                okm.iter()
                    .skip(32)
                    .take(32)
                    .chain(okm.iter().take(32))
                    .chain(okm.iter().skip(64)),
            )
            .for_each(|(d, s)| *d = *s);
        let out = Self::from_key_material(&swapped);
        swapped.zeroize();
        out
    }

    /// Splits handshake output `Kf (32) | Kb (32) | KH (32)` (§4.2).
    pub fn from_key_material(okm: &[u8; HOP_KEY_MATERIAL_LEN]) -> Self {
        let mut parts = okm.chunks_exact(32).map(|c| {
            let mut k = [0u8; 32];
            k.copy_from_slice(c);
            k
        });
        let mut next = || parts.next().unwrap_or_default();
        Self {
            forward: LayerKey::new(next()),
            backward: LayerKey::new(next()),
            binding: CircuitBinding(next()),
        }
    }
}

/// `KH`: 32 secret bytes that name one hop's handshake, used to bind later
/// steps (such as onion service rendezvous) to this circuit (§4.2).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct CircuitBinding([u8; 32]);

impl CircuitBinding {
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256 keyed with `KH` over `label | data`: binds a later
    /// protocol step to this hop's handshake (ESTABLISH_INTRO's
    /// `handshake_auth`, §16.1).
    pub fn authenticate(&self, label: &[u8], data: &[u8]) -> Result<[u8; 32], CryptoError> {
        crate::kdf::hmac_sha256(&self.0, &[label, data])
    }

    /// Whether `mac` is [`Self::authenticate`]'s value for `label | data`,
    /// compared in constant time.
    pub fn verify(&self, label: &[u8], data: &[u8], mac: &[u8; 32]) -> bool {
        self.authenticate(label, data)
            .is_ok_and(|expected| bool::from(expected.ct_eq(mac)))
    }
}

impl fmt::Debug for CircuitBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CircuitBinding(..)")
    }
}

impl fmt::Debug for LayerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerKey")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// The nonce of cell number `n`: 4 zero bytes, then `n` big-endian (§5.2).
fn nonce(n: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    let (_, tail) = out.split_at_mut(4);
    tail.copy_from_slice(&n.to_be_bytes());
    out
}

/// The Poly1305 one-time key: the first 32 bytes of keystream block 0.
/// `cipher` must stand at block 0.
fn one_time_key(cipher: &mut ChaCha20) -> Zeroizing<[u8; 32]> {
    let mut otk = Zeroizing::new([0u8; 32]);
    cipher.apply_keystream(&mut otk[..]);
    cipher.seek(BLOCK_LEN);
    otk
}

/// Poly1305 (RFC 8439 §2.5) of `covered` under one-time key `otk`.
fn compute_tag(otk: &[u8; 32], covered: &[u8]) -> CellTag {
    Poly1305::new(otk.into()).compute_unpadded(covered).into()
}

#[cfg(test)]
mod test {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    fn body(seed: u8) -> RelayBody {
        core::array::from_fn(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
    }

    #[test]
    fn one_time_key_matches_rfc8439_2_6_2() {
        let key = hex!("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        // RFC 8439 §2.6.2 uses nonce 00000000 0001020304050607: cell 0x0001020304050607.
        let n = 0x0001_0203_0405_0607;
        assert_eq!(nonce(n), hex!("000000000001020304050607"));
        let mut cipher = ChaCha20::new(&key.into(), &nonce(n).into());
        let otk = one_time_key(&mut cipher);
        assert_eq!(
            *otk,
            hex!("8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646")
        );
    }

    #[test]
    fn seal_then_open_recognises() {
        let mut tx = LayerKey::new([3; 32]);
        let mut rx = LayerKey::new([3; 32]);
        let plain = body(1);
        let mut cell = plain;
        let tag = tx.seal(&mut cell).unwrap();
        assert_eq!(rx.open(&mut cell).unwrap(), Recognized::Yes(tag));
        assert_eq!(cell[AUTH_HEADER_LEN..], plain[AUTH_HEADER_LEN..]);
        assert_eq!((tx.counter(), rx.counter()), (1, 1));
    }

    #[test]
    fn three_hops_onion() {
        let keys = [[1u8; 32], [2; 32], [3; 32]];
        let mut client: Vec<LayerKey> = keys.iter().map(|k| LayerKey::new(*k)).collect();
        let mut relays: Vec<LayerKey> = keys.iter().map(|k| LayerKey::new(*k)).collect();
        let plain = body(9);
        let mut cell = plain;
        client[2].seal(&mut cell).unwrap();
        client[1].xor(&mut cell).unwrap();
        client[0].xor(&mut cell).unwrap();
        assert_eq!(relays[0].open(&mut cell).unwrap(), Recognized::No);
        assert_eq!(relays[1].open(&mut cell).unwrap(), Recognized::No);
        assert!(matches!(
            relays[2].open(&mut cell).unwrap(),
            Recognized::Yes(_)
        ));
        assert_eq!(cell[AUTH_HEADER_LEN..], plain[AUTH_HEADER_LEN..]);
    }

    #[test]
    fn replay_and_reorder_fail() {
        let mut tx = LayerKey::new([5; 32]);
        let mut rx = LayerKey::new([5; 32]);
        let mut first = body(1);
        let mut second = body(2);
        tx.seal(&mut first).unwrap();
        tx.seal(&mut second).unwrap();
        // Delivered out of order: cell 1 is opened as cell 0.
        assert!(!matches!(rx.open(&mut second), Ok(Recognized::Yes(_))));
    }

    #[test]
    fn counter_exhaustion() {
        let mut k = LayerKey::with_counter([0; 32], u64::MAX - 1);
        let mut b = body(0);
        k.xor(&mut b).unwrap();
        assert_eq!(k.xor(&mut b), Err(CryptoError::CounterExhausted));
        assert_eq!(k.seal(&mut b), Err(CryptoError::CounterExhausted));
        assert_eq!(k.open(&mut b), Err(CryptoError::CounterExhausted));
        assert_eq!(k.counter(), u64::MAX);
    }

    #[test]
    fn xor_is_keystream_from_block_one() {
        let mut k = LayerKey::new([7; 32]);
        let mut b = [0u8; RELAY_BODY_LEN];
        k.xor(&mut b).unwrap();
        let mut stream = [0u8; BLOCK_LEN + RELAY_BODY_LEN];
        ChaCha20::new(&[7; 32].into(), &nonce(0).into()).apply_keystream(&mut stream);
        assert_eq!(b[..], stream[BLOCK_LEN..]);
    }

    #[test]
    fn debug_is_redacted() {
        let k = LayerKey::new([0x42; 32]);
        assert_eq!(format!("{k:?}"), "LayerKey { counter: 0, .. }");
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(key in any::<[u8; 32]>(), ctr in any::<u64>(), fill in any::<u8>()) {
            let ctr = ctr.min(u64::MAX - 1);
            let mut tx = LayerKey::with_counter(key, ctr);
            let mut rx = LayerKey::with_counter(key, ctr);
            let plain = body(fill);
            let mut cell = plain;
            let tag = tx.seal(&mut cell).unwrap();
            prop_assert_eq!(rx.open(&mut cell).unwrap(), Recognized::Yes(tag));
            prop_assert_eq!(&cell[AUTH_HEADER_LEN..], &plain[AUTH_HEADER_LEN..]);
            prop_assert_eq!(&cell[..MARKER_LEN], &[0u8; MARKER_LEN][..]);
            prop_assert_eq!(&cell[MARKER_LEN..AUTH_HEADER_LEN], &tag[..]);
        }

        #[test]
        fn xor_twice_is_identity(key in any::<[u8; 32]>(), ctr in 0..u64::MAX, fill in any::<u8>()) {
            let plain = body(fill);
            let mut cell = plain;
            LayerKey::with_counter(key, ctr).xor(&mut cell).unwrap();
            prop_assert_ne!(cell, plain);
            LayerKey::with_counter(key, ctr).xor(&mut cell).unwrap();
            prop_assert_eq!(cell, plain);
        }

        #[test]
        fn any_bit_flip_is_caught(key in any::<[u8; 32]>(), fill in any::<u8>(), bit in 0..RELAY_BODY_LEN * 8) {
            let mut cell = body(fill);
            LayerKey::new(key).seal(&mut cell).unwrap();
            cell[bit / 8] ^= 1 << (bit % 8);
            let got = LayerKey::new(key).open(&mut cell);
            prop_assert!(matches!(got, Err(CryptoError::BadTag) | Ok(Recognized::No)), "{:?}", got);
            if bit < MARKER_LEN * 8 {
                prop_assert_eq!(got, Ok(Recognized::No));
            } else {
                prop_assert_eq!(got, Err(CryptoError::BadTag));
            }
        }
    }
}
