//! Property tests: random sessions of joins, leaves, media, subscriptions,
//! congestion, link traffic and garbage, checking after every step that the
//! engine
//! - never sends a frame back to its sender (or back over the link it came
//!   from),
//! - never sends a frame to a receiver the policy does not entitle,
//! - always stamps the true sender,
//! - forwards at most one copy per receiver and one layer per (receiver,
//!   sender, track), switching layers only on keyframes,
//! - lets at most `audio_barge_in` senders outside the top K barge in,
//! - survives arbitrary bytes, which only ever affect the sending
//!   connection.

mod common;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use common::{audio, video, START_MS};
use edgecall_proto::room::{Action, ConnId, LinkKind, Member, ParticipantId, Room, RoomConfig};
use edgecall_proto::wire::{
    self, client_message, link_message, server_message, ClientMessage, LinkMessage, ServerMessage,
    Track,
};
use edgecall_proto::PROTOCOL_VERSION;
use proptest::prelude::*;
use prost::Message;

const SLOTS: u8 = 6;
const LINK: ConnId = ConnId(50);
const REMOTES: u32 = 2;

#[derive(Debug, Clone)]
enum Op {
    Join(u8),
    Leave(u8),
    Audio(u8, u8),
    Video(u8, bool, u8, bool),
    Subscribe(u8, Option<Vec<(u8, bool, u8)>>),
    Backlog(u8, u8),
    ClientCap(u8, u8, bool, bool),
    Advance(u16),
    Garbage(u8, Vec<u8>),
    LinkWants(Vec<(u8, bool, u8)>),
    LinkMedia(u32, bool, u8, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    prop_oneof![
        3 => slot.clone().prop_map(Op::Join),
        1 => slot.clone().prop_map(Op::Leave),
        4 => (slot.clone(), 0u8..=127).prop_map(|(s, l)| Op::Audio(s, l)),
        6 => (slot.clone(), any::<bool>(), 0u8..=2, any::<bool>())
            .prop_map(|(s, screen, l, k)| Op::Video(s, screen, l, k)),
        1 => (slot.clone(), proptest::option::of(proptest::collection::vec((0u8..SLOTS + 2, any::<bool>(), 0u8..=2), 0..4)))
            .prop_map(|(s, subs)| Op::Subscribe(s, subs)),
        1 => (slot.clone(), 0u8..3).prop_map(|(s, b)| Op::Backlog(s, b)),
        1 => (slot.clone(), 0u8..=2, any::<bool>(), any::<bool>())
            .prop_map(|(s, l, v, a)| Op::ClientCap(s, l, v, a)),
        2 => (0u16..1_500).prop_map(Op::Advance),
        1 => (slot.clone(), proptest::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(s, b)| Op::Garbage(s, b)),
        1 => proptest::collection::vec((0u8..SLOTS, any::<bool>(), 1u8..8), 0..4).prop_map(Op::LinkWants),
        2 => (0..REMOTES, any::<bool>(), 0u8..=2, any::<bool>())
            .prop_map(|(r, v, l, k)| Op::LinkMedia(r, v, l, k)),
    ]
}

#[derive(Debug, Clone, Copy)]
struct Limit {
    max_layer: u8,
    video_paused: bool,
    audio_paused: bool,
}

const HEALTHY: Limit = Limit {
    max_layer: 2,
    video_paused: false,
    audio_paused: false,
};

#[derive(Debug, Default, Clone)]
struct Client {
    id: Option<ParticipantId>,
    congestion: Option<Limit>,
    client_cap: Option<Limit>,
    explicit: Option<HashMap<(ParticipantId, i32), u8>>,
}

/// The test's own reading of the policy, from what clients were told and
/// what the room exposes about its ranking.
struct Model {
    config: RoomConfig,
    room: Room,
    now: u64,
    clients: BTreeMap<u8, Client>,
    link_wants: HashMap<(ParticipantId, i32), u8>,
    /// (receiver, sender, track) → layer last forwarded.
    layers: HashMap<(ConnId, ParticipantId, i32), u32>,
    /// (sender, track) → when each layer was last seen.
    seen: HashMap<(ParticipantId, i32), [Option<u64>; 3]>,
}

fn conn_of(slot: u8) -> ConnId {
    ConnId(u64::from(slot) + 1)
}

/// `who`'s place in `list` once `skip` is left out, if below `limit`.
fn rank(
    list: &[ParticipantId],
    who: ParticipantId,
    skip: Option<ParticipantId>,
    limit: usize,
) -> bool {
    list.iter()
        .filter(|p| Some(**p) != skip)
        .position(|p| *p == who)
        .is_some_and(|pos| pos < limit)
}

impl Model {
    fn new(config: RoomConfig) -> Self {
        let mut room = Room::new("prop", config.clone()).expect("room");
        room.join_link(LINK, "peer", LinkKind::Tree, START_MS);
        for remote in 1..=REMOTES {
            let joined = link_message::Msg::Joined(wire::Participant {
                id: remote,
                name: format!("remote{remote}"),
                media_state: None,
                remote: false,
                can_publish: true,
                identity: format!("sub:remote{remote}"),
                joined_at_ms: START_MS,
                host: false,
            });
            let data = LinkMessage { msg: Some(joined) }.encode_to_vec();
            room.message(LINK, data.into(), START_MS);
        }
        room.drain_actions().for_each(drop);
        Self {
            config,
            room,
            now: START_MS,
            clients: BTreeMap::new(),
            link_wants: HashMap::new(),
            layers: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    fn id_of(&self, slot: u8) -> Option<ParticipantId> {
        self.clients.get(&slot).and_then(|c| c.id)
    }

    fn remote_id(&self, remote: u32) -> Option<ParticipantId> {
        self.room
            .participants()
            .find(|p| p.name == format!("remote{remote}"))
            .map(|p| p.id)
    }

    fn client_msg(&mut self, slot: u8, msg: client_message::Msg) -> Vec<Action> {
        let data = ClientMessage { msg: Some(msg) }.encode_to_vec();
        self.room.message(conn_of(slot), data.into(), self.now);
        common::drain(&mut self.room)
    }

    fn entitled(&self, receiver: ConnId, sender: ParticipantId, track: i32) -> bool {
        let small = self.room.participant_count() <= self.config.small_room_size;
        let barging_in = self.room.barge_in_speakers().contains(&sender);
        if receiver == LINK {
            let behind_link = self
                .room
                .participants()
                .any(|p| p.id == sender && p.link == Some(LINK));
            if behind_link {
                return false;
            }
            return if track == Track::Audio as i32 {
                small
                    || barging_in
                    || rank(
                        self.room.audible_speakers(),
                        sender,
                        None,
                        self.config.audio_top_k + 1,
                    )
            } else {
                self.link_wants
                    .get(&(sender, track))
                    .is_some_and(|m| *m != 0)
            };
        }
        let Some((_, client)) = self.clients.iter().find(|(s, _)| conn_of(**s) == receiver) else {
            return false;
        };
        let Some(me) = client.id else { return false };
        if me == sender {
            return false;
        }
        let cong = client.congestion.unwrap_or(HEALTHY);
        let cap = client.client_cap.unwrap_or(HEALTHY);
        if track == Track::Audio as i32 {
            return !cong.audio_paused
                && !cap.audio_paused
                && (small
                    || barging_in
                    || rank(
                        self.room.audible_speakers(),
                        sender,
                        Some(me),
                        self.config.audio_top_k,
                    ));
        }
        if cong.video_paused || cap.video_paused {
            return false;
        }
        match &client.explicit {
            Some(map) => map.contains_key(&(sender, track)),
            None => {
                small
                    || track == Track::Screen as i32
                    || rank(
                        self.room.recent_speakers(),
                        sender,
                        Some(me),
                        self.config.video_last_n,
                    )
            }
        }
    }

    /// The layer a participant receiver must be switched to: the highest
    /// live layer within its cap, else the lowest live one.
    fn expected_layer(&self, receiver: ConnId, sender: ParticipantId, track: i32) -> Option<u32> {
        let (_, client) = self
            .clients
            .iter()
            .find(|(s, _)| conn_of(**s) == receiver)?;
        let wanted = match &client.explicit {
            Some(map) => *map.get(&(sender, track))?,
            None => self.config.auto_max_layer,
        };
        let cap = wanted
            .min(client.congestion.unwrap_or(HEALTHY).max_layer)
            .min(client.client_cap.unwrap_or(HEALTHY).max_layer);
        let seen = self.seen.get(&(sender, track))?;
        let live: Vec<u32> = (0..3u32)
            .filter(|l| {
                seen[*l as usize].is_some_and(|t| self.now - t <= self.config.layer_timeout_ms)
            })
            .collect();
        live.iter()
            .rev()
            .find(|l| **l <= u32::from(cap))
            .or(live.first())
            .copied()
    }

    /// Checks every media copy in `actions`, sent because `sender` (which
    /// arrived on `origin`) published one frame.
    fn check_media(
        &mut self,
        actions: &[Action],
        origin: ConnId,
        sender: ParticipantId,
        track: i32,
    ) -> Result<(), TestCaseError> {
        let mut copies: HashMap<ConnId, usize> = HashMap::new();
        for action in actions {
            let Action::Send { conn, data, .. } = action else {
                continue;
            };
            let frame = if *conn == LINK {
                match LinkMessage::decode(data.clone()).ok().and_then(|m| m.msg) {
                    Some(link_message::Msg::Media(f)) => f,
                    _ => continue,
                }
            } else {
                match ServerMessage::decode(data.clone()).ok().and_then(|m| m.msg) {
                    Some(server_message::Msg::Media(f)) => f,
                    _ => continue,
                }
            };
            prop_assert_ne!(*conn, origin, "frame went back where it came from");
            prop_assert_eq!(frame.sender, sender, "sender not stamped");
            prop_assert!(
                self.entitled(*conn, sender, track),
                "{:?} got {}'s track {} without entitlement",
                conn,
                sender,
                track
            );
            *copies.entry(*conn).or_default() += 1;
            prop_assert_eq!(copies[conn], 1, "more than one copy to {:?}", conn);
            if *conn != LINK && track != Track::Audio as i32 {
                let key = (*conn, sender, track);
                if self.layers.get(&key) != Some(&frame.layer) {
                    prop_assert!(
                        frame.keyframe,
                        "{:?} switched to layer {} of {} on a delta frame",
                        conn,
                        frame.layer,
                        sender
                    );
                    prop_assert_eq!(
                        Some(frame.layer),
                        self.expected_layer(*conn, sender, track),
                        "{:?} switched to the wrong layer of {}",
                        conn,
                        sender
                    );
                    self.layers.insert(key, frame.layer);
                }
            }
        }
        Ok(())
    }

    /// Reads the congestion notices clients got.
    fn observe(&mut self, actions: &[Action]) {
        for action in actions {
            if let Action::Send { conn, data, .. } = action {
                if *conn == LINK {
                    continue;
                }
                if let Ok(ServerMessage {
                    msg: Some(server_message::Msg::Congestion(c)),
                }) = ServerMessage::decode(data.clone())
                {
                    let slot = self.clients.keys().copied().find(|s| conn_of(*s) == *conn);
                    if let Some(client) = slot.and_then(|s| self.clients.get_mut(&s)) {
                        client.congestion = Some(Limit {
                            max_layer: c.max_layer as u8,
                            video_paused: c.video_paused,
                            audio_paused: c.audio_paused,
                        });
                    }
                }
            }
            if let Action::Close { conn, .. } = action {
                self.forget(*conn);
            }
        }
    }

    fn forget(&mut self, conn: ConnId) {
        let slots: Vec<u8> = self
            .clients
            .keys()
            .copied()
            .filter(|s| conn_of(*s) == conn)
            .collect();
        for slot in slots {
            if let Some(id) = self.clients.remove(&slot).and_then(|c| c.id) {
                self.layers.retain(|(r, s, _), _| *r != conn && *s != id);
            }
        }
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Join(slot) => {
                if self.clients.contains_key(&slot) {
                    return Ok(());
                }
                self.clients.insert(slot, Client::default());
                self.room
                    .join(conn_of(slot), Member::new(format!("p{slot}")), self.now);
                let actions = self.client_msg(
                    slot,
                    client_message::Msg::Hello(wire::Hello {
                        protocol_version: PROTOCOL_VERSION,
                        client: "prop".into(),
                        // Everyone announces a screen share, so the policy
                        // below ("screens go to everyone") holds for every
                        // sender; engine_rules covers unshared screens.
                        media_state: Some(wire::MediaState {
                            screen_sharing: true,
                            ..wire::MediaState::default()
                        }),
                        ..wire::Hello::default()
                    }),
                );
                let id = self.room.participant_id(conn_of(slot));
                prop_assert!(id.is_some(), "join refused: {:?}", actions);
                if let Some(c) = self.clients.get_mut(&slot) {
                    c.id = id;
                }
                self.observe(&actions);
            }
            Op::Leave(slot) => {
                if self.clients.contains_key(&slot) {
                    self.room.closed(conn_of(slot), self.now);
                    let actions = common::drain(&mut self.room);
                    self.forget(conn_of(slot));
                    self.observe(&actions);
                }
            }
            Op::Audio(slot, level) => {
                let Some(id) = self.id_of(slot) else {
                    return Ok(());
                };
                let mut frame = audio(self.now, u32::from(level));
                frame.sender = id ^ 0x55;
                let actions = self.client_msg(slot, client_message::Msg::Media(frame));
                self.check_media(&actions, conn_of(slot), id, Track::Audio as i32)?;
                self.observe(&actions);
            }
            Op::Video(slot, screen, layer, keyframe) => {
                let Some(id) = self.id_of(slot) else {
                    return Ok(());
                };
                let track = if screen { Track::Screen } else { Track::Camera };
                let frame = video(track, self.now, u32::from(layer), keyframe);
                self.seen.entry((id, track as i32)).or_default()[usize::from(layer)] =
                    Some(self.now);
                let actions = self.client_msg(slot, client_message::Msg::Media(frame));
                self.check_media(&actions, conn_of(slot), id, track as i32)?;
                self.observe(&actions);
            }
            Op::LinkMedia(remote, is_video, layer, keyframe) => {
                let Some(id) = self.remote_id(remote + 1) else {
                    return Ok(());
                };
                if is_video {
                    self.seen.entry((id, Track::Camera as i32)).or_default()[usize::from(layer)] =
                        Some(self.now);
                }
                let (mut frame, track) = if is_video {
                    (
                        video(Track::Camera, self.now, u32::from(layer), keyframe),
                        Track::Camera,
                    )
                } else {
                    (audio(self.now, u32::from(layer) * 40), Track::Audio)
                };
                frame.sender = remote + 1;
                let data = LinkMessage {
                    msg: Some(link_message::Msg::Media(frame)),
                }
                .encode_to_vec();
                self.room.message(LINK, data.into(), self.now);
                let actions = common::drain(&mut self.room);
                self.check_media(&actions, LINK, id, track as i32)?;
                self.observe(&actions);
            }
            Op::Subscribe(slot, subs) => {
                if self.id_of(slot).is_none() {
                    return Ok(());
                }
                let ids: Vec<ParticipantId> = self.room.participants().map(|p| p.id).collect();
                let entries: Vec<wire::Subscription> = subs
                    .iter()
                    .flatten()
                    .map(|(target, screen, max)| wire::Subscription {
                        participant: ids.get(usize::from(*target)).copied().unwrap_or(9_999),
                        track: if *screen {
                            Track::Screen as i32
                        } else {
                            Track::Camera as i32
                        },
                        max_layer: u32::from(*max),
                    })
                    .collect();
                let explicit = subs.as_ref().map(|_| {
                    entries
                        .iter()
                        .map(|e| ((e.participant, e.track), e.max_layer as u8))
                        .collect()
                });
                let mode = if subs.is_some() {
                    wire::subscribe::Mode::Explicit
                } else {
                    wire::subscribe::Mode::Auto
                };
                if let Some(c) = self.clients.get_mut(&slot) {
                    c.explicit = explicit;
                }
                let actions = self.client_msg(
                    slot,
                    client_message::Msg::Subscribe(wire::Subscribe {
                        mode: mode as i32,
                        subscriptions: entries,
                    }),
                );
                self.observe(&actions);
            }
            Op::Backlog(slot, level) => {
                let queued = [
                    0,
                    self.config.congestion_low_bytes + 1,
                    self.config.congestion_high_bytes,
                ][usize::from(level)];
                self.room.backlog(conn_of(slot), queued, self.now);
                let actions = common::drain(&mut self.room);
                self.observe(&actions);
            }
            Op::ClientCap(slot, layer, video_paused, audio_paused) => {
                if self.id_of(slot).is_none() {
                    return Ok(());
                }
                if let Some(c) = self.clients.get_mut(&slot) {
                    c.client_cap = Some(Limit {
                        max_layer: layer,
                        video_paused,
                        audio_paused,
                    });
                }
                let actions = self.client_msg(
                    slot,
                    client_message::Msg::Congestion(wire::Congestion {
                        max_layer: u32::from(layer),
                        video_paused,
                        audio_paused,
                    }),
                );
                self.observe(&actions);
            }
            Op::Advance(ms) => {
                self.now += u64::from(ms);
                // Keep everyone (and the link) alive; only time moves.
                for slot in self.clients.keys().copied().collect::<Vec<_>>() {
                    let actions =
                        self.client_msg(slot, client_message::Msg::Ping(wire::Ping { nonce: 1 }));
                    self.observe(&actions);
                }
                let ping = LinkMessage {
                    msg: Some(link_message::Msg::Ping(wire::Ping { nonce: 1 })),
                }
                .encode_to_vec();
                self.room.message(LINK, ping.into(), self.now);
                self.room.tick(self.now);
                let actions = common::drain(&mut self.room);
                self.observe(&actions);
            }
            Op::Garbage(slot, bytes) => {
                let conn = conn_of(slot);
                let offender = self.id_of(slot);
                let others_before: Vec<ParticipantId> = self
                    .room
                    .participants()
                    .map(|p| p.id)
                    .filter(|id| Some(*id) != offender)
                    .collect();
                self.room.message(conn, Bytes::from(bytes), self.now);
                let actions = common::drain(&mut self.room);
                let others_after: Vec<ParticipantId> = self
                    .room
                    .participants()
                    .map(|p| p.id)
                    .filter(|id| Some(*id) != offender)
                    .collect();
                prop_assert_eq!(
                    others_before,
                    others_after,
                    "garbage changed someone else's membership"
                );
                for action in &actions {
                    match action {
                        Action::Close { conn: c, .. } => prop_assert_eq!(*c, conn),
                        Action::Persist { conn: c, .. } => prop_assert_eq!(*c, conn),
                        // Bytes that happen to be a chat message are the
                        // offender's own, kept like any other.
                        Action::PersistRoom { .. } => {}
                        Action::Send { conn: c, data, .. } if *c != conn && *c != LINK => {
                            // Others may only hear about the offender.
                            let msg = ServerMessage::decode(data.clone()).ok().and_then(|m| m.msg);
                            let about_offender = match msg {
                                Some(server_message::Msg::Left(l)) => Some(l.id) == offender,
                                Some(server_message::Msg::Media(f)) => Some(f.sender) == offender,
                                Some(server_message::Msg::Chat(ch)) => Some(ch.sender) == offender,
                                Some(server_message::Msg::Updated(u)) => {
                                    u.participant.map(|p| p.id) == offender
                                }
                                Some(server_message::Msg::KeyframeRequest(_)) => offender.is_some(),
                                _ => false,
                            };
                            prop_assert!(about_offender, "garbage from {:?} reached {:?}", conn, c);
                        }
                        Action::Send { .. } => {}
                        Action::Fanout { .. } => {
                            prop_assert!(false, "drain spells out every fan-out")
                        }
                    }
                }
                self.observe(&actions);
            }
            Op::LinkWants(wants) => {
                let ids: Vec<ParticipantId> = self.clients.values().filter_map(|c| c.id).collect();
                let entries: Vec<wire::LinkWant> = wants
                    .iter()
                    .filter_map(|(idx, screen, mask)| {
                        Some(wire::LinkWant {
                            participant: *ids.get(usize::from(*idx))?,
                            track: if *screen {
                                Track::Screen as i32
                            } else {
                                Track::Camera as i32
                            },
                            layer_mask: u32::from(*mask),
                        })
                    })
                    .collect();
                self.link_wants = entries
                    .iter()
                    .map(|w| ((w.participant, w.track), w.layer_mask as u8 & 0b111))
                    .collect();
                let data = LinkMessage {
                    msg: Some(link_message::Msg::Wants(wire::LinkWants { wants: entries })),
                }
                .encode_to_vec();
                self.room.message(LINK, data.into(), self.now);
                let actions = common::drain(&mut self.room);
                self.observe(&actions);
            }
        }
        Ok(())
    }
}

fn config() -> impl Strategy<Value = RoomConfig> {
    (1usize..4, 0usize..3, 1usize..4, 1usize..5).prop_map(|(k, barge_in, n, small)| RoomConfig {
        audio_top_k: k,
        audio_barge_in: barge_in,
        video_last_n: n,
        small_room_size: small,
        ranking_interval_ms: 100,
        ..RoomConfig::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn routing_invariants_hold(config in config(), ops in proptest::collection::vec(op(), 1..80)) {
        let mut model = Model::new(config);
        for op in ops {
            model.apply(op)?;
            prop_assert!(
                model.room.barge_in_speakers().len() <= model.config.audio_barge_in,
                "{:?} barge in, at most {} may",
                model.room.barge_in_speakers(),
                model.config.audio_barge_in
            );
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2_048)) {
        let mut room = Room::new("fuzz", RoomConfig::default()).expect("room");
        room.join(ConnId(1), Member::new("a"), START_MS);
        room.join_link(ConnId(2), "peer", LinkKind::Mesh, START_MS);
        room.message(ConnId(1), Bytes::from(data.clone()), START_MS);
        room.message(ConnId(2), Bytes::from(data), START_MS);
        room.tick(START_MS + 1);
        room.drain_actions().for_each(drop);
    }
}
