//! A fake host for driving the room engine in tests: a fake clock, inboxes
//! per connection, and helpers that speak the wire protocol.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use edgecall_proto::room::{
    Action, CloseCode, ConnId, ConnState, Delivery, LinkKind, Member, ParticipantId, Room,
    RoomConfig,
};
use edgecall_proto::wire::{
    self, client_message, link_message, server_message, ClientMessage, LinkMessage, MediaFrame,
    ServerMessage, Track,
};
use edgecall_proto::PROTOCOL_VERSION;
use prost::Message;

/// One message a connection received.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub data: Bytes,
    pub delivery: Delivery,
}

/// A fake host around one room.
pub struct Host {
    pub room: Room,
    pub now: u64,
    pub inbox: BTreeMap<ConnId, Vec<Delivered>>,
    pub closed: BTreeMap<ConnId, (CloseCode, String)>,
    pub persisted: BTreeMap<ConnId, ConnState>,
    /// The last room state the room asked to keep (`None`: never asked).
    pub persisted_room: Option<Bytes>,
    pub links: HashSet<ConnId>,
    pub ids: BTreeMap<ConnId, ParticipantId>,
    /// Bytes delivered to each connection so far (what its `Ack` reports).
    pub received_bytes: BTreeMap<ConnId, u64>,
}

pub const START_MS: u64 = 1_700_000_000_000;

impl Host {
    pub fn new(config: RoomConfig) -> Self {
        Self::with_room(Room::new("room-1", config).expect("valid room"))
    }

    pub fn with_room(room: Room) -> Self {
        Self {
            room,
            now: START_MS,
            inbox: BTreeMap::new(),
            closed: BTreeMap::new(),
            persisted: BTreeMap::new(),
            persisted_room: None,
            links: HashSet::new(),
            ids: BTreeMap::new(),
            received_bytes: BTreeMap::new(),
        }
    }

    /// Moves the fake clock and ticks the engine.
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.room.tick(self.now);
        self.pump();
    }

    /// Carries out every queued action.
    pub fn pump(&mut self) {
        while let Some(action) = self.room.poll_action() {
            match action {
                Action::Send {
                    conn,
                    data,
                    delivery,
                } => {
                    *self.received_bytes.entry(conn).or_default() += data.len() as u64;
                    self.inbox
                        .entry(conn)
                        .or_default()
                        .push(Delivered { data, delivery });
                }
                Action::Fanout {
                    conns,
                    data,
                    delivery,
                } => {
                    for conn in conns {
                        *self.received_bytes.entry(conn).or_default() += data.len() as u64;
                        self.inbox.entry(conn).or_default().push(Delivered {
                            data: data.clone(),
                            delivery,
                        });
                    }
                }
                Action::Close { conn, code, reason } => {
                    self.persisted.remove(&conn);
                    self.closed.insert(conn, (code, reason));
                }
                Action::Persist { conn, state } => {
                    self.persisted.insert(conn, *state);
                }
                Action::PersistRoom { state } => self.persisted_room = Some(state),
            }
        }
    }

    /// Admits a connection and sends Hello; returns the assigned id.
    pub fn join(&mut self, conn: u64, name: &str) -> ParticipantId {
        self.try_join(conn, name).unwrap_or_else(|| {
            panic!(
                "{name} was not welcomed: {:?}",
                self.closed.get(&ConnId(conn))
            )
        })
    }

    /// Like [`Host::join`] but returns None when refused.
    pub fn try_join(&mut self, conn: u64, name: &str) -> Option<ParticipantId> {
        self.join_as(conn, Member::new(name))
    }

    /// Admits `member` on `conn`, says Hello; returns the id if welcomed.
    pub fn join_as(&mut self, conn: u64, member: Member) -> Option<ParticipantId> {
        self.welcome_as(conn, member, &[]).map(|w| w.participant_id)
    }

    /// Admits `member` on `conn`, says Hello with `resume_secret`; returns
    /// the Welcome if welcomed.
    pub fn welcome_as(
        &mut self,
        conn: u64,
        member: Member,
        resume_secret: &[u8],
    ) -> Option<wire::Welcome> {
        self.room.join(ConnId(conn), member, self.now);
        self.send(conn, resume_hello(resume_secret));
        let welcome = welcome_in(self.server_messages(conn))?;
        self.ids.insert(ConnId(conn), welcome.participant_id);
        Some(welcome)
    }

    /// Opens a link connection.
    pub fn join_link(&mut self, conn: u64, host_id: &str) {
        self.join_link_kind(conn, host_id, LinkKind::Tree);
    }

    /// Opens a link connection of `kind`.
    pub fn join_link_kind(&mut self, conn: u64, host_id: &str, kind: LinkKind) {
        self.links.insert(ConnId(conn));
        self.room.join_link(ConnId(conn), host_id, kind, self.now);
        self.pump();
    }

    pub fn send(&mut self, conn: u64, msg: client_message::Msg) {
        let data = ClientMessage { msg: Some(msg) }.encode_to_vec();
        self.raw(conn, data.into());
    }

    pub fn send_link(&mut self, conn: u64, msg: link_message::Msg) {
        let data = LinkMessage { msg: Some(msg) }.encode_to_vec();
        self.raw(conn, data.into());
    }

    pub fn raw(&mut self, conn: u64, data: Bytes) {
        self.room.message(ConnId(conn), data, self.now);
        self.pump();
    }

    /// `conn` acknowledges everything delivered to it so far.
    pub fn ack(&mut self, conn: u64) {
        let received_bytes = self.received_bytes.get(&ConnId(conn)).copied().unwrap_or(0);
        self.send(conn, client_message::Msg::Ack(wire::Ack { received_bytes }));
    }

    /// Sends one media frame.
    pub fn media(&mut self, conn: u64, frame: MediaFrame) {
        self.send(conn, client_message::Msg::Media(frame));
    }

    /// Takes everything `conn` received so far.
    pub fn take(&mut self, conn: u64) -> Vec<Delivered> {
        self.inbox.remove(&ConnId(conn)).unwrap_or_default()
    }

    /// Takes and decodes everything a client connection received.
    pub fn server_messages(&mut self, conn: u64) -> Vec<server_message::Msg> {
        self.take(conn)
            .into_iter()
            .filter_map(|d| {
                ServerMessage::decode(d.data)
                    .expect("server message decodes")
                    .msg
            })
            .collect()
    }

    /// Takes and decodes everything a link connection received.
    pub fn link_messages(&mut self, conn: u64) -> Vec<link_message::Msg> {
        self.take(conn)
            .into_iter()
            .filter_map(|d| {
                LinkMessage::decode(d.data)
                    .expect("link message decodes")
                    .msg
            })
            .collect()
    }

    /// Takes the media frames a client received, dropping other messages.
    pub fn media_received(&mut self, conn: u64) -> Vec<MediaFrame> {
        self.server_messages(conn)
            .into_iter()
            .filter_map(|m| match m {
                server_message::Msg::Media(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// Clears every inbox.
    pub fn clear(&mut self) {
        self.inbox.clear();
    }

    pub fn close_code(&self, conn: u64) -> Option<CloseCode> {
        self.closed.get(&ConnId(conn)).map(|(c, _)| *c)
    }
}

/// A current-version Hello.
pub fn hello() -> client_message::Msg {
    resume_hello(&[])
}

/// A current-version Hello presenting a resume secret.
pub fn resume_hello(secret: &[u8]) -> client_message::Msg {
    client_message::Msg::Hello(wire::Hello {
        protocol_version: PROTOCOL_VERSION,
        client: "test".into(),
        media_state: None,
        resume_secret: Bytes::copy_from_slice(secret),
    })
}

/// The Welcome among `msgs`.
pub fn welcome_in(msgs: Vec<server_message::Msg>) -> Option<wire::Welcome> {
    msgs.into_iter().find_map(|m| match m {
        server_message::Msg::Welcome(w) => Some(w),
        _ => None,
    })
}

/// Drains a room's actions with every `Fanout` spelled out as one `Send`
/// per connection.
pub fn drain(room: &mut Room) -> Vec<Action> {
    room.drain_actions()
        .flat_map(|action| match action {
            Action::Fanout {
                conns,
                data,
                delivery,
            } => conns
                .into_iter()
                .map(|conn| Action::Send {
                    conn,
                    data: data.clone(),
                    delivery,
                })
                .collect(),
            other => vec![other],
        })
        .collect()
}

/// An audio frame at `level` (RFC 6464: 0 loudest, 127 silent).
pub fn audio(seq: u64, level: u32) -> MediaFrame {
    MediaFrame {
        track: Track::Audio as i32,
        layer: 0,
        keyframe: true,
        sequence: seq,
        capture_time_us: seq * 20_000,
        audio_level: level,
        codec: wire::Codec::Opus as i32,
        sealed: false,
        payload: Bytes::from(vec![0xAA; 120]),
        sender: 0,
    }
}

/// A video frame of `track` at `layer`.
pub fn video(track: Track, seq: u64, layer: u32, keyframe: bool) -> MediaFrame {
    MediaFrame {
        track: track as i32,
        layer,
        keyframe,
        sequence: seq,
        capture_time_us: seq * 33_000,
        audio_level: 127,
        codec: wire::Codec::H264 as i32,
        sealed: false,
        payload: Bytes::from(vec![layer as u8; 1_200]),
        sender: 0,
    }
}

/// Makes `conn` the loudest speaker for a while so rankings settle.
pub fn speak(host: &mut Host, conn: u64, level: u32, frames: u64) {
    for seq in 0..frames {
        host.media(conn, audio(seq, level));
        host.now += 20;
    }
    host.room.tick(host.now);
    host.pump();
}

/// A configuration where a room of more than 2 is "large", so selective
/// forwarding rules apply to small test rooms.
pub fn selective(k: usize, n: usize) -> RoomConfig {
    RoomConfig {
        small_room_size: 2,
        audio_top_k: k,
        video_last_n: n,
        ranking_interval_ms: 100,
        ..RoomConfig::default()
    }
}
