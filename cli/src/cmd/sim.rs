//! `warren sim`: runs the deterministic simulator on a scenario and writes
//! its results (docs/sim.md §7). The simulator itself is pure; this command
//! reads the scenario, measures wall time, shows progress and writes files.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use warren_sim::{Plot, Report, Scenario};

/// Arguments of `warren sim`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The scenario file (see sim/scenarios/ and docs/sim.md).
    scenario: PathBuf,
    /// The run's seed; defaults to the scenario's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// The directory for circuits.csv, clients.csv, summary.json and the SVG plots
    /// (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Runs the scenario, writes the result files, prints the summary.
pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let path = args.scenario.display();
    let text =
        std::fs::read_to_string(&args.scenario).with_context(|| format!("reading {path}"))?;
    let scenario = Scenario::from_toml(&text).with_context(|| format!("{path}"))?;
    let seed = args.seed.unwrap_or(scenario.seed);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating the output directory {}", args.out.display()))?;
    let started = Instant::now();
    let mut progress = Progress::new();
    let report = warren_sim::run_with_progress(&scenario, seed, |done, total| {
        progress.show(done, total);
    })
    .with_context(|| format!("{path}, seed {seed}"))?;
    let wall = started.elapsed().as_secs_f64();
    progress.finish();
    // The scenario's file name, without `.toml`, names the run in the plots.
    let name = args
        .scenario
        .file_stem()
        .map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned());
    let plots = warren_sim::plots(&report, &name)?;
    write_results(&args.out, &report, &plots)?;
    print_summary(&args.out, &report, &plots, wall)
}

fn write_results(out: &Path, report: &Report, plots: &[Plot]) -> anyhow::Result<()> {
    let texts = [
        ("circuits.csv", report.circuits_csv()),
        ("summary.json", report.summary_json()),
        ("clients.csv", report.clients_csv()),
    ];
    let texts = texts.iter().map(|(name, text)| (*name, text.as_str()));
    let svgs = plots.iter().map(|p| (p.file, p.svg.as_str()));
    for (name, text) in texts.chain(svgs) {
        let file = out.join(name);
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

fn print_summary(out: &Path, report: &Report, plots: &[Plot], wall_s: f64) -> anyhow::Result<()> {
    // Events per wall-clock second: the simulator's speed on this machine.
    #[expect(clippy::cast_precision_loss, reason = "a rate for display")]
    let rate = report.results.events as f64 / wall_s.max(1e-9);
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", report.summary())
        .and_then(|()| writeln!(stdout, "wall time: {wall_s:.3} s, {rate:.0} events/s"))
        .and_then(|()| {
            writeln!(
                stdout,
                "wrote {0}/circuits.csv, {0}/clients.csv and {0}/summary.json",
                out.display()
            )
        })
        .and_then(|()| {
            let files: Vec<&str> = plots.iter().map(|p| p.file).collect();
            writeln!(stdout, "plots in {}: {}", out.display(), files.join(", "))
        })
        .context("writing the summary to stdout")
}

/// The progress line on stderr: rewritten in place on a terminal, one line
/// per tenth of the run otherwise.
struct Progress {
    terminal: bool,
    shown: usize,
}

impl Progress {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            shown: usize::MAX,
        }
    }

    fn show(&mut self, done: usize, total: usize) {
        let steps = if self.terminal { 100 } else { 10 };
        let step = done * steps / total.max(1);
        if step == self.shown {
            return;
        }
        self.shown = step;
        let end = if self.terminal { "\r" } else { "\n" };
        let mut stderr = std::io::stderr().lock();
        // Progress is best effort: a closed stderr must not stop the run.
        let _ = write!(stderr, "sim: {done}/{total} circuits{end}");
        let _ = stderr.flush();
    }

    fn finish(&self) {
        if self.terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}
