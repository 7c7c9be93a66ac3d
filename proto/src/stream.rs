//! Streams multiplexed on one circuit, at either end (docs/spec.md §10).
//!
//! A [`StreamSet`] holds the streams of one circuit end: the origin (a client
//! opening streams, or a service accepting them) or the hop where the streams
//! end (an exit). It turns application calls and received relay cells into
//! relay cells to send and [`StreamEvent`]s, enforcing the circuit and stream
//! windows of [`crate::flow`]. It never seals or sends anything itself: its
//! owner pulls cells with [`StreamSet::poll_cell`], seals them for the right
//! hop and reports each DATA cell's tag back with [`StreamSet::on_data_sealed`].

mod buffer;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use warren_crypto::layer::CellTag;

pub use buffer::STREAM_SEND_BUFFER;
use buffer::{RecvBuffer, SendBuffer};

use crate::ProtoError;
use crate::flow::{CircWindow, StreamWindow};
use crate::relay_msg::{
    Begin, Connected, Data, End, EndReason, RelayCell, RelayMsg, Sendme, StreamId,
};
use crate::time::Timestamp;

/// Streams one circuit end may have open at once (§10.1).
pub const MAX_STREAMS_PER_CIRCUIT: usize = 1024;

/// How long an initiator waits for CONNECTED before giving up (§10.1).
pub const STREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Which side of the streams this end is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRole {
    /// Opens streams with BEGIN (a client's origin).
    Initiator,
    /// Accepts streams from BEGIN (an exit, or a service's origin).
    Acceptor,
}

/// What happened on a stream; pulled with [`StreamSet::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// The peer asked to open a stream (acceptor side). Answer with
    /// `accept_stream` or `reject_stream`.
    Incoming {
        /// The new stream.
        id: StreamId,
        /// The host asked for (empty for "the onion service itself").
        host: String,
        /// The port asked for.
        port: u16,
    },
    /// CONNECTED arrived: the stream is open (initiator side).
    Opened(StreamId),
    /// Data arrived on a stream whose receive buffer was empty.
    Readable(StreamId),
    /// A stream whose send buffer was full can take more data.
    Writable(StreamId),
    /// The peer ended the stream; the data still buffered can be read, then
    /// reads report [`StreamRead::Finished`].
    Ended {
        /// The stream.
        id: StreamId,
        /// The reason the peer gave.
        reason: EndReason,
    },
}

/// The result of reading from a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRead {
    /// This many bytes were copied.
    Bytes(usize),
    /// Nothing to read yet.
    WouldBlock,
    /// The peer ended the stream and every byte has been read.
    Finished(EndReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// BEGIN sent, waiting for CONNECTED until the deadline.
    Connecting { deadline: Timestamp },
    /// BEGIN received, waiting for the application's answer.
    Requested,
    /// Data flows both ways.
    Open,
    /// The application closed the stream: flush, then send END.
    Closing,
}

#[derive(Debug)]
struct Stream {
    state: State,
    window: StreamWindow,
    send: SendBuffer,
    recv: RecvBuffer,
    /// Set when the peer's END arrived.
    ended: Option<EndReason>,
    /// A write was cut short; say [`StreamEvent::Writable`] when room appears.
    writer_blocked: bool,
}

impl Stream {
    fn new(state: State) -> Self {
        Self {
            state,
            window: StreamWindow::new(),
            send: SendBuffer::default(),
            recv: RecvBuffer::default(),
            ended: None,
            writer_blocked: false,
        }
    }

    /// Whether a DATA cell could be packaged now (circuit window aside).
    fn has_data_to_send(&self) -> bool {
        matches!(self.state, State::Open | State::Closing)
            && self.ended.is_none()
            && !self.send.is_empty()
            && self.window.can_package()
    }
}

/// The streams of one circuit end, with the circuit-level window.
#[derive(Debug)]
pub struct StreamSet {
    role: StreamRole,
    streams: BTreeMap<StreamId, Stream>,
    next_id: u16,
    /// Stream ids this end has closed; late cells for them are ignored.
    retired: VecDeque<StreamId>,
    /// Cells not subject to any window (BEGIN, CONNECTED, END, SENDME).
    control: VecDeque<RelayCell>,
    /// Round-robin cursor: the stream after which packaging resumes.
    cursor: StreamId,
    window: CircWindow,
    events: VecDeque<StreamEvent>,
}

/// Closed stream ids remembered to tolerate cells already in flight.
const RETIRED_MEMORY: usize = 256;

impl StreamSet {
    /// An empty set for the given side.
    pub fn new(role: StreamRole) -> Self {
        Self {
            role,
            streams: BTreeMap::new(),
            next_id: 1,
            retired: VecDeque::new(),
            control: VecDeque::new(),
            cursor: StreamId(0),
            window: CircWindow::new(),
            events: VecDeque::new(),
        }
    }

    /// Opens a stream to `host:port` (initiator only): queues BEGIN.
    pub fn begin(&mut self, now: Timestamp, host: &str, port: u16) -> Result<StreamId, ProtoError> {
        if self.role != StreamRole::Initiator {
            return Err(ProtoError::WrongStreamRole {
                action: "begin a stream",
            });
        }
        self.check_capacity()?;
        let id = self.allocate_id()?;
        let begin = Begin::new(host, port)?;
        let deadline = now.saturating_add(STREAM_CONNECT_TIMEOUT);
        self.streams
            .insert(id, Stream::new(State::Connecting { deadline }));
        self.control
            .push_back(RelayCell::new(id, RelayMsg::Begin(begin)));
        Ok(id)
    }

    /// Accepts a stream the peer asked for (acceptor only): queues CONNECTED.
    pub fn accept(&mut self, id: StreamId) -> Result<(), ProtoError> {
        let stream = self.stream_mut(id)?;
        if stream.state != State::Requested {
            return Err(ProtoError::StreamState {
                id: id.0,
                action: "accept",
            });
        }
        stream.state = State::Open;
        self.control
            .push_back(RelayCell::new(id, RelayMsg::Connected(Connected {})));
        Ok(())
    }

    /// Refuses a stream the peer asked for, or ends any stream at once,
    /// discarding unsent data: queues END with `reason`.
    pub fn reset(&mut self, id: StreamId, reason: EndReason) -> Result<(), ProtoError> {
        self.stream_mut(id)?;
        self.retire(id);
        self.control
            .push_back(RelayCell::new(id, RelayMsg::End(End { reason })));
        Ok(())
    }

    /// Buffers `data` for sending; returns how many bytes were taken (fewer
    /// when the send buffer is full: wait for [`StreamEvent::Writable`]).
    pub fn write(&mut self, id: StreamId, data: &[u8]) -> Result<usize, ProtoError> {
        let stream = self.stream_mut(id)?;
        if !matches!(stream.state, State::Open) || stream.ended.is_some() {
            return Err(ProtoError::StreamState {
                id: id.0,
                action: "write to",
            });
        }
        let n = stream.send.push(data);
        if n < data.len() {
            stream.writer_blocked = true;
        }
        Ok(n)
    }

    /// Bytes received on stream `id` and not yet read (0 for a stream this
    /// set does not hold), to size the buffer of the next [`Self::read`].
    pub fn readable(&self, id: StreamId) -> usize {
        self.streams.get(&id).map_or(0, |s| s.recv.len())
    }

    /// Reads received bytes into `out`, sending stream-level SENDMEs as the
    /// data is consumed (§10.3.2).
    pub fn read(&mut self, id: StreamId, out: &mut [u8]) -> Result<StreamRead, ProtoError> {
        let stream = self.stream_mut(id)?;
        if stream.recv.is_empty() {
            return Ok(match stream.ended {
                Some(reason) => {
                    self.retire(id);
                    StreamRead::Finished(reason)
                }
                None => StreamRead::WouldBlock,
            });
        }
        let (copied, consumed) = stream.recv.read(out);
        let mut sendmes = 0;
        if stream.ended.is_none() {
            for _ in 0..consumed {
                if stream.window.on_cell_consumed() {
                    sendmes += 1;
                }
            }
        }
        for _ in 0..sendmes {
            self.control
                .push_back(RelayCell::new(id, RelayMsg::Sendme(Sendme { ack: None })));
        }
        Ok(StreamRead::Bytes(copied))
    }

    /// Finishes a stream: the buffered data is sent, then END (DONE).
    pub fn close(&mut self, id: StreamId) -> Result<(), ProtoError> {
        let stream = self.stream_mut(id)?;
        match (stream.state, stream.ended) {
            // The peer ended it already: nothing more goes either way.
            (_, Some(_)) => {
                self.retire(id);
                Ok(())
            }
            (State::Open, None) => {
                stream.state = State::Closing;
                self.maybe_finish_closing(id);
                Ok(())
            }
            // Closed already: END follows the data still buffered. Resetting
            // here would drop that data and still say DONE.
            (State::Closing, None) => Ok(()),
            _ => self.reset(id, EndReason::DONE),
        }
    }

    /// Handles a stream-level message, a circuit-level SENDME or DATA for
    /// this end. `tag` is the cell's authentication tag (§5.4).
    pub fn handle_cell(
        &mut self,
        now: Timestamp,
        cell: RelayCell,
        tag: CellTag,
    ) -> Result<(), ProtoError> {
        let id = cell.stream_id;
        match cell.msg {
            RelayMsg::Sendme(s) if id.0 == 0 => self.window.on_sendme(s.ack),
            RelayMsg::Begin(b) => self.on_begin(id, b),
            RelayMsg::Data(d) => {
                if let Some(ack) = self.window.on_data_received(tag)? {
                    let sendme = RelayMsg::Sendme(Sendme { ack: Some(ack) });
                    self.control.push_back(RelayCell::new(StreamId(0), sendme));
                }
                self.on_data(id, d)
            }
            RelayMsg::Connected(_) => self.on_connected(now, id),
            RelayMsg::End(e) => self.on_end(id, e.reason),
            RelayMsg::Sendme(_) => self.on_stream_sendme(id),
            other => Err(ProtoError::UnexpectedMessage {
                state: "stream end",
                cmd: other.cmd(),
            }),
        }
    }

    /// The next relay cell to seal and send, if any: window-free control
    /// cells first, then DATA round-robin over the streams that may send.
    ///
    /// Call after every input and until it returns `None`. For a DATA cell,
    /// report its tag with [`Self::on_data_sealed`] right after sealing.
    pub fn poll_cell(&mut self) -> Option<RelayCell> {
        if let Some(cell) = self.control.pop_front() {
            return Some(cell);
        }
        if !self.window.can_package() {
            return None;
        }
        let id = self.next_sender()?;
        let stream = self.streams.get_mut(&id)?;
        let data = Data::new(stream.send.take_cell()).ok()?;
        stream.window.on_data_sent();
        if stream.writer_blocked && !stream.send.is_full() {
            stream.writer_blocked = false;
            self.events.push_back(StreamEvent::Writable(id));
        }
        self.cursor = id;
        self.maybe_finish_closing(id);
        Some(RelayCell::new(id, RelayMsg::Data(data)))
    }

    /// Records the tag of the DATA cell just sealed (for authenticated
    /// circuit-level SENDMEs, §10.3.1).
    pub fn on_data_sealed(&mut self, tag: CellTag) {
        self.window.on_data_sent(tag);
    }

    /// The next event, if any. Call after every input until it returns `None`.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        self.events.pop_front()
    }

    /// The earliest connect deadline, if any stream is connecting.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.streams
            .values()
            .filter_map(|s| match s.state {
                State::Connecting { deadline } => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// Ends the streams whose CONNECTED did not arrive in time.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let late: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| matches!(s.state, State::Connecting { deadline } if deadline <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            self.retire(id);
            let reason = EndReason::TIMEOUT;
            self.control
                .push_back(RelayCell::new(id, RelayMsg::End(End { reason })));
            self.events.push_back(StreamEvent::Ended { id, reason });
        }
    }

    /// Open streams.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Whether cells are waiting to be pulled with [`Self::poll_cell`].
    pub fn wants_to_send(&self) -> bool {
        !self.control.is_empty()
            || (self.window.can_package() && self.streams.values().any(Stream::has_data_to_send))
    }

    fn on_begin(&mut self, id: StreamId, begin: Begin) -> Result<(), ProtoError> {
        if self.role != StreamRole::Acceptor {
            return Err(ProtoError::UnexpectedMessage {
                state: "stream initiator",
                cmd: crate::relay_msg::RelayCmd::BEGIN,
            });
        }
        if self.streams.contains_key(&id) || self.retired.contains(&id) {
            return Err(ProtoError::StreamState {
                id: id.0,
                action: "reopen",
            });
        }
        if self.streams.len() >= MAX_STREAMS_PER_CIRCUIT {
            let reason = EndReason::RESOURCELIMIT;
            self.control
                .push_back(RelayCell::new(id, RelayMsg::End(End { reason })));
            return Ok(());
        }
        self.streams.insert(id, Stream::new(State::Requested));
        let (host, port) = begin.into_parts();
        self.events
            .push_back(StreamEvent::Incoming { id, host, port });
        Ok(())
    }

    fn on_connected(&mut self, _now: Timestamp, id: StreamId) -> Result<(), ProtoError> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return self.tolerate_late(id, "CONNECTED");
        };
        if !matches!(stream.state, State::Connecting { .. }) {
            return Err(ProtoError::StreamState {
                id: id.0,
                action: "connect an open",
            });
        }
        stream.state = State::Open;
        self.events.push_back(StreamEvent::Opened(id));
        Ok(())
    }

    fn on_data(&mut self, id: StreamId, data: Data) -> Result<(), ProtoError> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return self.tolerate_late(id, "DATA");
        };
        if !matches!(stream.state, State::Open | State::Closing) || stream.ended.is_some() {
            return Err(ProtoError::StreamState {
                id: id.0,
                action: "receive data on",
            });
        }
        stream.window.on_data_received()?;
        let was_empty = stream.recv.is_empty();
        stream.recv.push(data.into_bytes());
        if was_empty {
            self.events.push_back(StreamEvent::Readable(id));
        }
        Ok(())
    }

    fn on_end(&mut self, id: StreamId, reason: EndReason) -> Result<(), ProtoError> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return self.tolerate_late(id, "END");
        };
        if stream.ended.is_some() {
            return Err(ProtoError::StreamState {
                id: id.0,
                action: "end twice",
            });
        }
        stream.ended = Some(reason);
        stream.send = SendBuffer::default();
        self.events.push_back(StreamEvent::Ended { id, reason });
        Ok(())
    }

    fn on_stream_sendme(&mut self, id: StreamId) -> Result<(), ProtoError> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return self.tolerate_late(id, "SENDME");
        };
        stream.window.on_sendme()
    }

    /// Cells for a stream this end already closed are dropped; cells for a
    /// stream that never existed break the protocol.
    fn tolerate_late(&self, id: StreamId, what: &'static str) -> Result<(), ProtoError> {
        if self.retired.contains(&id) {
            Ok(())
        } else {
            Err(ProtoError::UnknownStream {
                id: id.0,
                cmd: what,
            })
        }
    }

    fn maybe_finish_closing(&mut self, id: StreamId) {
        let done = self
            .streams
            .get(&id)
            .is_some_and(|s| s.state == State::Closing && s.send.is_empty());
        if done {
            self.retire(id);
            let reason = EndReason::DONE;
            self.control
                .push_back(RelayCell::new(id, RelayMsg::End(End { reason })));
        }
    }

    fn retire(&mut self, id: StreamId) {
        if self.streams.remove(&id).is_some() {
            if self.retired.len() >= RETIRED_MEMORY {
                self.retired.pop_front();
            }
            self.retired.push_back(id);
        }
    }

    /// The first stream after the cursor (wrapping) that may send.
    fn next_sender(&self) -> Option<StreamId> {
        let after = self
            .streams
            .range(StreamId(self.cursor.0.saturating_add(1))..);
        let before = self.streams.range(..=self.cursor);
        after
            .chain(before)
            .find(|(_, s)| s.has_data_to_send())
            .map(|(id, _)| *id)
    }

    fn check_capacity(&self) -> Result<(), ProtoError> {
        if self.streams.len() >= MAX_STREAMS_PER_CIRCUIT {
            return Err(ProtoError::TooManyStreams {
                max: MAX_STREAMS_PER_CIRCUIT,
            });
        }
        Ok(())
    }

    fn allocate_id(&mut self) -> Result<StreamId, ProtoError> {
        for _ in 0..=u16::MAX {
            let id = StreamId(self.next_id);
            self.next_id = self.next_id.checked_add(1).unwrap_or(1);
            if id.0 != 0 && !self.streams.contains_key(&id) && !self.retired.contains(&id) {
                return Ok(id);
            }
        }
        Err(ProtoError::TooManyStreams {
            max: MAX_STREAMS_PER_CIRCUIT,
        })
    }

    fn stream_mut(&mut self, id: StreamId) -> Result<&mut Stream, ProtoError> {
        self.streams.get_mut(&id).ok_or(ProtoError::UnknownStream {
            id: id.0,
            cmd: "local call",
        })
    }
}
