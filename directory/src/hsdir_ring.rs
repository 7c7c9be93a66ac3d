//! The HSDir hash ring (docs/spec.md §12.10), modelled on rend-spec-v3
//! §2.2.3: which relays store an onion service's descriptor in one time
//! period.
//!
//! ```text
//! hsdir_index(relay)  = SHA3-256("warren-node-idx" | identity | srv | INT_8(period_num) | INT_8(period_length))
//! hs_index(replica)   = SHA3-256("warren-store-at-idx" | blinded_key | INT_8(replica) | INT_8(period_length) | INT_8(period_num))
//! ```
//!
//! The relays with the HSDir flag sit on a ring ordered by `hsdir_index`.
//! For each replica `1..=HSDIR_N_REPLICAS`, the service's descriptor goes to
//! the first `HSDIR_SPREAD_STORE` relays at or after `hs_index(replica)`,
//! wrapping around, skipping relays already chosen for an earlier replica.

use sha3::{Digest, Sha3_256};
use warren_crypto::{BlindedPublicKey, RelayIdentity, TimePeriod};

use crate::consensus::Consensus;
use crate::status::Flags;

/// How many replicas each descriptor is stored under (Tor: 2).
pub const HSDIR_N_REPLICAS: u64 = 2;
/// The length of a time period in minutes on a Warren network (§6.1).
pub const HS_PERIOD_MINUTES: u32 = 1440;
/// How many relays store each replica (Tor: 3).
pub const HSDIR_SPREAD_STORE: usize = 3;

/// The label of relay positions on the ring.
const NODE_INDEX_LABEL: &[u8] = b"warren-node-idx";
/// The label of descriptor positions on the ring.
const STORE_AT_LABEL: &[u8] = b"warren-store-at-idx";

/// A relay's position on the ring of `period` (§12.10).
pub fn hsdir_index(identity: &RelayIdentity, srv: &[u8; 32], period: TimePeriod) -> [u8; 32] {
    Sha3_256::new()
        .chain_update(NODE_INDEX_LABEL)
        .chain_update(identity.as_bytes())
        .chain_update(srv)
        .chain_update(period.number.to_be_bytes())
        .chain_update(u64::from(period.length_minutes).to_be_bytes())
        .finalize()
        .into()
}

/// The position of `replica` of a blinded key's descriptor (§12.10).
pub fn hs_index(blinded: &BlindedPublicKey, replica: u64, period: TimePeriod) -> [u8; 32] {
    Sha3_256::new()
        .chain_update(STORE_AT_LABEL)
        .chain_update(blinded.as_bytes())
        .chain_update(replica.to_be_bytes())
        .chain_update(u64::from(period.length_minutes).to_be_bytes())
        .chain_update(period.number.to_be_bytes())
        .finalize()
        .into()
}

/// The HSDir relays of one consensus, ordered on the ring of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsDirRing {
    period: TimePeriod,
    /// `(hsdir_index, identity)`, sorted.
    ring: Vec<([u8; 32], RelayIdentity)>,
}

impl HsDirRing {
    /// The ring of the relays with the HSDir flag in `consensus`, for
    /// `period`, placed with the consensus's shared random value.
    pub fn new(consensus: &Consensus, period: TimePeriod) -> Self {
        let hsdirs = consensus
            .relays()
            .iter()
            .filter(|r| r.flags.contains(Flags::HSDIR))
            .map(|r| r.identity);
        Self::from_relays(consensus.shared_random(), period, hsdirs)
    }

    /// The ring of `relays` (taken to be HSDirs) for `srv` and `period`.
    pub fn from_relays(
        srv: &[u8; 32],
        period: TimePeriod,
        relays: impl IntoIterator<Item = RelayIdentity>,
    ) -> Self {
        let mut ring: Vec<_> = relays
            .into_iter()
            .map(|id| (hsdir_index(&id, srv, period), id))
            .collect();
        ring.sort_unstable();
        ring.dedup_by_key(|(_, id)| *id);
        Self { period, ring }
    }

    /// The period this ring is for.
    pub fn period(&self) -> TimePeriod {
        self.period
    }

    /// How many relays are on the ring.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the ring has no relays.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The relays responsible for the descriptor of `blinded` in this
    /// period: replica 1's relays, then replica 2's, each relay once; fewer
    /// than `HSDIR_N_REPLICAS × HSDIR_SPREAD_STORE` only on a small ring.
    pub fn responsible(&self, blinded: &BlindedPublicKey) -> Vec<RelayIdentity> {
        let mut chosen: Vec<RelayIdentity> = Vec::new();
        for replica in 1..=HSDIR_N_REPLICAS {
            let target = hs_index(blinded, replica, self.period);
            let start = self.ring.partition_point(|(idx, _)| *idx < target);
            let walk = self.ring.iter().cycle().skip(start).take(self.ring.len());
            let mut taken = 0;
            for (_, id) in walk {
                if taken == HSDIR_SPREAD_STORE {
                    break;
                }
                if !chosen.contains(id) {
                    chosen.push(*id);
                    taken += 1;
                }
            }
        }
        chosen
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use warren_crypto::{RelayIdentityKeypair, ServiceIdentityKeypair};

    const DAY: u32 = 1440;

    fn period(number: u64) -> TimePeriod {
        TimePeriod {
            number,
            length_minutes: DAY,
        }
    }

    fn relays(n: u8) -> Vec<RelayIdentity> {
        (1..=n)
            .map(|i| RelayIdentityKeypair::from_secret_bytes([i; 32]).public())
            .collect()
    }

    fn blinded(seed: u8, p: TimePeriod) -> BlindedPublicKey {
        ServiceIdentityKeypair::from_secret_bytes([seed; 32])
            .public()
            .blind(p)
            .unwrap()
    }

    #[test]
    fn deterministic_and_spread() {
        let srv = [7; 32];
        let ring = HsDirRing::from_relays(&srv, period(100), relays(20));
        let mut shuffled = relays(20);
        shuffled.reverse();
        assert_eq!(ring, HsDirRing::from_relays(&srv, period(100), shuffled));
        let key = blinded(1, period(100));
        let chosen = ring.responsible(&key);
        assert_eq!(chosen.len(), 6);
        let mut unique = chosen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 6);
        assert_eq!(chosen, ring.responsible(&key));
        // Replica 1's first choice is the first relay at or after its index.
        let target = hs_index(&key, 1, period(100));
        let first = ring
            .ring
            .iter()
            .find(|(idx, _)| *idx >= target)
            .unwrap_or(&ring.ring[0]);
        assert_eq!(chosen[0], first.1);
    }

    #[test]
    fn wraps_around_the_ring() {
        let srv = [9; 32];
        let ring = HsDirRing::from_relays(&srv, period(5), relays(12));
        // Find a key whose replica-1 index lies after every relay.
        let last = ring.ring.last().unwrap().0;
        let (seed, key) = (0u8..=255)
            .map(|s| (s, blinded(s, period(5))))
            .find(|(_, k)| hs_index(k, 1, period(5)) > last)
            .expect("some key lands after the last relay");
        let chosen = ring.responsible(&key);
        assert_eq!(
            &chosen[..3],
            &[ring.ring[0].1, ring.ring[1].1, ring.ring[2].1],
            "seed {seed}"
        );
    }

    #[test]
    fn small_rings_give_every_relay_once() {
        let ring = HsDirRing::from_relays(&[1; 32], period(1), relays(4));
        let chosen = ring.responsible(&blinded(3, period(1)));
        assert_eq!(chosen.len(), 4);
        let empty = HsDirRing::from_relays(&[1; 32], period(1), []);
        assert!(empty.is_empty() && empty.responsible(&blinded(3, period(1))).is_empty());
    }

    #[test]
    fn changes_with_the_period_and_the_srv() {
        let key_now = blinded(2, period(10));
        let a = HsDirRing::from_relays(&[1; 32], period(10), relays(30));
        let b = HsDirRing::from_relays(&[1; 32], period(11), relays(30));
        let c = HsDirRing::from_relays(&[2; 32], period(10), relays(30));
        assert_ne!(a.ring, b.ring);
        assert_ne!(a.ring, c.ring);
        assert_ne!(a.responsible(&key_now), b.responsible(&key_now));
        assert_ne!(
            hs_index(&key_now, 1, period(10)),
            hs_index(&key_now, 1, period(11))
        );
        assert_ne!(
            hs_index(&key_now, 1, period(10)),
            hs_index(&key_now, 2, period(10))
        );
    }
}
