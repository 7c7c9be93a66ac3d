//! Path selection and guard rules over generated consensuses (§14.1, §14.2).

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::{OnionKeypair, RelayIdentity, RelayIdentityKeypair};

use super::*;
use crate::exit_policy::ExitPolicy;
use crate::guard::{GuardParams, GuardSet, fits_path, listed, retry_delay};
use crate::status::RelayInfo;
use crate::{ConsensusBody, Flags};

/// Identities for up to 64 relays, made once.
fn identity(n: u8) -> RelayIdentity {
    thread_local! {
        static IDS: Vec<RelayIdentity> = (0..64u8)
            .map(|n| RelayIdentityKeypair::from_secret_bytes([n + 1; 32]).public())
            .collect();
    }
    IDS.with(|ids| ids[usize::from(n % 64)])
}

/// A generated relay: its subnet, family group, flags, roles and bandwidth.
#[derive(Debug, Clone)]
struct Spec {
    subnet: u8,
    family: Option<u8>,
    flags: u8,
    exit_port: Option<u16>,
    bandwidth: u64,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..12,
        proptest::option::of(0u8..6),
        any::<u8>(),
        proptest::option::of(prop_oneof![Just(80u16), Just(443), Just(8080)]),
        1u64..10_000_000,
    )
        .prop_map(|(subnet, family, flags, exit_port, bandwidth)| Spec {
            subnet,
            family,
            flags,
            exit_port,
            bandwidth,
        })
}

fn status(n: u8, s: &Spec, all: &[Spec]) -> RelayStatus {
    let family: BTreeSet<RelayIdentity> = match s.family {
        Some(f) => (0..all.len())
            .filter(|&j| j != usize::from(n) && all[j].family == Some(f))
            .map(|j| identity(j as u8))
            .collect(),
        None => BTreeSet::new(),
    };
    let policy: ExitPolicy = match s.exit_port {
        Some(p) => format!("accept *:{p}").parse().unwrap(),
        None => ExitPolicy::reject_all(),
    };
    let mut roles = Roles::GUARD | Roles::MIDDLE;
    roles.set(Roles::EXIT, s.exit_port.is_some());
    let mut flags = Flags::from_bits(s.flags & 0x3f).unwrap();
    flags.set(Flags::EXIT, s.exit_port.is_some());
    RelayStatus {
        identity: identity(n),
        descriptor_digest: [n; 32],
        flags,
        bandwidth: s.bandwidth,
        info: RelayInfo {
            onion_key: OnionKeypair::from_secret_bytes([n; 32]).public(),
            addresses: vec![format!("/ip4/10.{}.{n}.1/tcp/9001", s.subnet)],
            family,
            roles,
            exit_summary: policy.summary(),
        },
    }
}

fn consensus(specs: &[Spec]) -> Consensus {
    let mut relays: Vec<RelayStatus> = (0..specs.len())
        .map(|i| status(i as u8, &specs[i], specs))
        .collect();
    relays.sort_by_key(|r| r.identity);
    Consensus::unsigned(ConsensusBody {
        valid_after: 0,
        fresh_until: 1,
        valid_until: 2,
        shared_random: [0; 32],
        voters: Vec::new(),
        relays,
    })
}

/// Builds a path the way the client does: exit, then guard, then middle.
fn build<'a>(
    c: &'a Consensus,
    guards: &GuardSet,
    port: u16,
    rng: &mut ChaCha20Rng,
) -> Option<[&'a RelayStatus; 3]> {
    let exit = pick(exit_candidates(c, port), &[], &[], rng)?;
    let guard = guards.choose(c, 0, &GuardParams::default(), |g| fits_path(g, &[exit]))?;
    let middle = pick_middle(c, &[guard, exit], rng)?;
    Some([guard, middle, exit])
}

proptest! {
    #[test]
    fn paths_keep_families_and_subnets_apart(
        specs in proptest::collection::vec(spec(), 3..40),
        seed in any::<u64>(),
        port in prop_oneof![Just(80u16), Just(443), Just(8080)],
    ) {
        let c = consensus(&specs);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut guards = GuardSet::default();
        guards.update(&c, 0, &GuardParams::default(), &mut rng);
        for _ in 0..8 {
            let Some(path) = build(&c, &guards, port, &mut rng) else { continue };
            for (i, a) in path.iter().enumerate() {
                for b in path.iter().skip(i + 1) {
                    prop_assert!(a.identity != b.identity);
                    prop_assert!(!a.info.family.contains(&b.identity));
                    prop_assert!(!b.info.family.contains(&a.identity));
                    let sa: Vec<_> = relay_ips(a).collect();
                    let sb: Vec<_> = relay_ips(b).collect();
                    // Same /16 (10.subnet.x.y) never shares a path.
                    let apart = sa.iter().all(|x| sb.iter().all(|y| match (x, y) {
                        (IpAddr::V4(x), IpAddr::V4(y)) => x.octets()[..2] != y.octets()[..2],
                        _ => true,
                    }));
                    prop_assert!(apart, "one /16 in a path");
                }
            }
            prop_assert!(path[0].flags.contains(Flags::RUNNING));
            prop_assert!(suitable(path[1], Position::Middle));
            prop_assert!(suitable(path[2], Position::Exit));
            // An exit whose summary opens the port is used whenever one exists.
            let any_open = c.relays().iter().any(|s| suitable(s, Position::Exit) && s.info.exit_summary.allows_port(port));
            prop_assert!(!any_open || path[2].info.exit_summary.allows_port(port));
        }
    }

    #[test]
    fn a_last_hop_chosen_by_the_other_end_gets_a_second_middle(
        specs in proptest::collection::vec(spec(), 4..40),
        seed in any::<u64>(),
        last in any::<u8>(),
    ) {
        let c = consensus(&specs);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let last = &c.relays()[usize::from(last) % c.relays().len()];
        let mut guards = GuardSet::default();
        guards.update(&c, 0, &GuardParams::default(), &mut rng);
        let Some(guard) = guards.choose(&c, 0, &GuardParams::default(), |g| fits_path(g, &[last])) else {
            return Ok(());
        };
        for (chosen, hops) in [(LastHop::Ours, 3), (LastHop::Theirs, 4)] {
            let Some(middles) = middles_to(&c, guard, last, chosen, &mut rng) else { continue };
            let mut path = vec![guard];
            path.extend(middles.iter().copied());
            path.push(last);
            prop_assert_eq!(path.len(), hops);
            for m in &middles {
                prop_assert!(suitable(m, Position::Middle));
            }
            for (i, a) in path.iter().enumerate() {
                for b in path.iter().skip(i + 1) {
                    prop_assert!(compatible(a, b), "two incompatible relays in one path");
                }
            }
        }
    }

    #[test]
    fn the_guard_sample_stays_bounded_and_listed(
        specs in proptest::collection::vec(spec(), 1..40),
        seed in any::<u64>(),
    ) {
        let c = consensus(&specs);
        let params = GuardParams::default();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut guards = GuardSet::default();
        guards.update(&c, 0, &params, &mut rng);
        let sampled = guards.sampled();
        prop_assert!(sampled.len() <= params.max_sample);
        let unique: BTreeSet<_> = sampled.iter().collect();
        prop_assert_eq!(unique.len(), sampled.len());
        for id in &sampled {
            prop_assert!(c.relay(id).is_some_and(|s| s.flags.contains(Flags::RUNNING)));
        }
        prop_assert!(guards.primary(&params).len() <= params.primary);
        prop_assert_eq!(GuardSet::decode(&guards.encode().unwrap()).unwrap(), guards);
    }

    /// A sampled guard is found by its identity bytes as by its parsed
    /// identity, and bytes the consensus does not list find nothing; the
    /// guard chosen for a path that only it fits is that guard.
    #[test]
    fn guards_are_found_by_their_bytes_as_by_their_identity(
        specs in proptest::collection::vec(spec(), 1..40),
        seed in any::<u64>(),
        absent in any::<[u8; 32]>(),
    ) {
        let c = consensus(&specs);
        for r in c.relays() {
            prop_assert_eq!(listed(&c, r.identity.as_bytes()).map(|s| s.identity), Some(r.identity));
        }
        let parsed = RelayIdentity::from_bytes(&absent).ok();
        prop_assert_eq!(
            listed(&c, &absent).map(|s| s.identity),
            parsed.and_then(|id| c.relay(&id)).map(|s| s.identity)
        );
        let params = GuardParams::default();
        let mut guards = GuardSet::default();
        guards.update(&c, 0, &params, &mut ChaCha20Rng::seed_from_u64(seed));
        for id in guards.sampled() {
            let chosen = guards.choose(&c, 0, &params, |s| s.identity == id);
            let usable = c.relay(&id).is_some_and(|s| s.flags.contains(Flags::RUNNING));
            prop_assert_eq!(chosen.map(|s| s.identity), usable.then_some(id));
        }
    }
}

/// Ten relays in distinct subnets, every one a Running Guard middle and
/// exit for port 80, with bandwidths 1..=10 MB/s.
fn uniform_network() -> Consensus {
    let specs: Vec<Spec> = (0..10)
        .map(|i| Spec {
            subnet: i,
            family: None,
            flags: (Flags::RUNNING | Flags::GUARD | Flags::FAST).bits(),
            exit_port: Some(80),
            bandwidth: u64::from(i + 1) * 1_000_000,
        })
        .collect();
    consensus(&specs)
}

#[test]
fn picks_are_weighted_by_bandwidth() {
    let c = uniform_network();
    let all: Vec<&RelayStatus> = c.relays().iter().collect();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut counts: HashMap<RelayIdentity, u32> = HashMap::new();
    let draws = 55_000;
    for _ in 0..draws {
        *counts
            .entry(weighted_pick(&all, &mut rng).unwrap().identity)
            .or_default() += 1;
    }
    let total: u64 = all.iter().map(|s| s.bandwidth).sum();
    for s in &all {
        let expected = f64::from(draws) * s.bandwidth as f64 / total as f64;
        let got = f64::from(counts[&s.identity]);
        // Within 6 standard deviations of a binomial count.
        let sd = (expected * (1.0 - s.bandwidth as f64 / total as f64)).sqrt();
        assert!(
            (got - expected).abs() < 6.0 * sd,
            "bandwidth {}: {got} picks, expected {expected:.0}",
            s.bandwidth
        );
    }
}

#[test]
fn loopback_relays_count_as_distinct_hosts() {
    let c = uniform_network();
    let mut a = c.relays()[0].clone();
    let mut b = c.relays()[1].clone();
    a.info.addresses = vec!["/ip4/127.0.0.2/tcp/1".into()];
    b.info.addresses = vec!["/ip4/127.0.0.3/tcp/1".into()];
    assert!(compatible(&a, &b));
    b.info.addresses = vec!["/ip4/127.0.0.2/tcp/2".into()];
    assert!(!compatible(&a, &b), "one loopback address is one host");
    a.info.addresses = vec!["/ip4/192.0.2.1/tcp/1".into()];
    b.info.addresses = vec!["/ip4/192.0.77.1/tcp/1".into()];
    assert!(!compatible(&a, &b), "one /16");
}

#[test]
fn guards_follow_the_primary_order_failures_and_retries() {
    let c = uniform_network();
    let params = GuardParams::default();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut guards = GuardSet::default();
    let t = 1_000_000;
    guards.update(&c, t, &params, &mut rng);
    assert_eq!(guards.sampled().len(), params.min_usable);
    let primary = guards.primary(&params);
    assert_eq!(primary.len(), 3);
    let choose = |g: &GuardSet, now| g.choose(&c, now, &params, |_| true).unwrap().identity;
    assert_eq!(choose(&guards, t), primary[0]);

    // The first primary fails: the second is used until the retry delay
    // of a primary guard has passed.
    guards.failed(&primary[0], t);
    assert_eq!(choose(&guards, t + 1), primary[1]);
    assert_eq!(retry_delay(true, 0), 600);
    assert_eq!(choose(&guards, t + 599), primary[1]);
    assert_eq!(choose(&guards, t + 600), primary[0]);

    // A used guard is confirmed and comes first from then on.
    guards.succeeded(&primary[2], t + 700);
    assert_eq!(guards.primary(&params)[0], primary[2]);

    // A guard the consensus stops listing is not chosen, and leaves the
    // sample after 20 days; new guards are sampled to keep three usable.
    let without: Vec<RelayStatus> = c
        .relays()
        .iter()
        .filter(|s| s.identity != primary[2])
        .cloned()
        .collect();
    let smaller = Consensus::unsigned(ConsensusBody {
        relays: without,
        ..c.body().clone()
    });
    guards.update(&smaller, t + 800, &params, &mut rng);
    assert_ne!(
        guards
            .choose(&smaller, t + 800, &params, |_| true)
            .unwrap()
            .identity,
        primary[2]
    );
    assert!(guards.sampled().contains(&primary[2]));
    guards.update(&smaller, t + 800 + 21 * 86_400, &params, &mut rng);
    assert!(!guards.sampled().contains(&primary[2]));
    assert!(guards.primary(&params).len() == 3);
}

#[test]
fn circuits_to_a_relay_take_one_middle_or_two() {
    let c = uniform_network();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (guard, last) = (&c.relays()[0], &c.relays()[9]);
    for (chosen, middles) in [(LastHop::Ours, 1), (LastHop::Theirs, 2)] {
        let got = middles_to(&c, guard, last, chosen, &mut rng).unwrap();
        assert_eq!(got.len(), middles);
        assert!(
            got.iter()
                .all(|m| m.identity != guard.identity && m.identity != last.identity)
        );
        assert!(got.windows(2).all(|w| w[0].identity != w[1].identity));
    }
    // Three relays cannot make a four-hop path.
    let small = consensus(
        &(0..3)
            .map(|i| Spec {
                subnet: i,
                family: None,
                flags: (Flags::RUNNING | Flags::GUARD).bits(),
                exit_port: None,
                bandwidth: 1,
            })
            .collect::<Vec<_>>(),
    );
    let (guard, last) = (&small.relays()[0], &small.relays()[2]);
    assert!(middles_to(&small, guard, last, LastHop::Ours, &mut rng).is_some());
    assert!(middles_to(&small, guard, last, LastHop::Theirs, &mut rng).is_none());
}
