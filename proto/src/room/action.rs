//! What the engine asks its host to do, and the identifiers it uses.

use super::state::ConnState;
use crate::wire::ErrorCode;
use bytes::Bytes;

/// A host-chosen handle for one connection (a WebSocket, a WebTransport
/// session or a link to another host). Unique within a room for the
/// connection's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// An engine-assigned participant id, unique within a room on one host.
pub type ParticipantId = u32;

/// How the host should carry a message it is told to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Control traffic: must arrive, in order (the WebSocket, or the
    /// WebTransport control stream).
    Reliable,
    /// Audio: small, may be lost rather than delayed (a datagram).
    Datagram,
    /// One video frame: may be dropped when stale but never blocks the next
    /// (its own unidirectional stream).
    Stream {
        /// Keyframes are worth keeping longer than delta frames.
        keyframe: bool,
    },
}

/// A close code in the 4000 range, sent with the close of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// The client speaks another protocol version.
    UnsupportedVersion = 4001,
    /// A message could not be decoded or broke the protocol.
    Malformed = 4002,
    /// The room has no room for another participant.
    RoomFull = 4003,
    /// A message exceeded `max_message_bytes`.
    TooLarge = 4004,
    /// The sender exceeded its byte or message rate.
    RateLimited = 4005,
    /// The name is not acceptable.
    InvalidName = 4006,
    /// The name is already in the room (policy `Reject`).
    NameTaken = 4007,
    /// Nothing was heard from the connection within the heartbeat timeout.
    HeartbeatTimeout = 4008,
    /// A newer connection with the same name took over.
    Replaced = 4009,
    /// The participant has no right to do what it tried.
    Forbidden = 4010,
    /// A message other than `Hello` arrived before `Hello`.
    NotJoined = 4011,
    /// The host refused the join token (used by hosts, not the engine).
    Unauthorized = 4012,
    /// The host is shutting down; reconnect (used by hosts).
    ShuttingDown = 4013,
    /// The receiver stopped reading: too much it was sent is still
    /// unacknowledged.
    SlowReceiver = 4014,
    /// A host removed the participant; it cannot rejoin this meeting.
    Removed = 4015,
    /// A host ended the meeting for everyone.
    MeetingEnded = 4016,
}

impl CloseCode {
    /// The numeric WebSocket / WebTransport close code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The `Error` message code sent just before this close.
    pub fn error_code(self) -> ErrorCode {
        match self {
            CloseCode::UnsupportedVersion => ErrorCode::UnsupportedVersion,
            CloseCode::Malformed => ErrorCode::Malformed,
            CloseCode::RoomFull => ErrorCode::RoomFull,
            CloseCode::TooLarge => ErrorCode::TooLarge,
            CloseCode::RateLimited => ErrorCode::RateLimited,
            CloseCode::InvalidName => ErrorCode::InvalidName,
            CloseCode::NameTaken => ErrorCode::NameTaken,
            CloseCode::HeartbeatTimeout => ErrorCode::HeartbeatTimeout,
            CloseCode::Replaced => ErrorCode::Replaced,
            CloseCode::Forbidden => ErrorCode::Forbidden,
            CloseCode::NotJoined => ErrorCode::NotJoined,
            CloseCode::Unauthorized => ErrorCode::Unauthorized,
            CloseCode::ShuttingDown => ErrorCode::ShuttingDown,
            CloseCode::SlowReceiver => ErrorCode::SlowReceiver,
            CloseCode::Removed => ErrorCode::Removed,
            CloseCode::MeetingEnded => ErrorCode::MeetingEnded,
        }
    }
}

/// One instruction for the host, returned by [`Room::poll_action`](super::Room::poll_action).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send `data` (one encoded message) on `conn`.
    Send {
        /// Destination connection.
        conn: ConnId,
        /// The encoded message; media buffers are shared between receivers.
        data: Bytes,
        /// How to carry it.
        delivery: Delivery,
    },
    /// Send the same `data` to every connection in `conns`: one encoding,
    /// shared by reference (clone the `Bytes` per connection).
    Fanout {
        /// Destination connections (no duplicates).
        conns: Vec<ConnId>,
        /// The encoded message.
        data: Bytes,
        /// How to carry it.
        delivery: Delivery,
    },
    /// Close `conn`. The engine has already forgotten it.
    Close {
        /// Connection to close.
        conn: ConnId,
        /// Close code (4000 range).
        code: CloseCode,
        /// Human-readable reason (also sent in an `Error` message first).
        reason: String,
    },
    /// Store `state` with `conn` (e.g. in a WebSocket attachment) so the
    /// room can be rebuilt with [`Room::restore`](super::Room::restore).
    Persist {
        /// The connection the state belongs to.
        conn: ConnId,
        /// Everything the engine needs to restore this connection (boxed
        /// to keep the frequent `Send` actions small).
        state: Box<ConnState>,
    },
    /// Store what the room keeps beyond its connections (a `StoredRoom`:
    /// its recent chat and the identities a host removed; empty: nothing to
    /// keep, drop what was stored) so the room can go on after losing its
    /// memory: hand it back with
    /// [`Room::restore_room`](super::Room::restore_room). Each value
    /// replaces the last. Hosts whose room lives in memory for as long as
    /// anyone is in it ignore this.
    PersistRoom {
        /// The whole room state, encoded.
        state: Bytes,
    },
}
