//! The origin end of a circuit: a client or a service (docs/spec.md §9).

use std::collections::VecDeque;
use std::time::Duration;

use warren_crypto::layer::{CellTag, HopKeys, RELAY_BODY_LEN, Recognized, RelayBody};
use warren_crypto::ntor::{self, EphemeralSecret, HANDSHAKE_NTOR, NtorClientState};
use warren_crypto::{OnionPublicKey, RelayIdentity};

use super::{HopNum, MAX_HOPS, Teardown};
use crate::ProtoError;
use crate::cell::{Cell, ChanMsg, CircId, Create, DestroyReason};
use crate::relay_msg::{Extend, LinkSpec, RelayCell, RelayMsg, StreamId};
use crate::stream::{StreamEvent, StreamRole, StreamSet};
use crate::time::Timestamp;

/// A relay to add to a circuit: who it is and how its previous hop reaches it.
#[derive(Debug, Clone)]
pub struct HopTarget {
    /// Its long-term identity (checked by the link and by the handshake).
    pub identity: RelayIdentity,
    /// Its current onion key, from its descriptor.
    pub onion_key: OnionPublicKey,
    /// Where the previous hop can reach it (ignored for the first hop).
    pub link_specs: Vec<LinkSpec>,
}

/// What happened on an origin circuit; pulled with [`OriginCircuit::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CircEvent {
    /// A hop's handshake completed: the circuit now has `hops` hops.
    Extended {
        /// Hops now built.
        hops: usize,
    },
    /// A circuit-level message from a hop (onion-service replies and the
    /// like), for the caller's role logic.
    Message {
        /// The hop that sent it.
        hop: HopNum,
        /// The message.
        msg: RelayMsg,
    },
    /// Something happened on one of the circuit's streams.
    Stream(StreamEvent),
    /// The circuit is gone.
    Closed(Teardown),
}

/// A hop whose handshake is in flight.
struct Pending {
    state: NtorClientState,
    deadline: Timestamp,
}

/// One built hop: its layer keys.
struct Hop {
    keys: HopKeys,
}

/// The origin end of one circuit (§9): builds it, wraps and unwraps layers,
/// carries its streams.
///
/// Drive it like this: feed every cell that arrives on the circuit's link to
/// [`Self::handle_cell`]; after every call, drain [`Self::poll_transmit`]
/// (cells to send on the link, in order) and [`Self::poll_event`]; call
/// [`Self::handle_timeout`] once [`Self::poll_timeout`] has passed.
pub struct OriginCircuit {
    circ_id: CircId,
    hops: Vec<Hop>,
    pending: Option<Pending>,
    build_timeout: Duration,
    streams: StreamSet,
    outbound: VecDeque<Cell>,
    events: VecDeque<CircEvent>,
    closed: Option<Teardown>,
}

impl OriginCircuit {
    /// Starts a circuit to `first` on the link's `circ_id`: queues CREATE.
    ///
    /// Each hop's handshake must finish within `build_timeout`; `role` says
    /// whether this end opens streams (a client) or accepts them (a service).
    pub fn new(
        now: Timestamp,
        circ_id: CircId,
        first: &HopTarget,
        eph: EphemeralSecret,
        build_timeout: Duration,
        role: StreamRole,
    ) -> Result<Self, ProtoError> {
        let (state, handshake) = ntor::client_start(eph, &first.identity, &first.onion_key);
        let create = ChanMsg::Create(Create {
            handshake_type: HANDSHAKE_NTOR,
            handshake: handshake.to_vec(),
        });
        let cell = create.encode(circ_id)?;
        Ok(Self {
            circ_id,
            hops: Vec::new(),
            pending: Some(Pending {
                state,
                deadline: now.saturating_add(build_timeout),
            }),
            build_timeout,
            streams: StreamSet::new(role),
            outbound: VecDeque::from([cell]),
            events: VecDeque::new(),
            closed: None,
        })
    }

    /// Extends the circuit by one hop through its current last hop: queues
    /// EXTEND. Only on a circuit with no hop pending and no stream yet.
    pub fn extend(
        &mut self,
        now: Timestamp,
        target: &HopTarget,
        eph: EphemeralSecret,
    ) -> Result<(), ProtoError> {
        self.check_usable()?;
        if self.hops.len() >= MAX_HOPS {
            return Err(ProtoError::CircuitState {
                action: "extend",
                state: "at its maximum length",
            });
        }
        if !self.streams.is_empty() {
            return Err(ProtoError::CircuitState {
                action: "extend",
                state: "carrying streams",
            });
        }
        let (state, handshake) = ntor::client_start(eph, &target.identity, &target.onion_key);
        let extend = Extend {
            identity: *target.identity.as_bytes(),
            onion_key: *target.onion_key.as_bytes(),
            link_specs: target.link_specs.clone(),
            handshake_type: HANDSHAKE_NTOR,
            handshake: handshake.to_vec(),
        };
        let last = self.last_hop()?;
        self.send_msg(last, RelayMsg::Extend(extend))?;
        self.pending = Some(Pending {
            state,
            deadline: now.saturating_add(self.build_timeout),
        });
        Ok(())
    }

    /// Adds an end-to-end hop beyond the last one: the far end of a
    /// circuit joined at a rendezvous point, keyed by the onion-service
    /// handshake (§16.3). Cells for it pass the rendezvous point unread.
    pub fn add_virtual_hop(&mut self, keys: HopKeys) -> Result<(), ProtoError> {
        self.check_usable()?;
        if self.hops.len() >= MAX_HOPS {
            return Err(ProtoError::CircuitState {
                action: "add a hop",
                state: "at its maximum length",
            });
        }
        self.hops.push(Hop { keys });
        Ok(())
    }

    /// `KH` of `hop`'s handshake (§4.2), for ESTABLISH_INTRO (§16.1).
    pub fn hop_binding(&self, hop: HopNum) -> Option<&warren_crypto::CircuitBinding> {
        self.hops.get(usize::from(hop.0)).map(|h| &h.keys.binding)
    }

    /// Opens a stream to `host:port` at the last hop (client circuits).
    pub fn begin_stream(
        &mut self,
        now: Timestamp,
        host: &str,
        port: u16,
    ) -> Result<StreamId, ProtoError> {
        self.check_usable()?;
        self.last_hop()?;
        self.streams.begin(now, host, port)
    }

    /// The circuit's streams, for reading, writing, accepting and closing.
    /// Drain [`Self::poll_transmit`] after using them.
    pub fn streams(&mut self) -> &mut StreamSet {
        &mut self.streams
    }

    /// Sends a circuit-level message to `hop` (onion-service requests and
    /// the like).
    pub fn send_msg(&mut self, hop: HopNum, msg: RelayMsg) -> Result<(), ProtoError> {
        self.check_open()?;
        let (cell, _) = self.seal_to(hop, &RelayCell::new(StreamId(0), msg))?;
        self.outbound.push_back(cell);
        Ok(())
    }

    /// Handles a cell that arrived on the circuit's link.
    ///
    /// An error means the circuit has been torn down (a DESTROY is queued
    /// unless the peer sent one); the error says why, for the log.
    pub fn handle_cell(&mut self, now: Timestamp, cell: Cell) -> Result<(), ProtoError> {
        if self.closed.is_some() {
            return Ok(());
        }
        let result = self.process_cell(now, cell);
        if let Err(e) = &result {
            self.fail(e.destroy_reason());
        }
        result
    }

    /// The next cell to send on the link, if any. Call after every input
    /// until it returns `None`; send cells in the order returned.
    pub fn poll_transmit(&mut self) -> Option<Cell> {
        if let Some(cell) = self.outbound.pop_front() {
            return Some(cell);
        }
        if self.closed.is_some() || self.pending.is_some() {
            return None;
        }
        let relay_cell = self.streams.poll_cell()?;
        let last = self.last_hop().ok()?;
        match self.seal_to(last, &relay_cell) {
            Ok((cell, tag)) => {
                if matches!(relay_cell.msg, RelayMsg::Data(_)) {
                    self.streams.on_data_sealed(tag);
                }
                Some(cell)
            }
            Err(e) => {
                self.fail(e.destroy_reason());
                self.outbound.pop_front()
            }
        }
    }

    /// The next event, if any. Call after every input until it returns `None`.
    pub fn poll_event(&mut self) -> Option<CircEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        self.streams.poll_event().map(CircEvent::Stream)
    }

    /// When [`Self::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.closed.is_some() {
            return None;
        }
        let pending = self.pending.as_ref().map(|p| p.deadline);
        [pending, self.streams.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles the passing of time: a handshake that took too long tears the
    /// circuit down (TIMEOUT); a stream whose CONNECTED is late is ended.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.closed.is_some() {
            return;
        }
        if self.pending.as_ref().is_some_and(|p| p.deadline <= now) {
            self.fail(DestroyReason::TIMEOUT);
            return;
        }
        self.streams.handle_timeout(now);
    }

    /// Tears the circuit down from this end: queues DESTROY with `reason`.
    pub fn destroy(&mut self, reason: DestroyReason) {
        if self.closed.is_none() {
            self.fail(reason);
        }
    }

    /// The link's circuit id.
    pub fn circ_id(&self) -> CircId {
        self.circ_id
    }

    /// Hops built so far.
    pub fn hop_count(&self) -> usize {
        self.hops.len()
    }

    /// Whether every requested hop is built and the circuit is not closed.
    pub fn is_ready(&self) -> bool {
        self.closed.is_none() && self.pending.is_none() && !self.hops.is_empty()
    }

    /// How the circuit ended, once it has.
    pub fn teardown(&self) -> Option<Teardown> {
        self.closed
    }

    fn process_cell(&mut self, now: Timestamp, cell: Cell) -> Result<(), ProtoError> {
        match ChanMsg::decode(&cell)? {
            ChanMsg::Created(created) if self.hops.is_empty() => {
                self.finish_hop(&created.handshake)
            }
            ChanMsg::Relay(body) => self.process_relay(now, body),
            ChanMsg::Destroy(d) => {
                self.close(Teardown {
                    reason: d.reason,
                    remote: true,
                });
                Ok(())
            }
            other => Err(ProtoError::UnexpectedCell {
                state: "origin circuit",
                cmd: other.cmd(),
            }),
        }
    }

    /// Unwraps layer after layer until a hop recognises the cell (§9.4).
    fn process_relay(&mut self, now: Timestamp, mut body: RelayBody) -> Result<(), ProtoError> {
        for (i, hop) in self.hops.iter_mut().enumerate() {
            match hop.keys.backward.open(&mut body)? {
                Recognized::Yes(tag) => {
                    let hop = HopNum(u8::try_from(i).unwrap_or(u8::MAX));
                    let cell = RelayCell::decode(&body)?;
                    return self.handle_relay_cell(now, hop, cell, tag);
                }
                Recognized::No => {}
            }
        }
        Err(ProtoError::Unrecognized {
            at: "origin: no hop's layer",
        })
    }

    fn handle_relay_cell(
        &mut self,
        now: Timestamp,
        hop: HopNum,
        cell: RelayCell,
        tag: CellTag,
    ) -> Result<(), ProtoError> {
        let from_last = self.last_hop().ok() == Some(hop);
        match cell.msg {
            RelayMsg::Extended(ext) if from_last && self.pending.is_some() => {
                self.finish_hop(&ext.handshake)
            }
            RelayMsg::Drop(_) => Ok(()),
            RelayMsg::Begin(_)
            | RelayMsg::Connected(_)
            | RelayMsg::Data(_)
            | RelayMsg::End(_)
            | RelayMsg::Sendme(_)
                if from_last && self.pending.is_none() =>
            {
                self.streams.handle_cell(now, cell, tag)
            }
            msg if msg.is_onion_service_msg() => {
                self.events.push_back(CircEvent::Message { hop, msg });
                Ok(())
            }
            other => Err(ProtoError::UnexpectedMessage {
                state: "origin circuit",
                cmd: other.cmd(),
            }),
        }
    }

    fn finish_hop(&mut self, handshake: &[u8]) -> Result<(), ProtoError> {
        let Some(pending) = self.pending.take() else {
            return Err(ProtoError::CircuitState {
                action: "finish a handshake",
                state: "not extending",
            });
        };
        let keys = ntor::client_finish(pending.state, handshake)?;
        self.hops.push(Hop { keys });
        self.events.push_back(CircEvent::Extended {
            hops: self.hops.len(),
        });
        Ok(())
    }

    /// Encodes `cell` for `hop`, seals it with that hop's forward key and
    /// adds the layers of the hops before it, innermost first (§9.3).
    fn seal_to(&mut self, hop: HopNum, cell: &RelayCell) -> Result<(Cell, CellTag), ProtoError> {
        let mut body = [0u8; RELAY_BODY_LEN];
        cell.encode(&mut body)?;
        let target = usize::from(hop.0).min(self.hops.len());
        let (before, rest) = self.hops.split_at_mut(target);
        let Some(addressed) = rest.first_mut() else {
            return Err(ProtoError::CircuitState {
                action: "address a hop",
                state: "shorter than that",
            });
        };
        let tag = addressed.keys.forward.seal(&mut body)?;
        for outer in before.iter_mut().rev() {
            outer.keys.forward.xor(&mut body)?;
        }
        let cell = ChanMsg::Relay(body).encode(self.circ_id)?;
        Ok((cell, tag))
    }

    fn last_hop(&self) -> Result<HopNum, ProtoError> {
        match self.hops.len().checked_sub(1) {
            Some(i) => Ok(HopNum(u8::try_from(i).unwrap_or(u8::MAX))),
            None => Err(ProtoError::CircuitState {
                action: "use",
                state: "not built yet",
            }),
        }
    }

    fn check_open(&self) -> Result<(), ProtoError> {
        match self.closed {
            Some(_) => Err(ProtoError::CircuitClosed),
            None => Ok(()),
        }
    }

    fn check_usable(&self) -> Result<(), ProtoError> {
        self.check_open()?;
        if self.pending.is_some() {
            return Err(ProtoError::CircuitState {
                action: "use",
                state: "still extending",
            });
        }
        Ok(())
    }

    /// Tears down from this end: DESTROY goes out first, ahead of anything
    /// queued.
    fn fail(&mut self, reason: DestroyReason) {
        self.outbound.clear();
        if let Ok(cell) = ChanMsg::Destroy(crate::cell::Destroy { reason }).encode(self.circ_id) {
            self.outbound.push_back(cell);
        }
        self.close(Teardown {
            reason,
            remote: false,
        });
    }

    fn close(&mut self, teardown: Teardown) {
        self.closed = Some(teardown);
        self.pending = None;
        self.streams = StreamSet::new(StreamRole::Initiator);
        self.events.push_back(CircEvent::Closed(teardown));
    }
}

impl std::fmt::Debug for OriginCircuit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginCircuit")
            .field("circ_id", &self.circ_id)
            .field("hops", &self.hops.len())
            .field("pending", &self.pending.is_some())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}
