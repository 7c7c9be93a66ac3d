//! The onion-service handshake (docs/spec.md §16.3): the client encrypts
//! its introduction to the service's per-intro-point X25519 key, the
//! service answers at the rendezvous point, and both derive the keys of the
//! end-to-end hop. Modelled on Tor's hs-ntor, with Warren's labels and an
//! AEAD in place of a stream cipher and a separate MAC.
//!
//! ```text
//! client  → service  X (32) | ChaCha20-Poly1305(ENC_KEY, header, plaintext)   INTRODUCE1 `encrypted`
//! service → client   Y (32) | AUTH (32)                                      RENDEZVOUS1 `handshake`
//! ```

use core::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;
use crate::kdf::{hkdf_sha256, hmac_sha256};
use crate::keys::{ClientAuthKeypair, ClientAuthPublicKey, KEY_LEN, x25519};
use crate::layer::{HOP_KEY_MATERIAL_LEN, HopKeys};
use crate::ntor::EphemeralSecret;

/// Expands to the handshake's protocol identifier.
macro_rules! hs_protoid {
    () => {
        "warren-hs-ntor-x25519-sha256-1"
    };
}

/// PROTOID of the onion-service handshake (§16.3).
pub const HS_PROTOID: &[u8] = hs_protoid!().as_bytes();
/// The HKDF salt of the introduction key and the HMAC key of the key seed.
const T_HSENC: &[u8] = concat!(hs_protoid!(), ":hs_key_extract").as_bytes();
/// The HMAC key of `verify`.
const T_HSVERIFY: &[u8] = concat!(hs_protoid!(), ":hs_verify").as_bytes();
/// The HMAC key of AUTH.
const T_HSMAC: &[u8] = concat!(hs_protoid!(), ":hs_mac").as_bytes();
/// The HKDF info.
const M_HSEXPAND: &[u8] = concat!(hs_protoid!(), ":hs_key_expand").as_bytes();
/// The label of a client's proof of its key (§16.3).
const CLIENT_PROOF_LABEL: &[u8] = b"warren-hs-client-proof";
/// The last part of auth_input.
const SERVER: &[u8] = b"Server";

/// The length of the service's answer: `Y | AUTH`.
pub const HS_REPLY_LEN: usize = 2 * KEY_LEN;
/// What the handshake adds to the plaintext of an introduction: `X` and the
/// AEAD tag.
pub const HS_INTRO_OVERHEAD: usize = KEY_LEN + 16;

/// The service's X25519 keypair at one introduction point: INTRODUCE is
/// encrypted to its public half (the descriptor's `enc_key`, §15.2).
pub struct IntroEncKeypair {
    secret: StaticSecret,
    public: [u8; KEY_LEN],
}

impl IntroEncKeypair {
    /// A fresh keypair.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let secret = StaticSecret::random_from_rng(rng);
        let public = PublicKey::from(&secret).to_bytes();
        Self { secret, public }
    }

    /// A keypair from its secret bytes (test vectors).
    pub fn from_secret_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let secret = StaticSecret::from(bytes);
        let public = PublicKey::from(&secret).to_bytes();
        Self { secret, public }
    }

    /// The public half, `B` of §16.3.
    pub fn public(&self) -> [u8; KEY_LEN] {
        self.public
    }
}

impl ZeroizeOnDrop for IntroEncKeypair {}

impl fmt::Debug for IntroEncKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntroEncKeypair").finish_non_exhaustive()
    }
}

/// What names one introduction point of one service for the handshake.
#[derive(Debug, Clone, Copy)]
pub struct IntroKeys<'a> {
    /// The intro point's `auth_key` (§11.2).
    pub auth_key: &'a [u8; KEY_LEN],
    /// The service's `enc_key` there, `B`.
    pub enc_key: &'a [u8; KEY_LEN],
    /// The subcredential of the period (§6.4).
    pub subcredential: &'a [u8; KEY_LEN],
}

/// What a client keeps between its introduction and RENDEZVOUS2.
pub struct HsClientState {
    x: StaticSecret,
    big_x: [u8; KEY_LEN],
    auth_key: [u8; KEY_LEN],
    enc_key: [u8; KEY_LEN],
}

impl ZeroizeOnDrop for HsClientState {}

impl fmt::Debug for HsClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HsClientState").finish_non_exhaustive()
    }
}

impl HsClientState {
    /// The client's ephemeral public key `X`.
    pub fn public(&self) -> &[u8; KEY_LEN] {
        &self.big_x
    }
}

/// ENC_KEY = HKDF-SHA256(salt = t_hsenc, IKM = EXP(B,x) | AUTH_KEY | X | B |
/// PROTOID, info = m_hsexpand | subcredential)[0..32].
fn intro_key(
    shared: &[u8; KEY_LEN],
    keys: &IntroKeys<'_>,
    big_x: &[u8; KEY_LEN],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut info = Vec::with_capacity(M_HSEXPAND.len() + KEY_LEN);
    info.extend_from_slice(M_HSEXPAND);
    info.extend_from_slice(keys.subcredential);
    hkdf_sha256::<32>(
        T_HSENC,
        &[shared, keys.auth_key, big_x, keys.enc_key, HS_PROTOID],
        &info,
    )
}

fn aead(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(&Key::from(*key))
}

/// The client's side of an introduction: encrypts `plaintext` to the
/// service, authenticating `header` (the INTRODUCE1 fields before
/// `encrypted`) with it. Returns the state to keep and `encrypted`:
/// `X | ciphertext | tag`.
pub fn client_introduce(
    eph: EphemeralSecret,
    keys: &IntroKeys<'_>,
    header: &[u8],
    plaintext: &[u8],
) -> Result<(HsClientState, Vec<u8>), CryptoError> {
    let x = eph.into_static();
    let big_x = PublicKey::from(&x).to_bytes();
    let shared = x25519(&x, keys.enc_key, "service's introduction key")?;
    let key = intro_key(shared.as_bytes(), keys, &big_x)?;
    let sealed = aead(&key)
        .encrypt(
            &Nonce::from([0u8; 12]),
            Payload {
                msg: plaintext,
                aad: header,
            },
        )
        .map_err(|_| CryptoError::Internal {
            what: "introduction encryption",
        })?;
    let mut encrypted = Vec::with_capacity(KEY_LEN + sealed.len());
    encrypted.extend_from_slice(&big_x);
    encrypted.extend_from_slice(&sealed);
    let state = HsClientState {
        x,
        big_x,
        auth_key: *keys.auth_key,
        enc_key: *keys.enc_key,
    };
    Ok((state, encrypted))
}

/// An introduction the service opened.
pub struct OpenedIntroduction {
    /// The client's ephemeral key `X`: the replay cache's key (§16.3).
    pub client_key: [u8; KEY_LEN],
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
}

/// The service's side: opens `encrypted` with its key at that intro point.
/// Anything altered, or sealed to another key, is
/// [`CryptoError::SealedLayer`].
pub fn service_open(
    enc: &IntroEncKeypair,
    keys: &IntroKeys<'_>,
    header: &[u8],
    encrypted: &[u8],
) -> Result<OpenedIntroduction, CryptoError> {
    let (big_x, sealed) =
        encrypted
            .split_first_chunk::<KEY_LEN>()
            .ok_or(CryptoError::BadLength {
                what: "introduction",
                expected: HS_INTRO_OVERHEAD,
                found: encrypted.len(),
            })?;
    let shared = x25519(&enc.secret, big_x, "client's ephemeral key")?;
    let key = intro_key(shared.as_bytes(), keys, big_x)?;
    let plaintext = aead(&key)
        .decrypt(
            &Nonce::from([0u8; 12]),
            Payload {
                msg: sealed,
                aad: header,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::SealedLayer)?;
    Ok(OpenedIntroduction {
        client_key: *big_x,
        plaintext,
    })
}

/// rend_secret = EXP(X,y) | EXP(X,b) | AUTH_KEY | B | X | Y | PROTOID
/// (client: EXP(Y,x) | EXP(B,x) | …); returns AUTH =
/// HMAC(t_hsmac, HMAC(t_hsverify, rend_secret) | AUTH_KEY | B | Y | X |
/// PROTOID | "Server") and the key material HKDF-SHA256(salt = t_hsenc,
/// IKM = rend_secret, info = m_hsexpand), 96 bytes.
#[allow(non_snake_case, reason = "names match docs/spec.md §16.3")]
fn rend_keys(
    exp_1: &[u8; KEY_LEN],
    exp_2: &[u8; KEY_LEN],
    auth_key: &[u8; KEY_LEN],
    B: &[u8; KEY_LEN],
    X: &[u8; KEY_LEN],
    Y: &[u8; KEY_LEN],
) -> Result<([u8; KEY_LEN], Zeroizing<[u8; HOP_KEY_MATERIAL_LEN]>), CryptoError> {
    let parts: [&[u8]; 7] = [exp_1, exp_2, auth_key, B, X, Y, HS_PROTOID];
    let verify = Zeroizing::new(hmac_sha256(T_HSVERIFY, &parts)?);
    let auth = hmac_sha256(
        T_HSMAC,
        &[&verify[..], auth_key, B, Y, X, HS_PROTOID, SERVER],
    )?;
    let okm = hkdf_sha256::<HOP_KEY_MATERIAL_LEN>(T_HSENC, &parts, M_HSEXPAND)?;
    Ok((auth, okm))
}

/// The service's answer to an opened introduction from `client_key`:
/// the keys of its end of the end-to-end hop, and RENDEZVOUS1's
/// `handshake`, `Y | AUTH`.
pub fn service_respond(
    eph: EphemeralSecret,
    enc: &IntroEncKeypair,
    auth_key: &[u8; KEY_LEN],
    client_key: &[u8; KEY_LEN],
) -> Result<(HopKeys, [u8; HS_REPLY_LEN]), CryptoError> {
    let y = eph.into_static();
    let big_y = PublicKey::from(&y).to_bytes();
    let xy = x25519(&y, client_key, "client's ephemeral key")?;
    let xb = x25519(&enc.secret, client_key, "client's ephemeral key")?;
    let (auth, okm) = rend_keys(
        xy.as_bytes(),
        xb.as_bytes(),
        auth_key,
        &enc.public,
        client_key,
        &big_y,
    )?;
    let mut reply = [0u8; HS_REPLY_LEN];
    let (a, b) = reply.split_at_mut(KEY_LEN);
    a.copy_from_slice(&big_y);
    b.copy_from_slice(&auth);
    Ok((HopKeys::from_key_material_reversed(&okm), reply))
}

/// The client's side of RENDEZVOUS2: checks AUTH in constant time and
/// returns the keys of its end of the end-to-end hop.
pub fn client_finish(state: HsClientState, reply: &[u8]) -> Result<HopKeys, CryptoError> {
    let split = || {
        let (y, rest) = reply.split_first_chunk::<KEY_LEN>()?;
        let (auth, rest) = rest.split_first_chunk::<KEY_LEN>()?;
        rest.is_empty().then_some((y, auth))
    };
    let (big_y, received) = split().ok_or(CryptoError::BadLength {
        what: "onion-service handshake reply",
        expected: HS_REPLY_LEN,
        found: reply.len(),
    })?;
    let yx = x25519(&state.x, big_y, "service's ephemeral key")?;
    let bx = x25519(&state.x, &state.enc_key, "service's introduction key")?;
    let (auth, okm) = rend_keys(
        yx.as_bytes(),
        bx.as_bytes(),
        &state.auth_key,
        &state.enc_key,
        &state.big_x,
        big_y,
    )?;
    if !bool::from(auth.ct_eq(received)) {
        return Err(CryptoError::NtorAuthMismatch);
    }
    Ok(HopKeys::from_key_material(&okm))
}

/// A client's proof that it holds `client` (restricted discovery, §16.3):
/// HMAC-SHA256(X25519(c, B), "warren-hs-client-proof" | X). It names this
/// introduction's `X`, so it proves nothing on another one.
pub fn client_proof(
    client: &ClientAuthKeypair,
    enc_key: &[u8; KEY_LEN],
    client_key: &[u8; KEY_LEN],
) -> Result<[u8; KEY_LEN], CryptoError> {
    let shared = x25519(
        client.static_secret(),
        enc_key,
        "service's introduction key",
    )?;
    hmac_sha256(shared.as_bytes(), &[CLIENT_PROOF_LABEL, client_key])
}

/// Whether `proof` is [`client_proof`]'s value for the client key `client`
/// on the introduction from `client_key`; constant-time comparison.
pub fn verify_client_proof(
    enc: &IntroEncKeypair,
    client: &ClientAuthPublicKey,
    client_key: &[u8; KEY_LEN],
    proof: &[u8; KEY_LEN],
) -> bool {
    x25519(&enc.secret, client.as_bytes(), "client's key")
        .and_then(|shared| hmac_sha256(shared.as_bytes(), &[CLIENT_PROOF_LABEL, client_key]))
        .is_ok_and(|expected| bool::from(expected.ct_eq(proof)))
}

#[cfg(test)]
mod test {
    use super::*;

    fn eph(b: u8) -> EphemeralSecret {
        EphemeralSecret::from_bytes([b; 32])
    }

    #[test]
    fn both_ends_get_mirrored_keys_and_altered_bytes_fail() {
        let enc = IntroEncKeypair::from_secret_bytes([0x96; 32]);
        let b = enc.public();
        let keys = IntroKeys {
            auth_key: &[0x65; 32],
            enc_key: &b,
            subcredential: &[0x11; 32],
        };
        let (state, encrypted) = client_introduce(eph(1), &keys, b"header", b"hello").unwrap();
        assert_eq!(encrypted.len(), 5 + HS_INTRO_OVERHEAD);
        let opened = service_open(&enc, &keys, b"header", &encrypted).unwrap();
        assert_eq!(&opened.plaintext[..], b"hello");
        assert_eq!(&opened.client_key, state.public());
        // Another header, another subcredential, a flipped byte: refused.
        assert!(service_open(&enc, &keys, b"Header", &encrypted).is_err());
        let other = IntroKeys {
            subcredential: &[0x12; 32],
            ..keys
        };
        assert!(service_open(&enc, &other, b"header", &encrypted).is_err());
        let mut bad = encrypted.clone();
        bad[40] ^= 1;
        assert!(service_open(&enc, &keys, b"header", &bad).is_err());
        assert!(service_open(&enc, &keys, b"header", &encrypted[..20]).is_err());

        let (mut service, reply) =
            service_respond(eph(2), &enc, keys.auth_key, &opened.client_key).unwrap();
        let mut bad_reply = reply;
        bad_reply[63] ^= 1;
        let (state2, _) = client_introduce(eph(1), &keys, b"header", b"hello").unwrap();
        assert_eq!(
            client_finish(state2, &bad_reply).unwrap_err(),
            CryptoError::NtorAuthMismatch
        );
        let mut client = client_finish(state, &reply).unwrap();
        assert_eq!(client.binding.as_bytes(), service.binding.as_bytes());
        // What the client seals forward, the service opens as backward.
        let mut body = [7u8; crate::layer::RELAY_BODY_LEN];
        body[..crate::layer::AUTH_HEADER_LEN].fill(0);
        client.forward.seal(&mut body).unwrap();
        assert!(matches!(
            service.backward.open(&mut body),
            Ok(crate::layer::Recognized::Yes(_))
        ));
    }

    #[test]
    fn a_client_proof_verifies_only_for_its_key_and_introduction() {
        let enc = IntroEncKeypair::from_secret_bytes([0x96; 32]);
        let client = ClientAuthKeypair::from_secret_bytes([0x01; 32]);
        let other = ClientAuthKeypair::from_secret_bytes([0x02; 32]);
        let proof = client_proof(&client, &enc.public(), &[5; 32]).unwrap();
        assert!(verify_client_proof(
            &enc,
            &client.public(),
            &[5; 32],
            &proof
        ));
        assert!(!verify_client_proof(
            &enc,
            &other.public(),
            &[5; 32],
            &proof
        ));
        assert!(!verify_client_proof(
            &enc,
            &client.public(),
            &[6; 32],
            &proof
        ));
    }
}
