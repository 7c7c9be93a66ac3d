//! The client's guard set (docs/spec.md §14.2), after Tor's guard
//! specification: a persistent sample of guard relays, the primary guards
//! tried first, confirmation by use, and retry delays for guards that
//! failed.
//!
//! Pure: time (Unix seconds) and randomness are arguments; the client
//! stores [`GuardSet::encode`]'s bytes between runs.

use rand_core::Rng;
use serde::{Deserialize, Serialize};
use warren_crypto::RelayIdentity;

use crate::path::{Position, compatible, suitable, weighted_pick};
use crate::status::RelayStatus;
use crate::{Consensus, DirectoryError, Roles, wire};

const DAY: u64 = 86_400;

/// The rules' parameters (Tor's defaults, in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardParams {
    /// Guards sampled at most.
    pub max_sample: usize,
    /// Usable guards (listed, not failing) the sample is grown to.
    pub min_usable: usize,
    /// Primary guards.
    pub primary: usize,
    /// An unconfirmed guard leaves the sample this long after it came in.
    pub lifetime: u64,
    /// A confirmed guard leaves this long after it was confirmed.
    pub confirmed_lifetime: u64,
    /// A guard unlisted in the consensus this long leaves the sample.
    pub remove_unlisted_after: u64,
}

impl Default for GuardParams {
    fn default() -> Self {
        Self {
            max_sample: 20,
            min_usable: 3,
            primary: 3,
            lifetime: 120 * DAY,
            confirmed_lifetime: 60 * DAY,
            remove_unlisted_after: 20 * DAY,
        }
    }
}

/// One sampled guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SampledGuard {
    identity: [u8; 32],
    added_at: u64,
    /// When a circuit through it was first used.
    confirmed_at: Option<u64>,
    /// Since when it is absent from the consensus.
    unlisted_since: Option<u64>,
    /// Since when every attempt through it failed.
    failing_since: Option<u64>,
    /// The last failed attempt.
    last_failure: Option<u64>,
}

/// The guard set, kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardSet {
    /// In the order they were added.
    sampled: Vec<SampledGuard>,
}

/// How long a guard that failed waits before it is tried again, given how
/// long it has been failing (§14.2; guard-spec's schedule).
pub fn retry_delay(primary: bool, failing_for: u64) -> u64 {
    const HOUR: u64 = 3600;
    match (primary, failing_for) {
        (true, t) if t < 6 * HOUR => 10 * 60,
        (true, t) if t < 4 * DAY => 90 * 60,
        (true, t) if t < 7 * DAY => 4 * HOUR,
        (true, _) => 9 * HOUR,
        (false, t) if t < 6 * HOUR => HOUR,
        (false, t) if t < 4 * DAY => 4 * HOUR,
        (false, t) if t < 7 * DAY => 18 * HOUR,
        (false, _) => 36 * HOUR,
    }
}

/// The relays that may be sampled: Guard-flagged relays offering the role;
/// while the consensus lists none (a young test network), any Running relay
/// offering the guard role.
fn guard_candidates(consensus: &Consensus) -> Vec<&RelayStatus> {
    let flagged: Vec<&RelayStatus> = consensus
        .relays()
        .iter()
        .filter(|s| suitable(s, Position::Guard))
        .collect();
    if !flagged.is_empty() {
        return flagged;
    }
    consensus
        .relays()
        .iter()
        .filter(|s| s.flags.contains(crate::Flags::RUNNING) && s.info.roles.contains(Roles::GUARD))
        .collect()
}

impl GuardSet {
    /// Decodes a stored set.
    pub fn decode(bytes: &[u8]) -> Result<Self, DirectoryError> {
        wire::decode(bytes, "guard state")
    }

    /// The bytes to store.
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        wire::encode(self)
    }

    /// The sampled guards' identities, in sample order.
    pub fn sampled(&self) -> Vec<RelayIdentity> {
        self.sampled
            .iter()
            .filter_map(|g| RelayIdentity::from_bytes(&g.identity).ok())
            .collect()
    }

    /// The primary guards now: the confirmed ones first (in the order they
    /// were confirmed), then the others in sample order, listed ones only.
    pub fn primary(&self, params: &GuardParams) -> Vec<RelayIdentity> {
        self.primary_indices(params)
            .into_iter()
            .filter_map(|i| self.sampled.get(i))
            .filter_map(|g| RelayIdentity::from_bytes(&g.identity).ok())
            .collect()
    }

    fn primary_indices(&self, params: &GuardParams) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.sampled.len())
            .filter(|&i| {
                self.sampled
                    .get(i)
                    .is_some_and(|g| g.unlisted_since.is_none())
            })
            .collect();
        order.sort_by_key(|&i| {
            let g = self.sampled.get(i);
            (
                g.and_then(|g| g.confirmed_at).is_none(),
                g.and_then(|g| g.confirmed_at).unwrap_or(0),
                i,
            )
        });
        order.truncate(params.primary);
        order
    }

    /// Brings the sample up to date with `consensus` at `now`: marks the
    /// guards it no longer lists, removes those gone too long or past their
    /// lifetime, and samples new ones, weighted by bandwidth, until
    /// [`GuardParams::min_usable`] are usable or the sample is full.
    pub fn update<R: Rng + ?Sized>(
        &mut self,
        consensus: &Consensus,
        now: u64,
        params: &GuardParams,
        rng: &mut R,
    ) {
        let candidates = guard_candidates(consensus);
        for g in &mut self.sampled {
            let listed = candidates
                .iter()
                .any(|s| s.identity.as_bytes() == &g.identity);
            g.unlisted_since = if listed {
                None
            } else {
                Some(g.unlisted_since.unwrap_or(now))
            };
        }
        self.sampled.retain(|g| {
            let expired = match g.confirmed_at {
                Some(c) => now.saturating_sub(c) > params.confirmed_lifetime,
                None => now.saturating_sub(g.added_at) > params.lifetime,
            };
            let gone = g
                .unlisted_since
                .is_some_and(|t| now.saturating_sub(t) > params.remove_unlisted_after);
            !expired && !gone
        });
        while self.sampled.len() < params.max_sample && self.usable(now, params) < params.min_usable
        {
            let fresh: Vec<&RelayStatus> = candidates
                .iter()
                .copied()
                .filter(|s| {
                    !self
                        .sampled
                        .iter()
                        .any(|g| &g.identity == s.identity.as_bytes())
                })
                .collect();
            let Some(chosen) = weighted_pick(&fresh, rng) else {
                break;
            };
            self.sampled.push(SampledGuard {
                identity: *chosen.identity.as_bytes(),
                added_at: now,
                confirmed_at: None,
                unlisted_since: None,
                failing_since: None,
                last_failure: None,
            });
        }
    }

    /// Guards that are listed and not waiting for a retry.
    fn usable(&self, now: u64, params: &GuardParams) -> usize {
        let primary = self.primary_indices(params);
        (0..self.sampled.len())
            .filter(|&i| self.ready(i, now, primary.contains(&i)))
            .count()
    }

    /// Whether guard `i` may be tried at `now`.
    fn ready(&self, i: usize, now: u64, primary: bool) -> bool {
        let Some(g) = self.sampled.get(i) else {
            return false;
        };
        if g.unlisted_since.is_some() {
            return false;
        }
        match (g.failing_since, g.last_failure) {
            (Some(since), Some(last)) => {
                now.saturating_sub(last) >= retry_delay(primary, now.saturating_sub(since))
            }
            _ => true,
        }
    }

    /// The guard for a new circuit: the first primary guard that may be
    /// tried and `fits` the rest of the path; failing that, the first other
    /// sampled guard that does (§14.2). `None` when no guard is usable.
    pub fn choose<'a>(
        &self,
        consensus: &'a Consensus,
        now: u64,
        params: &GuardParams,
        fits: impl Fn(&RelayStatus) -> bool,
    ) -> Option<&'a RelayStatus> {
        let primary = self.primary_indices(params);
        let others = (0..self.sampled.len()).filter(|i| !primary.contains(i));
        primary
            .iter()
            .copied()
            .map(|i| (i, true))
            .chain(others.map(|i| (i, false)))
            .filter(|&(i, is_primary)| self.ready(i, now, is_primary))
            .filter_map(|(i, _)| self.sampled.get(i))
            .filter_map(|g| listed(consensus, &g.identity))
            .find(|s| fits(s))
    }

    /// A circuit through `guard` was built and used: it is confirmed and no
    /// longer failing.
    pub fn succeeded(&mut self, guard: &RelayIdentity, now: u64) {
        if let Some(g) = self.find(guard) {
            g.confirmed_at.get_or_insert(now);
            g.failing_since = None;
            g.last_failure = None;
        }
    }

    /// Reaching `guard` failed at `now`.
    pub fn failed(&mut self, guard: &RelayIdentity, now: u64) {
        if let Some(g) = self.find(guard) {
            g.failing_since.get_or_insert(now);
            g.last_failure = Some(now);
        }
    }

    fn find(&mut self, id: &RelayIdentity) -> Option<&mut SampledGuard> {
        self.sampled
            .iter_mut()
            .find(|g| &g.identity == id.as_bytes())
    }
}

/// The relay `consensus` lists with identity bytes `id`, found by its
/// bytes alone: the consensus holds only identities that parsed and is
/// sorted by them, and [`RelayIdentity`] orders as its bytes do, so a
/// sampled guard is looked up without parsing its key again (which checks
/// a curve point, and would cost more than the search).
pub(crate) fn listed<'a>(consensus: &'a Consensus, id: &[u8; 32]) -> Option<&'a RelayStatus> {
    let relays = consensus.relays();
    let i = relays
        .binary_search_by(|r| r.identity.as_bytes().cmp(id))
        .ok()?;
    relays.get(i)
}

/// Whether `guard` fits a path whose other relays are `others`.
pub fn fits_path(guard: &RelayStatus, others: &[&RelayStatus]) -> bool {
    others.iter().all(|o| compatible(guard, o))
}
