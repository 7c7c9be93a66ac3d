//! Scenarios (docs/sim.md §3): the TOML file a run is made from, checked
//! into a [`Scenario`] whose every value is in range. Every error names the
//! line and the key.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::SimError;

mod adversary;
mod authorities;
mod churn;
mod clients;
mod services;

use adversary::RawAdversary;
pub use adversary::{AdversarySpec, Amount, Role};
pub use authorities::AuthoritySpec;
use authorities::RawAuthorities;
use churn::RawChurn;
pub use churn::{ChurnSpec, Outage};
use clients::RawClients;
pub use clients::{ClientClass, ClientSpec, Traffic};
pub use services::{FloodSpec, ServiceSpec};
use services::{RawAttack, RawService};

/// One region: where a share of the nodes sits.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Its name, used by `[[links]]`.
    pub name: String,
    /// Its weight when nodes are placed (relative to the other regions).
    pub share: f64,
}

/// The path between two regions (either way).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkModel {
    /// One-way latency, in nanoseconds.
    pub latency_ns: u64,
    /// Probability that a cell is lost once and must be retransmitted.
    pub loss: f64,
}

/// A class of relay bandwidth and the share of relays in it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BandwidthClass {
    /// Its weight when relays are drawn (relative to the other classes).
    pub share: f64,
    /// Upload bandwidth, bytes per second.
    pub up: u64,
    /// Download bandwidth, bytes per second.
    pub down: u64,
}

/// The relays of the network.
#[derive(Debug, Clone, PartialEq)]
pub struct RelaySpec {
    /// How many.
    pub count: usize,
    /// Probability that a relay is a guard (Guard flag and role).
    pub guard_share: f64,
    /// Probability that a relay is an exit (role, policy for port 80/443).
    pub exit_share: f64,
    /// Their bandwidth classes.
    pub classes: Vec<BandwidthClass>,
}

/// The modelled costs of relay work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    /// Processing time of one cell passing a relay, in nanoseconds.
    pub cell_ns: u64,
    /// Processing time of one CREATE handshake at a relay, in nanoseconds.
    pub handshake_ns: u64,
    /// How long each hop's handshake may take before the client gives up.
    pub build_timeout: Duration,
    /// An onion service's time to answer one introduction, in nanoseconds
    /// (docs/sim.md §11.2).
    pub intro_ns: u64,
    /// One Equi-X solve attempt (one nonce) of the puzzle, in nanoseconds.
    pub pow_attempt_ns: u64,
}

/// The level of fidelity of a run (docs/sim.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fidelity {
    /// Every cell through the real circuit machines (docs/sim.md §4).
    #[default]
    Cell,
    /// Circuits and flows, for Tor-sized networks (docs/sim.md §10).
    Circuit,
}

/// A checked scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The seed used when the command line gives none.
    pub seed: u64,
    /// The level of fidelity.
    pub fidelity: Fidelity,
    /// No client starts a circuit or a request after this much simulated
    /// time, in nanoseconds; the work in flight finishes.
    pub duration_ns: Option<u64>,
    /// The regions, in file order.
    pub regions: Vec<Region>,
    /// The paths between regions, keyed by region indices `(a, b)`, `a <= b`.
    pub links: BTreeMap<(usize, usize), LinkModel>,
    /// The relays.
    pub relays: RelaySpec,
    /// The clients.
    pub clients: ClientSpec,
    /// The modelled costs.
    pub costs: Costs,
    /// The adversary, if any.
    pub adversary: Option<AdversarySpec>,
    /// The directory authorities (docs/sim.md §10.6).
    pub authorities: AuthoritySpec,
    /// Consensus rounds, relays leaving and coming back and authorities
    /// failing, if any.
    pub churn: Option<ChurnSpec>,
    /// The onion services, in groups as listed.
    pub services: Vec<ServiceSpec>,
    /// An introduction flood, if any.
    pub intro_flood: Option<FloodSpec>,
}

impl Scenario {
    /// The path between regions `a` and `b`, in either order.
    pub fn link(&self, a: usize, b: usize) -> Option<LinkModel> {
        self.links.get(&(a.min(b), a.max(b))).copied()
    }

    /// Parses and checks a scenario file's text.
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
            SimError::ScenarioSyntax {
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        Checker { text }.scenario(raw)
    }
}

/// A client's class, drawn by the classes' shares (no draw when there is
/// only one, so that a one-class scenario's runs do not depend on it).
pub fn draw_class(spec: &ClientSpec, rng: &mut rand_chacha::ChaCha20Rng) -> usize {
    if spec.classes.len() < 2 {
        return 0;
    }
    let weights: Vec<f64> = spec.classes.iter().map(|c| c.share).collect();
    crate::rng::weighted_index(rng, &weights).unwrap_or(0)
}

/// Where one more client sits, its class and its start time in ns, drawn
/// from `rng` in that order (docs/sim.md §4); both levels of fidelity
/// place their clients with it, so one seed places them alike.
pub(crate) fn place_client(
    scenario: &Scenario,
    net: &mut crate::netmodel::Network,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> (crate::netmodel::NodeId, usize, u64) {
    let spec = &scenario.clients;
    let weights: Vec<f64> = scenario.regions.iter().map(|r| r.share).collect();
    let region = crate::rng::weighted_index(rng, &weights).unwrap_or(0);
    let class = draw_class(spec, rng);
    let node = net.add_node(region, spec.up, spec.down);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a fraction of a spread of at most a year in ns"
    )]
    let start = (crate::rng::uniform(rng) * spec.start_spread_ns as f64) as u64;
    (node, class, start)
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    fidelity: Fidelity,
    duration_s: Option<Spanned<f64>>,
    regions: Spanned<Vec<RawRegion>>,
    links: Vec<RawLink>,
    relays: RawRelays,
    clients: RawClients,
    #[serde(default)]
    costs: RawCosts,
    adversary: Option<RawAdversary>,
    authorities: Option<RawAuthorities>,
    churn: Option<RawChurn>,
    #[serde(default)]
    services: Vec<RawService>,
    attack: Option<RawAttack>,
}

fn default_seed() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    name: Spanned<String>,
    share: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    between: Spanned<[String; 2]>,
    latency_ms: Spanned<f64>,
    #[serde(default = "zero")]
    loss: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelays {
    count: Spanned<usize>,
    guard_share: Spanned<f64>,
    exit_share: Spanned<f64>,
    classes: Spanned<Vec<RawClass>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    share: Spanned<f64>,
    up: Spanned<u64>,
    down: Spanned<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCosts {
    #[serde(default = "default_cell_us")]
    cell_us: Spanned<f64>,
    #[serde(default = "default_handshake_us")]
    handshake_us: Spanned<f64>,
    #[serde(default = "default_build_timeout_ms")]
    build_timeout_ms: Spanned<f64>,
    #[serde(default = "default_intro_us")]
    intro_us: Spanned<f64>,
    #[serde(default = "default_pow_attempt_us")]
    pow_attempt_us: Spanned<f64>,
}

pub(crate) fn zero() -> Spanned<f64> {
    Spanned::new(0..0, 0.0)
}

fn default_cell_us() -> Spanned<f64> {
    Spanned::new(0..0, 0.3)
}

fn default_handshake_us() -> Spanned<f64> {
    Spanned::new(0..0, 150.0)
}

fn default_build_timeout_ms() -> Spanned<f64> {
    Spanned::new(0..0, 10_000.0)
}

/// 40 ms: the service answers 16 introductions at once (its concurrent
/// rendezvous), each about 0.6 s of circuit building (docs/sim.md §11.2).
fn default_intro_us() -> Spanned<f64> {
    Spanned::new(0..0, 40_000.0)
}

/// 10.5 ms: one Equi-X nonce (../shared/MEASURED.md: 10–11 ms).
fn default_pow_attempt_us() -> Spanned<f64> {
    Spanned::new(0..0, 10_500.0)
}

impl Default for RawCosts {
    fn default() -> Self {
        Self {
            cell_us: default_cell_us(),
            handshake_us: default_handshake_us(),
            build_timeout_ms: default_build_timeout_ms(),
            intro_us: default_intro_us(),
            pow_attempt_us: default_pow_attempt_us(),
        }
    }
}

/// Upper bound on node counts, so a typo cannot ask for terabytes.
const MAX_NODES: usize = 1_000_000;
/// Upper bound on times in the file (one simulated year, in ms).
const MAX_MS: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;

/// Checks raw values against the file's text (for line numbers).
struct Checker<'a> {
    text: &'a str,
}

impl Checker<'_> {
    fn fail<T>(&self, span: Range<usize>, key: &str, problem: String) -> Result<T, SimError> {
        Err(SimError::ScenarioValue {
            line: line_col(self.text, span.start).0,
            key: key.to_owned(),
            problem,
        })
    }

    /// A share: finite and at least 0 (and at most 1 when `at_most_one`).
    fn share(&self, v: &Spanned<f64>, key: &str, at_most_one: bool) -> Result<f64, SimError> {
        let x = *v.get_ref();
        let max = if at_most_one { 1.0 } else { f64::MAX };
        if !(x.is_finite() && (0.0..=max).contains(&x)) {
            let range = if at_most_one { "0 to 1" } else { "0 or more" };
            return self.fail(v.span(), key, format!("{x} is not a share from {range}"));
        }
        Ok(x)
    }

    /// A duration in ms or µs (`scale` ns per unit), finite, 0 or more.
    fn nanos(&self, v: &Spanned<f64>, key: &str, scale: f64) -> Result<u64, SimError> {
        let x = *v.get_ref();
        if !(x.is_finite() && x >= 0.0 && x * scale <= MAX_MS * 1e6) {
            return self.fail(
                v.span(),
                key,
                format!("{x} is not a time from 0 to one year"),
            );
        }
        // In range by the check above, so the cast neither wraps nor saturates.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked finite, non-negative and at most a year in ns"
        )]
        Ok((x * scale).round() as u64)
    }

    fn count(&self, v: &Spanned<usize>, key: &str, min: usize) -> Result<usize, SimError> {
        let n = *v.get_ref();
        if !(min..=MAX_NODES).contains(&n) {
            return self.fail(
                v.span(),
                key,
                format!("{n} is not from {min} to {MAX_NODES}"),
            );
        }
        Ok(n)
    }

    fn bandwidth(&self, v: &Spanned<u64>, key: &str) -> Result<u64, SimError> {
        if *v.get_ref() == 0 {
            return self.fail(
                v.span(),
                key,
                "a bandwidth must be at least 1 byte/s".into(),
            );
        }
        Ok(*v.get_ref())
    }

    fn scenario(&self, raw: RawScenario) -> Result<Scenario, SimError> {
        let regions = self.regions(&raw.regions)?;
        let links = self.links(&raw.links, &regions)?;
        let duration_ns = match &raw.duration_s {
            Some(d) => Some(self.nanos(d, "duration_s", 1e9)?),
            None => None,
        };
        let services = self.services(&raw.services, raw.fidelity)?;
        let authorities = match &raw.authorities {
            Some(a) => self.authorities(a)?,
            None => AuthoritySpec::default(),
        };
        let intro_flood = raw
            .attack
            .as_ref()
            .map(|a| self.attack(a, &services))
            .transpose()?;
        Ok(Scenario {
            seed: raw.seed,
            fidelity: raw.fidelity,
            duration_ns,
            relays: self.relays(&raw.relays)?,
            clients: self.clients(&raw.clients, raw.fidelity, !services.is_empty())?,
            costs: self.costs(&raw.costs)?,
            adversary: raw
                .adversary
                .as_ref()
                .map(|a| self.adversary(a))
                .transpose()?,
            churn: raw
                .churn
                .as_ref()
                .map(|c| self.churn(c, raw.fidelity, !services.is_empty(), authorities.count))
                .transpose()?,
            authorities,
            regions,
            links,
            services,
            intro_flood,
        })
    }

    fn regions(&self, raw: &Spanned<Vec<RawRegion>>) -> Result<Vec<Region>, SimError> {
        if raw.get_ref().is_empty() {
            return self.fail(raw.span(), "regions", "list at least one region".into());
        }
        let mut regions: Vec<Region> = Vec::new();
        for (i, r) in raw.get_ref().iter().enumerate() {
            let name = r.name.get_ref().clone();
            if regions.iter().any(|o| o.name == name) {
                let key = format!("regions[{i}].name");
                return self.fail(
                    r.name.span(),
                    &key,
                    format!("region `{name}` is listed twice"),
                );
            }
            let share = self.share(&r.share, &format!("regions[{i}].share"), false)?;
            regions.push(Region { name, share });
        }
        if regions.iter().all(|r| r.share == 0.0) {
            return self.fail(raw.span(), "regions", "every share is 0".into());
        }
        Ok(regions)
    }

    fn links(
        &self,
        raw: &[RawLink],
        regions: &[Region],
    ) -> Result<BTreeMap<(usize, usize), LinkModel>, SimError> {
        let mut links = BTreeMap::new();
        for (i, l) in raw.iter().enumerate() {
            let key = format!("links[{i}].between");
            let [a, b] = l.between.get_ref();
            let index = |name: &str| regions.iter().position(|r| r.name == name);
            let (Some(x), Some(y)) = (index(a), index(b)) else {
                let problem = format!("`{a}` or `{b}` is not a region listed under [[regions]]");
                return self.fail(l.between.span(), &key, problem);
            };
            let model = LinkModel {
                latency_ns: self.nanos(&l.latency_ms, &format!("links[{i}].latency_ms"), 1e6)?,
                loss: self.share(&l.loss, &format!("links[{i}].loss"), true)?,
            };
            if model.loss >= 1.0 {
                let key = format!("links[{i}].loss");
                return self.fail(l.loss.span(), &key, "a loss of 1 delivers nothing".into());
            }
            if links.insert((x.min(y), x.max(y)), model).is_some() {
                return self.fail(
                    l.between.span(),
                    &key,
                    format!("`{a}`–`{b}` is listed twice"),
                );
            }
        }
        for (x, ra) in regions.iter().enumerate() {
            for (y, rb) in regions.iter().enumerate().skip(x) {
                if !links.contains_key(&(x, y)) {
                    return Err(SimError::ScenarioValue {
                        line: line_col(self.text, self.text.len()).0,
                        key: "links".into(),
                        problem: format!(
                            "no [[links]] entry between `{}` and `{}` (add one with \
                             between = [\"{}\", \"{}\"])",
                            ra.name, rb.name, ra.name, rb.name
                        ),
                    });
                }
            }
        }
        Ok(links)
    }

    fn relays(&self, raw: &RawRelays) -> Result<RelaySpec, SimError> {
        let mut classes = Vec::new();
        for (i, c) in raw.classes.get_ref().iter().enumerate() {
            classes.push(BandwidthClass {
                share: self.share(&c.share, &format!("relays.classes[{i}].share"), false)?,
                up: self.bandwidth(&c.up, &format!("relays.classes[{i}].up"))?,
                down: self.bandwidth(&c.down, &format!("relays.classes[{i}].down"))?,
            });
        }
        if classes.iter().all(|c| c.share == 0.0) {
            let problem = "list at least one class with a share above 0".into();
            return self.fail(raw.classes.span(), "relays.classes", problem);
        }
        Ok(RelaySpec {
            count: self.count(&raw.count, "relays.count", 3)?,
            guard_share: self.share(&raw.guard_share, "relays.guard_share", true)?,
            exit_share: self.share(&raw.exit_share, "relays.exit_share", true)?,
            classes,
        })
    }

    fn costs(&self, raw: &RawCosts) -> Result<Costs, SimError> {
        let timeout_ns = self.nanos(&raw.build_timeout_ms, "costs.build_timeout_ms", 1e6)?;
        if timeout_ns == 0 {
            let problem = "a build timeout of 0 fails every circuit".into();
            return self.fail(
                raw.build_timeout_ms.span(),
                "costs.build_timeout_ms",
                problem,
            );
        }
        Ok(Costs {
            cell_ns: self.nanos(&raw.cell_us, "costs.cell_us", 1e3)?,
            handshake_ns: self.nanos(&raw.handshake_us, "costs.handshake_us", 1e3)?,
            build_timeout: Duration::from_nanos(timeout_ns),
            intro_ns: self.nanos(&raw.intro_us, "costs.intro_us", 1e3)?,
            pow_attempt_ns: self.nanos(&raw.pow_attempt_us, "costs.pow_attempt_us", 1e3)?,
        })
    }
}

/// A circuit-level scenario for unit tests: one region, `relays` relays
/// (half guards, half exits), one client, and `rest` (more tables) after.
#[cfg(test)]
pub(crate) fn one_region(relays: usize, rest: &str) -> Scenario {
    let text = format!(
        r#"
fidelity = "circuit"
[[regions]]
name = "a"
share = 1
[[links]]
between = ["a", "a"]
latency_ms = 5
[relays]
count = {relays}
guard_share = 0.5
exit_share = 0.5
[[relays.classes]]
share = 1
up = 1000
down = 1000
[clients]
count = 1
up = 100
down = 100
response_bytes = 10
{rest}"#
    );
    match Scenario::from_toml(&text) {
        Ok(s) => s,
        Err(e) => panic!("the test scenario does not parse: {e}"),
    }
}

#[cfg(test)]
mod test;
