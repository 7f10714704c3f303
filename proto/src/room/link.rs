//! Links: connections to other hosts of the same meeting (relays over
//! NATS, a relay's trunk to the edge). A link carries many participants;
//! both ends run this engine and exchange `LinkMessage`s.
//!
//! Ids inside link messages are always the announcing host's ids, so a link
//! can only speak for participants it announced itself: it cannot inject
//! frames in the name of anyone on this host.

use rustc_hash::FxHashMap;

use super::media::check_link_frame;
use super::{
    validate_name, CloseCode, ConnId, ConnState, Delivery, LinkKind, LinkState, LinkWantState,
    MediaFlags, Member, Origin, Participant, ParticipantId, RemoteParticipant, Rights, Role, Room,
    SubscriptionState, TrackKind,
};
use crate::wire::{self, link_message};
use crate::PROTOCOL_VERSION;

/// Engine-side state of one link.
#[derive(Debug, Clone, Default)]
pub(super) struct Link {
    kind: LinkKind,
    peer_host: Option<String>,
    /// Far-end id → this host's id.
    remote: FxHashMap<u32, ParticipantId>,
    /// What the far end wants of this host's senders: layer-cap masks.
    wants_in: FxHashMap<(ParticipantId, TrackKind), u8>,
    /// What this host last asked of the far end.
    wants_out: Option<Vec<wire::LinkWant>>,
}

impl Link {
    pub(super) fn new(kind: LinkKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    pub(super) fn kind(&self) -> LinkKind {
        self.kind
    }

    pub(super) fn restore(state: &LinkState) -> Self {
        Self {
            kind: state.kind,
            peer_host: state.peer_host.clone(),
            remote: state
                .remote
                .iter()
                .map(|r| (r.remote_id, r.local_id))
                .collect(),
            wants_in: state
                .wants
                .iter()
                .map(|w| ((w.participant, w.track), w.layer_mask))
                .collect(),
            wants_out: None,
        }
    }

    /// This host's ids of the participants behind the link.
    pub(super) fn local_ids(&self) -> Vec<ParticipantId> {
        self.remote.values().copied().collect()
    }

    /// Layer-cap mask the far end wants of one track.
    pub(super) fn wanted(&self, sender: ParticipantId, track: TrackKind) -> u8 {
        self.wants_in.get(&(sender, track)).copied().unwrap_or(0)
    }
}

impl Room {
    /// Greets a new link: hello, every participant it does not carry, and
    /// (once computed) what this host wants.
    pub(super) fn link_opened(&mut self, conn: ConnId, host_id: &str) {
        self.send_link(
            conn,
            link_message::Msg::Hello(wire::LinkHello {
                protocol_version: PROTOCOL_VERSION,
                host_id: host_id.to_owned(),
            }),
            Delivery::Reliable,
        );
        let announce: Vec<wire::Participant> = self
            .participants
            .values()
            .filter(|p| self.link_carries(conn, p.origin))
            .map(Participant::wire)
            .collect();
        for p in announce {
            self.send_link(conn, link_message::Msg::Joined(p), Delivery::Reliable);
        }
        self.refresh_receiver(conn);
        self.dirty_links.insert(conn);
        self.flush_link_wants();
        self.persist_link(conn);
    }

    pub(super) fn link_message(&mut self, conn: ConnId, msg: link_message::Msg, now_ms: u64) {
        match msg {
            link_message::Msg::Hello(hello) => {
                if hello.protocol_version != PROTOCOL_VERSION {
                    let reason = format!(
                        "link peer speaks protocol {}, this host {PROTOCOL_VERSION}",
                        hello.protocol_version
                    );
                    self.violation(conn, CloseCode::UnsupportedVersion, reason, now_ms);
                    return;
                }
                if let Some(link) = self.link_mut(conn) {
                    link.peer_host = Some(hello.host_id);
                }
                self.persist_link(conn);
            }
            link_message::Msg::Joined(p) | link_message::Msg::Updated(p) => {
                self.remote_joined_or_updated(conn, p, now_ms);
            }
            link_message::Msg::Left(remote_id) => {
                let local = self
                    .link_mut(conn)
                    .and_then(|l| l.remote.remove(&remote_id));
                if let Some(local) = local {
                    self.remove_participant(local, "left");
                    self.persist_link(conn);
                }
            }
            link_message::Msg::Media(frame) => {
                let sender = self
                    .link(conn)
                    .and_then(|l| l.remote.get(&frame.sender).copied());
                let may_publish = sender
                    .and_then(|s| self.participants.get(&s))
                    .is_some_and(|p| p.member.rights.publish);
                match (sender, check_link_frame(&frame)) {
                    (Some(sender), Some(track)) if may_publish => {
                        self.route_frame(sender, track, frame, now_ms)
                    }
                    _ => self.stats.frames_unknown_sender += 1,
                }
            }
            link_message::Msg::Wants(wants) => self.link_wants(conn, wants),
            link_message::Msg::KeyframeRequest(req) => {
                let Some(track) = TrackKind::from_wire(req.track).filter(|t| t.is_video()) else {
                    return;
                };
                let behind_this_link = self
                    .participants
                    .get(&req.participant)
                    .map(|p| matches!(p.origin, Origin::Remote { link, .. } if link == conn));
                if behind_this_link == Some(false) {
                    let layer = super::track::layer_from_wire(req.layer);
                    self.request_keyframe(req.participant, track, layer, now_ms);
                }
            }
            link_message::Msg::Chat(mut chat) => {
                let fits = chat.text.chars().count() <= self.config.max_chat_chars
                    && chat.sealed.len()
                        <= crate::e2ee::max_sealed_chat_len(self.config.max_chat_chars);
                if let (Some((sender, origin)), true) =
                    (self.remote_sender(conn, chat.sender), fits)
                {
                    chat.sender = sender;
                    self.broadcast_chat(chat, origin);
                }
            }
            link_message::Msg::Ping(ping) => {
                let pong = link_message::Msg::Pong(wire::Pong { nonce: ping.nonce });
                self.send_link(conn, pong, Delivery::Reliable);
            }
            link_message::Msg::Pong(_) => {}
            link_message::Msg::Reaction(mut sent) => {
                if let Some((sender, origin)) = self.remote_sender(conn, sent.sender) {
                    sent.sender = sender;
                    self.link_reaction(sent, origin);
                }
            }
            link_message::Msg::Moderate(request) => self.link_moderate(conn, request, now_ms),
        }
    }

    fn remote_joined_or_updated(&mut self, conn: ConnId, p: wire::Participant, now_ms: u64) {
        let media = p
            .media_state
            .as_ref()
            .map(MediaFlags::from)
            .unwrap_or_default();
        let known = self.link(conn).and_then(|l| l.remote.get(&p.id).copied());
        if let Some(local) = known {
            self.update_media_flags(local, media);
            self.persist_link(conn);
            return;
        }
        if validate_name(&p.name, self.config.max_name_chars).is_err() {
            return;
        }
        self.newer_elsewhere(&p.identity, p.joined_at_ms, now_ms);
        let local = self.allocate_id();
        if let Some(link) = self.link_mut(conn) {
            link.remote.insert(p.id, local);
        }
        let participant = Participant {
            id: local,
            member: Member {
                name: p.name,
                rights: Rights {
                    publish: p.can_publish,
                    subscribe: true,
                    // Links join trusted hosts: theirs checked the token.
                    moderate: p.host,
                },
                identity: Some(p.identity),
            },
            joined_at_ms: p.joined_at_ms,
            media,
            origin: Origin::Remote {
                link: conn,
                remote_id: p.id,
            },
            subscription: SubscriptionState::Auto,
            explicit: FxHashMap::default(),
            client_limit: None,
            held_muted: false,
        };
        let joined = participant.wire();
        let origin = participant.origin;
        self.add_participant(participant);
        self.announce_joined(joined, origin);
        self.persist_link(conn);
    }

    /// Identities are unique across hosts: a session of one of this host's
    /// identities that joined later on another host replaces the local one
    /// (that host does the same when the local one is the newer). Sessions
    /// that joined in the same millisecond both stay.
    fn newer_elsewhere(&mut self, identity: &str, joined_at_ms: u64, now_ms: u64) {
        if identity.is_empty() {
            return;
        }
        let older = self
            .participants
            .values()
            .find(|p| p.identity() == identity && p.joined_at_ms < joined_at_ms)
            .and_then(Participant::local_conn);
        if let Some(older) = older {
            self.replace(older, "you joined again on another host", now_ms);
        }
    }

    fn link_wants(&mut self, conn: ConnId, wants: wire::LinkWants) {
        let mut parsed = FxHashMap::default();
        for w in wants.wants {
            let Some(track) = TrackKind::from_wire(w.track).filter(|t| t.is_video()) else {
                continue;
            };
            let ours = self
                .participants
                .get(&w.participant)
                .is_some_and(|p| self.link_carries(conn, p.origin));
            let mask = u8::try_from(w.layer_mask & 0b111).unwrap_or(0);
            if ours && mask != 0 {
                parsed.insert((w.participant, track), mask);
            }
        }
        if let Some(link) = self.link_mut(conn) {
            link.wants_in = parsed;
        }
        self.refresh_receiver(conn);
        self.persist_link(conn);
    }

    /// Tells each link whose wants changed what this host now wants of the
    /// participants behind it.
    pub(super) fn flush_link_wants(&mut self) {
        if self.dirty_links.is_empty() {
            return;
        }
        let dirty: Vec<ConnId> = self.dirty_links.drain().collect();
        for conn in dirty {
            let mut wants: Vec<wire::LinkWant> = self
                .participants
                .values()
                .filter_map(|p| match p.origin {
                    Origin::Remote { link, remote_id } if link == conn => Some((p.id, remote_id)),
                    _ => None,
                })
                .flat_map(|(id, remote_id)| {
                    [TrackKind::Camera, TrackKind::Screen]
                        .into_iter()
                        .map(move |track| (id, remote_id, track))
                })
                .filter_map(|(id, remote_id, track)| {
                    let mask = self.routes.get(&(id, track))?.wanted_caps();
                    (mask != 0).then(|| wire::LinkWant {
                        participant: remote_id,
                        track: track.to_wire() as i32,
                        layer_mask: u32::from(mask),
                    })
                })
                .collect();
            super::sort::sort_by_key(&mut wants, |w| (w.participant, w.track));
            let Some(link) = self.link_mut(conn) else {
                continue;
            };
            if link.wants_out.as_ref() == Some(&wants) {
                continue;
            }
            link.wants_out = Some(wants.clone());
            self.send_link(
                conn,
                link_message::Msg::Wants(wire::LinkWants { wants }),
                Delivery::Reliable,
            );
        }
    }

    pub(super) fn link_state(&self, link: &Link) -> LinkState {
        let mut remote: Vec<RemoteParticipant> = link
            .remote
            .iter()
            .filter_map(|(remote_id, local)| {
                let p = self.participants.get(local)?;
                Some(RemoteParticipant {
                    remote_id: *remote_id,
                    local_id: *local,
                    name: p.member.name.clone(),
                    identity: p.identity().to_owned(),
                    joined_at_ms: p.joined_at_ms,
                    media: p.media,
                    can_publish: p.member.rights.publish,
                    host: p.member.rights.moderate,
                })
            })
            .collect();
        super::sort::sort_by_key(&mut remote, |r| r.local_id);
        let mut wants: Vec<LinkWantState> = link
            .wants_in
            .iter()
            .map(|((participant, track), mask)| LinkWantState {
                participant: *participant,
                track: *track,
                layer_mask: *mask,
            })
            .collect();
        super::sort::sort_by_key(&mut wants, |w| (w.participant, w.track));
        LinkState {
            kind: link.kind,
            peer_host: link.peer_host.clone(),
            remote,
            wants,
        }
    }

    fn persist_link(&mut self, conn: ConnId) {
        if let Some(Role::Link(link)) = self.conns.get(&conn).map(|c| &c.role) {
            let state = self.link_state(link);
            self.persist(conn, ConnState::Link(state));
        }
    }

    /// This host's id and the origin of the participant link `conn` calls
    /// `remote_id`, if it announced one.
    fn remote_sender(&self, conn: ConnId, remote_id: u32) -> Option<(ParticipantId, Origin)> {
        let local = self.link(conn)?.remote.get(&remote_id).copied()?;
        Some((local, self.participants.get(&local)?.origin))
    }

    fn link(&self, conn: ConnId) -> Option<&Link> {
        match &self.conns.get(&conn)?.role {
            Role::Link(link) => Some(link),
            _ => None,
        }
    }

    fn link_mut(&mut self, conn: ConnId) -> Option<&mut Link> {
        match &mut self.conns.get_mut(&conn)?.role {
            Role::Link(link) => Some(link),
            _ => None,
        }
    }
}
