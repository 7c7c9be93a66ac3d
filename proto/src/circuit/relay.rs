//! A relay's part of a circuit (docs/spec.md §9).

use std::collections::VecDeque;

use warren_crypto::layer::{CellTag, HopKeys, RELAY_BODY_LEN, Recognized, RelayBody};
use warren_crypto::ntor::{self, EphemeralSecret, HANDSHAKE_NTOR};
use warren_crypto::{OnionKeypair, RelayIdentity};

use super::Teardown;
use crate::ProtoError;
use crate::cell::{Cell, CellCmd, ChanMsg, Create, Created, Destroy, DestroyReason};
use crate::relay_msg::{Extend, Extended, LinkSpec, RelayCell, RelayMsg, StreamId};
use crate::stream::{StreamRole, StreamSet};
use crate::time::Timestamp;

/// What the relay daemon must do for a circuit; pulled with
/// [`RelayCircuit::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayAction {
    /// Send this message on the circuit's inbound link (towards the origin).
    ToPrev(ChanMsg),
    /// Send this message on the circuit's outbound link (away from the origin).
    ToNext(ChanMsg),
    /// Reach the relay `identity` (at `link_specs`), give the circuit a new
    /// id on that link and send `create` there. Report the outcome with
    /// [`RelayCircuit::handle_from_next`] (its CREATED) or
    /// [`RelayCircuit::next_failed`].
    Extend {
        /// The relay to reach; the link must prove this identity.
        identity: RelayIdentity,
        /// Where to reach it.
        link_specs: Vec<LinkSpec>,
        /// The CREATE to send it.
        create: Create,
    },
    /// A circuit-level message addressed to this relay, for its
    /// onion-service roles (introduction point, rendezvous point, HSDir).
    Deliver(RelayMsg),
    /// The circuit is gone: forget it (its DESTROYs, if any, were queued
    /// before this action).
    Closed(Teardown),
}

/// What became of a cell handed to [`RelayCircuit::handle_from_prev`] or
/// [`RelayCircuit::handle_from_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a Forward verdict means the cell must be sent on"]
pub enum Verdict {
    /// The cell, processed in place, goes on to the other side unchanged in
    /// size: the relay's whole per-cell work for cells it passes on (§9.5).
    Forward,
    /// The cell ended here; drain [`RelayCircuit::poll_action`].
    Consumed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The circuit ends here.
    None,
    /// CREATE was requested towards the next hop; CREATED is awaited.
    Pending,
    /// The next hop is part of the circuit.
    Open,
    /// Joined at a rendezvous point to another circuit, which stands in for
    /// the next hop (§16.2).
    Spliced,
}

/// One relay's part of one circuit (§9): its hop keys, its link to the next
/// hop, and the streams that end here.
///
/// Feed cells from the previous hop to [`Self::handle_from_prev`] and from
/// the next hop to [`Self::handle_from_next`]; after every call drain
/// [`Self::poll_action`].
pub struct RelayCircuit {
    keys: HopKeys,
    next: Next,
    streams: StreamSet,
    actions: VecDeque<RelayAction>,
    closed: Option<Teardown>,
}

impl RelayCircuit {
    /// Answers a CREATE cell (§9.1): runs the relay side of the handshake
    /// with this relay's `identity` and its current (and previous)
    /// `onion_keys`. Returns the circuit and the CREATED message to send
    /// back on the same circuit id. On error, answer with DESTROY.
    pub fn accept_create(
        eph: EphemeralSecret,
        identity: &RelayIdentity,
        onion_keys: &[&OnionKeypair],
        cell: &Cell,
    ) -> Result<(Self, ChanMsg), ProtoError> {
        let ChanMsg::Create(create) = ChanMsg::decode(cell)? else {
            return Err(ProtoError::UnexpectedCell {
                state: "new circuit",
                cmd: cell.cmd,
            });
        };
        if create.handshake_type != HANDSHAKE_NTOR {
            return Err(ProtoError::UnknownHandshake {
                handshake_type: create.handshake_type,
            });
        }
        let (keys, reply) = ntor::server_respond(eph, identity, onion_keys, &create.handshake)?;
        let circuit = Self {
            keys,
            next: Next::None,
            streams: StreamSet::new(StreamRole::Acceptor),
            actions: VecDeque::new(),
            closed: None,
        };
        let created = ChanMsg::Created(Created {
            handshake: reply.to_vec(),
        });
        Ok((circuit, created))
    }

    /// Handles a cell from the previous hop (travelling away from the origin).
    ///
    /// A RELAY cell is processed in place: when the answer is
    /// [`Verdict::Forward`], `cell` (this hop's layer removed) must be sent on
    /// to the next hop under the outbound circuit id, which is the caller's
    /// to set. Anything else yields actions to drain. An error means the
    /// circuit has been torn down (DESTROYs are queued as actions); the error
    /// says why, for the log.
    pub fn handle_from_prev(
        &mut self,
        now: Timestamp,
        cell: &mut Cell,
    ) -> Result<Verdict, ProtoError> {
        if self.closed.is_some() {
            return Ok(Verdict::Consumed);
        }
        let result = if cell.cmd == CellCmd::RELAY {
            self.forward_relay(now, &mut cell.body)
        } else {
            match ChanMsg::decode(cell) {
                Ok(ChanMsg::Destroy(d)) => {
                    self.close_from(d.reason, Side::Prev);
                    Ok(Verdict::Consumed)
                }
                Ok(other) => Err(ProtoError::UnexpectedCell {
                    state: "open circuit, from the previous hop",
                    cmd: other.cmd(),
                }),
                Err(e) => Err(e),
            }
        };
        self.fail_on_error(result)
    }

    /// Handles a cell from the next hop (travelling towards the origin).
    ///
    /// A RELAY cell gets this hop's backward layer in place: on
    /// [`Verdict::Forward`], send `cell` to the previous hop under the
    /// inbound circuit id. Errors as for [`Self::handle_from_prev`].
    pub fn handle_from_next(&mut self, cell: &mut Cell) -> Result<Verdict, ProtoError> {
        if self.closed.is_some() {
            return Ok(Verdict::Consumed);
        }
        let result = match (cell.cmd, self.next) {
            (CellCmd::RELAY, Next::Open | Next::Spliced) => self
                .keys
                .backward
                .xor(&mut cell.body)
                .map(|()| Verdict::Forward)
                .map_err(ProtoError::from),
            _ => self.control_from_next(cell).map(|()| Verdict::Consumed),
        };
        self.fail_on_error(result)
    }

    /// CREATED (answering our EXTEND) and DESTROY from the next hop.
    fn control_from_next(&mut self, cell: &Cell) -> Result<(), ProtoError> {
        match (ChanMsg::decode(cell)?, self.next) {
            (ChanMsg::Created(created), Next::Pending) => {
                self.next = Next::Open;
                let extended = Extended {
                    handshake: created.handshake,
                };
                self.send_to_origin(RelayMsg::Extended(extended))
            }
            (ChanMsg::Destroy(d), _) => {
                self.close_from(d.reason, Side::Next);
                Ok(())
            }
            (other, _) => Err(ProtoError::UnexpectedCell {
                state: "open circuit, from the next hop",
                cmd: other.cmd(),
            }),
        }
    }

    /// The next hop could not be reached, or its link closed: the circuit is
    /// torn down towards the origin with `reason`.
    pub fn next_failed(&mut self, reason: DestroyReason) {
        if self.closed.is_none() && self.next != Next::None {
            self.next = Next::None;
            self.close_from(reason, Side::Next);
        }
    }

    /// The previous hop's link closed: the circuit is torn down towards the
    /// next hop.
    pub fn prev_failed(&mut self) {
        if self.closed.is_none() {
            self.close_from(DestroyReason::CHANNEL_CLOSED, Side::Prev);
        }
    }

    /// Sends a circuit-level message to the origin from this hop (replies of
    /// the onion-service roles).
    pub fn send_to_origin(&mut self, msg: RelayMsg) -> Result<(), ProtoError> {
        let body = self.seal_backward(&RelayCell::new(StreamId(0), msg))?.0;
        self.actions
            .push_back(RelayAction::ToPrev(ChanMsg::Relay(body)));
        Ok(())
    }

    /// Joins this circuit, at its last hop, to another (the rendezvous
    /// point, §16.2): from now on a cell from the origin that this hop does
    /// not recognise is [`Verdict::Forward`] for the other circuit, and the
    /// other circuit's cells enter through [`Self::handle_from_next`] as if
    /// from a next hop.
    pub fn splice(&mut self) -> Result<(), ProtoError> {
        if self.next != Next::None || self.closed.is_some() {
            return Err(ProtoError::CircuitState {
                action: "join at a rendezvous point",
                state: "not the last hop of an open circuit",
            });
        }
        self.next = Next::Spliced;
        Ok(())
    }

    /// Whether the circuit is joined to another (§16.2).
    pub fn is_spliced(&self) -> bool {
        self.next == Next::Spliced
    }

    /// `KH` of this hop's handshake (§4.2), which ESTABLISH_INTRO's
    /// `handshake_auth` is checked against (§16.1).
    pub fn binding(&self) -> &warren_crypto::CircuitBinding {
        &self.keys.binding
    }

    /// Tears the circuit down from this relay in both directions.
    pub fn destroy(&mut self, reason: DestroyReason) {
        if self.closed.is_none() {
            self.teardown(reason);
        }
    }

    /// The streams that end at this hop (exit streams). Drain
    /// [`Self::poll_action`] after using them.
    pub fn streams(&mut self) -> &mut StreamSet {
        &mut self.streams
    }

    /// The next action, if any. Call after every input until it returns
    /// `None`; carry out actions in the order returned.
    pub fn poll_action(&mut self) -> Option<RelayAction> {
        if let Some(action) = self.actions.pop_front() {
            return Some(action);
        }
        if self.closed.is_some() {
            return None;
        }
        let cell = self.streams.poll_cell()?;
        match self.seal_backward(&cell) {
            Ok((body, tag)) => {
                if matches!(cell.msg, RelayMsg::Data(_)) {
                    self.streams.on_data_sealed(tag);
                }
                Some(RelayAction::ToPrev(ChanMsg::Relay(body)))
            }
            Err(e) => {
                self.teardown(e.destroy_reason());
                self.actions.pop_front()
            }
        }
    }

    /// When [`Self::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.streams.poll_timeout()
    }

    /// Handles the passing of time for the streams that end here.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.streams.handle_timeout(now);
    }

    /// How the circuit ended, once it has.
    pub fn teardown_reason(&self) -> Option<Teardown> {
        self.closed
    }

    /// Removes this hop's forward layer; passes the cell on or acts on it.
    fn forward_relay(
        &mut self,
        now: Timestamp,
        body: &mut RelayBody,
    ) -> Result<Verdict, ProtoError> {
        match (self.keys.forward.open(body)?, self.next) {
            (Recognized::Yes(tag), _) => {
                let cell = RelayCell::decode(body)?;
                self.handle_local(now, cell, tag)
                    .map(|()| Verdict::Consumed)
            }
            (Recognized::No, Next::Open | Next::Spliced) => Ok(Verdict::Forward),
            (Recognized::No, _) => Err(ProtoError::Unrecognized { at: "the last hop" }),
        }
    }

    /// Acts on a relay cell addressed to this hop (§9.5).
    fn handle_local(
        &mut self,
        now: Timestamp,
        cell: RelayCell,
        tag: CellTag,
    ) -> Result<(), ProtoError> {
        match cell.msg {
            RelayMsg::Extend(extend) => self.start_extend(extend),
            RelayMsg::Drop(_) => Ok(()),
            RelayMsg::Begin(_)
            | RelayMsg::Connected(_)
            | RelayMsg::Data(_)
            | RelayMsg::End(_)
            | RelayMsg::Sendme(_) => self.streams.handle_cell(now, cell, tag),
            msg if msg.is_onion_service_msg() => {
                self.actions.push_back(RelayAction::Deliver(msg));
                Ok(())
            }
            other => Err(ProtoError::UnexpectedMessage {
                state: "relay hop",
                cmd: other.cmd(),
            }),
        }
    }

    fn start_extend(&mut self, extend: Extend) -> Result<(), ProtoError> {
        if self.next != Next::None {
            return Err(ProtoError::CircuitState {
                action: "extend",
                state: "already extended",
            });
        }
        if !self.streams.is_empty() {
            return Err(ProtoError::CircuitState {
                action: "extend",
                state: "carrying streams",
            });
        }
        let identity = RelayIdentity::from_bytes(&extend.identity)?;
        self.next = Next::Pending;
        self.actions.push_back(RelayAction::Extend {
            identity,
            link_specs: extend.link_specs,
            create: Create {
                handshake_type: extend.handshake_type,
                handshake: extend.handshake,
            },
        });
        Ok(())
    }

    fn seal_backward(&mut self, cell: &RelayCell) -> Result<(RelayBody, CellTag), ProtoError> {
        let mut body = [0u8; RELAY_BODY_LEN];
        cell.encode(&mut body)?;
        let tag = self.keys.backward.seal(&mut body)?;
        Ok((body, tag))
    }

    fn fail_on_error(
        &mut self,
        result: Result<Verdict, ProtoError>,
    ) -> Result<Verdict, ProtoError> {
        if let (Err(e), None) = (&result, self.closed) {
            self.teardown(e.destroy_reason());
        }
        result
    }

    /// A DESTROY (or a dead link) arrived from `from`: pass the reason on to
    /// the other side, if there is one (§9.6).
    fn close_from(&mut self, reason: DestroyReason, from: Side) {
        let destroy = ChanMsg::Destroy(Destroy { reason });
        match from {
            Side::Prev if self.next != Next::None => {
                self.actions.push_back(RelayAction::ToNext(destroy));
            }
            Side::Prev => {}
            Side::Next => self.actions.push_back(RelayAction::ToPrev(destroy)),
        }
        self.finish(reason, true);
    }

    /// This relay decided to end the circuit: DESTROY both ways.
    fn teardown(&mut self, reason: DestroyReason) {
        self.actions.clear();
        let destroy = ChanMsg::Destroy(Destroy { reason });
        self.actions.push_back(RelayAction::ToPrev(destroy.clone()));
        if self.next != Next::None {
            self.actions.push_back(RelayAction::ToNext(destroy));
        }
        self.finish(reason, false);
    }

    fn finish(&mut self, reason: DestroyReason, remote: bool) {
        let teardown = Teardown { reason, remote };
        self.closed = Some(teardown);
        self.next = Next::None;
        self.streams = StreamSet::new(StreamRole::Acceptor);
        self.actions.push_back(RelayAction::Closed(teardown));
    }
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Prev,
    Next,
}

impl std::fmt::Debug for RelayCircuit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayCircuit")
            .field("next", &self.next)
            .field("streams", &self.streams.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}
