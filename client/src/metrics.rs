//! A client's metrics (docs/spec.md §13.5, §14.6): aggregate counters and
//! the bootstrap progress; nothing about destinations.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Every metric of a client.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientMetrics {
    pub(crate) bootstrap_percent: Gauge,
    pub(crate) circuits_built: Counter,
    pub(crate) circuit_build_failures: Counter,
    pub(crate) streams_opened: Counter,
    pub(crate) streams_failed: Counter,
}

impl ClientMetrics {
    /// The metrics, registered in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "bootstrap_percent",
            "Bootstrap progress: 40 consensus, 60 guards, 100 first circuit",
            m.bootstrap_percent.clone(),
        );
        registry.register("circuits_built", "Circuits built", m.circuits_built.clone());
        registry.register(
            "circuit_build_failures",
            "Circuit builds that failed or timed out",
            m.circuit_build_failures.clone(),
        );
        registry.register("streams_opened", "Streams opened", m.streams_opened.clone());
        registry.register(
            "streams_failed",
            "Streams that could not be opened",
            m.streams_failed.clone(),
        );
        m
    }
}
