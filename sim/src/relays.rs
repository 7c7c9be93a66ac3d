//! The simulated relays and their directory (docs/sim.md §4): real identity
//! and onion keys from the run's RNG, real signed descriptors and the
//! directory's [`RelayStatus`] entries, which the authorities vote on
//! (§10.6).

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha20Rng;
use warren_crypto::{OnionKeypair, RelayIdentity, RelayIdentityKeypair};
use warren_directory::exit_policy::ExitPolicy;
use warren_directory::{Flags, OnionKeyCert, RelayDescriptor, RelayStatus, Roles};
use warren_proto::circuit::HopTarget;

use crate::error::SimError;
use crate::netmodel::{Network, NodeId};
use crate::rng::{uniform, weighted_index};
use crate::scenario::Scenario;

/// The simulated Unix time at which descriptors are published.
pub const PUBLISHED: u64 = 1_700_000_000;
/// How long the onion-key certificates are valid, in seconds.
const CERT_LIFETIME: u64 = 28 * 24 * 3600;
/// The port every simulated stream asks for.
pub const STREAM_PORT: u16 = 443;

/// One relay: its keys and its node.
pub struct SimRelay {
    /// Its long-term identity key.
    pub identity: RelayIdentityKeypair,
    /// Its onion key.
    pub onion: OnionKeypair,
    /// Its node in the network model.
    pub node: NodeId,
}

/// The relays and the directory entries clients choose paths from.
pub struct Directory {
    relays: Vec<SimRelay>,
    statuses: Vec<RelayStatus>,
    by_identity: BTreeMap<[u8; 32], usize>,
}

impl Directory {
    /// Makes the scenario's relays: region, bandwidth class, guard and exit
    /// roles drawn from `rng`; nodes added to `net`.
    pub fn build(
        scenario: &Scenario,
        net: &mut Network,
        rng: &mut ChaCha20Rng,
    ) -> Result<Self, SimError> {
        let region_weights: Vec<f64> = scenario.regions.iter().map(|r| r.share).collect();
        let class_weights: Vec<f64> = scenario.relays.classes.iter().map(|c| c.share).collect();
        let mut dir = Self {
            relays: Vec::new(),
            statuses: Vec::new(),
            by_identity: BTreeMap::new(),
        };
        for n in 0..scenario.relays.count {
            let region = weighted_index(rng, &region_weights).unwrap_or(0);
            let class = weighted_index(rng, &class_weights)
                .and_then(|i| scenario.relays.classes.get(i))
                .copied()
                .unwrap_or_default();
            let guard = uniform(rng) < scenario.relays.guard_share;
            let exit = uniform(rng) < scenario.relays.exit_share;
            let relay = SimRelay {
                identity: RelayIdentityKeypair::generate(rng),
                onion: OnionKeypair::generate(rng),
                node: net.add_node(region, class.up, class.down),
            };
            let status = status_of(n, &relay, class.up.min(class.down), guard, exit)?;
            dir.by_identity
                .insert(*relay.identity.public().as_bytes(), n);
            dir.relays.push(relay);
            dir.statuses.push(status);
        }
        Ok(dir)
    }

    /// The relays, in scenario order.
    pub fn relays(&self) -> &[SimRelay] {
        &self.relays
    }

    /// The relays' directory entries, in scenario order.
    pub fn statuses(&self) -> &[RelayStatus] {
        &self.statuses
    }

    /// The relay with `identity`.
    pub fn by_identity(&self, identity: &RelayIdentity) -> Option<usize> {
        self.by_identity.get(identity.as_bytes()).copied()
    }

    /// How a circuit reaches relay `n`.
    pub fn target(&self, n: usize) -> Option<HopTarget> {
        self.relays.get(n).map(|r| HopTarget {
            identity: r.identity.public(),
            onion_key: r.onion.public(),
            link_specs: Vec::new(),
        })
    }
}

/// Relay `n`'s directory entry, from a real signed descriptor. Each relay
/// gets its own /16 (10.0.0.0/8 upwards), so that the subnet rule of path
/// selection does not bind in this model.
fn status_of(
    n: usize,
    relay: &SimRelay,
    bandwidth: u64,
    guard: bool,
    exit: bool,
) -> Result<RelayStatus, SimError> {
    let directory = |source| SimError::Directory { relay: n, source };
    let id = relay.identity.public();
    let net16 = u32::try_from(n).unwrap_or(u32::MAX).wrapping_add(0x0a00);
    let addr = std::net::Ipv4Addr::from(net16.wrapping_shl(16) | 1);
    // Every relay stores descriptors and can be an intro or rendezvous
    // point (docs/sim.md §11.1); no draw, so runs without services are
    // unchanged.
    let mut roles = Roles::MIDDLE | Roles::HSDIR | Roles::INTRO | Roles::RENDEZVOUS;
    let mut flags = Flags::RUNNING | Flags::FAST | Flags::STABLE | Flags::HSDIR;
    roles.set(Roles::GUARD, guard);
    flags.set(Flags::GUARD, guard);
    roles.set(Roles::EXIT, exit);
    flags.set(Flags::EXIT, exit);
    let exit_policy = if exit {
        "accept *:80, accept *:443".parse().map_err(directory)?
    } else {
        ExitPolicy::reject_all()
    };
    let descriptor = RelayDescriptor {
        identity: id,
        onion_cert: OnionKeyCert::sign(
            &relay.identity,
            relay.onion.public(),
            PUBLISHED + CERT_LIFETIME,
        ),
        addresses: vec![format!("/ip4/{addr}/tcp/9001")],
        bandwidth,
        family: BTreeSet::new(),
        exit_policy,
        roles,
        software: "warren-sim".into(),
        published: PUBLISHED,
    };
    let signed = descriptor.sign(&relay.identity).map_err(directory)?;
    Ok(RelayStatus::from_descriptor(&signed, flags, bandwidth))
}
