//! The `[churn]` table (docs/sim.md §3, §10.5): relays leave and come back
//! between consensus rounds.

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, Fidelity};
use crate::error::SimError;

/// How relays come and go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChurnSpec {
    /// Time between consensus rounds, in nanoseconds.
    pub interval_ns: u64,
    /// Probability that a listed relay is gone from the next consensus.
    pub leave_share: f64,
    /// Probability that a relay that is gone is back in the next one.
    pub return_share: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChurn {
    interval_s: Spanned<f64>,
    leave_share: Spanned<f64>,
    return_share: Option<Spanned<f64>>,
}

impl Checker<'_> {
    pub(super) fn churn(
        &self,
        raw: &RawChurn,
        fidelity: Fidelity,
        services: bool,
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
        let leave_share = self.share(&raw.leave_share, "churn.leave_share", true)?;
        let return_share = match &raw.return_share {
            Some(v) => self.share(v, "churn.return_share", true)?,
            None => 0.5,
        };
        Ok(ChurnSpec {
            interval_ns,
            leave_share,
            return_share,
        })
    }
}
