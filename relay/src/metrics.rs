//! A relay's metrics (docs/spec.md §13.5): aggregate counters and gauges
//! only.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use warren_proto::cell::CELL_LEN;

/// Every metric of a relay.
#[derive(Debug, Clone, Default)]
pub(crate) struct RelayMetrics {
    pub(crate) circuits_open: Gauge,
    pub(crate) circuits_created: Counter,
    pub(crate) circuits_refused: Counter,
    pub(crate) circuits_failed: Counter,
    pub(crate) circuits_shed: Counter,
    cells_in: Counter,
    cells_out: Counter,
    bytes_in: Counter,
    bytes_out: Counter,
    pub(crate) exit_streams: Counter,
    pub(crate) introductions: Counter,
    pub(crate) introductions_refused: Counter,
    pub(crate) rendezvous_joined: Counter,
}

impl RelayMetrics {
    /// The metrics, registered in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "circuits_open",
            "Circuits open now",
            m.circuits_open.clone(),
        );
        registry.register(
            "circuits_created",
            "Circuits created (CREATE accepted)",
            m.circuits_created.clone(),
        );
        registry.register(
            "circuits_refused",
            "CREATEs refused at the circuit limit or under memory pressure",
            m.circuits_refused.clone(),
        );
        registry.register(
            "circuits_failed",
            "CREATEs that failed their handshake",
            m.circuits_failed.clone(),
        );
        registry.register(
            "circuits_shed",
            "Circuits closed to keep queued memory under the cap",
            m.circuits_shed.clone(),
        );
        registry.register("cells_in", "Cells received on links", m.cells_in.clone());
        registry.register("cells_out", "Cells queued on links", m.cells_out.clone());
        registry.register("bytes_in", "Bytes received on links", m.bytes_in.clone());
        registry.register("bytes_out", "Bytes queued on links", m.bytes_out.clone());
        registry.register(
            "exit_streams",
            "Exit streams opened",
            m.exit_streams.clone(),
        );
        m
    }

    /// A cell came in.
    pub(crate) fn cell_in(&self) {
        self.cells_in.inc();
        self.bytes_in.inc_by(CELL_LEN as u64);
    }

    /// A cell went out.
    pub(crate) fn cell_out(&self) {
        self.cells_out.inc();
        self.bytes_out.inc_by(CELL_LEN as u64);
    }
}
