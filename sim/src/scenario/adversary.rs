//! The `[adversary]` table (docs/sim.md §3, §9): one adversary runs a
//! share of the relays of some roles.

use serde::Deserialize;
use toml::Spanned;

use super::Checker;
use crate::error::SimError;

/// A path position the adversary's relays are chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Relays clients may pick as guards.
    Guard,
    /// Relays clients may pick as middles.
    Middle,
    /// Relays clients may pick as exits for the simulated streams.
    Exit,
    /// Relays with the HSDir flag: on the ring that stores onion-service
    /// descriptors (docs/sim.md §11.4).
    Hsdir,
}

/// How much of each role the adversary runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// This share of the relays that can hold the role.
    Count(f64),
    /// This share of the role's selection weight (bandwidth).
    Bandwidth(f64),
}

/// The adversary of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct AdversarySpec {
    /// How much of each role it runs.
    pub amount: Amount,
    /// The roles, each once, in the order guard, middle, exit, hsdir.
    pub roles: Vec<Role>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdversary {
    share: Option<Spanned<f64>>,
    bandwidth_share: Option<Spanned<f64>>,
    #[serde(rename = "as")]
    roles: Spanned<Vec<Role>>,
}

impl Checker<'_> {
    pub(super) fn adversary(&self, raw: &RawAdversary) -> Result<AdversarySpec, SimError> {
        let amount = match (&raw.share, &raw.bandwidth_share) {
            (Some(s), None) => Amount::Count(self.positive_share(s, "adversary.share")?),
            (None, Some(s)) => {
                Amount::Bandwidth(self.positive_share(s, "adversary.bandwidth_share")?)
            }
            (Some(_), Some(b)) => {
                let problem = "give share (by count) or bandwidth_share, not both".into();
                return self.fail(b.span(), "adversary.bandwidth_share", problem);
            }
            (None, None) => {
                let problem = "give share (by count) or bandwidth_share".into();
                return self.fail(raw.roles.span(), "adversary", problem);
            }
        };
        let mut roles = raw.roles.get_ref().clone();
        roles.sort_unstable();
        let len = roles.len();
        roles.dedup();
        if roles.is_empty() || roles.len() != len {
            let problem = "list each of \"guard\", \"middle\", \"exit\", \"hsdir\" at most \
                           once, and at least one"
                .into();
            return self.fail(raw.roles.span(), "adversary.as", problem);
        }
        Ok(AdversarySpec { amount, roles })
    }

    fn positive_share(&self, v: &Spanned<f64>, key: &str) -> Result<f64, SimError> {
        let x = self.share(v, key, true)?;
        if x == 0.0 {
            return self.fail(
                v.span(),
                key,
                "a share of 0 runs no relay: leave out [adversary]".into(),
            );
        }
        Ok(x)
    }
}
