//! Plots of a run's results (docs/sim.md §7): the CDFs of circuit build
//! time, time to first byte and throughput, the load on each relay, and
//! with an adversary (§9) the time to each client's first compromise and
//! the share of circuits it saw at both ends, as SVG text. The command line
//! writes the files.
//!
//! The SVG is a function of the [`Report`] and the scenario's name alone:
//! the same pair always gives the same bytes. Text goes into the SVG as
//! `<text>` elements; plotters estimates its width without a font, so no
//! font file is read.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::adversary::AdversaryResults;
use crate::report::{CircuitRecord, Report, Results};

/// One plot: the file it belongs in and its SVG text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plot {
    /// The file name, such as `build_time_cdf.svg`.
    pub file: &'static str,
    /// The SVG document.
    pub svg: String,
}

/// Plotters could not draw a plot (docs/sim.md §7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plotting {file}: {reason}")]
pub struct PlotError {
    /// The plot's file name.
    pub file: &'static str,
    /// What plotters reported.
    pub reason: String,
}

/// Width and height of every plot, in SVG pixels.
const SIZE: (u32, u32) = (800, 500);
/// The relay load plot has at most this many bars.
const MAX_BARS: usize = 250;
/// A CDF has at most this many steps; larger runs are sampled at evenly
/// spaced ranks, which moves the curve by at most 1/`MAX_STEPS`.
const MAX_STEPS: usize = 1000;
/// Colours of the guard, middle and exit positions in the relay load plot.
const POSITIONS: [(&str, RGBColor); 3] = [
    ("guard", RGBColor(31, 119, 180)),
    ("middle", RGBColor(255, 127, 14)),
    ("exit", RGBColor(44, 160, 44)),
];
/// The colour of a measured curve.
const CURVE: RGBColor = RGBColor(31, 119, 180);
/// The colour of an expected value drawn beside it.
const GUIDE: RGBColor = RGBColor(214, 39, 40);

/// Every plot of a run (docs/sim.md §7): `build_time_cdf.svg`,
/// `ttfb_cdf.svg`, `throughput_cdf.svg` and `relay_load.svg`, and with an
/// adversary (§9) `adversary_first_compromise_cdf.svg` and
/// `adversary_circuit_share.svg`. `scenario` names the run in each title,
/// with the seed.
pub fn plots(report: &Report, scenario: &str) -> Result<Vec<Plot>, PlotError> {
    draw_all(&report.results, report.adversary.as_ref(), scenario)
}

/// The plots of [`plots`], from the circuits and the adversary's view.
fn draw_all(
    results: &Results,
    adversary: Option<&AdversaryResults>,
    scenario: &str,
) -> Result<Vec<Plot>, PlotError> {
    let ms = |f: fn(&CircuitRecord) -> Option<u64>| -> Vec<f64> {
        results
            .circuits
            .iter()
            .filter_map(f)
            .map(|ns| as_f64(ns) / 1e6)
            .collect()
    };
    let name = |measure: &str| format!("{scenario}, seed {}: {measure}", results.seed);
    let total = results.circuits.len();
    let mut plots = vec![
        cdf(&Cdf {
            file: "build_time_cdf.svg",
            title: name("circuit build time"),
            x_desc: "circuit build time (ms)",
            of: "circuits",
            total,
            counted: "measured",
            of_all: false,
            until: 0.0,
            values: ms(|c| c.build_ns),
        })?,
        cdf(&Cdf {
            file: "ttfb_cdf.svg",
            title: name("time to first byte"),
            x_desc: "time to first byte (ms)",
            of: "circuits",
            total,
            counted: "measured",
            of_all: false,
            until: 0.0,
            values: ms(|c| c.ttfb_ns),
        })?,
        cdf(&Cdf {
            file: "throughput_cdf.svg",
            title: name("throughput"),
            x_desc: "throughput (MB/s)",
            of: "circuits",
            total,
            counted: "measured",
            of_all: false,
            until: 0.0,
            values: results
                .circuits
                .iter()
                .filter_map(CircuitRecord::throughput)
                .map(|b| b / 1e6)
                .collect(),
        })?,
        relay_load(results, &name("relay load"))?,
    ];
    if let Some(adversary) = adversary {
        plots.push(cdf(&Cdf {
            file: "adversary_first_compromise_cdf.svg",
            title: name("time to first compromise"),
            x_desc: "start of the client's first circuit with the adversary at both ends (s)",
            of: "clients",
            total: adversary.compromised_at_ns.len(),
            values: adversary
                .compromised_at_ns
                .iter()
                .flatten()
                .map(|ns| as_f64(*ns) / 1e9)
                .collect(),
            counted: "compromised",
            of_all: true,
            until: as_f64(results.simulated_ns) / 1e9,
        })?);
        plots.push(circuit_share(
            results,
            adversary,
            name("circuits with the adversary at both ends"),
        )?);
        if let Some(onion) = &adversary.report.onion {
            plots.push(share_over_time(&Share {
                file: "adversary_onion_share.svg",
                title: name("adversary guards at both ends"),
                of: "onion connections",
                x_desc: "simulated time at connection start (s)",
                started: adversary.onion_connections.clone(),
                expected: onion.expected_connection_share,
                observed: "client's and service's guard the adversary's",
                guide: "expected: guard weight share squared",
                until_ns: results.simulated_ns,
            })?);
        }
    }
    Ok(plots)
}

/// What a CDF plot shows.
struct Cdf<'a> {
    file: &'static str,
    /// The scenario, seed and measure.
    title: String,
    /// The measure and its unit.
    x_desc: &'a str,
    /// What is counted, such as "circuits".
    of: &'a str,
    /// How many there are, measured or not.
    total: usize,
    /// The measured values; those that are not finite are left out.
    values: Vec<f64>,
    /// What the title calls the values' count: "measured", "compromised".
    counted: &'a str,
    /// Whether the curve rises to the values' share of `total` rather than
    /// to 1.
    of_all: bool,
    /// The x axis reaches at least this far (the end of the run, for times
    /// in it).
    until: f64,
}

/// The empirical CDF of `plot.values` as a staircase, rising to 1 or, if
/// `plot.of_all`, to the values' share of `plot.total`.
fn cdf(plot: &Cdf<'_>) -> Result<Plot, PlotError> {
    let mut values: Vec<f64> = plot
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let x_min = values.first().map_or(0.0, |v| v.min(0.0));
    let x_max = values
        .last()
        .map_or(1.0, |v| if *v > x_min { *v * 1.05 } else { x_min + 1.0 });
    let x_max = if plot.until.is_finite() {
        x_max.max(plot.until)
    } else {
        x_max
    };
    let title = format!(
        "{} CDF ({n} of {} {} {})",
        plot.title, plot.total, plot.of, plot.counted
    );
    let (y_desc, denominator) = if plot.of_all {
        (format!("fraction of all {}", plot.of), plot.total.max(n))
    } else {
        (format!("fraction of {} {}", plot.counted, plot.of), n)
    };
    let steps = staircase(&values, denominator, x_min, x_max);
    // A share of all is drawn up to a little above where it ends.
    let top = steps.last().map_or(0.0, |(_, y)| *y);
    let y_max = if plot.of_all {
        (top * 1.2).clamp(0.01, 1.0)
    } else {
        1.0
    };
    render(plot.file, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(x_min..x_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc(plot.x_desc)
            .y_desc(y_desc.as_str())
            .draw()?;
        if steps.is_empty() {
            chart.draw_series(std::iter::once(nothing_measured(
                &format!("no {} {}", plot.of, plot.counted),
                ((x_min + x_max) / 2.0, y_max / 2.0),
            )))?;
        } else {
            chart.draw_series(LineSeries::new(steps, CURVE.stroke_width(2)))?;
        }
        Ok(())
    })
}

/// The corners of the CDF staircase of sorted `values`, from `x_min` to
/// `x_max`, each value adding `1 / denominator`; at most [`MAX_STEPS`]
/// steps.
fn staircase(values: &[f64], denominator: usize, x_min: f64, x_max: f64) -> Vec<(f64, f64)> {
    let n = values.len();
    let stride = n.div_ceil(MAX_STEPS).max(1);
    let fraction = |rank: usize| as_f64_usize(rank) / as_f64_usize(denominator.max(1));
    let mut points = Vec::with_capacity(2 * MAX_STEPS.min(n) + 2);
    let mut y = 0.0;
    // Every `stride`-th value, and always the largest.
    let ranks = (stride - 1..n)
        .step_by(stride)
        .chain(n.checked_sub(1).filter(|_| !n.is_multiple_of(stride)));
    for rank in ranks {
        if let Some(&x) = values.get(rank) {
            if points.is_empty() {
                points.push((x_min, 0.0));
            }
            points.push((x, y));
            y = fraction(rank + 1);
            points.push((x, y));
        }
    }
    if !points.is_empty() {
        points.push((x_max, y));
    }
    points
}

/// Circuits carried per relay, most loaded first, stacked by the position
/// the relay held (guard, middle, exit). Relays on no path are not shown.
fn relay_load(results: &Results, name: &str) -> Result<Plot, PlotError> {
    const FILE: &str = "relay_load.svg";
    let mut load: BTreeMap<usize, [usize; 3]> = BTreeMap::new();
    let paths: Vec<[usize; 3]> = results.circuits.iter().filter_map(|c| c.path).collect();
    for path in &paths {
        for (position, relay) in path.iter().enumerate() {
            let counts = load.entry(*relay).or_default();
            if let Some(n) = counts.get_mut(position) {
                *n += 1;
            }
        }
    }
    let mut ranked: Vec<(usize, [usize; 3])> = load.into_iter().collect();
    // Most loaded first; ties in relay order, so the order is fixed.
    ranked.sort_by_key(|(relay, counts)| (std::cmp::Reverse(counts.iter().sum::<usize>()), *relay));
    let most = ranked
        .first()
        .map_or(0, |(_, counts)| counts.iter().sum::<usize>());
    let title = format!(
        "{name} ({} relays on {} circuits' paths)",
        ranked.len(),
        paths.len()
    );
    // Beyond MAX_BARS relays, each bar is the mean of `width` neighbours.
    let width = ranked.len().div_ceil(MAX_BARS).max(1);
    let bars: Vec<(f64, [f64; 3])> = ranked
        .chunks(width)
        .enumerate()
        .map(|(bar, relays)| {
            let mut mean = [0.0; 3];
            for (_, counts) in relays {
                for (m, n) in mean.iter_mut().zip(counts) {
                    *m += as_f64_usize(*n);
                }
            }
            for m in &mut mean {
                *m /= as_f64_usize(relays.len());
            }
            (as_f64_usize(bar * width), mean)
        })
        .collect();
    let (title, y_desc) = if width > 1 {
        (
            format!("{title}, bars of {width}"),
            format!("circuits carried (mean of {width} relays)"),
        )
    } else {
        (title, "circuits carried".to_owned())
    };
    let x_max = as_f64_usize((bars.len() * width).max(1));
    let y_max = as_f64_usize(most.max(1)) * 1.1;
    render(FILE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("relays, most loaded first (rank)")
            .y_desc(y_desc.as_str())
            .x_label_formatter(&whole)
            .y_label_formatter(&whole)
            .draw()?;
        if bars.is_empty() {
            chart.draw_series(std::iter::once(nothing_measured(
                "no circuits",
                (x_max / 2.0, y_max / 2.0),
            )))?;
            return Ok(());
        }
        for (position, (label, colour)) in POSITIONS.iter().enumerate() {
            let w = as_f64_usize(width);
            let segments = bars.iter().map(|(x, mean)| {
                let below: f64 = mean.iter().take(position).sum();
                let own = mean.get(position).copied().unwrap_or(0.0);
                Rectangle::new(
                    [(x + 0.1 * w, below), (x + 0.9 * w, below + own)],
                    colour.filled(),
                )
            });
            let colour = *colour;
            chart
                .draw_series(segments)?
                .label(*label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

/// The share of the circuits started so far that had the adversary's
/// relays as guard and exit (docs/sim.md §9), against simulated time, with
/// the share expected from its guard and exit weight.
fn circuit_share(
    results: &Results,
    adversary: &AdversaryResults,
    title: String,
) -> Result<Plot, PlotError> {
    let mine = |relay: usize| adversary.owned.get(relay).copied().unwrap_or(false);
    let started = results
        .circuits
        .iter()
        .filter_map(|c| {
            let [guard, _, exit] = c.path?;
            Some((c.start_ns, mine(guard) && mine(exit)))
        })
        .collect();
    share_over_time(&Share {
        file: "adversary_circuit_share.svg",
        title,
        of: "circuits",
        x_desc: "simulated time at circuit start (s)",
        started,
        expected: adversary.report.expected_circuit_share,
        observed: "guard and exit the adversary's",
        guide: "expected: guard weight share × exit weight share",
        until_ns: results.simulated_ns,
    })
}

/// What a plot of a share over time shows.
struct Share<'a> {
    file: &'static str,
    /// The scenario, seed and measure.
    title: String,
    /// What is counted, such as "circuits".
    of: &'a str,
    /// The x axis: when each one started.
    x_desc: &'a str,
    /// Each one's start (ns) and whether it is counted.
    started: Vec<(u64, bool)>,
    /// The expected share, drawn as a line.
    expected: f64,
    /// The legends of the curve and of the line.
    observed: &'a str,
    guide: &'a str,
    /// The x axis reaches at least this far (the end of the run).
    until_ns: u64,
}

/// The share of `plot.started` counted so far against the start time, with
/// the expected share beside it (docs/sim.md §7).
fn share_over_time(plot: &Share<'_>) -> Result<Plot, PlotError> {
    let mut started = plot.started.clone();
    // A stable sort of records in finishing order: the order is fixed.
    started.sort_by_key(|(at, _)| *at);
    let n = started.len();
    let stride = n.div_ceil(MAX_STEPS).max(1);
    let mut both = 0;
    let mut points = Vec::with_capacity(MAX_STEPS.min(n) + 1);
    for (i, (at, compromised)) in started.iter().enumerate() {
        both += usize::from(*compromised);
        if (i + 1) % stride == 0 || i + 1 == n {
            points.push((as_f64(*at) / 1e9, as_f64_usize(both) / as_f64_usize(i + 1)));
        }
    }
    let expected = if plot.expected.is_finite() {
        plot.expected
    } else {
        0.0
    };
    let x_max = points
        .last()
        .map_or(0.0, |(x, _)| *x)
        .max(as_f64(plot.until_ns) / 1e9);
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let highest = points.iter().map(|(_, y)| *y).fold(expected, f64::max);
    let y_max = if highest > 0.0 { highest * 1.2 } else { 0.01 };
    let title = format!("{} ({both} of {n} {})", plot.title, plot.of);
    let (label, guide_label) = (plot.observed.to_owned(), plot.guide.to_owned());
    render(plot.file, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc(plot.x_desc)
            .y_desc(format!("share of the {} started so far", plot.of))
            .draw()?;
        if points.is_empty() {
            chart.draw_series(std::iter::once(nothing_measured(
                "no circuits",
                (x_max / 2.0, y_max / 2.0),
            )))?;
            return Ok(());
        }
        let (observed, guide) = (CURVE, GUIDE);
        chart
            .draw_series(LineSeries::new(points, observed.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], observed.stroke_width(2))
            });
        chart
            .draw_series(LineSeries::new(
                [(0.0, expected), (x_max, expected)],
                guide.stroke_width(1),
            ))?
            .label(guide_label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], guide.stroke_width(1)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

/// A tick label for a count.
fn whole(v: &f64) -> String {
    format!("{v:.0}")
}

/// The note drawn in place of data when there is none.
fn nothing_measured(note: &str, at: (f64, f64)) -> Text<'static, (f64, f64), String> {
    let style = TextStyle::from(("sans-serif", 18)).pos(Pos::new(HPos::Center, VPos::Center));
    Text::new(note.to_owned(), at, style)
}

/// The error type of drawing on the SVG backend.
type DrawError = DrawingAreaErrorKind<<SVGBackend<'static> as DrawingBackend>::ErrorType>;

/// Draws with `draw` on a white [`SIZE`] canvas and returns the SVG.
fn render(
    file: &'static str,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), DrawError>,
) -> Result<Plot, PlotError> {
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present())
    };
    drawn.map_err(|e| PlotError {
        file,
        reason: e.to_string(),
    })?;
    Ok(Plot { file, svg })
}

fn as_f64(x: u64) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "plotting only")]
    let f = x as f64;
    f
}

fn as_f64_usize(x: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "plotting only")]
    let f = x as f64;
    f
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::report::Outcome;

    fn record(client: usize, path: [usize; 3], ms: Option<u64>) -> CircuitRecord {
        let ns = ms.map(|ms| ms * 1_000_000);
        CircuitRecord {
            client,
            circuit: 0,
            path: Some(path),
            start_ns: 0,
            build_ns: ns,
            ttfb_ns: ns.map(|ns| ns / 2),
            transfer_ns: ns.map(|ns| ns * 3),
            bytes: 200_000,
            outcome: match ms {
                Some(_) => Outcome::Complete,
                None => Outcome::Failed("circuit timed out".into()),
            },
        }
    }

    fn results(circuits: Vec<CircuitRecord>) -> Results {
        Results {
            seed: 7,
            circuits,
            events: 0,
            simulated_ns: 0,
        }
    }

    fn sample() -> Results {
        results(
            (0..20)
                .map(|i| record(i, [i % 5, 5 + i % 3, 8 + i % 2], Some(100 + 7 * i as u64)))
                .collect(),
        )
    }

    fn by_file(plots: &[Plot], file: &str) -> String {
        plots
            .iter()
            .find(|p| p.file == file)
            .unwrap_or_else(|| panic!("no {file}"))
            .svg
            .clone()
    }

    #[test]
    fn every_plot_renders_with_its_labels() {
        let plots = draw_all(&sample(), None, "small").unwrap();
        let files: Vec<&str> = plots.iter().map(|p| p.file).collect();
        assert_eq!(
            files,
            [
                "build_time_cdf.svg",
                "ttfb_cdf.svg",
                "throughput_cdf.svg",
                "relay_load.svg"
            ]
        );
        for (file, labels) in [
            (
                "build_time_cdf.svg",
                &[
                    "circuit build time (ms)",
                    "fraction of measured circuits",
                    "small, seed 7: circuit build time CDF (20 of 20 circuits measured)",
                ][..],
            ),
            ("ttfb_cdf.svg", &["time to first byte (ms)"][..]),
            ("throughput_cdf.svg", &["throughput (MB/s)"][..]),
            (
                "relay_load.svg",
                &[
                    "relays, most loaded first (rank)",
                    "circuits carried",
                    "small, seed 7: relay load (10 relays on 20 circuits",
                    "guard",
                    "middle",
                    "exit",
                ][..],
            ),
        ] {
            let svg = by_file(&plots, file);
            assert!(svg.starts_with("<svg"), "{file}: {svg}");
            assert!(svg.trim_end().ends_with("</svg>"), "{file}");
            for label in labels {
                assert!(svg.contains(label), "{file} lacks {label:?}");
            }
            assert!(
                svg.contains("<polyline") || file == "relay_load.svg",
                "{file}"
            );
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{file}");
        }
    }

    #[test]
    fn the_same_results_give_the_same_bytes() {
        assert_eq!(
            draw_all(&sample(), None, "small"),
            draw_all(&sample(), None, "small")
        );
        let mut other = sample();
        other.seed = 8;
        assert_ne!(
            draw_all(&sample(), None, "small"),
            draw_all(&other, None, "small")
        );
    }

    #[test]
    fn no_records_and_no_times_still_plot() {
        for results in [
            results(Vec::new()),
            results(vec![record(0, [0, 1, 2], None), record(1, [2, 1, 0], None)]),
        ] {
            let plots = draw_all(&results, None, "empty").unwrap();
            assert_eq!(plots.len(), 4);
            for plot in &plots {
                assert!(!plot.svg.contains("NaN"), "{}", plot.file);
            }
            let n = results.circuits.len();
            assert!(
                by_file(&plots, "build_time_cdf.svg")
                    .contains(&format!("(0 of {n} circuits measured)"))
            );
            assert!(by_file(&plots, "ttfb_cdf.svg").contains("no circuits measured"));
        }
    }

    #[test]
    fn odd_values_are_left_out_or_widened() {
        // One value, a zero-length transfer (no throughput) and extreme indices.
        let mut one = record(0, [usize::MAX, 0, 1], Some(0));
        one.transfer_ns = Some(0);
        let plots = draw_all(&results(vec![one]), None, "one").unwrap();
        for plot in &plots {
            assert!(!plot.svg.contains("NaN"), "{}", plot.file);
        }
        let values = [f64::NAN, 1.0, f64::INFINITY];
        let svg = cdf(&Cdf {
            file: "x.svg",
            title: "t".into(),
            x_desc: "x",
            of: "circuits",
            total: 3,
            values: values.to_vec(),
            counted: "measured",
            of_all: false,
            until: 0.0,
        })
        .unwrap()
        .svg;
        assert!(svg.contains("(1 of 3 circuits measured)"));
        assert!(!svg.contains("NaN"));
    }

    /// The sample, circuit `i` starting at `i` s, with an adversary running
    /// relays 0 (a guard) and 8 (an exit): circuits 0 and 10 are its own.
    fn watched() -> (Results, AdversaryResults) {
        let mut results = sample();
        for (i, c) in results.circuits.iter_mut().enumerate() {
            c.start_ns = i as u64 * 1_000_000_000;
        }
        results.simulated_ns = 21_000_000_000;
        let mut owned = vec![false; 10];
        owned[0] = true;
        owned[8] = true;
        let adversary = crate::adversary::assess(owned, &[], &results.circuits, 20);
        (results, adversary)
    }

    #[test]
    fn an_adversary_adds_its_two_plots() {
        let (results, adversary) = watched();
        let plots = draw_all(&results, Some(&adversary), "watched").unwrap();
        assert_eq!(plots.len(), 6);
        let first = by_file(&plots, "adversary_first_compromise_cdf.svg");
        for label in [
            "watched, seed 7: time to first compromise CDF (2 of 20 clients compromised)",
            "fraction of all clients",
            "first circuit with the adversary at both ends (s)",
        ] {
            assert!(first.contains(label), "lacks {label:?}");
        }
        let share = by_file(&plots, "adversary_circuit_share.svg");
        for label in [
            "watched, seed 7: circuits with the adversary at both ends (2 of 20 circuits)",
            "simulated time at circuit start (s)",
            "share of the circuits started so far",
            "expected: guard weight share × exit weight share",
        ] {
            assert!(share.contains(label), "lacks {label:?}");
        }
        for plot in &plots {
            assert!(!plot.svg.contains("NaN"), "{}", plot.file);
        }
        assert_eq!(
            draw_all(&results, Some(&adversary), "watched"),
            draw_all(&results, Some(&adversary), "watched")
        );
    }

    #[test]
    fn onion_connections_add_their_plot() {
        let (results, mut adversary) = watched();
        let ends: Vec<crate::circuit_level::OnionEnds> = (0..10)
            .map(|i| crate::circuit_level::OnionEnds {
                start_ns: i * 1_000_000_000,
                client_guard: (i % 2) as usize,
                service_guard: (i % 5) as usize,
            })
            .collect();
        let (exposure, seen) = crate::adversary::assess_onion(&adversary.owned, &[], &ends);
        assert_eq!(exposure.compromised_connections, 1);
        adversary.report.onion = Some(exposure);
        adversary.onion_connections = seen;
        let plots = draw_all(&results, Some(&adversary), "watched").unwrap();
        assert_eq!(plots.len(), 7);
        let onion = by_file(&plots, "adversary_onion_share.svg");
        for label in [
            "watched, seed 7: adversary guards at both ends (1 of 10 onion connections)",
            "simulated time at connection start (s)",
            "share of the onion connections started so far",
            "expected: guard weight share squared",
        ] {
            assert!(onion.contains(label), "lacks {label:?}");
        }
        assert!(!onion.contains("NaN"));
    }

    #[test]
    fn an_adversary_that_saw_nothing_still_plots() {
        let empty = results(Vec::new());
        let adversary = crate::adversary::assess(Vec::new(), &[], &[], 0);
        let plots = draw_all(&empty, Some(&adversary), "empty").unwrap();
        assert!(
            by_file(&plots, "adversary_first_compromise_cdf.svg")
                .contains("no clients compromised")
        );
        assert!(by_file(&plots, "adversary_circuit_share.svg").contains("no circuits"));
        for plot in &plots {
            assert!(!plot.svg.contains("NaN"), "{}", plot.file);
        }
    }

    #[test]
    fn many_relays_are_drawn_as_bars_of_neighbours() {
        let many = results(
            (0..3 * MAX_BARS)
                .map(|i| record(i, [i, i + 1, i + 2], Some(100)))
                .collect(),
        );
        let svg = by_file(&draw_all(&many, None, "many").unwrap(), "relay_load.svg");
        assert!(svg.contains("bars of 4"), "{svg}");
        assert!(svg.contains("circuits carried (mean of 4 relays)"));
        assert!(svg.matches("<rect").count() <= 3 * MAX_BARS + 10);
    }

    #[test]
    fn the_staircase_rises_by_one_nth_and_is_capped() {
        assert_eq!(staircase(&[], 0, 0.0, 1.0), []);
        assert_eq!(
            staircase(&[1.0, 2.0], 2, 0.0, 3.0),
            [
                (0.0, 0.0),
                (1.0, 0.0),
                (1.0, 0.5),
                (2.0, 0.5),
                (2.0, 1.0),
                (3.0, 1.0)
            ]
        );
        let many: Vec<f64> = (0..10 * MAX_STEPS + 3).map(as_f64_usize).collect();
        let steps = staircase(&many, many.len(), 0.0, 1e9);
        assert!(steps.len() <= 2 * MAX_STEPS + 4, "{}", steps.len());
        assert_eq!(steps.last(), Some(&(1e9, 1.0)));
        assert!(
            steps
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
        );
    }
}
