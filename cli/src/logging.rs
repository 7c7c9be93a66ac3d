//! Logging setup: `tracing` to stderr, filtered.
//!
//! Safe logging (docs/spec.md §1.4): library code never formats addresses,
//! onion addresses or keys at `info` or above, so the default filter is safe.

use tracing_subscriber::EnvFilter;

/// The default filter: Warren at `info`; the networking libraries only at
/// `warn`, because libp2p logs peer ids (public keys) at `info`.
const DEFAULT_FILTER: &str = "info,libp2p_swarm=warn,libp2p_tcp=warn,libp2p_noise=warn,yamux=warn";

/// Installs the global subscriber. `filter` wins over `WARREN_LOG`; the
/// default is [`DEFAULT_FILTER`].
pub(crate) fn init(filter: Option<&str>) {
    let filter = filter
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_env("WARREN_LOG").ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours on a terminal only: a log file gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
