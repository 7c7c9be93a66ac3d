//! The `[clients]` table and its `[[clients.classes]]` (docs/sim.md §3): the
//! keys of `[clients]` are the defaults of every class; with no class
//! listed, `[clients]` is the one class.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, Fidelity, zero};
use crate::error::SimError;

/// What a class of clients does on its circuits (docs/sim.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Traffic {
    /// Small requests with an exponential think time before each next
    /// request and circuit.
    Web,
    /// Back-to-back transfers with no think time.
    Bulk,
    /// Connections to a random onion service (docs/sim.md §11), with the
    /// think time of web clients.
    Onion,
}

impl Traffic {
    /// Its name in the scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Bulk => "bulk",
            Self::Onion => "onion",
        }
    }
}

/// One class of clients and what each of them does.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientClass {
    /// Its name in `clients.csv` (default: its traffic model's name).
    pub name: String,
    /// Its weight when a client's class is drawn.
    pub share: f64,
    /// The traffic model.
    pub traffic: Traffic,
    /// Circuits each client builds, one after the other.
    pub circuits: usize,
    /// Requests (streams) each circuit carries, one after the other.
    pub requests: usize,
    /// Mean of the exponential pause before each next request or circuit,
    /// in nanoseconds (0 for bulk clients).
    pub think_time_ns: u64,
    /// Bytes the exit sends back on each request's stream.
    pub response_bytes: u64,
}

/// The clients.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    /// How many.
    pub count: usize,
    /// Upload bandwidth of each, bytes per second.
    pub up: u64,
    /// Download bandwidth of each, bytes per second.
    pub down: u64,
    /// Clients start at uniform times in `[0, start_spread_ns)`.
    pub start_spread_ns: u64,
    /// Their classes, at least one.
    pub classes: Vec<ClientClass>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClients {
    count: Spanned<usize>,
    up: Spanned<u64>,
    down: Spanned<u64>,
    #[serde(default = "zero")]
    start_spread_ms: Spanned<f64>,
    traffic: Option<Spanned<Traffic>>,
    circuits: Option<Spanned<usize>>,
    requests: Option<Spanned<usize>>,
    think_time_ms: Option<Spanned<f64>>,
    response_bytes: Option<Spanned<u64>>,
    classes: Option<Spanned<Vec<RawClass>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    name: Option<Spanned<String>>,
    share: Spanned<f64>,
    traffic: Option<Spanned<Traffic>>,
    circuits: Option<Spanned<usize>>,
    requests: Option<Spanned<usize>>,
    think_time_ms: Option<Spanned<f64>>,
    response_bytes: Option<Spanned<u64>>,
}

/// What the rest of the scenario allows a class.
#[derive(Clone, Copy)]
struct Level {
    fidelity: Fidelity,
    /// Whether the scenario has onion services.
    services: bool,
}

/// The keys a class may set and `[clients]` may give as defaults.
#[derive(Default, Clone, Copy)]
struct ClassKeys<'a> {
    traffic: Option<&'a Spanned<Traffic>>,
    circuits: Option<&'a Spanned<usize>>,
    requests: Option<&'a Spanned<usize>>,
    think_time_ms: Option<&'a Spanned<f64>>,
    response_bytes: Option<&'a Spanned<u64>>,
}

impl RawClients {
    fn keys(&self) -> ClassKeys<'_> {
        ClassKeys {
            traffic: self.traffic.as_ref(),
            circuits: self.circuits.as_ref(),
            requests: self.requests.as_ref(),
            think_time_ms: self.think_time_ms.as_ref(),
            response_bytes: self.response_bytes.as_ref(),
        }
    }
}

impl RawClass {
    fn keys(&self) -> ClassKeys<'_> {
        ClassKeys {
            traffic: self.traffic.as_ref(),
            circuits: self.circuits.as_ref(),
            requests: self.requests.as_ref(),
            think_time_ms: self.think_time_ms.as_ref(),
            response_bytes: self.response_bytes.as_ref(),
        }
    }
}

impl Checker<'_> {
    pub(super) fn clients(
        &self,
        raw: &RawClients,
        fidelity: Fidelity,
        services: bool,
    ) -> Result<ClientSpec, SimError> {
        let level = Level { fidelity, services };
        let mut classes = Vec::new();
        match &raw.classes {
            None => classes.push(self.class(
                ("clients", raw.count.span()),
                raw.keys(),
                ClassKeys::default(),
                level,
            )?),
            Some(list) => {
                if list.get_ref().is_empty() {
                    let problem = "list at least one class, or leave out [[clients.classes]]";
                    return self.fail(list.span(), "clients.classes", problem.into());
                }
                for (i, c) in list.get_ref().iter().enumerate() {
                    let key = format!("clients.classes[{i}]");
                    let table = (key.as_str(), c.share.span());
                    let mut class = self.class(table, c.keys(), raw.keys(), level)?;
                    class.share = self.share(&c.share, &format!("{key}.share"), false)?;
                    if let Some(name) = &c.name {
                        class.name.clone_from(name.get_ref());
                    }
                    classes.push(class);
                }
                if classes.iter().all(|c| c.share == 0.0) {
                    let problem = "every class's share is 0".into();
                    return self.fail(list.span(), "clients.classes", problem);
                }
            }
        }
        Ok(ClientSpec {
            count: self.count(&raw.count, "clients.count", 1)?,
            up: self.bandwidth(&raw.up, "clients.up")?,
            down: self.bandwidth(&raw.down, "clients.down")?,
            start_spread_ns: self.nanos(&raw.start_spread_ms, "clients.start_spread_ms", 1e6)?,
            classes,
        })
    }

    /// The class whose table is `key` (first written at `at`) with keys
    /// `own`, the missing ones taken from `[clients]`'s `defaults`.
    fn class(
        &self,
        (key, at): (&str, Range<usize>),
        own: ClassKeys<'_>,
        defaults: ClassKeys<'_>,
        Level { fidelity, services }: Level,
    ) -> Result<ClientClass, SimError> {
        // A key set in the class's own table, else in [clients]; the name
        // is the table the value was written in.
        fn pick<'v, T>(
            key: &str,
            own: Option<&'v Spanned<T>>,
            default: Option<&'v Spanned<T>>,
        ) -> Option<(&'v Spanned<T>, String)> {
            match (own, default) {
                (Some(v), _) => Some((v, key.to_owned())),
                (None, Some(v)) => Some((v, "clients".to_owned())),
                (None, None) => None,
            }
        }
        let traffic = match pick(key, own.traffic, defaults.traffic) {
            Some((t, table)) if *t.get_ref() == Traffic::Onion && !services => {
                let problem = "onion clients need services: add [[services]] \
                               (with fidelity = \"circuit\")"
                    .into();
                return self.fail(t.span(), &format!("{table}.traffic"), problem);
            }
            Some((t, _)) => *t.get_ref(),
            None => Traffic::Web,
        };
        let circuits = match pick(key, own.circuits, defaults.circuits) {
            Some((v, table)) => self.count(v, &format!("{table}.circuits"), 1)?,
            None => 1,
        };
        let requests = match pick(key, own.requests, defaults.requests) {
            Some((v, table)) => {
                let n = self.count(v, &format!("{table}.requests"), 1)?;
                if n > 1 && fidelity == Fidelity::Cell {
                    let problem = format!(
                        "{n} requests per circuit need fidelity = \"circuit\"; \
                         the cell level carries one request per circuit"
                    );
                    return self.fail(v.span(), &format!("{table}.requests"), problem);
                }
                n
            }
            None => 1,
        };
        // A bulk class has no think time: it may not set one, and it does
        // not take the default of [clients].
        let think_time_ns = match (traffic, own.think_time_ms, defaults.think_time_ms) {
            (Traffic::Bulk, Some(v), _) => {
                let problem = "bulk clients have no think time: leave the key out, \
                               or use traffic = \"web\""
                    .into();
                return self.fail(v.span(), &format!("{key}.think_time_ms"), problem);
            }
            (Traffic::Bulk, None, _) => 0,
            (Traffic::Web | Traffic::Onion, Some(v), _) => {
                self.nanos(v, &format!("{key}.think_time_ms"), 1e6)?
            }
            (Traffic::Web | Traffic::Onion, None, Some(v)) => {
                self.nanos(v, "clients.think_time_ms", 1e6)?
            }
            (Traffic::Web | Traffic::Onion, None, None) => 0,
        };
        let Some((bytes, table)) = pick(key, own.response_bytes, defaults.response_bytes) else {
            let problem = "set response_bytes in this table or in [clients]".into();
            return self.fail(at, &format!("{key}.response_bytes"), problem);
        };
        if *bytes.get_ref() == 0 {
            let problem = "the exit must send at least 1 byte".into();
            return self.fail(bytes.span(), &format!("{table}.response_bytes"), problem);
        }
        Ok(ClientClass {
            name: traffic.name().to_owned(),
            share: 1.0,
            traffic,
            circuits,
            requests,
            think_time_ns,
            response_bytes: *bytes.get_ref(),
        })
    }
}
