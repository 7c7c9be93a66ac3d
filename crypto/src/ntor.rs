//! The circuit handshake: Tor's ntor with X25519, HKDF-SHA256 and Warren's
//! labels, one round trip per hop (docs/spec.md §4).
//!
//! ```text
//! client → relay   ID (32) | B (32) | X (32)        CREATE / EXTEND body
//! relay  → client  Y (32)  | AUTH (32)              CREATED / EXTENDED body
//! ```
//!
//! The relay proves that it holds the onion key `b` named by `B`; both sides
//! get the same [`HopKeys`]. The relay does two variable-base X25519
//! operations and one fixed-base one (its ephemeral key), §4.5.

use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;
use crate::kdf::{hkdf_sha256, hmac_sha256};
use crate::keys::{KEY_LEN, OnionKeypair, OnionPublicKey, RelayIdentity, x25519};
use crate::layer::{HOP_KEY_MATERIAL_LEN, HopKeys};

/// Length of the client's handshake message: `ID | B | X` (§4.3).
pub const NTOR_CLIENT_MSG_LEN: usize = 3 * KEY_LEN;
/// Length of the relay's handshake reply: `Y | AUTH` (§4.3).
pub const NTOR_SERVER_MSG_LEN: usize = 2 * KEY_LEN;
/// The handshake-type number carried in CREATE and EXTEND (§4.1).
pub const HANDSHAKE_NTOR: u16 = 2;

/// Expands to the protocol identifier, so that labels can be `concat!`ed.
macro_rules! protoid {
    () => {
        "warren-ntor-x25519-sha256-1"
    };
}

/// PROTOID (§4.2).
pub const PROTOID: &[u8] = protoid!().as_bytes();
/// t_mac: the HMAC key for AUTH (§4.2).
const T_MAC: &[u8] = concat!(protoid!(), ":mac").as_bytes();
/// t_key: the HKDF salt (§4.2).
const T_KEY: &[u8] = concat!(protoid!(), ":key_extract").as_bytes();
/// t_verify: the HMAC key for `verify` (§4.2).
const T_VERIFY: &[u8] = concat!(protoid!(), ":verify").as_bytes();
/// m_expand: the HKDF info (§4.2).
const M_EXPAND: &[u8] = concat!(protoid!(), ":key_expand").as_bytes();
/// The last part of auth_input (§4.2).
const SERVER: &[u8] = b"Server";

/// An X25519 ephemeral secret for one handshake (`x` or `y` in §4).
pub struct EphemeralSecret(StaticSecret);

impl EphemeralSecret {
    /// A fresh ephemeral secret from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(StaticSecret::random_from_rng(rng))
    }

    /// An ephemeral secret with the given bytes: for test vectors only. Never
    /// use one value twice.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(StaticSecret::from(bytes))
    }

    /// The public half `X25519(x, 9)`.
    pub fn public_bytes(&self) -> [u8; KEY_LEN] {
        self.public()
    }

    /// The `x25519-dalek` secret, for the onion-service handshake.
    pub(crate) fn into_static(self) -> StaticSecret {
        let Self(secret) = self;
        secret
    }

    /// The public half (one fixed-base scalar multiplication).
    fn public(&self) -> [u8; KEY_LEN] {
        PublicKey::from(&self.0).to_bytes()
    }
}

impl ZeroizeOnDrop for EphemeralSecret {}

impl fmt::Debug for EphemeralSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EphemeralSecret(..)")
    }
}

/// What the client keeps between [`client_start`] and [`client_finish`].
pub struct NtorClientState {
    /// The client's ephemeral secret `x` (zeroized on drop by x25519-dalek).
    x: StaticSecret,
    /// The relay identity `ID`.
    id: [u8; KEY_LEN],
    /// The relay's onion key `B`.
    b: [u8; KEY_LEN],
    /// The client's ephemeral public key `X`.
    big_x: [u8; KEY_LEN],
}

impl ZeroizeOnDrop for NtorClientState {}

impl fmt::Debug for NtorClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtorClientState").finish_non_exhaustive()
    }
}

/// Starts a handshake with the relay `relay` whose onion key is `onion`;
/// returns the state to keep and the message to send (§4.3).
pub fn client_start(
    eph: EphemeralSecret,
    relay: &RelayIdentity,
    onion: &OnionPublicKey,
) -> (NtorClientState, [u8; NTOR_CLIENT_MSG_LEN]) {
    let big_x = eph.public();
    let EphemeralSecret(x) = eph;
    let state = NtorClientState {
        x,
        id: *relay.as_bytes(),
        b: *onion.as_bytes(),
        big_x,
    };
    let msg = concat_keys([&state.id, &state.b, &big_x]);
    (state, msg)
}

/// The relay's side: checks `client_msg` against this relay's `identity` and
/// onion keys (current and previous, §2.3), and returns the hop keys and the
/// reply to send (§4.3).
#[allow(non_snake_case, reason = "names match docs/spec.md §4")]
pub fn server_respond(
    eph: EphemeralSecret,
    identity: &RelayIdentity,
    onion_keys: &[&OnionKeypair],
    client_msg: &[u8],
) -> Result<(HopKeys, [u8; NTOR_SERVER_MSG_LEN]), CryptoError> {
    let (ID, B, X) = split_client_msg(client_msg)?;
    if ID != identity.as_bytes() {
        return Err(CryptoError::NtorWrongIdentity);
    }
    let b = onion_keys
        .iter()
        .find(|k| k.public().as_bytes() == B)
        .ok_or(CryptoError::NtorUnknownOnionKey)?;
    let Xy = x25519(&eph.0, X, "client's ephemeral key")?;
    let Xb = x25519(b.static_secret(), X, "client's ephemeral key")?;
    let Y = eph.public();
    let input = SecretInput {
        exp_1: Xy.as_bytes(),
        exp_2: Xb.as_bytes(),
        ID,
        B,
        X,
        Y: &Y,
    };
    let auth = input.auth()?;
    let keys = input.hop_keys()?;
    Ok((keys, concat_keys([&Y, &auth])))
}

/// The client's side: checks the relay's reply and returns the hop keys
/// (§4.4). AUTH is compared in constant time.
#[allow(non_snake_case, reason = "names match docs/spec.md §4")]
pub fn client_finish(state: NtorClientState, server_msg: &[u8]) -> Result<HopKeys, CryptoError> {
    let (Y, AUTH) = split_server_msg(server_msg)?;
    let Yx = x25519(&state.x, Y, "relay's ephemeral key")?;
    let Bx = x25519(&state.x, &state.b, "relay's onion key")?;
    let input = SecretInput {
        exp_1: Yx.as_bytes(),
        exp_2: Bx.as_bytes(),
        ID: &state.id,
        B: &state.b,
        X: &state.big_x,
        Y,
    };
    let auth = input.auth()?;
    if !bool::from(auth.ct_eq(AUTH)) {
        return Err(CryptoError::NtorAuthMismatch);
    }
    input.hop_keys()
}

/// The parts of secret_input (§4.2): `EXP(X,y) | EXP(X,b) | ID | B | X | Y |
/// PROTOID` on the relay, `EXP(Y,x) | EXP(B,x) | …` on the client.
#[allow(non_snake_case, reason = "names match docs/spec.md §4")]
struct SecretInput<'a> {
    exp_1: &'a [u8; KEY_LEN],
    exp_2: &'a [u8; KEY_LEN],
    ID: &'a [u8; KEY_LEN],
    B: &'a [u8; KEY_LEN],
    X: &'a [u8; KEY_LEN],
    Y: &'a [u8; KEY_LEN],
}

impl SecretInput<'_> {
    fn parts(&self) -> [&[u8]; 7] {
        [
            self.exp_1, self.exp_2, self.ID, self.B, self.X, self.Y, PROTOID,
        ]
    }

    /// AUTH = HMAC-SHA256(t_mac, verify | ID | B | Y | X | PROTOID | "Server"),
    /// verify = HMAC-SHA256(t_verify, secret_input).
    fn auth(&self) -> Result<[u8; KEY_LEN], CryptoError> {
        let verify = Zeroizing::new(hmac_sha256(T_VERIFY, &self.parts())?);
        hmac_sha256(
            T_MAC,
            &[
                &verify[..],
                self.ID,
                self.B,
                self.Y,
                self.X,
                PROTOID,
                SERVER,
            ],
        )
    }

    /// Kf | Kb | KH = HKDF-SHA256(salt = t_key, ikm = secret_input,
    /// info = m_expand), 96 bytes.
    fn hop_keys(&self) -> Result<HopKeys, CryptoError> {
        let okm = hkdf_sha256::<HOP_KEY_MATERIAL_LEN>(T_KEY, &self.parts(), M_EXPAND)?;
        Ok(HopKeys::from_key_material(&okm))
    }
}

/// `a | b | …`: `N` must be `K * 32`.
fn concat_keys<const K: usize, const N: usize>(keys: [&[u8; KEY_LEN]; K]) -> [u8; N] {
    let mut out = [0u8; N];
    for (dst, src) in out.chunks_exact_mut(KEY_LEN).zip(keys) {
        dst.copy_from_slice(src);
    }
    out
}

type Key<'a> = &'a [u8; KEY_LEN];

fn split_client_msg(msg: &[u8]) -> Result<(Key<'_>, Key<'_>, Key<'_>), CryptoError> {
    let split = || {
        let (id, rest) = msg.split_first_chunk()?;
        let (b, rest) = rest.split_first_chunk()?;
        let (x, rest) = rest.split_first_chunk()?;
        rest.is_empty().then_some((id, b, x))
    };
    split().ok_or(CryptoError::BadLength {
        what: "ntor client handshake message",
        expected: NTOR_CLIENT_MSG_LEN,
        found: msg.len(),
    })
}

fn split_server_msg(msg: &[u8]) -> Result<(Key<'_>, Key<'_>), CryptoError> {
    let split = || {
        let (y, rest) = msg.split_first_chunk()?;
        let (auth, rest) = rest.split_first_chunk()?;
        rest.is_empty().then_some((y, auth))
    };
    split().ok_or(CryptoError::BadLength {
        what: "ntor relay handshake reply",
        expected: NTOR_SERVER_MSG_LEN,
        found: msg.len(),
    })
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::keys::RelayIdentityKeypair;
    use proptest::prelude::*;

    struct Relay {
        id: RelayIdentity,
        current: OnionKeypair,
        previous: OnionKeypair,
    }

    fn relay() -> Relay {
        Relay {
            id: RelayIdentityKeypair::from_secret_bytes([1; 32]).public(),
            current: OnionKeypair::from_secret_bytes([2; 32]),
            previous: OnionKeypair::from_secret_bytes([3; 32]),
        }
    }

    fn respond(r: &Relay, msg: &[u8]) -> Result<(HopKeys, [u8; 64]), CryptoError> {
        let keys = [&r.current, &r.previous];
        server_respond(EphemeralSecret::from_bytes([5; 32]), &r.id, &keys, msg)
    }

    fn agree(r: &Relay, onion: &OnionKeypair) {
        let (state, msg) =
            client_start(EphemeralSecret::from_bytes([4; 32]), &r.id, &onion.public());
        let (relay_keys, reply) = respond(r, &msg).unwrap();
        let client_keys = client_finish(state, &reply).unwrap();
        assert_eq!(
            client_keys.binding.as_bytes(),
            relay_keys.binding.as_bytes()
        );
    }

    #[test]
    fn current_and_previous_onion_keys_work() {
        let r = relay();
        agree(&r, &r.current);
        agree(&r, &r.previous);
    }

    #[test]
    fn refusals() {
        let r = relay();
        let other = OnionKeypair::from_secret_bytes([9; 32]);
        let (_, msg) = client_start(EphemeralSecret::from_bytes([4; 32]), &r.id, &other.public());
        assert_eq!(
            respond(&r, &msg).unwrap_err(),
            CryptoError::NtorUnknownOnionKey
        );

        let stranger = RelayIdentityKeypair::from_secret_bytes([8; 32]).public();
        let (_, msg) = client_start(
            EphemeralSecret::from_bytes([4; 32]),
            &stranger,
            &r.current.public(),
        );
        assert_eq!(
            respond(&r, &msg).unwrap_err(),
            CryptoError::NtorWrongIdentity
        );

        let (_, mut msg) = client_start(
            EphemeralSecret::from_bytes([4; 32]),
            &r.id,
            &r.current.public(),
        );
        assert!(matches!(
            respond(&r, &msg[..95]),
            Err(CryptoError::BadLength {
                expected: 96,
                found: 95,
                ..
            })
        ));
        msg[64..].fill(0); // X = 0, a low-order point
        assert!(matches!(
            respond(&r, &msg),
            Err(CryptoError::LowOrderPoint { .. })
        ));
    }

    #[test]
    fn client_refuses_bad_replies() {
        let r = relay();
        let start = || {
            client_start(
                EphemeralSecret::from_bytes([4; 32]),
                &r.id,
                &r.current.public(),
            )
        };
        let (_, msg) = start();
        let (_, reply) = respond(&r, &msg).unwrap();

        let mut bad_auth = reply;
        bad_auth[63] ^= 1;
        assert_eq!(
            client_finish(start().0, &bad_auth).unwrap_err(),
            CryptoError::NtorAuthMismatch
        );

        let mut bad_y = reply;
        bad_y[0] ^= 2;
        assert_eq!(
            client_finish(start().0, &bad_y).unwrap_err(),
            CryptoError::NtorAuthMismatch
        );

        let mut zero_y = reply;
        zero_y[..32].fill(0);
        assert!(matches!(
            client_finish(start().0, &zero_y),
            Err(CryptoError::LowOrderPoint { .. })
        ));

        assert!(matches!(
            client_finish(start().0, &[reply.as_slice(), &[0]].concat()),
            Err(CryptoError::BadLength {
                expected: 64,
                found: 65,
                ..
            })
        ));
    }

    #[test]
    fn labels() {
        assert_eq!(T_MAC, b"warren-ntor-x25519-sha256-1:mac");
        assert_eq!(T_KEY, b"warren-ntor-x25519-sha256-1:key_extract");
        assert_eq!(T_VERIFY, b"warren-ntor-x25519-sha256-1:verify");
        assert_eq!(M_EXPAND, b"warren-ntor-x25519-sha256-1:key_expand");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn client_and_relay_agree(id in any::<[u8; 32]>(), b in any::<[u8; 32]>(),
                                  x in any::<[u8; 32]>(), y in any::<[u8; 32]>()) {
            let identity = RelayIdentityKeypair::from_secret_bytes(id).public();
            let onion = OnionKeypair::from_secret_bytes(b);
            let (state, msg) = client_start(EphemeralSecret::from_bytes(x), &identity, &onion.public());
            let (mut rk, reply) =
                server_respond(EphemeralSecret::from_bytes(y), &identity, &[&onion], &msg).unwrap();
            let mut ck = client_finish(state, &reply).unwrap();
            prop_assert_eq!(ck.binding.as_bytes(), rk.binding.as_bytes());
            // Forward: the client seals, the relay opens; backward the other way.
            let mut cell = [7u8; 512];
            ck.forward.seal(&mut cell).unwrap();
            prop_assert!(matches!(rk.forward.open(&mut cell), Ok(crate::layer::Recognized::Yes(_))));
            rk.backward.seal(&mut cell).unwrap();
            prop_assert!(matches!(ck.backward.open(&mut cell), Ok(crate::layer::Recognized::Yes(_))));
        }
    }
}
