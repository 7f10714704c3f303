//! The room engine: a sans-I/O state machine for one meeting.
//!
//! Hosts (the edge Durable Object, the native relay) feed it events with the
//! current time and carry out the [`Action`]s it queues; it never touches a
//! socket or a clock. A host loop reads like this:
//!
//! ```
//! use edgecall_proto::room::{Action, ConnId, Member, Room, RoomConfig};
//!
//! let mut room = Room::new("standup", RoomConfig::default()).expect("valid room id");
//! let now_ms = 1_700_000_000_000;
//! room.join(ConnId(1), Member::new("alice"), now_ms);
//! // ... room.message(conn, bytes, now_ms), room.closed(conn, now_ms),
//! //     room.backlog(conn, queued, now_ms), room.tick(now_ms) ...
//! while let Some(action) = room.poll_action() {
//!     match action {
//!         Action::Send { conn, data, delivery } => { /* write data to conn */ }
//!         Action::Fanout { conns, data, delivery } => { /* write data to each */ }
//!         Action::Close { conn, code, reason } => { /* close conn with code */ }
//!         Action::Persist { conn, state } => { /* keep state with conn */ }
//!         Action::PersistRoom { state } => { /* keep the room's state, if memory may go */ }
//!     }
//! }
//! ```
//!
//! Every routing rule lives here, so all hosts behave the same:
//! server-stamped senders, encode-once fan-out, top-K audio, last-N video,
//! explicit subscriptions, simulcast layer selection, congestion steps,
//! limits, and links to other hosts.

mod acks;
mod action;
mod budget;
mod chat_log;
mod config;
mod congestion;
mod identity;
mod link;
mod media;
mod persist;
mod ranking;
mod rate;
mod route;
mod social;
mod sort;
mod state;
mod track;

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::{FxHashMap, FxHashSet};

use bytes::Bytes;
use prost::Message;

pub use action::{Action, CloseCode, ConnId, Delivery, ParticipantId};
pub use budget::{SendBudget, Withheld};
pub use config::{
    validate_name, validate_room_id, DuplicateSessionPolicy, RoomConfig, SyntaxError,
    MAX_ROOM_ID_CHARS,
};
pub use identity::{
    open_identity, MAX_RESUME_SECRET_LEN, MIN_RESUME_SECRET_LEN, RESUME_SECRET_LEN,
};
pub use persist::StoredStateError;
pub use social::REACTIONS;
pub use state::{
    verified_identity, ClientLimit, ConnState, LinkKind, LinkState, LinkWantState, MediaFlags,
    Member, ParticipantState, RemoteParticipant, Rights, SubscriptionEntry, SubscriptionState,
};
pub use track::{TrackKind, LAYERS, MAX_LAYER};

use crate::wire::{self, client_message, link_message, server_message};
use crate::PROTOCOL_VERSION;
use acks::Unacked;
use chat_log::ChatLog;
use congestion::Congestion;
use link::Link;
use ranking::{Ranking, RankingChange};
use rate::{RateExceeded, RateLimiter};
use route::Route;

/// Most removed identities a room remembers; past it the oldest removal is
/// forgotten.
const MAX_REMOVED: usize = 256;

/// `StoredRoom.removed`.
const STORED_ROOM_REMOVED_FIELD: u32 = 2;

/// Counters a host can export as metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomStats {
    /// Media frames accepted from senders.
    pub frames_in: u64,
    /// Media frame copies queued to receivers and links.
    pub frames_out: u64,
    /// Payload bytes accepted.
    pub bytes_in: u64,
    /// Encoded bytes queued for media.
    pub bytes_out: u64,
    /// Frames nobody was entitled to.
    pub frames_unrouted: u64,
    /// Audio frames dropped because a host muted the sender, who has not
    /// unmuted since.
    pub frames_held: u64,
    /// Senders outside the top K forwarded from their first loud frame
    /// until the next ranking (see [`RoomConfig::audio_barge_in`]).
    pub audio_barge_ins: u64,
    /// Link frames naming a participant the link never announced.
    pub frames_unknown_sender: u64,
    /// Keyframe requests sent upstream.
    pub keyframe_requests: u64,
    /// Connections closed by the engine for breaking a rule.
    pub violations: u64,
    /// Congestion steps down (a receiver's layer lowered, its video or
    /// audio paused) from backlog reports.
    pub congestion_downgrades: u64,
    /// Congestion steps back up once a receiver's backlog drained.
    pub congestion_recoveries: u64,
}

/// Where a participant's media comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Its own connection on this host.
    Local(ConnId),
    /// Behind a link; `remote_id` is the owning host's id.
    Remote { link: ConnId, remote_id: u32 },
}

#[derive(Debug, Clone)]
struct Participant {
    id: ParticipantId,
    /// `member.identity` is always set for an admitted participant.
    member: Member,
    /// When it joined, on its owning host's clock.
    joined_at_ms: u64,
    media: MediaFlags,
    origin: Origin,
    subscription: SubscriptionState,
    /// Explicit subscriptions by (sender, track) → max layer.
    explicit: FxHashMap<(ParticipantId, TrackKind), u8>,
    client_limit: Option<ClientLimit>,
    /// A host muted it and it has not announced itself unmuted since: its
    /// audio is dropped.
    held_muted: bool,
}

impl Participant {
    fn wire(&self) -> wire::Participant {
        wire::Participant {
            id: self.id,
            name: self.member.name.clone(),
            media_state: Some(self.media.into()),
            remote: matches!(self.origin, Origin::Remote { .. }),
            can_publish: self.member.rights.publish,
            identity: self.identity().to_owned(),
            joined_at_ms: self.joined_at_ms,
            host: self.member.rights.moderate,
        }
    }

    fn identity(&self) -> &str {
        self.member.identity.as_deref().unwrap_or_default()
    }

    fn set_subscription(&mut self, subscription: SubscriptionState) {
        self.explicit = match &subscription {
            SubscriptionState::Auto => FxHashMap::default(),
            SubscriptionState::Explicit(entries) => entries
                .iter()
                .map(|e| ((e.participant, e.track), e.max_layer))
                .collect(),
        };
        self.subscription = subscription;
    }

    fn local_conn(&self) -> Option<ConnId> {
        match self.origin {
            Origin::Local(conn) => Some(conn),
            Origin::Remote { .. } => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Role {
    Pending(Member),
    Participant(ParticipantId),
    Link(Box<Link>),
}

#[derive(Debug, Clone)]
struct Conn {
    role: Role,
    /// When the host admitted it (or the room was restored).
    opened_ms: u64,
    last_seen_ms: u64,
    rate: RateLimiter,
    congestion: Congestion,
    /// What it was sent and acknowledged, when the host's backlog comes
    /// from acknowledgements (see [`RoomConfig::ack_interval_ms`]).
    unacked: Option<Unacked>,
}

impl Conn {
    /// The next time this connection needs [`Room::tick`]: its heartbeat
    /// deadline (one past it: `tick` closes connections silent for *more*
    /// than the timeout), its Hello deadline while pending, and its next
    /// backlog evaluation while that could change anything.
    fn deadline(&self, config: &RoomConfig) -> u64 {
        let heartbeat = self.last_seen_ms + config.heartbeat_timeout_ms + 1;
        let hello = match self.role {
            Role::Pending(_) => self.opened_ms + config.hello_timeout_ms + 1,
            _ => u64::MAX,
        };
        let backlog = self.backlog_check(config).unwrap_or(u64::MAX);
        heartbeat.min(hello).min(backlog)
    }

    /// When this connection's acknowledged backlog is next worth
    /// evaluating, if it acknowledges and anything could change.
    fn backlog_check(&self, config: &RoomConfig) -> Option<u64> {
        self.unacked.as_ref()?.next_check(
            self.congestion.holds_back(),
            config.congestion_high_bytes,
            config.congestion_step_ms,
        )
    }
}

/// One meeting on one host. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Room {
    id: String,
    config: RoomConfig,
    conns: BTreeMap<ConnId, Conn>,
    participants: BTreeMap<ParticipantId, Participant>,
    routes: FxHashMap<(ParticipantId, TrackKind), Route>,
    ranking: Ranking,
    next_id: ParticipantId,
    small: bool,
    dirty_links: FxHashSet<ConnId>,
    actions: VecDeque<Action>,
    stats: RoomStats,
    /// Recent chat for late joiners.
    chat: ChatLog,
    /// Identities a host removed, oldest first (at most [`MAX_REMOVED`]):
    /// they cannot rejoin while the meeting lasts.
    removed: Vec<String>,
    /// The latest event time seen (ms), for accounting done while queuing.
    clock_ms: u64,
}

/// A read-only view of one participant, for hosts and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantView {
    /// Engine id.
    pub id: ParticipantId,
    /// Display name (not unique).
    pub name: String,
    /// Stable identity (unique in the room).
    pub identity: String,
    /// Its own connection, when local.
    pub conn: Option<ConnId>,
    /// The link it is behind, when remote.
    pub link: Option<ConnId>,
    /// Badges.
    pub media: MediaFlags,
}

impl Room {
    /// Creates an empty room. Fails if `id` is not a valid room id.
    pub fn new(id: &str, config: RoomConfig) -> Result<Self, SyntaxError> {
        validate_room_id(id)?;
        let ranking = Ranking::new(config.ranking_interval_ms, config.speaking_level);
        // The history goes to a joiner as one message: the tag and length
        // of the `ServerMessage` field take at most 6 bytes.
        let chat = ChatLog::new(
            config.chat_history_messages,
            config
                .chat_history_bytes
                .min(config.max_message_bytes.saturating_sub(6)),
        );
        Ok(Self {
            id: id.to_owned(),
            config,
            conns: BTreeMap::new(),
            participants: BTreeMap::new(),
            routes: FxHashMap::default(),
            ranking,
            next_id: 1,
            small: true,
            dirty_links: FxHashSet::default(),
            actions: VecDeque::new(),
            stats: RoomStats::default(),
            chat,
            removed: Vec::new(),
            clock_ms: 0,
        })
    }

    /// Rebuilds a room from the states its connections persisted (see
    /// [`Action::Persist`]). Every connection gets a fresh heartbeat window
    /// starting at `now_ms`; receivers resume on the next keyframe.
    pub fn restore(
        id: &str,
        config: RoomConfig,
        states: impl IntoIterator<Item = (ConnId, ConnState)>,
        now_ms: u64,
    ) -> Result<Self, SyntaxError> {
        let mut room = Self::new(id, config)?;
        let mut spoke = Vec::new();
        for (conn, state) in states {
            let role = match state {
                ConnState::Pending(member) => Role::Pending(member),
                ConnState::Participant(p) => {
                    let mut participant = Participant {
                        id: p.id,
                        member: p.member,
                        joined_at_ms: p.joined_at_ms,
                        media: p.media,
                        origin: Origin::Local(conn),
                        subscription: SubscriptionState::Auto,
                        explicit: FxHashMap::default(),
                        client_limit: p.client_limit,
                        held_muted: false,
                    };
                    participant.set_subscription(p.subscription);
                    if let Some(at) = p.last_spoke_ms {
                        spoke.push((p.id, at));
                    }
                    room.next_id = room.next_id.max(p.id.saturating_add(1));
                    room.participants.insert(p.id, participant);
                    Role::Participant(p.id)
                }
                ConnState::Link(state) => {
                    let link = Link::restore(&state);
                    for r in &state.remote {
                        room.next_id = room.next_id.max(r.local_id.saturating_add(1));
                        room.participants.insert(
                            r.local_id,
                            Participant {
                                id: r.local_id,
                                member: Member {
                                    name: r.name.clone(),
                                    rights: Rights {
                                        publish: r.can_publish,
                                        subscribe: true,
                                        moderate: r.host,
                                    },
                                    identity: Some(r.identity.clone()),
                                },
                                joined_at_ms: r.joined_at_ms,
                                media: r.media,
                                origin: Origin::Remote {
                                    link: conn,
                                    remote_id: r.remote_id,
                                },
                                subscription: SubscriptionState::Auto,
                                explicit: FxHashMap::default(),
                                client_limit: None,
                                held_muted: false,
                            },
                        );
                    }
                    room.dirty_links.insert(conn);
                    Role::Link(Box::new(link))
                }
            };
            let mut conn_entry = room.new_conn(role, now_ms);
            if conn_entry.unacked.is_some() {
                conn_entry.unacked = Some(Unacked::restored());
            }
            room.conns.insert(conn, conn_entry);
        }
        let ids: Vec<ParticipantId> = room.participants.keys().copied().collect();
        for id in ids {
            room.ranking.add(id);
            for track in TrackKind::ALL {
                room.routes.insert((id, track), Route::new());
            }
        }
        room.ranking.restore_recency(spoke);
        room.small = room.is_small();
        room.refresh_all_routes();
        room.flush_link_wants();
        Ok(room)
    }

    /// The room id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The configuration in force.
    pub fn config(&self) -> &RoomConfig {
        &self.config
    }

    /// Participants in the room, local and remote.
    pub fn participant_count(&self) -> usize {
        self.participants.len()
    }

    /// Connections the engine knows (pending, participants and links).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Everyone in the room, by id.
    pub fn participants(&self) -> impl Iterator<Item = ParticipantView> + '_ {
        self.participants.values().map(|p| ParticipantView {
            id: p.id,
            name: p.member.name.clone(),
            identity: p.identity().to_owned(),
            conn: p.local_conn(),
            link: match p.origin {
                Origin::Remote { link, .. } => Some(link),
                Origin::Local(_) => None,
            },
            media: p.media,
        })
    }

    /// The participant id bound to a local connection.
    pub fn participant_id(&self, conn: ConnId) -> Option<ParticipantId> {
        match self.conns.get(&conn)?.role {
            Role::Participant(id) => Some(id),
            _ => None,
        }
    }

    /// The persistable state of one connection.
    pub fn conn_state(&self, conn: ConnId) -> Option<ConnState> {
        let entry = self.conns.get(&conn)?;
        Some(match &entry.role {
            Role::Pending(member) => ConnState::Pending(member.clone()),
            Role::Participant(id) => ConnState::Participant(self.participant_state(*id)?),
            Role::Link(link) => ConnState::Link(self.link_state(link)),
        })
    }

    /// Counters since the room was created (or restored).
    pub fn stats(&self) -> RoomStats {
        self.stats
    }

    /// Audible speakers, loudest first (for tests and diagnostics).
    pub fn audible_speakers(&self) -> &[ParticipantId] {
        self.ranking.audible()
    }

    /// Speakers outside the top K heard by everyone until the next ranking
    /// (barge-in), in the order they started (for tests and diagnostics).
    pub fn barge_in_speakers(&self) -> &[ParticipantId] {
        self.ranking.barging_in()
    }

    /// Everyone, most recent active speaker first.
    pub fn recent_speakers(&self) -> &[ParticipantId] {
        self.ranking.recent()
    }

    /// The next time the host must call [`Room::tick`], if any connection
    /// is open (the earliest heartbeat deadline).
    pub fn next_timeout(&self) -> Option<u64> {
        self.conns.values().map(|c| c.deadline(&self.config)).min()
    }

    /// The next action for the host, oldest first.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Every queued action at once.
    pub fn drain_actions(&mut self) -> impl Iterator<Item = Action> + '_ {
        self.actions.drain(..)
    }

    // ------------------------------------------------------------------ events

    /// A connection was admitted by the host (its token checked) as
    /// `member`. The participant joins when the client's `Hello` arrives.
    pub fn join(&mut self, conn: ConnId, member: Member, now_ms: u64) {
        if self.conns.contains_key(&conn) {
            self.closed(conn, now_ms);
        }
        if let Err(err) = validate_name(&member.name, self.config.max_name_chars) {
            self.refuse(conn, CloseCode::InvalidName, err.to_string());
            return;
        }
        let entry = self.new_conn(Role::Pending(member.clone()), now_ms);
        self.conns.insert(conn, entry);
        self.persist(conn, ConnState::Pending(member));
    }

    /// A connection to another host of this meeting was opened (`host_id`
    /// is this host's own id, sent in the greeting). Both ends announce
    /// their participants and what they want from each other; `kind` says
    /// whether the link is part of a tree or of a full mesh.
    pub fn join_link(&mut self, conn: ConnId, host_id: &str, kind: LinkKind, now_ms: u64) {
        if self.conns.contains_key(&conn) {
            self.closed(conn, now_ms);
        }
        let entry = self.new_conn(Role::Link(Box::new(Link::new(kind))), now_ms);
        self.conns.insert(conn, entry);
        self.link_opened(conn, host_id);
    }

    /// The host heard from `conn` without a message for the engine (a
    /// transport keep-alive, e.g. one the platform answered by itself at
    /// `at_ms`): it counts for the heartbeat.
    pub fn heard(&mut self, conn: ConnId, at_ms: u64) {
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.last_seen_ms = entry.last_seen_ms.max(at_ms);
        }
    }

    /// One message arrived on `conn`.
    pub fn message(&mut self, conn: ConnId, data: Bytes, now_ms: u64) {
        self.advance_clock(now_ms);
        let max = self.config.max_message_bytes;
        let Some(entry) = self.conns.get_mut(&conn) else {
            return;
        };
        entry.last_seen_ms = entry.last_seen_ms.max(now_ms);
        if data.len() > max {
            let reason = format!(
                "message of {} bytes exceeds the {max}-byte limit",
                data.len()
            );
            self.violation(conn, CloseCode::TooLarge, reason, now_ms);
            return;
        }
        let is_link = matches!(entry.role, Role::Link(_));
        if !is_link {
            if let Err(which) = entry.rate.charge(data.len(), now_ms) {
                let reason = match which {
                    RateExceeded::Bytes => "byte rate limit exceeded",
                    RateExceeded::Messages => "message rate limit exceeded",
                };
                self.violation(conn, CloseCode::RateLimited, reason.to_owned(), now_ms);
                return;
            }
        }
        if is_link {
            match wire::LinkMessage::decode(data) {
                Ok(wire::LinkMessage { msg: Some(msg) }) => self.link_message(conn, msg, now_ms),
                Ok(_) => self.violation(
                    conn,
                    CloseCode::Malformed,
                    "empty link message".into(),
                    now_ms,
                ),
                Err(err) => self.violation(
                    conn,
                    CloseCode::Malformed,
                    format!("undecodable link message: {err}"),
                    now_ms,
                ),
            }
        } else {
            match wire::ClientMessage::decode(data) {
                Ok(wire::ClientMessage { msg: Some(msg) }) => {
                    self.client_message(conn, msg, now_ms)
                }
                Ok(_) => self.violation(conn, CloseCode::Malformed, "empty message".into(), now_ms),
                Err(err) => self.violation(
                    conn,
                    CloseCode::Malformed,
                    format!("undecodable message: {err}"),
                    now_ms,
                ),
            }
        }
        self.flush_link_wants();
    }

    /// The host saw `conn` close (or fail). Its participant leaves; a
    /// link's participants all leave.
    pub fn closed(&mut self, conn: ConnId, now_ms: u64) {
        self.advance_clock(now_ms);
        self.forget(conn, "left", now_ms);
        self.flush_link_wants();
    }

    /// The host caught `conn` breaking the protocol outside the engine's
    /// view (a text WebSocket frame, a garbage datagram or stream, an
    /// oversize transport frame): it gets an `Error` and a close with
    /// `code`, and leaves the room like any offender.
    pub fn protocol_violation(
        &mut self,
        conn: ConnId,
        code: CloseCode,
        reason: impl Into<String>,
        now_ms: u64,
    ) {
        self.advance_clock(now_ms);
        if self.conns.contains_key(&conn) {
            self.violation(conn, code, reason.into(), now_ms);
            self.flush_link_wants();
        }
    }

    /// Time passed: closes connections that missed their heartbeat and
    /// updates the speaker ranking.
    pub fn tick(&mut self, now_ms: u64) {
        self.advance_clock(now_ms);
        let deadline = self.config.heartbeat_timeout_ms;
        let expired: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| now_ms.saturating_sub(c.last_seen_ms) > deadline)
            .map(|(id, _)| *id)
            .collect();
        let hello_deadline = self.config.hello_timeout_ms;
        let no_hello: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(id, c)| {
                matches!(c.role, Role::Pending(_))
                    && now_ms.saturating_sub(c.opened_ms) > hello_deadline
                    && !expired.contains(id)
            })
            .map(|(id, _)| *id)
            .collect();
        for conn in no_hello {
            let reason = format!("no Hello within {hello_deadline} ms of connecting");
            self.violation(conn, CloseCode::HeartbeatTimeout, reason, now_ms);
        }
        for conn in expired {
            let reason = format!("nothing received for {deadline} ms");
            self.send_error(conn, CloseCode::HeartbeatTimeout, &reason);
            self.forget(conn, "timed out", now_ms);
            self.actions.push_back(Action::Close {
                conn,
                code: CloseCode::HeartbeatTimeout,
                reason,
            });
        }
        self.check_acked_backlogs(now_ms);
        let timeout = self.config.layer_timeout_ms;
        for route in self.routes.values_mut() {
            route.expire(now_ms, timeout);
        }
        self.rerank(now_ms);
        self.flush_link_wants();
    }

    /// The host reports how many bytes wait in `conn`'s send queue. Hosts
    /// report regularly (e.g. on every tick) so receivers can recover.
    pub fn backlog(&mut self, conn: ConnId, queued_bytes: u64, now_ms: u64) {
        self.advance_clock(now_ms);
        self.apply_backlog(conn, queued_bytes, now_ms);
    }

    /// Feeds one backlog figure to `conn`'s congestion state and tells the
    /// receiver (or re-plans the link) when its limit changes.
    fn apply_backlog(&mut self, conn: ConnId, queued_bytes: u64, now_ms: u64) {
        let Some(entry) = self.conns.get_mut(&conn) else {
            return;
        };
        let before = entry.congestion.step();
        if !entry.congestion.report(queued_bytes, now_ms, &self.config) {
            return;
        }
        if entry.congestion.step() > before {
            self.stats.congestion_downgrades += 1;
        } else {
            self.stats.congestion_recoveries += 1;
        }
        let limit = entry.congestion.limit();
        let is_participant = matches!(entry.role, Role::Participant(_));
        self.refresh_receiver(conn);
        if is_participant {
            let msg = server_message::Msg::Congestion(wire::Congestion {
                max_layer: u32::from(limit.max_layer),
                video_paused: limit.video_paused,
                audio_paused: limit.audio_paused,
            });
            self.send_server(conn, msg, Delivery::Reliable);
        }
        self.flush_link_wants();
    }

    // ------------------------------------------------------------------ client messages

    fn client_message(&mut self, conn: ConnId, msg: client_message::Msg, now_ms: u64) {
        let Some(entry) = self.conns.get(&conn) else {
            return;
        };
        let participant = match &entry.role {
            Role::Pending(member) => {
                match msg {
                    client_message::Msg::Hello(hello) => {
                        let member = member.clone();
                        self.admit(conn, member, hello, now_ms);
                    }
                    client_message::Msg::Ping(ping) => self.pong(conn, ping.nonce),
                    client_message::Msg::Ack(ack) => self.acknowledged(conn, ack, now_ms),
                    _ => self.violation(
                        conn,
                        CloseCode::NotJoined,
                        "send Hello before anything else".into(),
                        now_ms,
                    ),
                }
                return;
            }
            Role::Participant(id) => *id,
            Role::Link(_) => return,
        };
        match msg {
            client_message::Msg::Hello(_) => self.violation(
                conn,
                CloseCode::Malformed,
                "Hello sent twice".into(),
                now_ms,
            ),
            client_message::Msg::Media(frame) => self.local_media(conn, participant, frame, now_ms),
            client_message::Msg::Subscribe(sub) => self.subscribe(conn, participant, sub, now_ms),
            client_message::Msg::KeyframeRequest(req) => {
                self.client_keyframe_request(conn, req, now_ms)
            }
            client_message::Msg::Congestion(c) => self.client_limit(conn, participant, c),
            client_message::Msg::Ping(ping) => self.pong(conn, ping.nonce),
            client_message::Msg::Ack(ack) => self.acknowledged(conn, ack, now_ms),
            client_message::Msg::Chat(chat) => self.chat(conn, participant, chat, now_ms),
            client_message::Msg::MediaState(state) => {
                if !state.audio_muted {
                    if let Some(p) = self.participants.get_mut(&participant) {
                        p.held_muted = false;
                    }
                }
                self.update_media_flags(participant, MediaFlags::from(&state));
                self.persist_participant(participant);
            }
            client_message::Msg::Reaction(r) => self.reaction(conn, participant, r, now_ms),
            client_message::Msg::Moderate(m) => self.moderate(conn, participant, m, now_ms),
        }
    }

    fn admit(&mut self, conn: ConnId, member: Member, hello: wire::Hello, now_ms: u64) {
        if hello.protocol_version != PROTOCOL_VERSION {
            let reason = format!(
                "this server speaks protocol {PROTOCOL_VERSION}, the client speaks {}; update or reload the client",
                hello.protocol_version
            );
            self.violation(conn, CloseCode::UnsupportedVersion, reason, now_ms);
            return;
        }
        if self.participants.len() >= self.config.max_participants {
            let reason = format!(
                "the room is full ({} participants)",
                self.config.max_participants
            );
            self.violation(conn, CloseCode::RoomFull, reason, now_ms);
            return;
        }
        let resolved =
            match identity::resolve(&self.id, member.identity.as_deref(), &hello.resume_secret) {
                Ok(resolved) => resolved,
                Err(reason) => {
                    self.violation(conn, CloseCode::Malformed, reason, now_ms);
                    return;
                }
            };
        if self.was_removed(&resolved.identity) {
            let reason = "a host removed you from this meeting".to_owned();
            self.violation(conn, CloseCode::Removed, reason, now_ms);
            return;
        }
        let mut member = member;
        member.identity = Some(resolved.identity.clone());
        let older = self
            .participants
            .values()
            .find(|p| p.identity() == resolved.identity && p.local_conn().is_some())
            .and_then(Participant::local_conn);
        if let Some(older) = older {
            match self.config.duplicate_sessions {
                DuplicateSessionPolicy::ReplaceOlder => {
                    self.replace(older, "you joined again from another connection", now_ms);
                }
                DuplicateSessionPolicy::Reject => {
                    let reason = format!(
                        "{} is already in the room from another connection",
                        resolved.identity
                    );
                    self.violation(conn, CloseCode::NameTaken, reason, now_ms);
                    return;
                }
            }
        }
        let id = self.allocate_id();
        let participant = Participant {
            id,
            member,
            joined_at_ms: now_ms,
            media: hello
                .media_state
                .as_ref()
                .map(MediaFlags::from)
                .unwrap_or_default(),
            origin: Origin::Local(conn),
            subscription: SubscriptionState::Auto,
            explicit: FxHashMap::default(),
            client_limit: None,
            held_muted: false,
        };
        let joined = participant.wire();
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.role = Role::Participant(id);
        }
        self.add_participant(participant);

        let roster = self.participants.values().map(Participant::wire).collect();
        let welcome = server_message::Msg::Welcome(wire::Welcome {
            protocol_version: PROTOCOL_VERSION,
            participant_id: id,
            room: self.id.clone(),
            roster,
            limits: Some(wire::Limits {
                max_message_bytes: saturating_u32(self.config.max_message_bytes),
                heartbeat_timeout_ms: saturating_u32(self.config.heartbeat_timeout_ms),
                max_participants: saturating_u32(self.config.max_participants),
                max_subscriptions: saturating_u32(self.config.max_subscriptions),
                sender_messages_per_sec: self.config.sender_messages_per_sec,
                sender_bytes_per_sec: self.config.sender_bytes_per_sec,
                sender_burst_messages: self.config.sender_burst_messages,
                sender_burst_bytes: self.config.sender_burst_bytes,
                chat_messages_per_sec: self.config.chat_messages_per_sec,
                chat_burst_messages: self.config.chat_burst_messages,
                ack_interval_ms: saturating_u32(self.config.ack_interval_ms),
            }),
            identity: resolved.identity,
            resume_secret: resolved.resume_secret.into(),
        });
        self.send_server(conn, welcome, Delivery::Reliable);
        if !self.chat.is_empty() {
            let history = self.chat.history_message();
            self.push_send(conn, history, Delivery::Reliable);
        }
        self.announce_joined(joined, Origin::Local(conn));
        self.persist_participant(id);
    }

    fn subscribe(&mut self, conn: ConnId, id: ParticipantId, sub: wire::Subscribe, now_ms: u64) {
        if sub.subscriptions.len() > self.config.max_subscriptions {
            let reason = format!(
                "{} subscriptions exceed the limit of {}",
                sub.subscriptions.len(),
                self.config.max_subscriptions
            );
            self.violation(conn, CloseCode::TooLarge, reason, now_ms);
            return;
        }
        let subscription = match wire::subscribe::Mode::try_from(sub.mode) {
            Ok(wire::subscribe::Mode::Explicit) => SubscriptionState::Explicit(
                sub.subscriptions
                    .iter()
                    .filter_map(|s| {
                        let track = TrackKind::from_wire(s.track)?;
                        Some(SubscriptionEntry {
                            participant: s.participant,
                            track,
                            max_layer: track::layer_from_wire(s.max_layer),
                        })
                    })
                    .collect(),
            ),
            _ => SubscriptionState::Auto,
        };
        if let Some(p) = self.participants.get_mut(&id) {
            p.set_subscription(subscription);
        }
        self.refresh_receiver(conn);
        self.persist_participant(id);
    }

    fn client_limit(&mut self, conn: ConnId, id: ParticipantId, c: wire::Congestion) {
        let limit = ClientLimit {
            max_layer: track::layer_from_wire(c.max_layer),
            video_paused: c.video_paused,
            audio_paused: c.audio_paused,
        };
        if let Some(p) = self.participants.get_mut(&id) {
            p.client_limit = Some(limit);
        }
        self.refresh_receiver(conn);
        self.persist_participant(id);
    }

    fn client_keyframe_request(&mut self, conn: ConnId, req: wire::KeyframeRequest, now_ms: u64) {
        let Some(track) = TrackKind::from_wire(req.track).filter(|t| t.is_video()) else {
            return;
        };
        let Some(route) = self.routes.get(&(req.participant, track)) else {
            return;
        };
        // Only a receiver of the track may ask, and only for what it gets.
        let Some(slot) = route.slots().iter().find(|s| s.conn == conn) else {
            return;
        };
        let layer = route.target(slot.cap);
        self.request_keyframe(req.participant, track, layer, now_ms);
    }

    /// Forwards a chat message. Cleartext `text` is limited to
    /// `max_chat_chars` characters; a sealed (end-to-end encrypted) message,
    /// which the engine cannot open, to the longest sealing of such a text
    /// (`e2ee::max_sealed_chat_len`). Sealed bytes are forwarded unchanged.
    fn chat(&mut self, conn: ConnId, sender: ParticipantId, chat: wire::Chat, now_ms: u64) {
        let wire::Chat { text, sealed } = chat;
        let chars = text.chars().count();
        let max_sealed = crate::e2ee::max_sealed_chat_len(self.config.max_chat_chars);
        let reason = if chars > self.config.max_chat_chars {
            Some(format!(
                "chat message of {chars} characters exceeds the limit of {}",
                self.config.max_chat_chars
            ))
        } else if sealed.len() > max_sealed {
            Some(format!(
                "sealed chat message of {} bytes exceeds the limit of {max_sealed} bytes \
                 ({} characters sealed)",
                sealed.len(),
                self.config.max_chat_chars
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            self.violation(conn, CloseCode::TooLarge, reason, now_ms);
            return;
        }
        if text.trim().is_empty() && sealed.is_empty() {
            return;
        }
        if !self.charge_chat_rate(conn, now_ms) {
            return;
        }
        self.broadcast_chat(
            wire::ChatMessage {
                sender,
                text,
                server_time_ms: now_ms,
                sealed,
                // Filled in from the roster by `broadcast_chat`.
                sender_name: String::new(),
                sender_identity: String::new(),
            },
            Origin::Local(conn),
        );
    }

    /// Charges one chat message or reaction to `conn`'s chat rate; past
    /// it, `conn` is closed and this returns false.
    fn charge_chat_rate(&mut self, conn: ConnId, now_ms: u64) -> bool {
        let within_budget = self
            .conns
            .get_mut(&conn)
            .is_some_and(|c| c.rate.charge_chat(now_ms));
        if !within_budget {
            let reason = format!(
                "more than {} chat messages and reactions in a burst or {} a second",
                self.config.chat_burst_messages, self.config.chat_messages_per_sec
            );
            self.violation(conn, CloseCode::RateLimited, reason, now_ms);
        }
        within_budget
    }

    /// An `Ack`: on hosts that derive backlogs from acknowledgements, the
    /// receiver's backlog is re-evaluated; elsewhere it is ignored.
    fn acknowledged(&mut self, conn: ConnId, ack: wire::Ack, now_ms: u64) {
        let Some(unacked) = self.conns.get_mut(&conn).and_then(|c| c.unacked.as_mut()) else {
            return;
        };
        if let Err(over) = unacked.acknowledge(ack.received_bytes) {
            let reason = format!(
                "acknowledged {} bytes, but only {} were sent",
                over.claimed, over.sent
            );
            self.violation(conn, CloseCode::Malformed, reason, now_ms);
            return;
        }
        self.evaluate_acked_backlog(conn, now_ms);
    }

    /// Re-evaluates every acknowledging receiver whose check is due.
    fn check_acked_backlogs(&mut self, now_ms: u64) {
        if self.config.ack_interval_ms == 0 {
            return;
        }
        let config = &self.config;
        let due: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.backlog_check(config).is_some_and(|at| at <= now_ms))
            .map(|(id, _)| *id)
            .collect();
        for conn in due {
            self.evaluate_acked_backlog(conn, now_ms);
        }
    }

    /// Applies the congestion rule to `conn`'s acknowledged backlog; a
    /// receiver that stopped reading altogether is closed.
    fn evaluate_acked_backlog(&mut self, conn: ConnId, now_ms: u64) {
        let grace = self.config.ack_grace_ms;
        let Some(unacked) = self.conns.get_mut(&conn).and_then(|c| c.unacked.as_mut()) else {
            return;
        };
        let outstanding = unacked.outstanding();
        if outstanding > self.config.max_unacked_bytes {
            let reason = format!(
                "{outstanding} bytes sent to this connection are unacknowledged (at most {} may be)",
                self.config.max_unacked_bytes
            );
            self.violation(conn, CloseCode::SlowReceiver, reason, now_ms);
            return;
        }
        let backlog = unacked.backlog(now_ms, grace);
        self.apply_backlog(conn, backlog, now_ms);
    }

    fn pong(&mut self, conn: ConnId, nonce: u64) {
        self.send_server(
            conn,
            server_message::Msg::Pong(wire::Pong { nonce }),
            Delivery::Reliable,
        );
    }

    // ------------------------------------------------------------------ membership

    fn new_conn(&self, role: Role, now_ms: u64) -> Conn {
        // Links do not acknowledge: a trunk's far end sees its own queue.
        let is_link = matches!(role, Role::Link(_));
        Conn {
            role,
            opened_ms: now_ms,
            last_seen_ms: now_ms,
            rate: RateLimiter::new(&self.config, now_ms),
            congestion: Congestion::default(),
            unacked: (self.config.ack_interval_ms > 0 && !is_link).then(Unacked::new),
        }
    }

    fn allocate_id(&mut self) -> ParticipantId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    fn is_small(&self) -> bool {
        self.participants.len() <= self.config.small_room_size
    }

    /// Adds a participant (local or remote) and builds its routes.
    fn add_participant(&mut self, participant: Participant) {
        let id = participant.id;
        let conn = participant.local_conn();
        self.participants.insert(id, participant);
        self.ranking.add(id);
        for track in TrackKind::ALL {
            self.routes.insert((id, track), Route::new());
        }
        if self.small != self.is_small() {
            self.small = self.is_small();
            self.refresh_all_routes();
        } else {
            for track in TrackKind::ALL {
                self.refresh_route(id, track);
            }
            if let Some(conn) = conn {
                self.refresh_receiver(conn);
            }
        }
    }

    /// Removes a participant and tells everyone (except `skip_link`).
    fn remove_participant(&mut self, id: ParticipantId, reason: &str) {
        let Some(participant) = self.participants.remove(&id) else {
            return;
        };
        for track in TrackKind::ALL {
            self.routes.remove(&(id, track));
        }
        if let Some(conn) = participant.local_conn() {
            self.drop_receiver(conn);
        }
        let change = self.ranking.remove(
            id,
            self.config.audio_top_k + 1,
            self.config.video_last_n + 1,
        );
        if self.small != self.is_small() {
            self.small = self.is_small();
            self.refresh_all_routes();
        } else {
            self.apply_ranking_change(change);
        }
        let left = wire::ParticipantLeft {
            id,
            reason: reason.to_owned(),
        };
        self.broadcast_server(server_message::Msg::Left(left), None);
        self.broadcast_link(link_message::Msg::Left(id), participant.origin);
        if self.participants.is_empty() && self.forget_meeting() {
            self.persist_room();
        }
    }

    /// Forgets a connection and everything bound to it.
    fn forget(&mut self, conn: ConnId, reason: &str, _now_ms: u64) {
        let Some(entry) = self.conns.remove(&conn) else {
            return;
        };
        match entry.role {
            Role::Pending(_) => {}
            Role::Participant(id) => self.remove_participant(id, reason),
            Role::Link(link) => {
                self.drop_receiver(conn);
                self.dirty_links.remove(&conn);
                for id in link.local_ids() {
                    self.remove_participant(id, "its host is unreachable");
                }
            }
        }
    }

    /// Closes a local session because a newer one of the same identity
    /// took its place.
    fn replace(&mut self, older: ConnId, reason: &str, now_ms: u64) {
        self.dismiss(
            older,
            CloseCode::Replaced,
            reason,
            "replaced by a newer connection",
            now_ms,
        );
    }

    /// Closes a local session that broke no rule (replaced, removed by a
    /// host, the meeting ended): it is told `reason`, the others see it
    /// leave with `left_reason`.
    fn dismiss(
        &mut self,
        conn: ConnId,
        code: CloseCode,
        reason: &str,
        left_reason: &str,
        now_ms: u64,
    ) {
        self.send_error(conn, code, reason);
        self.forget(conn, left_reason, now_ms);
        self.actions.push_back(Action::Close {
            conn,
            code,
            reason: reason.to_owned(),
        });
    }

    /// Refuses a connection the engine never admitted.
    fn refuse(&mut self, conn: ConnId, code: CloseCode, reason: String) {
        self.stats.violations += 1;
        self.send_error(conn, code, &reason);
        self.actions.push_back(Action::Close { conn, code, reason });
    }

    /// A connection broke a rule: tell it why and close it. Nobody else is
    /// affected beyond seeing it leave.
    fn violation(&mut self, conn: ConnId, code: CloseCode, reason: String, now_ms: u64) {
        self.forget(conn, "disconnected", now_ms);
        self.refuse(conn, code, reason);
    }

    fn update_media_flags(&mut self, id: ParticipantId, media: MediaFlags) {
        let Some(p) = self.participants.get_mut(&id) else {
            return;
        };
        if p.media == media {
            return;
        }
        let screen_changed = p.media.screen_sharing != media.screen_sharing;
        p.media = media;
        let origin = p.origin;
        let updated = p.wire();
        if screen_changed {
            self.refresh_route(id, TrackKind::Screen);
        }
        self.broadcast_server(
            server_message::Msg::Updated(wire::ParticipantUpdated {
                participant: Some(updated.clone()),
            }),
            None,
        );
        self.broadcast_link(link_message::Msg::Updated(updated), origin);
    }

    fn announce_joined(&mut self, joined: wire::Participant, origin: Origin) {
        let id = joined.id;
        let msg = server_message::Msg::Joined(wire::ParticipantJoined {
            participant: Some(joined.clone()),
        });
        let receivers: Vec<ConnId> = self
            .participants
            .values()
            .filter(|p| p.id != id)
            .filter_map(Participant::local_conn)
            .collect();
        self.push_fanout(receivers, encode_server(msg), Delivery::Reliable);
        self.broadcast_link(link_message::Msg::Joined(joined), origin);
    }

    /// Forwards chat from participant `chat.sender` (a local id) to
    /// everyone and keeps it for late joiners. The sender's name and
    /// identity are the room's, whatever a link or client put there.
    fn broadcast_chat(&mut self, mut chat: wire::ChatMessage, origin: Origin) {
        let Some(sender) = self.participants.get(&chat.sender) else {
            return;
        };
        chat.sender_name = sender.member.name.clone();
        chat.sender_identity = sender.identity().to_owned();
        let kept = self.chat.push(&chat);
        self.broadcast_server(server_message::Msg::Chat(chat.clone()), None);
        self.broadcast_link(link_message::Msg::Chat(chat), origin);
        if kept {
            self.persist_room();
        }
    }

    /// Gives the room back the state it asked its host to keep
    /// ([`Action::PersistRoom`]: its chat and the identities removed),
    /// after [`Room::restore`]. A room nobody is in has ended: the state is
    /// dropped and the host told to drop it too.
    ///
    /// # Errors
    ///
    /// [`StoredStateError`] when `stored` is not a stored room; the room
    /// then starts with no history and nobody removed.
    pub fn restore_room(&mut self, stored: Bytes) -> Result<(), StoredStateError> {
        if self.participants.is_empty() {
            self.forget_meeting();
            if !stored.is_empty() {
                self.persist_room();
            }
            return Ok(());
        }
        let stored = wire::StoredRoom::decode(stored)?;
        self.chat.restore(stored.chat);
        self.removed = stored.removed;
        self.removed.truncate(MAX_REMOVED);
        Ok(())
    }

    /// The meeting ended with its last participant: so do its chat and its
    /// removals. Returns whether there was anything to forget.
    fn forget_meeting(&mut self) -> bool {
        let had_removed = !self.removed.is_empty();
        self.removed.clear();
        self.chat.clear() || had_removed
    }

    /// Recent chat messages kept for late joiners.
    pub fn chat_history_len(&self) -> usize {
        self.chat.len()
    }

    /// Asks the host to keep the room's state: the chat framed as
    /// `StoredRoom.chat` (field 1) and each removed identity as
    /// `StoredRoom.removed` (field 2).
    fn persist_room(&mut self) {
        let mut state = self.chat.framed();
        for identity in &self.removed {
            prost::encoding::string::encode(STORED_ROOM_REMOVED_FIELD, identity, &mut state);
        }
        self.actions.push_back(Action::PersistRoom {
            state: Bytes::from(state),
        });
    }

    // ------------------------------------------------------------------ output helpers

    fn persist(&mut self, conn: ConnId, state: ConnState) {
        self.actions.push_back(Action::Persist {
            conn,
            state: Box::new(state),
        });
    }

    fn participant_state(&self, id: ParticipantId) -> Option<ParticipantState> {
        let p = self.participants.get(&id)?;
        Some(ParticipantState {
            id,
            member: p.member.clone(),
            joined_at_ms: p.joined_at_ms,
            media: p.media,
            subscription: p.subscription.clone(),
            client_limit: p.client_limit,
            last_spoke_ms: self.ranking.last_spoke(id),
        })
    }

    fn persist_participant(&mut self, id: ParticipantId) {
        let Some(p) = self.participants.get(&id) else {
            return;
        };
        if let (Some(conn), Some(state)) = (p.local_conn(), self.participant_state(id)) {
            self.persist(conn, ConnState::Participant(state));
        }
    }

    fn advance_clock(&mut self, now_ms: u64) {
        self.clock_ms = self.clock_ms.max(now_ms);
    }

    /// Counts `bytes` queued for `conns` on hosts that need the count.
    fn account_queued(&mut self, conns: &[ConnId], bytes: usize) {
        if self.config.ack_interval_ms == 0 {
            return;
        }
        for conn in conns {
            if let Some(unacked) = self.conns.get_mut(conn).and_then(|c| c.unacked.as_mut()) {
                unacked.queued(bytes, self.clock_ms);
            }
        }
    }

    fn push_send(&mut self, conn: ConnId, data: Bytes, delivery: Delivery) {
        self.account_queued(&[conn], data.len());
        self.actions.push_back(Action::Send {
            conn,
            data,
            delivery,
        });
    }

    /// Queues one message for several connections (a single `Send` when
    /// there is only one).
    fn push_fanout(&mut self, mut conns: Vec<ConnId>, data: Bytes, delivery: Delivery) {
        match conns.len() {
            0 => {}
            1 => self.push_send(conns.remove(0), data, delivery),
            _ => {
                self.account_queued(&conns, data.len());
                self.actions.push_back(Action::Fanout {
                    conns,
                    data,
                    delivery,
                });
            }
        }
    }

    fn send_server(&mut self, conn: ConnId, msg: server_message::Msg, delivery: Delivery) {
        self.push_send(conn, encode_server(msg), delivery);
    }

    fn send_link(&mut self, conn: ConnId, msg: link_message::Msg, delivery: Delivery) {
        self.push_send(conn, encode_link(msg), delivery);
    }

    fn send_error(&mut self, conn: ConnId, code: CloseCode, reason: &str) {
        let is_link = self
            .conns
            .get(&conn)
            .is_some_and(|c| matches!(c.role, Role::Link(_)));
        if is_link {
            return;
        }
        let msg = server_message::Msg::Error(wire::Error {
            code: code.error_code() as i32,
            message: reason.to_owned(),
        });
        self.send_server(conn, msg, Delivery::Reliable);
    }

    /// Sends one message, encoded once, to every local participant.
    fn broadcast_server(&mut self, msg: server_message::Msg, except: Option<ConnId>) {
        let receivers: Vec<ConnId> = self
            .participants
            .values()
            .filter_map(Participant::local_conn)
            .filter(|c| Some(*c) != except)
            .collect();
        if !receivers.is_empty() {
            self.push_fanout(receivers, encode_server(msg), Delivery::Reliable);
        }
    }

    /// Sends one message about something from `origin`, encoded once, to
    /// every link that carries it.
    fn broadcast_link(&mut self, msg: link_message::Msg, origin: Origin) {
        let links: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(id, c)| matches!(c.role, Role::Link(_)) && self.link_carries(**id, origin))
            .map(|(id, _)| *id)
            .collect();
        if !links.is_empty() {
            self.push_fanout(links, encode_link(msg), Delivery::Reliable);
        }
    }

    /// Whether link `link` carries participants (and their media, chat and
    /// roster changes) from `origin`: never back over their own link, and
    /// never from one mesh link into another.
    fn link_carries(&self, link: ConnId, origin: Origin) -> bool {
        match origin {
            Origin::Local(_) => true,
            Origin::Remote { link: from, .. } => {
                from != link
                    && !(self.link_kind(link) == Some(LinkKind::Mesh)
                        && self.link_kind(from) == Some(LinkKind::Mesh))
            }
        }
    }

    fn link_kind(&self, conn: ConnId) -> Option<LinkKind> {
        match &self.conns.get(&conn)?.role {
            Role::Link(link) => Some(link.kind()),
            _ => None,
        }
    }

    fn rerank(&mut self, now_ms: u64) {
        let window_audio = self.config.audio_top_k + 1;
        let window_video = self.config.video_last_n + 1;
        if let Some(change) = self.ranking.update(now_ms, window_audio, window_video) {
            self.apply_ranking_change(change);
        }
    }

    fn apply_ranking_change(&mut self, change: RankingChange) {
        // Remember who spoke, so a restored room keeps its last-N order.
        for id in &change.spoke {
            self.persist_participant(*id);
        }
        if self.small {
            return;
        }
        for id in change.audio {
            self.refresh_route(id, TrackKind::Audio);
        }
        for id in change.video {
            self.refresh_route(id, TrackKind::Camera);
        }
    }
}

/// A limit as the wire's `uint32`, capped.
fn saturating_u32(value: impl TryInto<u32>) -> u32 {
    value.try_into().unwrap_or(u32::MAX)
}

fn encode_server(msg: server_message::Msg) -> Bytes {
    Bytes::from(wire::ServerMessage { msg: Some(msg) }.encode_to_vec())
}

fn encode_link(msg: link_message::Msg) -> Bytes {
    Bytes::from(wire::LinkMessage { msg: Some(msg) }.encode_to_vec())
}
