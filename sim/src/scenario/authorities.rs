//! The `[authorities]` table (docs/sim.md §3, §10.6): how many directory
//! authorities vote and sign the consensus, and how many consensus rounds
//! one consensus stays valid.

use serde::Deserialize;
use toml::Spanned;
use warren_directory::authority::MAX_AUTHORITIES;

use super::Checker;
use crate::error::SimError;

/// The most rounds a consensus may be valid for.
const MAX_VALID_ROUNDS: u64 = 1000;

/// The directory authorities of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthoritySpec {
    /// How many authorities are configured (`N`; more than half must vote
    /// and sign).
    pub count: usize,
    /// How many consensus rounds (`[churn] interval_s`) a consensus is
    /// valid for.
    pub valid_rounds: u64,
}

impl Default for AuthoritySpec {
    /// One authority, each consensus valid for three rounds (the public
    /// network's schedule: an hour, valid for three).
    fn default() -> Self {
        Self {
            count: 1,
            valid_rounds: 3,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthorities {
    count: Option<Spanned<usize>>,
    valid_rounds: Option<Spanned<u64>>,
}

impl Checker<'_> {
    pub(super) fn authorities(&self, raw: &RawAuthorities) -> Result<AuthoritySpec, SimError> {
        let mut spec = AuthoritySpec::default();
        if let Some(count) = &raw.count {
            spec.count = *count.get_ref();
            if !(1..=MAX_AUTHORITIES).contains(&spec.count) {
                let problem = format!("{} is not from 1 to {MAX_AUTHORITIES}", spec.count);
                return self.fail(count.span(), "authorities.count", problem);
            }
        }
        if let Some(rounds) = &raw.valid_rounds {
            spec.valid_rounds = *rounds.get_ref();
            if !(1..=MAX_VALID_ROUNDS).contains(&spec.valid_rounds) {
                let problem = format!(
                    "{} is not from 1 to {MAX_VALID_ROUNDS} rounds",
                    spec.valid_rounds
                );
                return self.fail(rounds.span(), "authorities.valid_rounds", problem);
            }
        }
        Ok(spec)
    }
}
