//! What an authority knows (docs/spec.md §12.14): the relays whose
//! descriptors it accepted and what its tests saw of them, the votes and
//! signatures of the coming periods, and the consensus it serves.

use std::collections::{BTreeMap, HashMap};

use warren_crypto::RelayIdentity;
use warren_directory::{
    AuthorityIdentity, AuthoritySet, ConsensusBody, ConsensusSignature, FlagThresholds,
    Observation, RelayStatus, SignedDescriptor, Vote, assign_flags,
};
use warren_net::dir_client::ConsensusKeeper;

/// The most relays one authority tracks; descriptors beyond are refused.
pub(crate) const MAX_RELAYS: usize = 50_000;

/// One relay as the authority knows it.
pub(crate) struct KnownRelay {
    pub(crate) descriptor: SignedDescriptor,
    /// When the authority first accepted a descriptor of it.
    first_seen: u64,
    /// Since when every test reached it; `None` after a failed test.
    up_since: Option<u64>,
    /// The last test: when, and whether it reached the relay.
    last_test: Option<(u64, bool)>,
}

/// The consensus body this authority computed for a period, and the
/// signatures on it that checked out.
pub(crate) struct Computed {
    pub(crate) body: ConsensusBody,
    pub(crate) bytes: Vec<u8>,
    pub(crate) signatures: BTreeMap<AuthorityIdentity, ConsensusSignature>,
}

/// The authority's state, behind one lock.
pub(crate) struct State {
    pub(crate) relays: HashMap<RelayIdentity, KnownRelay>,
    /// Votes by period (`valid_after`) and voter.
    pub(crate) votes: BTreeMap<u64, BTreeMap<AuthorityIdentity, Vote>>,
    /// Signatures that arrived before this authority computed the body.
    pub(crate) early_signatures: BTreeMap<u64, BTreeMap<AuthorityIdentity, ConsensusSignature>>,
    pub(crate) computed: BTreeMap<u64, Computed>,
    pub(crate) keeper: ConsensusKeeper,
}

/// What accepting a descriptor did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Accepted {
    /// A relay not known before, or a newer descriptor: test it.
    New,
    /// The same or an older descriptor than the one held.
    Unchanged,
}

impl State {
    pub(crate) fn new(keeper: ConsensusKeeper) -> Self {
        Self {
            relays: HashMap::new(),
            votes: BTreeMap::new(),
            early_signatures: BTreeMap::new(),
            computed: BTreeMap::new(),
            keeper,
        }
    }

    /// Takes a verified, timely descriptor.
    pub(crate) fn accept_descriptor(
        &mut self,
        descriptor: SignedDescriptor,
        now: u64,
    ) -> Result<Accepted, &'static str> {
        let id = descriptor.descriptor().identity;
        let full = self.relays.len() >= MAX_RELAYS;
        match self.relays.get_mut(&id) {
            Some(known) => {
                if descriptor.descriptor().published <= known.descriptor.descriptor().published {
                    return Ok(Accepted::Unchanged);
                }
                known.descriptor = descriptor;
                Ok(Accepted::New)
            }
            None if full => Err("this authority tracks as many relays as it can"),
            None => {
                self.relays.insert(
                    id,
                    KnownRelay {
                        descriptor,
                        first_seen: now,
                        up_since: None,
                        last_test: None,
                    },
                );
                Ok(Accepted::New)
            }
        }
    }

    /// Records a reachability test of `id`.
    pub(crate) fn record_test(&mut self, id: &RelayIdentity, reached: bool, now: u64) {
        if let Some(known) = self.relays.get_mut(id) {
            known.up_since = if reached {
                Some(known.up_since.unwrap_or(now))
            } else {
                None
            };
            known.last_test = Some((now, reached));
        }
    }

    /// Forgets relays whose descriptor has expired.
    pub(crate) fn expire_relays(&mut self, now: u64) {
        self.relays
            .retain(|_, k| k.descriptor.descriptor().validity().contains(now));
    }

    /// The relays to test, with their addresses.
    pub(crate) fn to_test(&self) -> Vec<(RelayIdentity, Vec<String>)> {
        self.relays
            .iter()
            .map(|(id, k)| (*id, k.descriptor.descriptor().addresses.clone()))
            .collect()
    }

    /// The statuses this authority votes for the period starting at
    /// `valid_after`: every relay its last test reached, no longer ago than
    /// `max_age`, whose descriptor is still valid then (§12.5, §12.14).
    pub(crate) fn vote_statuses(
        &self,
        now: u64,
        valid_after: u64,
        max_age: u64,
        thresholds: &FlagThresholds,
    ) -> Vec<RelayStatus> {
        let listed: Vec<&KnownRelay> = self
            .relays
            .values()
            .filter(|k| {
                matches!(k.last_test, Some((t, true)) if now.saturating_sub(t) <= max_age)
                    && k.descriptor.descriptor().validity().contains(valid_after)
            })
            .collect();
        let observations: Vec<Observation> = listed
            .iter()
            .map(|k| {
                Observation::new(
                    k.descriptor.descriptor(),
                    true,
                    k.up_since.map_or(0, |t| now.saturating_sub(t)),
                    now.saturating_sub(k.first_seen),
                )
            })
            .collect();
        let flags = assign_flags(&observations, thresholds);
        listed
            .iter()
            .zip(flags)
            .map(|(k, flags)| {
                RelayStatus::from_descriptor(
                    &k.descriptor,
                    flags,
                    k.descriptor.descriptor().bandwidth,
                )
            })
            .collect()
    }

    /// Stores a verified vote for a coming period.
    pub(crate) fn add_vote(&mut self, vote: Vote) {
        self.votes
            .entry(vote.body().valid_after)
            .or_default()
            .insert(vote.authority(), vote);
    }

    /// Adds a signature for `valid_after`: checked now when this authority
    /// has computed the body, kept for later otherwise. Returns whether a
    /// checked signature was added.
    pub(crate) fn add_signature(
        &mut self,
        valid_after: u64,
        signature: ConsensusSignature,
        set: &AuthoritySet,
    ) -> Result<bool, String> {
        match self.computed.get_mut(&valid_after) {
            Some(computed) => {
                signature
                    .check(&computed.bytes, set)
                    .map_err(|e| e.to_string())?;
                Ok(computed
                    .signatures
                    .insert(signature.authority(), signature)
                    .is_none())
            }
            None => {
                if !set.contains(&signature.authority()) {
                    return Err("signed by an authority not configured here".into());
                }
                self.early_signatures
                    .entry(valid_after)
                    .or_default()
                    .insert(signature.authority(), signature);
                Ok(false)
            }
        }
    }

    /// Records the body computed for `valid_after` and this authority's
    /// signature, and checks the signatures that came early.
    pub(crate) fn set_computed(
        &mut self,
        valid_after: u64,
        body: ConsensusBody,
        bytes: Vec<u8>,
        own: ConsensusSignature,
        set: &AuthoritySet,
    ) {
        let mut signatures = BTreeMap::new();
        signatures.insert(own.authority(), own);
        for (id, sig) in self
            .early_signatures
            .remove(&valid_after)
            .unwrap_or_default()
        {
            match sig.check(&bytes, set) {
                Ok(_) => {
                    signatures.insert(id, sig);
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "another authority signed a different consensus body; its signature is left out"
                ),
            }
        }
        self.computed.insert(
            valid_after,
            Computed {
                body,
                bytes,
                signatures,
            },
        );
    }

    /// Forgets the votes, bodies and signatures of periods before `valid_after`.
    pub(crate) fn forget_before(&mut self, valid_after: u64) {
        self.votes = self.votes.split_off(&valid_after);
        self.early_signatures = self.early_signatures.split_off(&valid_after);
        self.computed = self.computed.split_off(&valid_after);
    }
}
