//! The metrics port (docs/spec.md §13.5): aggregate counters and gauges in
//! the Prometheus text format on `GET /metrics`, served only on a loopback
//! address. No metric carries an address, an identity or a key.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::NetError;
use crate::http::{Response, Routes};

/// Refuses a metrics address that is not loopback.
pub fn check_loopback(addr: SocketAddr) -> Result<(), NetError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(NetError::Config {
            reason: format!(
                "the metrics port must listen on a loopback address (127.0.0.0/8 or ::1), not {addr}"
            ),
        })
    }
}

/// The routes of the metrics port.
pub struct MetricsRoutes(pub Arc<Registry>);

impl Routes for MetricsRoutes {
    fn get(&self, path: &str) -> Response {
        if path != "/metrics" {
            return Response::text("404 Not Found", "this port serves /metrics");
        }
        let mut text = String::new();
        match prometheus_client::encoding::text::encode(&mut text, &self.0) {
            Ok(()) => Response {
                status: "200 OK",
                content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
                body: text.into_bytes(),
            },
            Err(_) => Response::text(
                "500 Internal Server Error",
                "the metrics could not be encoded",
            ),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[test]
    fn serves_the_registry_and_only_on_loopback() {
        let mut registry = Registry::with_prefix("warren");
        let c: Counter = Counter::default();
        registry.register("cells_in", "Cells received", c.clone());
        c.inc_by(3);
        let routes = MetricsRoutes(Arc::new(registry));
        let r = routes.get("/metrics");
        let text = String::from_utf8(r.body).unwrap();
        assert!(text.contains("warren_cells_in_total 3"), "{text}");
        assert_eq!(routes.get("/").status, "404 Not Found");
        assert!(check_loopback("127.0.0.1:9100".parse().unwrap()).is_ok());
        assert!(check_loopback("[::1]:9100".parse().unwrap()).is_ok());
        assert!(check_loopback("0.0.0.0:9100".parse().unwrap()).is_err());
    }
}
