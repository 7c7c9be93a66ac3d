//! Relay identities as libp2p peer ids (docs/spec.md §13.1).
//!
//! A relay's libp2p `PeerId` is derived from its Ed25519 identity key, so the
//! Noise handshake of every link authenticates exactly the identity that a
//! circuit asked for.

use libp2p::PeerId;
use libp2p::identity::{PublicKey, ed25519};
use warren_crypto::{RelayIdentity, RelayIdentityKeypair};

use crate::NetError;

/// The multihash code of an identity multihash (the key is inlined).
const IDENTITY_MULTIHASH: u64 = 0x00;

/// The libp2p keypair of a relay identity.
pub(crate) fn libp2p_keypair(
    identity: &RelayIdentityKeypair,
) -> Result<libp2p::identity::Keypair, NetError> {
    let mut secret = identity.secret_bytes();
    libp2p::identity::Keypair::ed25519_from_bytes(&mut secret[..]).map_err(|_| NetError::Internal {
        reason: "an Ed25519 identity key was refused by libp2p",
    })
}

/// The peer id of a relay identity.
pub fn peer_id(identity: &RelayIdentity) -> Result<PeerId, NetError> {
    let key = ed25519::PublicKey::try_from_bytes(identity.as_bytes()).map_err(|_| {
        NetError::PeerIdentity {
            reason: "not an Ed25519 public key",
        }
    })?;
    Ok(PublicKey::from(key).to_peer_id())
}

/// The relay identity behind a peer id; fails for peers whose key is not
/// Ed25519 (they cannot be Warren relays).
pub fn relay_identity(peer: &PeerId) -> Result<RelayIdentity, NetError> {
    let multihash = peer.as_ref();
    if multihash.code() != IDENTITY_MULTIHASH {
        return Err(NetError::PeerIdentity {
            reason: "the peer id does not inline its public key",
        });
    }
    let key = PublicKey::try_decode_protobuf(multihash.digest())
        .ok()
        .and_then(|k| k.try_into_ed25519().ok())
        .ok_or(NetError::PeerIdentity {
            reason: "the peer's key is not Ed25519",
        })?;
    RelayIdentity::from_bytes(&key.to_bytes()).map_err(|_| NetError::PeerIdentity {
        reason: "the peer's Ed25519 key is not a valid relay identity",
    })
}

#[cfg(test)]
mod test {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn identity_and_peer_id_round_trip() {
        let key = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(1));
        let id = key.public();
        let peer = peer_id(&id).unwrap();
        assert_eq!(relay_identity(&peer).unwrap(), id);
        let kp = libp2p_keypair(&key).unwrap();
        assert_eq!(kp.public().to_peer_id(), peer);
    }
}
