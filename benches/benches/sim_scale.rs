//! The simulator at Tor scale (docs/sim.md §10.4): runs
//! `sim/scenarios/tor-scale.toml` (7,000 relays, 100,000 clients, one
//! simulated hour at the circuit level) once, and prints the wall time, the
//! simulated events per second and the peak resident memory of the
//! process. Needs a release build: `cargo bench -p warren-benches --bench
//! sim_scale` (an argument, `-- FILE`, runs another scenario).

#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a load generator: it prints its figures, and a failure must abort the run"
)]

use std::time::Instant;

/// The process's peak resident set size in kB (`VmHWM` of /proc/self/status).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // `cargo bench` passes `--bench`; a path given after `--` replaces the
    // shipped scenario.
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../sim/scenarios/tor-scale.toml"
            )
            .to_owned()
        });
    let text = std::fs::read_to_string(&path).expect("read the scenario");
    let scenario = warren_sim::Scenario::from_toml(&text).expect("the scenario parses");
    let started = Instant::now();
    let report = warren_sim::run(&scenario, scenario.seed).expect("the run");
    let wall = started.elapsed().as_secs_f64();
    let summary = report.summary();
    let events = report.results.events;
    #[expect(clippy::cast_precision_loss, reason = "a rate for display")]
    let rate = events as f64 / wall.max(1e-9);
    println!("sim_scale: {path}");
    println!(
        "  {} relays, {} clients, {:.0} simulated s",
        scenario.relays.count, scenario.clients.count, summary.simulated_s
    );
    println!(
        "  {} circuits ({} complete), {} handshakes, {events} events",
        summary.circuits,
        summary.completed,
        summary.handshakes.unwrap_or(0)
    );
    println!("  wall time: {wall:.2} s");
    println!("  events per second: {rate:.0}");
    match peak_rss_kb() {
        Some(kb) => println!("  peak RSS: {:.1} MiB", kb as f64 / 1024.0),
        None => println!("  peak RSS: not available (no /proc/self/status)"),
    }
}
