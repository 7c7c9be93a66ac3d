//! The `[[services]]` and `[attack]` tables (docs/sim.md §3, §11): onion
//! services, and an introduction flood against the first of them.

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, Fidelity};
use crate::error::SimError;

/// Intro points a service may keep (docs/spec.md §15.7).
const MAX_INTRO_POINTS: usize = 10;

/// A group of onion services.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceSpec {
    /// How many services.
    pub count: usize,
    /// Intro points each keeps.
    pub intro_points: usize,
    /// Each service's upload and download bandwidth, bytes per second.
    pub bandwidth: u64,
}

/// An attacker flooding the first service with introductions
/// (docs/sim.md §11.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodSpec {
    /// Introductions sent per second.
    pub rate_per_s: f64,
    /// When the flood starts, in nanoseconds.
    pub start_ns: u64,
    /// How long it lasts, in nanoseconds.
    pub duration_ns: u64,
    /// Whether the service runs the puzzle (docs/spec.md §16.4).
    pub puzzle: bool,
    /// The effort the attacker solves each introduction at.
    pub effort: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    count: Spanned<usize>,
    intro_points: Option<Spanned<usize>>,
    bandwidth: Spanned<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAttack {
    intro_flood: Spanned<RawFlood>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlood {
    rate_per_s: Spanned<f64>,
    start_s: Spanned<f64>,
    duration_s: Spanned<f64>,
    puzzle: bool,
    effort: Option<Spanned<u32>>,
}

/// Introductions a second at most, so a typo cannot ask for billions of
/// events.
const MAX_RATE: f64 = 100_000.0;

impl Checker<'_> {
    pub(super) fn services(
        &self,
        raw: &[RawService],
        fidelity: Fidelity,
    ) -> Result<Vec<ServiceSpec>, SimError> {
        let mut out = Vec::new();
        for (i, s) in raw.iter().enumerate() {
            let key = |k: &str| format!("services[{i}].{k}");
            if fidelity == Fidelity::Cell {
                let problem = "onion services need fidelity = \"circuit\"".into();
                return self.fail(s.count.span(), &key("count"), problem);
            }
            let intro_points = match &s.intro_points {
                Some(v) if !(1..=MAX_INTRO_POINTS).contains(v.get_ref()) => {
                    let problem = format!(
                        "{} is not from 1 to {MAX_INTRO_POINTS} intro points",
                        v.get_ref()
                    );
                    return self.fail(v.span(), &key("intro_points"), problem);
                }
                Some(v) => *v.get_ref(),
                None => 3,
            };
            out.push(ServiceSpec {
                count: self.count(&s.count, &key("count"), 1)?,
                intro_points,
                bandwidth: self.bandwidth(&s.bandwidth, &key("bandwidth"))?,
            });
        }
        Ok(out)
    }

    pub(super) fn attack(
        &self,
        raw: &RawAttack,
        services: &[ServiceSpec],
    ) -> Result<FloodSpec, SimError> {
        let f = raw.intro_flood.get_ref();
        if services.is_empty() {
            let problem = "an introduction flood needs a service: add [[services]]".into();
            return self.fail(raw.intro_flood.span(), "attack.intro_flood", problem);
        }
        let rate = *f.rate_per_s.get_ref();
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
            let problem = format!("{rate} is not a rate above 0 and at most {MAX_RATE} a second");
            return self.fail(
                f.rate_per_s.span(),
                "attack.intro_flood.rate_per_s",
                problem,
            );
        }
        let effort = match &f.effort {
            Some(e) if *e.get_ref() > warren_proto::intro_queue::MAX_EFFORT => {
                let problem = format!(
                    "{} is above the highest effort a service asks, {}",
                    e.get_ref(),
                    warren_proto::intro_queue::MAX_EFFORT
                );
                return self.fail(e.span(), "attack.intro_flood.effort", problem);
            }
            Some(e) => *e.get_ref(),
            None => 0,
        };
        Ok(FloodSpec {
            rate_per_s: rate,
            start_ns: self.nanos(&f.start_s, "attack.intro_flood.start_s", 1e9)?,
            duration_ns: self.nanos(&f.duration_s, "attack.intro_flood.duration_s", 1e9)?,
            puzzle: f.puzzle,
            effort,
        })
    }
}
