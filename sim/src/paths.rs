//! Path selection at the circuit level (docs/sim.md §10.1): the directory's
//! own rules over the real [`Consensus`] the simulated authorities made
//! (§10.6). Guards come
//! from each client's [`GuardSet`] (sampled and primary guards,
//! confirmation, retries: `warren_directory::guard`); exits and middles are
//! drawn by bandwidth from the relays [`path::suitable`] for the position,
//! and redrawn while [`path::compatible`] refuses them, which gives the
//! distribution of [`path::pick`] without filtering thousands of relays on
//! every circuit.

use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use warren_directory::guard::fits_path;
use warren_directory::path::{self, LastHop, Position};
use warren_directory::{Consensus, GuardParams, GuardSet, RelayStatus, Roles};

use crate::error::SimError;
use crate::relays::{Directory, PUBLISHED, STREAM_PORT};

/// Draws before a constrained pick falls back to filtering every candidate.
const MAX_DRAWS: usize = 32;
/// Exits tried before a circuit gives up finding a guard that fits.
const EXIT_ATTEMPTS: usize = 8;

/// The relays that may hold one position, with their cumulative weights
/// (a relay's weight is its bandwidth, at least 1, as in
/// [`path::weighted_pick`]).
struct Table {
    /// Indices into the consensus's relays.
    entries: Vec<usize>,
    cumulative: Vec<u128>,
}

impl Table {
    fn new(relays: &[RelayStatus], keep: impl Fn(&RelayStatus) -> bool) -> Self {
        let mut table = Self {
            entries: Vec::new(),
            cumulative: Vec::new(),
        };
        let mut acc = 0u128;
        for (i, s) in relays.iter().enumerate().filter(|(_, s)| keep(s)) {
            acc += u128::from(s.bandwidth.max(1));
            table.entries.push(i);
            table.cumulative.push(acc);
        }
        table
    }

    /// One draw by weight, as [`path::weighted_pick`] draws: 128 uniform
    /// bits modulo the total.
    fn draw(&self, rng: &mut ChaCha20Rng) -> Option<usize> {
        let total = *self.cumulative.last()?;
        let r = ((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())) % total;
        let at = self.cumulative.partition_point(|&c| c <= r);
        self.entries.get(at).copied()
    }
}

/// The consensus clients pick from, and its position tables.
pub struct PathSelector {
    consensus: Consensus,
    exits: Table,
    middles: Table,
    /// Relays that can be rendezvous points, and intro points.
    rendezvous: Table,
    intros: Table,
    /// Consensus index → scenario relay index.
    relay_of: Vec<usize>,
    /// Scenario relay index → consensus index (`None`: not listed).
    consensus_of: Vec<Option<usize>>,
    params: GuardParams,
}

/// A client's guard set and the consensus round it was last brought up to
/// date in (docs/sim.md §4, §10.1): both levels of fidelity keep one per
/// client and pick paths through it.
#[derive(Debug, Default)]
pub struct ClientGuards {
    set: GuardSet,
    round: Option<u64>,
}

impl ClientGuards {
    /// Picks a path for an exit circuit from `paths`, the consensus of
    /// round `round` (0: the first): the sample is brought up to date first
    /// when that consensus is new to it, as the client daemon does with
    /// each new consensus. Returns scenario relay indices, guard first.
    pub fn pick(
        &mut self,
        paths: &PathSelector,
        round: u64,
        now_ns: u64,
        rng: &mut ChaCha20Rng,
        circuit: &str,
    ) -> Result<[usize; 3], SimError> {
        if self.round != Some(round) {
            self.round = Some(round);
            paths.update_guards(&mut self.set, now_ns, rng);
        }
        paths.pick(&mut self.set, now_ns, rng, circuit)
    }

    /// The guard set itself, for circuits to a given last hop.
    pub fn set(&mut self) -> &mut GuardSet {
        &mut self.set
    }

    /// A circuit through relay `guard` (scenario index) was built at
    /// `now_ns`: the guard is confirmed (it is used at once).
    pub fn succeeded(&mut self, dir: &Directory, guard: usize, now_ns: u64) {
        if let Some(s) = dir.statuses().get(guard) {
            self.set.succeeded(&s.identity, unix_time(now_ns));
        }
    }

    /// Reaching relay `guard` failed at `now_ns`: the guard code's retry
    /// schedule applies to it.
    pub fn failed(&mut self, dir: &Directory, guard: usize, now_ns: u64) {
        if let Some(s) = dir.statuses().get(guard) {
            self.set.failed(&s.identity, unix_time(now_ns));
        }
    }
}

/// The Unix time of simulated instant `ns` (the directory's clock).
pub fn unix_time(ns: u64) -> u64 {
    PUBLISHED + ns / 1_000_000_000
}

impl PathSelector {
    /// The position tables of `consensus` (docs/sim.md §10.1), a
    /// consensus of `dir`'s relays, as the clients accepted it (§10.6).
    pub fn new(dir: &Directory, consensus: Consensus) -> Self {
        let relay_of: Vec<usize> = consensus
            .relays()
            .iter()
            .map(|s| dir.by_identity(&s.identity).unwrap_or(0))
            .collect();
        let mut consensus_of = vec![None; dir.statuses().len()];
        for (i, &r) in relay_of.iter().enumerate() {
            if let Some(slot) = consensus_of.get_mut(r) {
                *slot = Some(i);
            }
        }
        let all = consensus.relays();
        let exits = Table::new(all, |s| {
            path::suitable(s, Position::Exit) && s.info.exit_summary.allows_port(STREAM_PORT)
        });
        let middles = Table::new(all, |s| path::suitable(s, Position::Middle));
        let rendezvous = Table::new(all, |s| s.info.roles.contains(Roles::RENDEZVOUS));
        let intros = Table::new(all, |s| s.info.roles.contains(Roles::INTRO));
        Self {
            exits,
            middles,
            rendezvous,
            intros,
            relay_of,
            consensus_of,
            consensus,
            params: GuardParams::default(),
        }
    }

    /// Brings a client's guard sample up to date at simulated `now_ns`.
    pub fn update_guards(&self, guards: &mut GuardSet, now_ns: u64, rng: &mut ChaCha20Rng) {
        guards.update(&self.consensus, unix_time(now_ns), &self.params, rng);
    }

    /// Picks a path as the client does (docs/spec.md §14.1): the exit, a
    /// guard of `guards` that fits it, a middle compatible with both.
    /// Returns scenario relay indices, guard first.
    pub fn pick(
        &self,
        guards: &mut GuardSet,
        now_ns: u64,
        rng: &mut ChaCha20Rng,
        circuit: &str,
    ) -> Result<[usize; 3], SimError> {
        let no_path = |position, hint| SimError::NoPath {
            circuit: circuit.to_owned(),
            position,
            hint,
        };
        let all = self.consensus.relays();
        let now = unix_time(now_ns);
        for _ in 0..EXIT_ATTEMPTS {
            let exit = self
                .exits
                .draw(rng)
                .and_then(|i| all.get(i))
                .ok_or_else(|| no_path("exit", "raise relays.exit_share or relays.count"))?;
            let fits = |g: &RelayStatus| fits_path(g, &[exit]);
            let mut guard = guards.choose(&self.consensus, now, &self.params, fits);
            if guard.is_none() {
                self.update_guards(guards, now_ns, rng);
                guard = guards.choose(&self.consensus, now, &self.params, fits);
            }
            let Some(guard) = guard else { continue };
            let middle = self
                .constrained(&self.middles, &[guard, exit], rng)
                .ok_or_else(|| no_path("middle", "raise relays.count"))?;
            let index = |s: &RelayStatus| {
                self.consensus_index(s)
                    .and_then(|i| self.relay_of.get(i).copied())
                    .ok_or_else(|| no_path("guard", "a relay missing from the directory"))
            };
            return Ok([index(guard)?, index(middle)?, index(exit)?]);
        }
        Err(no_path("guard", "raise relays.guard_share or relays.count"))
    }

    /// The consensus clients pick from.
    pub fn consensus(&self) -> &Consensus {
        &self.consensus
    }

    /// Picks a path whose last hop is relay `last` (scenario index), as
    /// the client daemon's `build_to` does for onion-service circuits
    /// (docs/sim.md §11.1, docs/spec.md §14.1): a guard of `guards` that
    /// fits it, then the middles `chosen` asks for ([`Self::middles_to`]):
    /// three hops to a relay this end chose, four to one the other end or
    /// the HSDir ring chose. Returns scenario indices, guard first.
    pub fn pick_to(
        &self,
        guards: &mut GuardSet,
        last: usize,
        chosen: LastHop,
        now_ns: u64,
        rng: &mut ChaCha20Rng,
        circuit: &str,
    ) -> Result<Vec<usize>, SimError> {
        let no_path = |position, hint| SimError::NoPath {
            circuit: circuit.to_owned(),
            position,
            hint,
        };
        let all = self.consensus.relays();
        let last_status = self
            .consensus_of
            .get(last)
            .copied()
            .flatten()
            .and_then(|i| all.get(i))
            .ok_or_else(|| no_path("last hop", "a relay missing from the consensus"))?;
        let now = unix_time(now_ns);
        let fits =
            |g: &RelayStatus| g.identity != last_status.identity && fits_path(g, &[last_status]);
        let mut guard = guards.choose(&self.consensus, now, &self.params, fits);
        if guard.is_none() {
            self.update_guards(guards, now_ns, rng);
            guard = guards.choose(&self.consensus, now, &self.params, fits);
        }
        let guard =
            guard.ok_or_else(|| no_path("guard", "raise relays.guard_share or relays.count"))?;
        let middles = self
            .middles_to(guard, last_status, chosen, rng)
            .ok_or_else(|| no_path("middle", "raise relays.count"))?;
        let index = |s: &RelayStatus| {
            self.consensus_index(s)
                .and_then(|i| self.relay_of.get(i).copied())
                .ok_or_else(|| no_path("guard", "a relay missing from the directory"))
        };
        let mut path = vec![index(guard)?];
        for m in middles {
            path.push(index(m)?);
        }
        path.push(last);
        Ok(path)
    }

    /// The middles of a circuit from `guard` to `last`, in path order, by
    /// the rule of [`path::middles_to`] (docs/spec.md §14.1): as many as
    /// `chosen` asks for, each compatible with every relay already in the
    /// path, the last hop included. Each is drawn from the middle table as
    /// every middle of the circuit level is (docs/sim.md §10.1), which
    /// gives the distribution of [`path::pick_middle`] without filtering
    /// the consensus for every middle.
    fn middles_to<'a>(
        &'a self,
        guard: &'a RelayStatus,
        last: &'a RelayStatus,
        chosen: LastHop,
        rng: &mut ChaCha20Rng,
    ) -> Option<Vec<&'a RelayStatus>> {
        let mut path = vec![guard, last];
        for _ in 0..chosen.middles() {
            let middle = self.constrained(&self.middles, &path, rng)?;
            path.push(middle);
        }
        Some(path.split_off(2))
    }

    /// A rendezvous point (`intro` false) or an intro point (`intro` true)
    /// by weight, as the daemons' `pick_role` draws it, not one of
    /// `exclude` (scenario indices).
    pub fn pick_role(
        &self,
        intro: bool,
        exclude: &[usize],
        rng: &mut ChaCha20Rng,
    ) -> Option<usize> {
        let table = if intro {
            &self.intros
        } else {
            &self.rendezvous
        };
        let of = |i: usize| self.relay_of.get(i).copied();
        for _ in 0..MAX_DRAWS {
            let r = of(table.draw(rng)?)?;
            if !exclude.contains(&r) {
                return Some(r);
            }
        }
        let all = self.consensus.relays();
        let left: Vec<&RelayStatus> = table
            .entries
            .iter()
            .filter(|&&i| of(i).is_some_and(|r| !exclude.contains(&r)))
            .filter_map(|&i| all.get(i))
            .collect();
        let s = path::weighted_pick(&left, rng)?;
        self.consensus_index(s).and_then(of)
    }

    fn consensus_index(&self, s: &RelayStatus) -> Option<usize> {
        self.consensus
            .relays()
            .binary_search_by(|r| r.identity.cmp(&s.identity))
            .ok()
    }

    /// A relay of `table` compatible with every relay of `others`, by
    /// weight: redrawn while incompatible, then filtered as
    /// [`path::pick`] does.
    fn constrained<'a>(
        &'a self,
        table: &Table,
        others: &[&RelayStatus],
        rng: &mut ChaCha20Rng,
    ) -> Option<&'a RelayStatus> {
        let all = self.consensus.relays();
        for _ in 0..MAX_DRAWS {
            let s = all.get(table.draw(rng)?)?;
            if others.iter().all(|o| path::compatible(s, o)) {
                return Some(s);
            }
        }
        path::pick(
            table.entries.iter().filter_map(|&i| all.get(i)),
            others,
            &[],
            rng,
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::authorities::Authorities;
    use crate::netmodel::Network;
    use crate::scenario::one_region;

    /// A circuit to a relay this end chose has one middle, to one the
    /// other end chose two (docs/spec.md §14.1): guard first, the last hop
    /// last, every relay compatible with every other.
    #[test]
    fn a_circuit_to_a_relay_the_other_end_chose_has_two_middles() {
        let scenario = one_region(12, "");
        let mut rng = crate::rng::seeded(3);
        let dir = Directory::build(&scenario, &mut Network::new(&scenario), &mut rng).unwrap();
        let (_, paths) = Authorities::first_round(&scenario, 3, &dir).unwrap();
        let mut guards = GuardSet::default();
        paths.update_guards(&mut guards, 0, &mut rng);
        for (chosen, hops) in [(LastHop::Ours, 3), (LastHop::Theirs, 4)] {
            for last in 0..12 {
                let path = paths
                    .pick_to(&mut guards, last, chosen, 0, &mut rng, "c")
                    .unwrap();
                assert_eq!(path.len(), hops, "{path:?}");
                assert_eq!(path.last(), Some(&last));
                let statuses: Vec<&RelayStatus> =
                    path.iter().map(|&r| &dir.statuses()[r]).collect();
                for (i, a) in statuses.iter().enumerate() {
                    for b in statuses.iter().skip(i + 1) {
                        assert!(path::compatible(a, b), "{path:?}");
                    }
                }
            }
        }
    }
}
