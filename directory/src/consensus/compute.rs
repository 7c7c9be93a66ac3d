//! The consensus algorithm (docs/spec.md §12.7): a deterministic function
//! of the configured authorities and the votes, so that every authority that
//! has the same votes computes the same canonical bytes, whatever the order
//! in which the votes arrived.

use std::collections::BTreeMap;

use sha3::{Digest, Sha3_256};
use warren_crypto::RelayIdentity;

use super::{ConsensusBody, SRV_LABEL};
use crate::DirectoryError;
use crate::authority::AuthoritySet;
use crate::status::{Flags, RelayInfo, RelayStatus};
use crate::vote::flags::low_median;
use crate::vote::{Vote, VoteBody};

impl ConsensusBody {
    /// Computes the consensus of `votes` (§12.7). The votes must have been
    /// verified; each must come from a distinct authority of `set`, and more
    /// than half of the configured authorities must have voted.
    pub fn compute(set: &AuthoritySet, votes: &[Vote]) -> Result<Self, DirectoryError> {
        let votes = usable_votes(set, votes)?;
        let median = |f: fn(&VoteBody) -> u64| {
            let mut values: Vec<u64> = votes.iter().map(|v| f(v.body())).collect();
            low_median(&mut values).ok_or(DirectoryError::Internal {
                what: "the median of no votes",
            })
        };
        Ok(Self {
            valid_after: median(|b| b.valid_after)?,
            fresh_until: median(|b| b.fresh_until)?,
            valid_until: median(|b| b.valid_until)?,
            shared_random: shared_random(&votes),
            voters: votes.iter().map(|v| v.authority()).collect(),
            relays: merge_relays(&votes, set.needed()),
        })
    }
}

/// The votes sorted by authority, after checking that each comes from a
/// distinct configured authority and that there are enough of them.
fn usable_votes<'a>(
    set: &AuthoritySet,
    votes: &'a [Vote],
) -> Result<Vec<&'a Vote>, DirectoryError> {
    let mut sorted: Vec<&Vote> = votes.iter().collect();
    sorted.sort_by_key(|v| v.authority());
    for pair in sorted.windows(2) {
        if let [a, b] = pair
            && a.authority() == b.authority()
        {
            return Err(DirectoryError::DuplicateAuthority {
                what: "votes",
                authority: a.authority(),
            });
        }
    }
    if let Some(v) = sorted.iter().find(|v| !set.contains(&v.authority())) {
        return Err(DirectoryError::UnknownAuthority {
            document: "vote",
            authority: v.authority(),
            configured: set.len(),
        });
    }
    if sorted.len() < set.needed() {
        return Err(DirectoryError::TooFewVotes {
            votes: sorted.len(),
            needed: set.needed(),
            configured: set.len(),
        });
    }
    Ok(sorted)
}

/// `SHA3-256("warren-srv-v1" | c_1 | … | c_k)`, the contributions in
/// increasing order of authority identity (§12.9).
fn shared_random(votes: &[&Vote]) -> [u8; 32] {
    let mut h = Sha3_256::new().chain_update(SRV_LABEL);
    for v in votes {
        h.update(v.body().shared_random);
    }
    h.finalize().into()
}

/// The relays listed by at least `needed` votes, merged, sorted by identity.
fn merge_relays(votes: &[&Vote], needed: usize) -> Vec<RelayStatus> {
    let mut by_id: BTreeMap<RelayIdentity, Vec<&RelayStatus>> = BTreeMap::new();
    for vote in votes {
        for status in &vote.body().relays {
            by_id.entry(status.identity).or_default().push(status);
        }
    }
    by_id
        .into_iter()
        .filter(|(_, listed)| listed.len() >= needed)
        .filter_map(|(identity, listed)| merge_one(identity, &listed))
        .collect()
}

/// One relay's consensus entry from the entries of the votes that list it.
fn merge_one(identity: RelayIdentity, listed: &[&RelayStatus]) -> Option<RelayStatus> {
    let mut bandwidths: Vec<u64> = listed.iter().map(|s| s.bandwidth).collect();
    let (digest, info) = choose_fields(listed)?;
    Some(RelayStatus {
        identity,
        descriptor_digest: digest,
        flags: majority_flags(listed),
        bandwidth: low_median(&mut bandwidths)?,
        info: info.clone(),
    })
}

/// Each flag that more than half of the listing votes set.
fn majority_flags(listed: &[&RelayStatus]) -> Flags {
    let mut flags = Flags::NONE;
    for (flag, _) in Flags::MEMBERS {
        let count = listed.iter().filter(|s| s.flags.contains(*flag)).count();
        flags.set(*flag, 2 * count > listed.len());
    }
    flags
}

/// The descriptor digest (with its fields) listed by the most votes; ties
/// go to the larger digest, then to the larger fields, which differ for one
/// digest only when an authority misreports a descriptor.
fn choose_fields<'a>(listed: &[&'a RelayStatus]) -> Option<([u8; 32], &'a RelayInfo)> {
    let mut counts: BTreeMap<([u8; 32], &RelayInfo), usize> = BTreeMap::new();
    for s in listed {
        *counts.entry((s.descriptor_digest, &s.info)).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|(ka, ca), (kb, cb)| ca.cmp(cb).then_with(|| ka.cmp(kb)))
        .map(|((digest, info), _)| (digest, info))
}
