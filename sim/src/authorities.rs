//! The directory authorities (docs/sim.md §10.6): real keys and
//! certificates, and at each consensus round the directory's own code
//! (docs/spec.md §12.6–§12.8): every authority that is up signs a vote over
//! the relays that are running, the others check it, the consensus body is
//! computed from the votes, each authority that voted signs it, and the
//! clients accept the document only as `warren_directory` lets them: more
//! than half of the configured authorities' signatures, checked against
//! their identity keys, and the time in its validity window.
//!
//! Every authority that is up receives every vote (links between
//! authorities are not modelled), so they compute the same body; it is
//! computed once. Every client receives the same bytes, so they are
//! verified once per round, on behalf of all of them.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use warren_crypto::TimePeriod;
use warren_directory::hsdir_ring::HS_PERIOD_MINUTES;
use warren_directory::{
    AuthorityCert, AuthorityIdentityKeypair, AuthoritySet, AuthoritySigningKeypair, Consensus,
    ConsensusBody, ConsensusSignature, DirectoryError, RelayStatus, Vote, VoteBody,
    shared_random_contribution,
};

use crate::error::SimError;
use crate::paths::{PathSelector, unix_time};
use crate::relays::{Directory, PUBLISHED};
use crate::report::ConsensusReport;
use crate::scenario::{Outage, Scenario};

/// The RNG stream the authorities' keys and secrets come from: apart from
/// the run's (stream 0) and the adversary's (stream 1), so that the number
/// of authorities changes no other draw of a run without onion services
/// (their HSDirs follow the shared random value).
const AUTHORITY_STREAM: u64 = 2;
/// One day, in seconds.
const DAY: u64 = 86_400;
/// How long the consensus of a run without rounds is valid: the run's
/// whole length (docs/sim.md §10.6).
const NO_ROUNDS_VALIDITY: u64 = 100 * 365 * DAY;

/// One authority: its signing key, certified by its identity key, and its
/// shared-random secret (docs/spec.md §12.9).
struct Authority {
    signing: AuthoritySigningKeypair,
    cert: AuthorityCert,
    secret: [u8; 32],
}

/// The authorities of a run, the schedule they vote on, and when each is
/// down.
pub(crate) struct Authorities {
    members: Vec<Authority>,
    set: AuthoritySet,
    /// Time between rounds in ns; `None`: one consensus for the run.
    interval_ns: Option<u64>,
    valid_rounds: u64,
    outages: Vec<Outage>,
}

/// Whether `e` is the directory code refusing a consensus for want of
/// authorities: too few votes to compute it, too few signatures to accept
/// it. A round that ends so makes no consensus.
pub(crate) fn for_want_of_authorities(e: &DirectoryError) -> bool {
    matches!(
        e,
        DirectoryError::TooFewVotes { .. } | DirectoryError::TooFewSignatures { .. }
    )
}

impl Authorities {
    /// The scenario's authorities, with keys from stream 2 of `seed`.
    fn new(scenario: &Scenario, seed: u64) -> Result<Self, SimError> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        rng.set_stream(AUTHORITY_STREAM);
        let spec = scenario.authorities;
        let mut members = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..spec.count {
            let identity = AuthorityIdentityKeypair::generate(&mut rng);
            let signing = AuthoritySigningKeypair::generate(&mut rng);
            let mut secret = [0; 32];
            rng.fill_bytes(&mut secret);
            let expires = PUBLISHED + 2 * NO_ROUNDS_VALIDITY;
            let cert = AuthorityCert::issue(&identity, signing.public(), PUBLISHED - DAY, expires)
                .map_err(|source| SimError::Consensus { source })?;
            ids.push(identity.public());
            members.push(Authority {
                signing,
                cert,
                secret,
            });
        }
        let set = AuthoritySet::new(ids).map_err(|source| SimError::Consensus { source })?;
        let churn = scenario.churn.as_ref();
        Ok(Self {
            members,
            set,
            interval_ns: churn.map(|c| c.interval_ns),
            valid_rounds: spec.valid_rounds,
            outages: churn.map(|c| c.outages.clone()).unwrap_or_default(),
        })
    }

    /// The scenario's authorities and the paths of the consensus of their
    /// first round, at 0 s, with every relay of `dir` running: where both
    /// levels of fidelity start.
    pub(crate) fn first_round(
        scenario: &Scenario,
        seed: u64,
        dir: &Directory,
    ) -> Result<(Self, PathSelector), SimError> {
        let authorities = Self::new(scenario, seed)?;
        let consensus = authorities
            .round(dir, &[], 0)
            .map_err(|source| SimError::Consensus { source })?;
        Ok((authorities, PathSelector::new(dir, consensus)))
    }

    /// The figures after the first round: one consensus made.
    pub(crate) fn first_tally(&self) -> ConsensusReport {
        ConsensusReport {
            authorities: self.members.len(),
            rounds_made: 1,
            rounds_missed: 0,
            circuits_without_consensus: 0,
        }
    }

    /// Whether authority `a` is up at `t_ns`.
    fn is_up(&self, a: usize, t_ns: u64) -> bool {
        !self
            .outages
            .iter()
            .any(|o| o.authority == a && o.covers(t_ns))
    }

    /// The round at `now_ns`: the authorities up then vote on the relays
    /// `running` (scenario order; all when shorter), and the consensus the
    /// clients accept comes out. An error for which
    /// [`for_want_of_authorities`] holds means no consensus this round.
    pub(crate) fn round(
        &self,
        dir: &Directory,
        running: &[bool],
        now_ns: u64,
    ) -> Result<Consensus, DirectoryError> {
        let valid_after = unix_time(now_ns);
        let (fresh_until, valid_until) = match self.interval_ns {
            Some(i) => (
                unix_time(now_ns.saturating_add(i)),
                unix_time(now_ns.saturating_add(i.saturating_mul(self.valid_rounds))),
            ),
            None => (
                valid_after + NO_ROUNDS_VALIDITY,
                valid_after + NO_ROUNDS_VALIDITY,
            ),
        };
        // The authorities vote the flags the scenario gave the relays
        // (docs/sim.md §10.6), over the relays their tests reach.
        let relays: Vec<RelayStatus> = dir
            .statuses()
            .iter()
            .enumerate()
            .filter(|(i, _)| running.get(*i).copied().unwrap_or(true))
            .map(|(_, s)| s.clone())
            .collect();
        let period = TimePeriod::containing(valid_after, HS_PERIOD_MINUTES).ok();
        let up: Vec<&Authority> = (0..self.members.len())
            .filter(|&a| self.is_up(a, now_ns))
            .filter_map(|a| self.members.get(a))
            .collect();
        let mut votes = Vec::new();
        for a in &up {
            let body = VoteBody {
                valid_after,
                fresh_until,
                valid_until,
                shared_random: period
                    .map_or(a.secret, |p| shared_random_contribution(&a.secret, p)),
                relays: relays.clone(),
            };
            let vote = Vote::sign(body, &a.cert, &a.signing)?;
            // The other authorities check the vote they receive.
            votes.push(
                Vote::decode(vote.as_bytes())?
                    .verify(&self.set)?
                    .check_valid_at(valid_after)?,
            );
        }
        let body = ConsensusBody::compute(&self.set, &votes)?;
        let bytes = body.encode()?;
        let signatures = up
            .iter()
            .map(|a| ConsensusSignature::sign_encoded(&bytes, &a.cert, &a.signing))
            .collect::<Result<Vec<_>, _>>()?;
        let document = Consensus::assemble(body, signatures)?
            .dangerously_peek()
            .encode()?;
        // What every client does with the bytes it fetches.
        Consensus::decode(&document)?
            .verify(&self.set)?
            .check_valid_at(valid_after)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::netmodel::Network;
    use crate::scenario::one_region;

    /// Five authorities, rounds every minute, and two failures.
    const REST: &str = r#"
[authorities]
count = 5
[churn]
interval_s = 60
[[churn.authority_failures]]
at_s = 100
count = 2
recover_at_s = 200
[[churn.authority_failures]]
at_s = 150
count = 1
"#;

    #[test]
    fn rounds_need_a_majority_and_list_the_running_relays() {
        let scenario = one_region(10, REST);
        let mut net = Network::new(&scenario);
        let dir = Directory::build(&scenario, &mut net, &mut crate::rng::seeded(1)).unwrap();
        let (authorities, paths) = Authorities::first_round(&scenario, 1, &dir).unwrap();
        assert_eq!(paths.consensus().relays().len(), 10);
        let s = 1_000_000_000;
        // 2 down at 120 s: 3 of 5 sign; the consensus lists the running
        // relays and is valid for 3 rounds.
        let mut running = vec![true; 10];
        running[4] = false;
        let c = authorities.round(&dir, &running, 120 * s).unwrap();
        assert_eq!(c.signatures().len(), 3);
        assert_eq!(c.relays().len(), 9);
        let gone = &dir.statuses()[4].identity;
        assert!(c.relay(gone).is_none());
        assert_eq!(c.valid_after(), PUBLISHED + 120);
        assert_eq!(c.valid_until(), PUBLISHED + 120 + 3 * 60);
        // 3 down at 160 s: 2 votes of the 3 needed.
        let e = authorities.round(&dir, &running, 160 * s).unwrap_err();
        assert!(for_want_of_authorities(&e), "{e}");
        assert!(matches!(
            e,
            DirectoryError::TooFewVotes {
                votes: 2,
                needed: 3,
                ..
            }
        ));
        // The first two are back at 200 s; the third is down for good.
        let c = authorities.round(&dir, &running, 200 * s).unwrap();
        assert_eq!(c.signatures().len(), 4);
    }
}
