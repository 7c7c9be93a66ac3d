//! Results (docs/sim.md §7): one record per circuit, the summary, and their
//! CSV and JSON forms. The simulator returns the text; the command line
//! writes the files.

use std::fmt;
use std::fmt::Write as _;

use serde::Serialize;

use crate::adversary::{AdversaryReport, AdversaryResults};
use crate::circuit_level::{ConnectionReport, OnionReport};

/// How a circuit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Built, and the whole response arrived.
    Complete,
    /// Torn down or stalled before the response was in; why.
    Failed(String),
}

/// What was measured on one circuit (times in simulated nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitRecord {
    /// The client's index.
    pub client: usize,
    /// The circuit's number at that client, from 0.
    pub circuit: usize,
    /// Relay indices: guard, middle, exit; `None` when no path could be
    /// picked (no valid consensus, docs/sim.md §10.6).
    pub path: Option<[usize; 3]>,
    /// When the client sent CREATE.
    pub start_ns: u64,
    /// From CREATE sent to the last hop's EXTENDED received.
    pub build_ns: Option<u64>,
    /// From BEGIN sent to the first response byte received.
    pub ttfb_ns: Option<u64>,
    /// From BEGIN sent to the last response byte received.
    pub transfer_ns: Option<u64>,
    /// Response bytes received.
    pub bytes: u64,
    /// How it ended.
    pub outcome: Outcome,
}

impl CircuitRecord {
    /// Response bytes per simulated second over the transfer.
    pub fn throughput(&self) -> Option<f64> {
        let ns = self.transfer_ns.filter(|ns| *ns > 0)?;
        Some(as_f64(self.bytes) * 1e9 / as_f64(ns))
    }
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// The seed of the run.
    pub seed: u64,
    /// One record per circuit, in the order they finished.
    pub circuits: Vec<CircuitRecord>,
    /// Events the loop handled.
    pub events: u64,
    /// Simulated time when the last circuit finished, in nanoseconds.
    pub simulated_ns: u64,
}

/// A run's [`Results`] with what is known of its clients and its
/// adversary: the three files of a run (`circuits.csv`, `clients.csv`,
/// `summary.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The circuits and the run's figures.
    pub results: Results,
    /// Circuit handshakes done by relays.
    pub handshakes: u64,
    /// The names of the scenario's client classes.
    pub class_names: Vec<String>,
    /// Each client's class (an index into `class_names`).
    pub client_classes: Vec<usize>,
    /// The adversary's relays and what they saw, if the scenario has one.
    pub adversary: Option<AdversaryResults>,
    /// What the onion services saw (docs/sim.md §11), if there are any.
    pub onion: Option<OnionReport>,
    /// The consensus rounds (docs/sim.md §10.6), at the circuit level.
    pub consensus: Option<ConsensusReport>,
}

/// The consensus rounds of a run (docs/sim.md §10.6; `summary.json`'s
/// `consensus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConsensusReport {
    /// Authorities configured.
    pub authorities: usize,
    /// Rounds that made a consensus, the first one (at 0 s) included.
    pub rounds_made: u64,
    /// Rounds with too few authorities up: no consensus.
    pub rounds_missed: u64,
    /// Circuits that could not be built because the last consensus had
    /// expired.
    pub circuits_without_consensus: usize,
}

/// The median and 90th percentile of one measure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The 90th percentile.
    pub p90: f64,
}

/// The figures printed at the end of a run and written to `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The seed of the run.
    pub seed: u64,
    /// Circuits attempted.
    pub circuits: usize,
    /// Circuits whose whole response arrived.
    pub completed: usize,
    /// Circuits that failed.
    pub failed: usize,
    /// Circuit build time, ms.
    pub build_ms: Option<Spread>,
    /// Time to first byte, ms.
    pub ttfb_ms: Option<Spread>,
    /// Transfer throughput, bytes per second.
    pub throughput_bytes_per_s: Option<Spread>,
    /// Events the loop handled.
    pub events: u64,
    /// Simulated seconds until the last circuit finished.
    pub simulated_s: f64,
    /// Circuit handshakes done by relays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshakes: Option<u64>,
    /// What the adversary saw (docs/sim.md §9), if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adversary: Option<AdversaryReport>,
    /// What the onion services saw (docs/sim.md §11), if there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onion: Option<OnionReport>,
    /// The consensus rounds (docs/sim.md §10.6), at the circuit level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusReport>,
}

fn as_f64(x: u64) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "reporting only")]
    let f = x as f64;
    f
}

/// The nearest-rank median and 90th percentile of `values`.
pub(crate) fn spread(mut values: Vec<f64>) -> Option<Spread> {
    values.sort_by(f64::total_cmp);
    let rank = |q: usize| {
        let i = (values.len() * q).div_ceil(100).saturating_sub(1);
        values.get(i).copied()
    };
    Some(Spread {
        median: rank(50)?,
        p90: rank(90)?,
    })
}

impl Results {
    /// The summary of the run.
    pub fn summary(&self) -> Summary {
        let ms = |f: fn(&CircuitRecord) -> Option<u64>| {
            spread(
                self.circuits
                    .iter()
                    .filter_map(f)
                    .map(|ns| as_f64(ns) / 1e6)
                    .collect(),
            )
        };
        let completed = self
            .circuits
            .iter()
            .filter(|c| c.outcome == Outcome::Complete)
            .count();
        Summary {
            seed: self.seed,
            circuits: self.circuits.len(),
            completed,
            failed: self.circuits.len() - completed,
            build_ms: ms(|c| c.build_ns),
            ttfb_ms: ms(|c| c.ttfb_ns),
            throughput_bytes_per_s: spread(
                self.circuits
                    .iter()
                    .filter_map(CircuitRecord::throughput)
                    .collect(),
            ),
            events: self.events,
            simulated_s: as_f64(self.simulated_ns) / 1e9,
            handshakes: None,
            adversary: None,
            onion: None,
            consensus: None,
        }
    }

    /// `circuits.csv`: a header and one line per circuit, times in µs.
    pub fn circuits_csv(&self) -> String {
        let mut out = String::from(
            "client,circuit,guard,middle,exit,start_us,build_us,ttfb_us,transfer_us,bytes,outcome\n",
        );
        let us = |ns: Option<u64>| {
            ns.map(|ns| format!("{:.3}", as_f64(ns) / 1e3))
                .unwrap_or_default()
        };
        for c in &self.circuits {
            let [guard, middle, exit] =
                c.path.map(|p| p.map(|r| r.to_string())).unwrap_or_default();
            let outcome = match &c.outcome {
                Outcome::Complete => "complete".to_owned(),
                // Quoted, with quotes doubled (RFC 4180).
                Outcome::Failed(why) => format!("\"failed: {}\"", why.replace('"', "\"\"")),
            };
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "{},{},{guard},{middle},{exit},{},{},{},{},{},{outcome}",
                c.client,
                c.circuit,
                us(Some(c.start_ns)),
                us(c.build_ns),
                us(c.ttfb_ns),
                us(c.transfer_ns),
                c.bytes,
            );
        }
        out
    }

    /// `summary.json`: the summary, pretty-printed.
    pub fn summary_json(&self) -> String {
        pretty(&self.summary())
    }
}

impl Report {
    /// The summary of the run, with its handshakes and its adversary.
    pub fn summary(&self) -> Summary {
        Summary {
            handshakes: Some(self.handshakes),
            adversary: self.adversary.as_ref().map(|a| a.report.clone()),
            onion: self.onion.clone(),
            consensus: self.consensus,
            ..self.results.summary()
        }
    }

    /// `circuits.csv` (see [`Results::circuits_csv`]).
    pub fn circuits_csv(&self) -> String {
        self.results.circuits_csv()
    }

    /// `clients.csv`: a header and one line per client, times in µs: its
    /// class, circuits, completed circuits, the median (nearest rank) build
    /// time and TTFB of its circuits, response bytes received, and when its
    /// first circuit with the adversary at both ends started.
    pub fn clients_csv(&self) -> String {
        #[derive(Default)]
        struct Tally {
            circuits: usize,
            completed: usize,
            builds: Vec<u64>,
            ttfbs: Vec<u64>,
            bytes: u64,
        }
        let mut tallies: Vec<Tally> = Vec::new();
        tallies.resize_with(self.client_classes.len(), Tally::default);
        for c in &self.results.circuits {
            let Some(t) = tallies.get_mut(c.client) else {
                continue;
            };
            t.circuits += 1;
            t.completed += usize::from(c.outcome == Outcome::Complete);
            t.builds.extend(c.build_ns);
            t.ttfbs.extend(c.ttfb_ns);
            t.bytes += c.bytes;
        }
        let us = |ns: Option<u64>| {
            ns.map(|ns| format!("{:.3}", as_f64(ns) / 1e3))
                .unwrap_or_default()
        };
        let mut out = String::from(
            "client,class,circuits,completed,median_build_us,median_ttfb_us,bytes,compromised_at_us\n",
        );
        for (client, t) in tallies.iter_mut().enumerate() {
            let class = self
                .client_classes
                .get(client)
                .and_then(|&k| self.class_names.get(k))
                .map_or("", String::as_str);
            let compromised = self
                .adversary
                .as_ref()
                .and_then(|a| a.compromised_at_ns.get(client).copied().flatten());
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "{client},{class},{},{},{},{},{},{}",
                t.circuits,
                t.completed,
                us(median(&mut t.builds)),
                us(median(&mut t.ttfbs)),
                t.bytes,
                us(compromised),
            );
        }
        out
    }

    /// `summary.json`: the summary, pretty-printed.
    pub fn summary_json(&self) -> String {
        pretty(&self.summary())
    }
}

/// `summary` as pretty-printed JSON, with a final newline.
fn pretty(summary: &Summary) -> String {
    let mut json =
        serde_json::to_string_pretty(summary).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

/// The nearest-rank median of `values`.
fn median(values: &mut [u64]) -> Option<u64> {
    values.sort_unstable();
    let i = values.len().div_ceil(2).checked_sub(1)?;
    values.get(i).copied()
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "circuits: {} ({} complete, {} failed) in {:.3} simulated s, {} events",
            self.circuits, self.completed, self.failed, self.simulated_s, self.events
        )?;
        match self.handshakes {
            Some(n) => writeln!(f, ", {n} handshakes")?,
            None => writeln!(f)?,
        }
        let line = |f: &mut fmt::Formatter<'_>, name: &str, s: Option<Spread>, unit: &str| match s {
            Some(s) => writeln!(
                f,
                "{name}: median {:.3} {unit}, p90 {:.3} {unit}",
                s.median, s.p90
            ),
            None => writeln!(f, "{name}: none measured"),
        };
        line(f, "build time", self.build_ms, "ms")?;
        line(f, "time to first byte", self.ttfb_ms, "ms")?;
        let mb = self.throughput_bytes_per_s.map(|s| Spread {
            median: s.median / 1e6,
            p90: s.p90 / 1e6,
        });
        line(f, "throughput", mb, "MB/s")?;
        if let Some(a) = &self.adversary {
            writeln!(
                f,
                "adversary: {} relays ({:.4} of guard weight, {:.4} of exit weight); \
                 {} of {} circuits compromised ({:.6}, expected {:.6}); \
                 {} of {} clients ({:.6})",
                a.relays,
                a.guard_weight_share,
                a.exit_weight_share,
                a.compromised_circuits,
                a.circuits,
                a.circuit_share,
                a.expected_circuit_share,
                a.compromised_clients,
                a.clients,
                a.client_share,
            )?;
            line(f, "time to first compromise", a.first_compromise_s, "s")?;
            if let Some(o) = &a.onion {
                writeln!(
                    f,
                    "adversary guards at both ends of {} of {} onion connections ({:.6}, \
                     expected {:.6})",
                    o.compromised_connections,
                    o.connections,
                    o.connection_share,
                    o.expected_connection_share,
                )?;
            }
            if let Some(h) = &a.hsdir {
                writeln!(
                    f,
                    "adversary HSDirs: {} of {} on the ring; services whose descriptor it \
                     holds: {:.4} this period, {:.4} the next (expected {:.4})",
                    h.adversary_hsdirs,
                    h.hsdirs,
                    h.period_shares[0],
                    h.period_shares[1],
                    h.expected_share,
                )?;
            }
        }
        if let Some(c) = &self.consensus {
            writeln!(
                f,
                "consensus: {} authorities; {} rounds made, {} missed; {} circuits without a \
                 valid consensus",
                c.authorities, c.rounds_made, c.rounds_missed, c.circuits_without_consensus
            )?;
        }
        if let Some(o) = &self.onion {
            let puzzle = if o.puzzle { "on" } else { "off" };
            writeln!(f, "onion services: {} (puzzle {puzzle})", o.services)?;
            connections(f, "onion connections", &o.all)?;
            connections(f, "to the first service", &o.target)?;
            if let Some(d) = &o.target_during_flood {
                connections(f, "to it during the flood", d)?;
                writeln!(
                    f,
                    "flood: {} introductions sent, {} answered; attacker solving on {:.2} \
                     cores; highest suggested effort {}",
                    o.flood_sent, o.flood_served, o.attacker_cores, o.peak_suggested_effort
                )?;
            }
        }
        Ok(())
    }
}

/// One line of onion connections: how many succeeded, and their TTFB.
fn connections(f: &mut fmt::Formatter<'_>, name: &str, c: &ConnectionReport) -> fmt::Result {
    write!(
        f,
        "{name}: {} of {} succeeded ({:.4})",
        c.succeeded, c.connections, c.success_share
    )?;
    match c.ttfb_ms {
        Some(s) => writeln!(
            f,
            ", time to first byte median {:.3} ms, p90 {:.3} ms",
            s.median, s.p90
        ),
        None => writeln!(f),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = spread((1..=10).map(f64::from).collect()).unwrap();
        assert_eq!((s.median, s.p90), (5.0, 9.0));
        assert_eq!(spread(Vec::new()), None);
    }

    #[test]
    fn failures_are_quoted_in_the_csv() {
        let results = Results {
            seed: 1,
            circuits: vec![CircuitRecord {
                client: 0,
                circuit: 0,
                path: Some([1, 2, 3]),
                start_ns: 1_500,
                build_ns: None,
                ttfb_ns: None,
                transfer_ns: None,
                bytes: 0,
                outcome: Outcome::Failed("circuit timed out".into()),
            }],
            events: 9,
            simulated_ns: 0,
        };
        let csv = results.circuits_csv();
        assert!(
            csv.ends_with("0,0,1,2,3,1.500,,,,0,\"failed: circuit timed out\"\n"),
            "{csv}"
        );
        assert_eq!(results.summary().failed, 1);
    }
}
