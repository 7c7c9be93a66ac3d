//! The simulator's errors (docs/sim.md §5): each names what is wrong and,
//! for a scenario, the line and the key.

use warren_proto::ProtoError;

/// Why a scenario could not be loaded or a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The scenario file is not valid TOML or has a wrong or unknown key.
    #[error("scenario line {line}, column {column}: {message}")]
    ScenarioSyntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected and found.
        message: String,
    },
    /// A scenario value is out of range or refers to something undefined.
    #[error("scenario line {line}, key `{key}`: {problem}")]
    ScenarioValue {
        /// 1-based line of the value.
        line: usize,
        /// The key, as written in the file (`relays.count`).
        key: String,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// The scenario's relays cannot make a path for a circuit.
    #[error("{circuit}: no relay can be the {position} ({hint})")]
    NoPath {
        /// The circuit, as `client 3, circuit 1`.
        circuit: String,
        /// `guard`, `middle` or `exit`.
        position: &'static str,
        /// Which scenario keys to change.
        hint: &'static str,
    },
    /// A simulated circuit broke the anonymity invariant (docs/sim.md §6).
    #[error("anonymity invariant broken on {circuit}: {problem}")]
    Invariant {
        /// The circuit, as `client 3, circuit 1`.
        circuit: String,
        /// Which relay saw what.
        problem: String,
    },
    /// A protocol machine refused an input the simulator gave it: a bug in
    /// the simulator or in the machine, never in the scenario.
    #[error("{circuit}: the protocol refused to {action}: {source}")]
    Protocol {
        /// The circuit, as `client 3, circuit 1`.
        circuit: String,
        /// What the simulator asked for.
        action: &'static str,
        /// The machine's error.
        #[source]
        source: ProtoError,
    },
    /// The consensus of the simulated relays could not be made (a bug in
    /// the simulator: its entries come from checked descriptors).
    #[error("the consensus of the simulated relays could not be made: {source}")]
    Consensus {
        /// The directory code's error.
        #[source]
        source: warren_directory::DirectoryError,
    },
    /// A directory document could not be made for a simulated relay.
    #[error("relay {relay}: its descriptor could not be made: {source}")]
    Directory {
        /// The relay's index in the scenario.
        relay: usize,
        /// The directory code's error.
        #[source]
        source: warren_directory::DirectoryError,
    },
}
