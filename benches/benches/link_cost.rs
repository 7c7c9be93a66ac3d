//! Load generator: what one link costs (docs/spec.md §13.2). Two hosts in
//! this process, one link between them over loopback, full cells written
//! as fast as the link takes them; the CPU time of the whole process (both
//! ends) per megabyte and the rate, against plain TCP carrying the same
//! bytes in 64 KiB writes, measured in the same run.
//!
//! A joined onion-service circuit crosses seven links (client, six relays,
//! service), so the figure bounds what one machine can carry through a
//! whole test network before any onion layer is counted.
//!
//! `cargo bench -p warren-benches --bench link_cost` prints the table.

#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    reason = "a load generator: it prints its table, and a failure must abort the run"
)]

use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_crypto::RelayIdentityKeypair;
use warren_net::Multiaddr;
use warren_net::host::{Host, HostConfig};
use warren_proto::cell::{CELL_BODY_LEN, CELL_LEN, Cell, CellCmd, CircId};

/// Cells per run: about 256 MB.
const CELLS: usize = 500_000;
const RUNS: usize = 3;
/// Links a joined onion-service circuit crosses.
const ONION_LINKS: f64 = 7.0;

/// CPU time this process (both ends of the link) has used.
fn cpu_time() -> Duration {
    warren_benches::load::cpu_time(&[std::process::id()])
}

/// One measured transfer: megabytes per second and CPU milliseconds per
/// megabyte.
struct Figure {
    mbs: f64,
    cpu_ms_per_mb: f64,
}

fn figure(bytes: usize, wall: Duration, cpu: Duration) -> Figure {
    let mb = bytes as f64 / 1e6;
    Figure {
        mbs: mb / wall.as_secs_f64(),
        cpu_ms_per_mb: cpu.as_secs_f64() * 1e3 / mb,
    }
}

/// A host that only dials.
async fn dialler(seed: u64) -> Host {
    let key = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let config = HostConfig {
        listen: Vec::new(),
        idle_timeout: Duration::from_secs(30),
        serve_directory: false,
    };
    Host::start(&key, &config).await.expect("host starts").0
}

/// `CELLS` cells over one link from a dialling host to a listening one.
async fn link_run(listen: &str, seed: u64) -> Figure {
    let key = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let config = HostConfig {
        listen: vec![listen.parse().expect("a multiaddr")],
        idle_timeout: Duration::from_secs(30),
        serve_directory: false,
    };
    let (server, mut incoming) = Host::start(&key, &config).await.expect("host starts");
    let client = dialler(seed + 1).await;
    let addrs: Vec<Multiaddr> = server.listen_addrs().to_vec();
    let link = client
        .open_link(server.identity(), &addrs)
        .await
        .expect("link opens");
    let (_, tx) = link.split();
    let accepted = incoming.links.next().await.expect("link accepted");
    let (mut rx, _server_tx) = accepted.split();
    let cell = Cell {
        circ_id: CircId(1),
        cmd: CellCmd::RELAY,
        body: [0x5a; CELL_BODY_LEN],
    };
    let (wall0, cpu0) = (Instant::now(), cpu_time());
    let sender = tokio::spawn(async move {
        for _ in 0..CELLS {
            tx.send(cell.clone()).await.expect("link takes the cell");
        }
    });
    let mut got = 0;
    while got < CELLS {
        rx.recv().await.expect("a cell").expect("not the end");
        got += 1;
    }
    let (wall, cpu) = (wall0.elapsed(), cpu_time() - cpu0);
    sender.await.expect("sender");
    figure(CELLS * CELL_LEN, wall, cpu)
}

/// The same bytes over plain loopback TCP in 64 KiB writes.
async fn tcp_run() -> Figure {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let total = CELLS * CELL_LEN;
    let (wall0, cpu0) = (Instant::now(), cpu_time());
    let sender = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let chunk = vec![0x5a; 64 * 1024];
        let mut left = total;
        while left > 0 {
            let n = left.min(chunk.len());
            s.write_all(&chunk[..n]).await.expect("write");
            left -= n;
        }
    });
    let (mut conn, _) = listener.accept().await.expect("accept");
    let mut buf = vec![0; 64 * 1024];
    let mut got = 0;
    while got < total {
        let n = conn.read(&mut buf).await.expect("read");
        assert!(n > 0, "the sender stopped early");
        got += n;
    }
    let (wall, cpu) = (wall0.elapsed(), cpu_time() - cpu0);
    sender.await.expect("sender");
    figure(total, wall, cpu)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut rows: Vec<(&str, Vec<Figure>)> = vec![
        ("plain TCP, 64 KiB writes (baseline)", Vec::new()),
        ("Warren link over TCP + Noise + Yamux", Vec::new()),
        ("Warren link over QUIC", Vec::new()),
    ];
    for run in 0..RUNS {
        let seed = 10 * run as u64;
        rows[0].1.push(runtime.block_on(tcp_run()));
        rows[1]
            .1
            .push(runtime.block_on(link_run("/ip4/127.0.0.1/tcp/0", seed)));
        rows[2]
            .1
            .push(runtime.block_on(link_run("/ip4/127.0.0.1/udp/0/quic-v1", seed + 5)));
        eprintln!("run {} of {RUNS} done", run + 1);
    }
    let base_cpu = median(rows[0].1.iter().map(|f| f.cpu_ms_per_mb).collect());
    println!(
        "{} MB per run, {RUNS} runs, medians; CPU is both ends together, on {cores} cores",
        CELLS * CELL_LEN / 1_000_000
    );
    println!("| link | MB/s | CPU ms per MB | CPU / TCP's | 7 links on {cores} cores: at most |");
    println!("|---|---|---|---|---|");
    for (name, figures) in &rows {
        let mbs = median(figures.iter().map(|f| f.mbs).collect());
        let cpu = median(figures.iter().map(|f| f.cpu_ms_per_mb).collect());
        let ceiling = cores as f64 * 1e3 / (ONION_LINKS * cpu);
        println!(
            "| {name} | {mbs:.0} | {cpu:.2} | {:.1} | {ceiling:.0} MB/s |",
            cpu / base_cpu
        );
    }
}
