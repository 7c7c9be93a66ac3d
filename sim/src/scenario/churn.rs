//! The `[churn]` table (docs/sim.md §3, §10.5, §10.6): consensus rounds,
//! relays that leave and come back between them, and directory
//! authorities that fail and recover.

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, Fidelity};
use crate::error::SimError;

/// How relays and authorities come and go.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnSpec {
    /// Time between consensus rounds, in nanoseconds.
    pub interval_ns: u64,
    /// Probability that a listed relay is gone from the next consensus.
    pub leave_share: f64,
    /// Probability that a relay that is gone is back in the next one.
    pub return_share: f64,
    /// When each failed authority is down (docs/sim.md §10.6).
    pub outages: Vec<Outage>,
}

/// One authority down from `from_ns` until `until_ns` (simulated time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// The authority's index, from 0.
    pub authority: usize,
    /// When it fails.
    pub from_ns: u64,
    /// When it is back; `None`: never.
    pub until_ns: Option<u64>,
}

impl Outage {
    /// Whether the authority is down at `t_ns`.
    pub fn covers(&self, t_ns: u64) -> bool {
        self.from_ns <= t_ns && self.until_ns.is_none_or(|u| t_ns < u)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChurn {
    interval_s: Spanned<f64>,
    leave_share: Option<Spanned<f64>>,
    return_share: Option<Spanned<f64>>,
    #[serde(default)]
    authority_failures: Vec<RawFailure>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFailure {
    at_s: Spanned<f64>,
    count: Spanned<usize>,
    recover_at_s: Option<Spanned<f64>>,
}

impl Checker<'_> {
    pub(super) fn churn(
        &self,
        raw: &RawChurn,
        fidelity: Fidelity,
        services: bool,
        authorities: usize,
    ) -> Result<ChurnSpec, SimError> {
        if fidelity == Fidelity::Cell {
            let problem = "churn needs fidelity = \"circuit\"".into();
            return self.fail(raw.interval_s.span(), "churn.interval_s", problem);
        }
        if services {
            let problem = "churn with onion services is not modelled (docs/sim.md §11.6): \
                           leave out [churn] or [[services]]"
                .into();
            return self.fail(raw.interval_s.span(), "churn.interval_s", problem);
        }
        let interval_ns = self.nanos(&raw.interval_s, "churn.interval_s", 1e9)?;
        if interval_ns < 1_000_000_000 {
            let problem = "consensus rounds must be at least 1 s apart".into();
            return self.fail(raw.interval_s.span(), "churn.interval_s", problem);
        }
        let leave_share = match &raw.leave_share {
            Some(v) => self.share(v, "churn.leave_share", true)?,
            None => 0.0,
        };
        let return_share = match &raw.return_share {
            Some(v) => self.share(v, "churn.return_share", true)?,
            None => 0.5,
        };
        Ok(ChurnSpec {
            interval_ns,
            leave_share,
            return_share,
            outages: self.outages(&raw.authority_failures, authorities)?,
        })
    }

    /// Which authorities each failure takes down: in order of `at_s` (file
    /// order among equals), the first `count` of the `authorities` that
    /// are up then, by index.
    fn outages(&self, raw: &[RawFailure], authorities: usize) -> Result<Vec<Outage>, SimError> {
        let mut failures = Vec::new();
        for (i, f) in raw.iter().enumerate() {
            let key = |k: &str| format!("churn.authority_failures[{i}].{k}");
            let from_ns = self.nanos(&f.at_s, &key("at_s"), 1e9)?;
            if from_ns == 0 {
                let problem = "the run starts with a consensus every authority votes for \
                               (docs/sim.md §10.6): fail authorities after 0 s"
                    .into();
                return self.fail(f.at_s.span(), &key("at_s"), problem);
            }
            let until_ns = match &f.recover_at_s {
                Some(r) => Some(self.nanos(r, &key("recover_at_s"), 1e9)?),
                None => None,
            };
            if let (Some(r), Some(until)) = (&f.recover_at_s, until_ns)
                && until <= from_ns
            {
                let problem = "authorities recover after they fail: give a recover_at_s \
                               later than at_s"
                    .into();
                return self.fail(r.span(), &key("recover_at_s"), problem);
            }
            failures.push((from_ns, i, until_ns, f));
        }
        failures.sort_by_key(|&(from_ns, i, ..)| (from_ns, i));
        let mut outages: Vec<Outage> = Vec::new();
        for (from_ns, i, until_ns, f) in failures {
            let up: Vec<usize> = (0..authorities)
                .filter(|&a| {
                    !outages
                        .iter()
                        .any(|o| o.authority == a && o.covers(from_ns))
                })
                .collect();
            let count = *f.count.get_ref();
            if count == 0 || count > up.len() {
                let problem = format!(
                    "{count} authorities cannot fail then: {} of the {authorities} configured \
                     ([authorities] count) are up, and at least 1 must fail",
                    up.len()
                );
                let key = format!("churn.authority_failures[{i}].count");
                return self.fail(f.count.span(), &key, problem);
            }
            outages.extend(up.iter().take(count).map(|&authority| Outage {
                authority,
                from_ns,
                until_ns,
            }));
        }
        Ok(outages)
    }
}
