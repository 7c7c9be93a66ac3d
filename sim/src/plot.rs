//! Plots of a run's results (docs/sim.md §7): the CDFs of circuit build
//! time, time to first byte and throughput, and the load on each relay, as
//! SVG text. The command line writes the files.
//!
//! The SVG is a function of the [`Results`] and the scenario's name alone:
//! the same pair always gives the same bytes. Text goes into the SVG as
//! `<text>` elements; plotters estimates its width without a font, so no
//! font file is read.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::{CircuitRecord, Results};

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
/// A CDF has at most this many steps; larger runs are sampled at evenly
/// spaced ranks, which moves the curve by at most 1/`MAX_STEPS`.
const MAX_STEPS: usize = 1000;
/// Colours of the guard, middle and exit positions in the relay load plot.
const POSITIONS: [(&str, RGBColor); 3] = [
    ("guard", RGBColor(31, 119, 180)),
    ("middle", RGBColor(255, 127, 14)),
    ("exit", RGBColor(44, 160, 44)),
];
/// The colour of a CDF curve.
const CURVE: RGBColor = RGBColor(31, 119, 180);

/// Every plot of a run (docs/sim.md §7): `build_time_cdf.svg`,
/// `ttfb_cdf.svg`, `throughput_cdf.svg` and `relay_load.svg`. `scenario`
/// names the run in each title, with the seed.
pub fn plots(results: &Results, scenario: &str) -> Result<Vec<Plot>, PlotError> {
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
    Ok(vec![
        cdf(&Cdf {
            file: "build_time_cdf.svg",
            title: name("circuit build time"),
            x_desc: "circuit build time (ms)",
            of: "circuits",
            total,
            values: ms(|c| c.build_ns),
        })?,
        cdf(&Cdf {
            file: "ttfb_cdf.svg",
            title: name("time to first byte"),
            x_desc: "time to first byte (ms)",
            of: "circuits",
            total,
            values: ms(|c| c.ttfb_ns),
        })?,
        cdf(&Cdf {
            file: "throughput_cdf.svg",
            title: name("throughput"),
            x_desc: "throughput (MB/s)",
            of: "circuits",
            total,
            values: results
                .circuits
                .iter()
                .filter_map(CircuitRecord::throughput)
                .map(|b| b / 1e6)
                .collect(),
        })?,
        relay_load(results, &name("relay load"))?,
    ])
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
}

/// The empirical CDF of `plot.values` as a staircase from 0 to 1.
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
    let title = format!(
        "{} CDF ({n} of {} {} measured)",
        plot.title, plot.total, plot.of
    );
    let y_desc = format!("fraction of measured {}", plot.of);
    let steps = staircase(&values, x_min, x_max);
    render(plot.file, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(x_min..x_max, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc(plot.x_desc)
            .y_desc(y_desc.as_str())
            .draw()?;
        if steps.is_empty() {
            chart.draw_series(std::iter::once(nothing_measured(
                plot.of,
                ((x_min + x_max) / 2.0, 0.5),
            )))?;
        } else {
            chart.draw_series(LineSeries::new(steps, CURVE.stroke_width(2)))?;
        }
        Ok(())
    })
}

/// The corners of the CDF staircase of sorted `values`, from `x_min` to
/// `x_max`; at most [`MAX_STEPS`] steps.
fn staircase(values: &[f64], x_min: f64, x_max: f64) -> Vec<(f64, f64)> {
    let n = values.len();
    let stride = n.div_ceil(MAX_STEPS).max(1);
    let fraction = |rank: usize| as_f64_usize(rank) / as_f64_usize(n);
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
    for c in &results.circuits {
        for (position, relay) in c.path.iter().enumerate() {
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
        results.circuits.len()
    );
    let x_max = as_f64_usize(ranked.len().max(1));
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
            .y_desc("circuits carried")
            .x_label_formatter(&whole)
            .y_label_formatter(&whole)
            .draw()?;
        if ranked.is_empty() {
            chart.draw_series(std::iter::once(nothing_measured(
                "circuits",
                (x_max / 2.0, y_max / 2.0),
            )))?;
            return Ok(());
        }
        for (position, (label, colour)) in POSITIONS.iter().enumerate() {
            let bars = ranked.iter().enumerate().map(|(rank, (_, counts))| {
                let below: usize = counts.iter().take(position).sum();
                let own = counts.get(position).copied().unwrap_or(0);
                let x = as_f64_usize(rank);
                Rectangle::new(
                    [
                        (x + 0.1, as_f64_usize(below)),
                        (x + 0.9, as_f64_usize(below + own)),
                    ],
                    colour.filled(),
                )
            });
            let colour = *colour;
            chart
                .draw_series(bars)?
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

/// A tick label for a count.
fn whole(v: &f64) -> String {
    format!("{v:.0}")
}

/// The note drawn in place of data when there is none.
fn nothing_measured(of: &str, at: (f64, f64)) -> Text<'static, (f64, f64), String> {
    let style = TextStyle::from(("sans-serif", 18)).pos(Pos::new(HPos::Center, VPos::Center));
    Text::new(format!("no {of} measured"), at, style)
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
            path,
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
        let plots = plots(&sample(), "small").unwrap();
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
        assert_eq!(plots(&sample(), "small"), plots(&sample(), "small"));
        let mut other = sample();
        other.seed = 8;
        assert_ne!(plots(&sample(), "small"), plots(&other, "small"));
    }

    #[test]
    fn no_records_and_no_times_still_plot() {
        for results in [
            results(Vec::new()),
            results(vec![record(0, [0, 1, 2], None), record(1, [2, 1, 0], None)]),
        ] {
            let plots = plots(&results, "empty").unwrap();
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
        let plots = plots(&results(vec![one]), "one").unwrap();
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
        })
        .unwrap()
        .svg;
        assert!(svg.contains("(1 of 3 circuits measured)"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn the_staircase_rises_by_one_nth_and_is_capped() {
        assert_eq!(staircase(&[], 0.0, 1.0), []);
        assert_eq!(
            staircase(&[1.0, 2.0], 0.0, 3.0),
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
        let steps = staircase(&many, 0.0, 1e9);
        assert!(steps.len() <= 2 * MAX_STEPS + 4, "{}", steps.len());
        assert_eq!(steps.last(), Some(&(1e9, 1.0)));
        assert!(
            steps
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
        );
    }
}
