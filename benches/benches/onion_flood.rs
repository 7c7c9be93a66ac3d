//! Load generator: an onion service under an introduction flood
//! (docs/spec.md §16.1, §16.4), on process networks on loopback. Each
//! phase starts a fresh network — 3 authorities, 6 relays, a backend, a
//! `warren service` and a `warren client` — and times legitimate requests
//! (curl through the client's SOCKS entry, a new SOCKS username each, so
//! each needs a rendezvous of its own) while an attacker in this process
//! floods the service's intro points with valid, distinct INTRODUCE1
//! messages: a fresh `X` each, the cookie of a rendezvous circuit it set
//! up and never uses, no puzzle solution, as fast as its intro circuits
//! carry them. The intro points let 1000/s (burst 2000) through, so that
//! they do not shield the service: its own queue is what is tested. The
//! phases: no attack, the flood against the service with the puzzle off,
//! and with it on.
//!
//! Needs the release binary: `cargo build --release --bin warren`, then
//! `cargo bench -p warren-benches --bench onion_flood` (or set WARREN_BIN).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    reason = "a load generator: it prints its table, and a failure must abort the run"
)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use warren_crypto::HsAddress;
use warren_proto::relay_msg::IntroduceAckStatus;
use warren_tests::onion::{
    RawClient, Rendezvous, ServiceDescriptor, make_introduction, read_metric, wait_for_consensus,
    wait_for_descriptor,
};
use warren_tests::procs::{
    HELLO, free_port, start_authorities, start_backend, start_client, start_relay,
    start_service_with,
};

/// Legitimate requests per phase.
const LEGIT: usize = 24;
/// Between the starts of two legitimate requests: 24 over about 60 s.
const LEGIT_SPACING: Duration = Duration::from_millis(2500);
/// How long one legitimate request may take (curl --max-time).
const LEGIT_MAX_SECS: u64 = 30;
/// How long the flood runs before the first legitimate request: the
/// service's effort controller looks every 5 s and republishes.
const WARM_UP: Duration = Duration::from_secs(12);
/// Attacker tasks, spread over the intro points, each with its own
/// circuits.
const ATTACKERS: usize = 6;
/// INTRODUCE1 messages each attacker task keeps in flight.
const WINDOW: usize = 4;

/// What one phase is.
#[derive(Clone, Copy)]
struct Phase {
    name: &'static str,
    pow: bool,
    attack: bool,
}

/// The attacker's counts.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    acked: AtomicU64,
    rate_limited: AtomicU64,
    other_ack: AtomicU64,
    circuit_failures: AtomicU64,
}

/// What one phase measured.
struct Row {
    name: &'static str,
    ok: usize,
    ttfb: Vec<Duration>,
    sent: u64,
    acked: u64,
    rate_limited: u64,
    attack_secs: f64,
    accepted: f64,
    dropped: f64,
    effort: f64,
    joined: f64,
    failed: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The median and the 90th percentile.
fn quantiles(mut v: Vec<Duration>) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    let p90 = (v.len() * 9).div_ceil(10).clamp(1, v.len()) - 1;
    Some((ms(v[v.len() / 2]), ms(v[p90])))
}

/// One legitimate request: curl through the client's SOCKS entry with
/// its own username; the time to first byte when the body is right.
fn legit_request(socks: SocketAddr, user: &str, url: &str) -> Option<Duration> {
    let out = Command::new("curl")
        .args(["--silent", "--max-time", &LEGIT_MAX_SECS.to_string()])
        .args(["--socks5-hostname", &socks.to_string()])
        .args(["--proxy-user", &format!("{user}:x")])
        .args(["--write-out", "\n%{time_starttransfer}"])
        .arg(url)
        .output()
        .expect("curl is installed");
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, ttfb) = text.rsplit_once('\n')?;
    if body != HELLO {
        return None;
    }
    ttfb.trim().parse().ok().map(Duration::from_secs_f64)
}

/// One attacker task: a rendezvous circuit set up once and never used,
/// an intro circuit to intro point `k`, and INTRODUCE1 after INTRODUCE1,
/// `WINDOW` in flight, until `stop`.
async fn attacker(
    client: Arc<RawClient>,
    descriptor: Arc<ServiceDescriptor>,
    k: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) {
    let intros = &descriptor.content.intro_points;
    let intro = &intros[k % intros.len()];
    let exclude: Vec<_> = intros.iter().map(|i| i.relay).collect();
    let mut rend: Option<Rendezvous> = None;
    while !stop.load(Ordering::Relaxed) {
        let Some(r) = rend.as_ref() else {
            match client.rendezvous(&exclude).await {
                Ok(r) => rend = Some(r),
                Err(_) => {
                    counts.circuit_failures.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            continue;
        };
        let Ok(mut circuit) = client.intro_circuit(intro).await else {
            counts.circuit_failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut in_flight = 0;
        'circuit: while !stop.load(Ordering::Relaxed) {
            while in_flight < WINDOW {
                let i = make_introduction(&descriptor, intro, &r.point, r.cookie, Vec::new())
                    .expect("an introduction");
                if circuit.send_introduce(&i.message).await.is_err() {
                    break 'circuit;
                }
                in_flight += 1;
                counts.sent.fetch_add(1, Ordering::Relaxed);
            }
            match circuit.introduce_ack().await {
                Ok(IntroduceAckStatus::SUCCESS) => &counts.acked,
                Ok(IntroduceAckStatus::RATE_LIMITED) => &counts.rate_limited,
                Ok(_) => &counts.other_ack,
                Err(_) => break 'circuit,
            }
            .fetch_add(1, Ordering::Relaxed);
            in_flight -= 1;
        }
        counts.circuit_failures.fetch_add(1, Ordering::Relaxed);
    }
}

fn run(rt: &tokio::runtime::Runtime, phase: Phase) -> Row {
    let root = tempfile::tempdir().unwrap();
    let auths = start_authorities(root.path(), &["127.0.8.1", "127.0.8.2", "127.0.8.3"], 8, 3);
    let _relays: Vec<_> = (0..6u8)
        .map(|i| {
            start_relay(
                root.path(),
                &format!("relay{i}"),
                &format!("127.0.8.{}", 10 + i),
                &auths.entries,
                8,
                "",
            )
        })
        .collect();
    let backend = start_backend();
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let service = start_service_with(
        root.path(),
        "service",
        &auths.entries,
        backend,
        &format!("metrics_listen = \"{metrics}\""),
        &format!(
            "intro_rate_per_sec = 1000\nintro_burst = 2000\npow = {}",
            phase.pow
        ),
    );
    let address: HsAddress = service.address.parse().unwrap();
    let mut client = start_client(root.path(), "client", "127.0.8.40", &auths.entries, "");
    client
        .node
        .wait_for_output("bootstrap 100%", Duration::from_secs(90));

    // The service is up when its descriptor, with its intro points, is on
    // the HSDirs: checked with the raw client, so that the real client
    // fetches it first under the flood.
    let consensus = wait_for_consensus(&auths.http, &auths.entries, 6, Duration::from_secs(60));
    let descriptor = rt.block_on(async {
        let mut raw = RawClient::new(99, consensus).await;
        let d = wait_for_descriptor(
            &mut raw,
            &auths.http,
            &auths.entries,
            &address,
            Duration::from_secs(60),
        )
        .await
        .expect("the service's descriptor");
        (Arc::new(raw), Arc::new(d))
    });
    let (raw, descriptor) = descriptor;

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let attack_started = Instant::now();
    let tasks: Vec<_> = if phase.attack {
        (0..ATTACKERS)
            .map(|k| {
                rt.spawn(attacker(
                    raw.clone(),
                    descriptor.clone(),
                    k,
                    stop.clone(),
                    counts.clone(),
                ))
            })
            .collect()
    } else {
        Vec::new()
    };
    if phase.attack {
        std::thread::sleep(WARM_UP);
    }

    let url = format!("http://{}/hello", service.address);
    let socks = client.socks;
    let requests: Vec<_> = (0..LEGIT)
        .map(|i| {
            let url = url.clone();
            let user = format!("{}-{i}", phase.name.replace(' ', "-"));
            let handle = std::thread::spawn(move || legit_request(socks, &user, &url));
            std::thread::sleep(LEGIT_SPACING);
            handle
        })
        .collect();
    let results: Vec<Option<Duration>> = requests.into_iter().map(|h| h.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    let attack_secs = if phase.attack {
        attack_started.elapsed().as_secs_f64()
    } else {
        0.0
    };
    for t in tasks {
        t.abort();
    }
    let read =
        |name: &str| read_metric(metrics, &format!("warren_service_{name}"), "").unwrap_or(0.0);
    let row = Row {
        name: phase.name,
        ok: results.iter().filter(|r| r.is_some()).count(),
        ttfb: results.iter().flatten().copied().collect(),
        sent: counts.sent.load(Ordering::Relaxed),
        acked: counts.acked.load(Ordering::Relaxed),
        rate_limited: counts.rate_limited.load(Ordering::Relaxed),
        attack_secs,
        accepted: read("introductions"),
        dropped: read("introductions_dropped"),
        effort: read("suggested_effort"),
        joined: read("rendezvous_joined"),
        failed: read("rendezvous_failed"),
    };
    eprintln!(
        "{}: {} of {LEGIT} ok; attacker: {} sent, {} relayed, {} rate-limited, {} other answers, {} circuits ended or failed",
        phase.name,
        row.ok,
        row.sent,
        row.acked,
        row.rate_limited,
        counts.other_ack.load(Ordering::Relaxed),
        counts.circuit_failures.load(Ordering::Relaxed),
    );
    drop(client);
    drop(service);
    row
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let phases = [
        Phase {
            name: "no attack",
            pow: true,
            attack: false,
        },
        Phase {
            name: "flood, pow = false",
            pow: false,
            attack: true,
        },
        Phase {
            name: "flood, pow = true",
            pow: true,
            attack: true,
        },
    ];
    let rows: Vec<Row> = phases.iter().map(|p| run(&rt, *p)).collect();

    println!(
        "{LEGIT} legitimate requests per phase, one every {:.1} s, each a new rendezvous, at most {LEGIT_MAX_SECS} s; \
         attacker: {ATTACKERS} tasks, {WINDOW} INTRODUCE1 in flight each, from {:.0} s before the first request",
        LEGIT_SPACING.as_secs_f64(),
        WARM_UP.as_secs_f64()
    );
    println!(
        "| phase | legitimate ok | TTFB median | TTFB p90 | attacker INTRODUCE1 sent (relayed, rate-limited) | service: accepted | dropped | suggested effort | rendezvous joined / failed |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let (med, p90) = quantiles(r.ttfb.clone()).map_or(("-".into(), "-".into()), |(m, p)| {
            (format!("{m:.0} ms"), format!("{p:.0} ms"))
        });
        let attack = if r.attack_secs > 0.0 {
            format!(
                "{} ({}, {}); {:.0}/s",
                r.sent,
                r.acked,
                r.rate_limited,
                r.sent as f64 / r.attack_secs
            )
        } else {
            "-".into()
        };
        println!(
            "| {} | {}/{LEGIT} ({:.0} %) | {med} | {p90} | {attack} | {:.0} | {:.0} | {:.0} | {:.0} / {:.0} |",
            r.name,
            r.ok,
            100.0 * r.ok as f64 / LEGIT as f64,
            r.accepted,
            r.dropped,
            r.effort,
            r.joined,
            r.failed,
        );
    }
}
