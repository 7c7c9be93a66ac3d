//! The adversary (docs/sim.md §9): one party runs a share of the relays of
//! some positions, by count or by bandwidth. As TorPS reports, the run
//! tells how many circuits and clients had an adversary relay at both ends
//! (guard and exit), when each client was first compromised, and how many
//! onion connections had its guards at both ends (the client's and the
//! service's).

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde::Serialize;
use warren_directory::path::{self, Position};
use warren_directory::{Flags, RelayStatus};

use crate::circuit_level::OnionEnds;
use crate::relays::STREAM_PORT;
use crate::report::{CircuitRecord, Spread, spread};
use crate::scenario::{AdversarySpec, Amount, Role};

/// The RNG stream the adversary's relays are drawn from: apart from the
/// run's (stream 0), so that adding an adversary changes no other draw.
const ADVERSARY_STREAM: u64 = 1;

/// Whether `s` can hold `role` for the simulated streams.
pub fn holds(s: &RelayStatus, role: Role) -> bool {
    match role {
        Role::Guard => path::suitable(s, Position::Guard),
        Role::Middle => path::suitable(s, Position::Middle),
        Role::Exit => {
            path::suitable(s, Position::Exit) && s.info.exit_summary.allows_port(STREAM_PORT)
        }
        Role::Hsdir => s.flags.contains(Flags::HSDIR),
    }
}

/// A relay's selection weight, as path selection counts it.
fn weight(s: &RelayStatus) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "a share, not an amount")]
    let w = s.bandwidth.max(1) as f64;
    w
}

/// The share of `role`'s selection weight held by the relays `owned`.
pub fn weight_share(statuses: &[RelayStatus], owned: &[bool], role: Role) -> f64 {
    let (mut mine, mut all) = (0.0, 0.0);
    for (s, o) in statuses.iter().zip(owned) {
        if holds(s, role) {
            all += weight(s);
            if *o {
                mine += weight(s);
            }
        }
    }
    if all > 0.0 { mine / all } else { 0.0 }
}

/// Picks the adversary's relays among `statuses` (scenario order): for
/// each role, relays that can hold it, in an order drawn from the seed,
/// until the adversary's share of the role (by count or by weight, counting
/// relays it already runs) reaches the scenario's. Returns, per relay,
/// whether the adversary runs it.
pub fn choose(spec: &AdversarySpec, statuses: &[RelayStatus], seed: u64) -> Vec<bool> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(ADVERSARY_STREAM);
    let mut owned = vec![false; statuses.len()];
    for &role in &spec.roles {
        let mut order: Vec<usize> = (0..statuses.len())
            .filter(|&i| statuses.get(i).is_some_and(|s| holds(s, role)))
            .collect();
        // Fisher–Yates; the modulo bias of 64 bits over a few thousand
        // relays is below 2^-50.
        for i in (1..order.len()).rev() {
            let j = usize::try_from(rng.next_u64() % (i as u64 + 1)).unwrap_or(0);
            order.swap(i, j);
        }
        let (target, by_weight) = match spec.amount {
            Amount::Count(x) => (x, false),
            Amount::Bandwidth(x) => (x, true),
        };
        let measure = |i: usize| {
            statuses
                .get(i)
                .map_or(0.0, |s| if by_weight { weight(s) } else { 1.0 })
        };
        let total: f64 = order.iter().map(|&i| measure(i)).sum();
        let mut mine: f64 = order
            .iter()
            .filter(|&&i| owned.get(i).copied().unwrap_or(false))
            .map(|&i| measure(i))
            .sum();
        for &i in &order {
            if total <= 0.0 || mine / total >= target {
                break;
            }
            if let Some(o) = owned.get_mut(i).filter(|o| !**o) {
                *o = true;
                mine += measure(i);
            }
        }
    }
    owned
}

/// What the adversary saw in a run (`summary.json`'s `adversary`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdversaryReport {
    /// Relays it runs.
    pub relays: usize,
    /// Its share of the guard position's selection weight.
    pub guard_weight_share: f64,
    /// Its share of the exit position's selection weight.
    pub exit_weight_share: f64,
    /// Their product: the share of circuits with both ends its own if each
    /// circuit picked its guard afresh.
    pub expected_circuit_share: f64,
    /// Circuits of the run with a path.
    pub circuits: usize,
    /// Circuits with its guard.
    pub guard_circuits: usize,
    /// Circuits with its exit.
    pub exit_circuits: usize,
    /// Circuits with its guard and its exit.
    pub compromised_circuits: usize,
    /// `compromised_circuits / circuits`.
    pub circuit_share: f64,
    /// Clients of the run.
    pub clients: usize,
    /// Clients with at least one compromised circuit.
    pub compromised_clients: usize,
    /// `compromised_clients / clients`: compromised by the end of the run.
    pub client_share: f64,
    /// Time to first compromise of the compromised clients, in seconds
    /// (the start of their first compromised circuit).
    pub first_compromise_s: Option<Spread>,
    /// With onion connections: those with its guards at both ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onion: Option<OnionExposure>,
    /// With `as = ["hsdir"]` and onion services: the descriptors it holds
    /// (docs/sim.md §11.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsdir: Option<HsdirReport>,
}

/// The onion connections with the adversary's guards at both ends
/// (docs/sim.md §9): the guard of the client's rendezvous circuit, which
/// sees the client, and the guard of the service's circuit to the
/// rendezvous point, which sees the service.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OnionExposure {
    /// Onion connections the service answered (both circuits built).
    pub connections: usize,
    /// Of them, with the adversary's guard at the client's end.
    pub client_guard_connections: usize,
    /// With the adversary's guard at the service's end.
    pub service_guard_connections: usize,
    /// With the adversary's guards at both ends.
    pub compromised_connections: usize,
    /// `compromised_connections / connections`.
    pub connection_share: f64,
    /// The guard weight share squared: the share if each end drew its
    /// guard afresh.
    pub expected_connection_share: f64,
}

/// Which onion connections of `ends` the adversary `owned` saw at both
/// ends: the figures, and each connection's start (ns) with whether it did.
pub fn assess_onion(
    owned: &[bool],
    statuses: &[RelayStatus],
    ends: &[OnionEnds],
) -> (OnionExposure, Vec<(u64, bool)>) {
    let mine = |r: usize| owned.get(r).copied().unwrap_or(false);
    let seen: Vec<(u64, bool)> = ends
        .iter()
        .map(|e| (e.start_ns, mine(e.client_guard) && mine(e.service_guard)))
        .collect();
    let compromised = seen.iter().filter(|(_, both)| *both).count();
    let guard_share = weight_share(statuses, owned, Role::Guard);
    let exposure = OnionExposure {
        connections: ends.len(),
        client_guard_connections: ends.iter().filter(|e| mine(e.client_guard)).count(),
        service_guard_connections: ends.iter().filter(|e| mine(e.service_guard)).count(),
        compromised_connections: compromised,
        connection_share: ratio(compromised, ends.len()),
        expected_connection_share: guard_share * guard_share,
    };
    (exposure, seen)
}

/// The onion-service descriptors an adversary's HSDirs hold
/// (docs/sim.md §11.4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HsdirReport {
    /// Relays with the HSDir flag (the ring).
    pub hsdirs: usize,
    /// Of them, the adversary's.
    pub adversary_hsdirs: usize,
    /// HSDirs responsible for one descriptor.
    pub responsible_per_service: usize,
    /// Per period (the current and the next), the share of services with
    /// at least one of the adversary's HSDirs responsible for their
    /// descriptor.
    pub period_shares: [f64; 2],
    /// The share expected if each service's HSDirs were a uniform draw of
    /// `responsible_per_service` from the ring:
    /// `1 − C(n − k, r) / C(n, r)`.
    pub expected_share: f64,
}

/// What the adversary `owned` learns as HSDir: for each period, the share
/// of the services whose `responsible` HSDirs include one of its relays.
pub fn assess_hsdirs(
    owned: &[bool],
    statuses: &[RelayStatus],
    responsible: &[[Vec<usize>; 2]],
) -> HsdirReport {
    let mine = |r: &usize| owned.get(*r).copied().unwrap_or(false);
    let ring: Vec<usize> = (0..statuses.len())
        .filter(|&i| statuses.get(i).is_some_and(|s| holds(s, Role::Hsdir)))
        .collect();
    let k = ring.iter().filter(|r| mine(r)).count();
    let r = responsible.first().map_or(0, |[current, _]| current.len());
    let period_shares = [0, 1].map(|p| {
        let held = responsible
            .iter()
            .filter(|sets| sets.get(p).is_some_and(|set| set.iter().any(mine)))
            .count();
        ratio(held, responsible.len())
    });
    HsdirReport {
        hsdirs: ring.len(),
        adversary_hsdirs: k,
        responsible_per_service: r,
        period_shares,
        expected_share: 1.0 - none_chosen(ring.len(), k, r),
    }
}

/// `C(n − k, r) / C(n, r)`: the probability that `r` relays drawn without
/// replacement from `n` miss all `k` of the adversary's.
fn none_chosen(n: usize, k: usize, r: usize) -> f64 {
    let mut p = 1.0;
    for i in 0..r {
        #[expect(clippy::cast_precision_loss, reason = "a probability")]
        let term = (n.saturating_sub(k + i)) as f64 / (n.saturating_sub(i)).max(1) as f64;
        p *= term;
    }
    p
}

/// The adversary's relays and what they saw.
#[derive(Debug, Clone, PartialEq)]
pub struct AdversaryResults {
    /// Per relay (scenario order), whether the adversary runs it.
    pub owned: Vec<bool>,
    /// Per client, when its first compromised circuit started (ns).
    pub compromised_at_ns: Vec<Option<u64>>,
    /// Per onion connection the service answered, in the order they
    /// finished: its start (ns) and whether the adversary held both guards.
    pub onion_connections: Vec<(u64, bool)>,
    /// The figures.
    pub report: AdversaryReport,
}

fn ratio(a: usize, b: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "a share")]
    let r = if b == 0 { 0.0 } else { a as f64 / b as f64 };
    r
}

/// Counts the circuits of `records` (from a run of `clients` clients over
/// `statuses`) that had the adversary `owned` at their ends.
pub fn assess(
    owned: Vec<bool>,
    statuses: &[RelayStatus],
    records: &[CircuitRecord],
    clients: usize,
) -> AdversaryResults {
    let mine = |r: usize| owned.get(r).copied().unwrap_or(false);
    let mut compromised_at_ns: Vec<Option<u64>> = vec![None; clients];
    let (mut guard_circuits, mut exit_circuits, mut compromised) = (0, 0, 0);
    let mut circuits = 0;
    for c in records {
        let Some([guard, _, exit]) = c.path else {
            continue;
        };
        circuits += 1;
        guard_circuits += usize::from(mine(guard));
        exit_circuits += usize::from(mine(exit));
        if mine(guard) && mine(exit) {
            compromised += 1;
            if let Some(at) = compromised_at_ns.get_mut(c.client) {
                *at = Some(at.map_or(c.start_ns, |t| t.min(c.start_ns)));
            }
        }
    }
    let firsts: Vec<f64> = compromised_at_ns
        .iter()
        .flatten()
        .map(|&ns| {
            #[expect(clippy::cast_precision_loss, reason = "reporting")]
            let s = ns as f64 / 1e9;
            s
        })
        .collect();
    let compromised_clients = firsts.len();
    let guard_weight_share = weight_share(statuses, &owned, Role::Guard);
    let exit_weight_share = weight_share(statuses, &owned, Role::Exit);
    let report = AdversaryReport {
        relays: owned.iter().filter(|o| **o).count(),
        guard_weight_share,
        exit_weight_share,
        expected_circuit_share: guard_weight_share * exit_weight_share,
        circuits,
        guard_circuits,
        exit_circuits,
        compromised_circuits: compromised,
        circuit_share: ratio(compromised, circuits),
        clients,
        compromised_clients,
        client_share: ratio(compromised_clients, clients),
        first_compromise_s: spread(firsts),
        onion: None,
        hsdir: None,
    };
    AdversaryResults {
        owned,
        compromised_at_ns,
        onion_connections: Vec::new(),
        report,
    }
}
