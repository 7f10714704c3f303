//! Media routing: who is entitled to which track at which layer, keeping
//! the forwarding tables current, and fanning one frame out.

use bytes::Bytes;

use super::route::Forwarding;
use super::{
    encode_link, encode_server, CloseCode, ConnId, Delivery, Origin, ParticipantId, Role, Room,
    SubscriptionState, TrackKind, MAX_LAYER,
};
use crate::wire::{self, link_message, server_message};

impl Room {
    /// A frame from a local participant.
    pub(super) fn local_media(
        &mut self,
        conn: ConnId,
        sender: ParticipantId,
        frame: wire::MediaFrame,
        now_ms: u64,
    ) {
        let Some(participant) = self.participants.get(&sender) else {
            return;
        };
        if !participant.member.rights.publish {
            let reason = "this participant may not publish media".to_owned();
            self.violation(conn, CloseCode::Forbidden, reason, now_ms);
            return;
        }
        let held_muted = participant.held_muted;
        match check_frame(&frame) {
            // Muted by a host and not unmuted since: its audio goes nowhere,
            // whether or not the client honoured the request.
            Ok(TrackKind::Audio) if held_muted => self.stats.frames_held += 1,
            Ok(track) => self.route_frame(sender, track, frame, now_ms),
            Err(reason) => self.violation(conn, CloseCode::Malformed, reason, now_ms),
        }
    }

    /// Forwards one frame of `sender` to everyone entitled to it: encoded
    /// once for participants and once for links, shared as `Bytes`.
    pub(super) fn route_frame(
        &mut self,
        sender: ParticipantId,
        track: TrackKind,
        mut frame: wire::MediaFrame,
        now_ms: u64,
    ) {
        self.stats.frames_in += 1;
        self.stats.bytes_in += frame.payload.len() as u64;
        if track == TrackKind::Audio {
            let may_barge_in = self.ranking.observe(sender, frame.audio_level, now_ms);
            self.rerank(now_ms);
            if may_barge_in && !self.small {
                self.barge_in(sender);
            }
        }
        let layer = super::track::layer_from_wire(frame.layer);
        let keyframe = frame.keyframe;
        let layer_timeout = self.config.layer_timeout_ms;

        let Some(route) = self.routes.get_mut(&(sender, track)) else {
            return;
        };
        route.observe_layer(layer, now_ms, layer_timeout);
        let mut to_participants = Vec::with_capacity(route.slots().len());
        let mut to_links = Vec::new();
        let needs_keyframe = route.forward(
            layer,
            keyframe,
            track.is_video(),
            Forwarding {
                participants: &mut to_participants,
                links: &mut to_links,
            },
        );

        let delivery = if track.is_video() {
            Delivery::Stream { keyframe }
        } else {
            Delivery::Datagram
        };
        frame.sender = sender;
        if to_participants.is_empty() && to_links.is_empty() {
            self.stats.frames_unrouted += 1;
        } else if to_links.is_empty() {
            let data = encode_server(server_message::Msg::Media(frame));
            self.fan_out(to_participants, data, delivery);
        } else {
            if !to_participants.is_empty() {
                let data = encode_server(server_message::Msg::Media(frame.clone()));
                self.fan_out(to_participants, data, delivery);
            }
            let data = encode_link(link_message::Msg::Media(frame));
            self.fan_out(to_links, data, delivery);
        }
        if needs_keyframe {
            self.request_keyframe(sender, track, layer, now_ms);
        }
    }

    /// `sender`, outside the top K, starts to talk: within the barge-in
    /// bound it is heard by everyone from this frame on until the next
    /// ranking (`ranking.rs` module docs).
    fn barge_in(&mut self, sender: ParticipantId) {
        let (k, max) = (self.config.audio_top_k, self.config.audio_barge_in);
        if self.ranking.barge_in(sender, k, max) {
            self.stats.audio_barge_ins += 1;
            self.refresh_route(sender, TrackKind::Audio);
        }
    }

    fn fan_out(&mut self, conns: Vec<ConnId>, data: Bytes, delivery: Delivery) {
        self.stats.frames_out += conns.len() as u64;
        self.stats.bytes_out += (data.len() * conns.len()) as u64;
        self.push_fanout(conns, data, delivery);
    }

    /// Asks `sender` (or the link it is behind) for a keyframe of `layer`,
    /// at most once per `keyframe_request_interval_ms`.
    pub(super) fn request_keyframe(
        &mut self,
        sender: ParticipantId,
        track: TrackKind,
        layer: u8,
        now_ms: u64,
    ) {
        let interval = self.config.keyframe_request_interval_ms;
        let Some(route) = self.routes.get_mut(&(sender, track)) else {
            return;
        };
        if !route.may_ask_keyframe(layer, now_ms, interval) {
            return;
        }
        let Some(origin) = self.participants.get(&sender).map(|p| p.origin) else {
            return;
        };
        self.stats.keyframe_requests += 1;
        match origin {
            Origin::Local(conn) => {
                let msg = server_message::Msg::KeyframeRequest(wire::KeyframeRequest {
                    participant: 0,
                    track: track.to_wire() as i32,
                    layer: u32::from(layer),
                });
                self.send_server(conn, msg, Delivery::Reliable);
            }
            Origin::Remote { link, remote_id } => {
                let msg = link_message::Msg::KeyframeRequest(wire::KeyframeRequest {
                    participant: remote_id,
                    track: track.to_wire() as i32,
                    layer: u32::from(layer),
                });
                self.send_link(link, msg, Delivery::Reliable);
            }
        }
    }

    // ------------------------------------------------------------------ entitlement

    /// The highest layer participant receiver `conn` may get of `sender`'s
    /// `track` under the room's policy right now, or `None`.
    pub(super) fn participant_cap(
        &self,
        conn: ConnId,
        sender: ParticipantId,
        track: TrackKind,
    ) -> Option<u8> {
        let entry = self.conns.get(&conn)?;
        let Role::Participant(receiver) = entry.role else {
            return None;
        };
        if receiver == sender || !self.participants.contains_key(&sender) {
            return None;
        }
        let r = self.participants.get(&receiver)?;
        if !r.member.rights.subscribe {
            return None;
        }
        let congestion = entry.congestion.limit();
        let client = r.client_limit;
        let audio_paused = congestion.audio_paused || client.is_some_and(|c| c.audio_paused);
        let video_paused = congestion.video_paused || client.is_some_and(|c| c.video_paused);
        let max_layer = congestion
            .max_layer
            .min(client.map_or(MAX_LAYER, |c| c.max_layer));
        match track {
            TrackKind::Audio => {
                let audible = self.small
                    || self.ranking.is_barging_in(sender)
                    || self
                        .ranking
                        .audio_rank(sender, |p| p == receiver, self.config.audio_top_k)
                        .is_some();
                (!audio_paused && audible).then_some(0)
            }
            TrackKind::Camera | TrackKind::Screen => {
                if video_paused {
                    return None;
                }
                let wanted = match &r.subscription {
                    SubscriptionState::Explicit(_) => *r.explicit.get(&(sender, track))?,
                    SubscriptionState::Auto => {
                        // A shared screen goes to everyone, but only while
                        // it is shared: entitling every receiver to every
                        // participant's (unused) screen would keep N² idle
                        // forwarding-table rows.
                        let shown = self.small
                            || (track == TrackKind::Screen && self.is_sharing_screen(sender))
                            || self
                                .ranking
                                .recent_rank(sender, |p| p == receiver, self.config.video_last_n)
                                .is_some();
                        if !shown {
                            return None;
                        }
                        self.config.auto_max_layer.min(MAX_LAYER)
                    }
                };
                Some(wanted.min(max_layer))
            }
        }
    }

    /// Whether `sender` says it shares its screen.
    fn is_sharing_screen(&self, sender: ParticipantId) -> bool {
        self.participants
            .get(&sender)
            .is_some_and(|p| p.media.screen_sharing)
    }

    /// The layer caps link `conn` gets of `sender`'s `track` (a bit mask,
    /// 0 for nothing).
    pub(super) fn link_mask(&self, conn: ConnId, sender: ParticipantId, track: TrackKind) -> u8 {
        let Some(entry) = self.conns.get(&conn) else {
            return 0;
        };
        let Role::Link(link) = &entry.role else {
            return 0;
        };
        let Some(s) = self.participants.get(&sender) else {
            return 0;
        };
        if !self.link_carries(conn, s.origin) {
            return 0;
        }
        let congestion = entry.congestion.limit();
        match track {
            TrackKind::Audio => {
                // The far end needs at most the K loudest it does not host
                // plus one (a speaker among them does not hear itself), and
                // whoever barges in.
                let audible = self.small
                    || self.ranking.is_barging_in(sender)
                    || self
                        .ranking
                        .audio_rank(sender, |_| false, self.config.audio_top_k + 1)
                        .is_some();
                u8::from(audible && !congestion.audio_paused)
            }
            TrackKind::Camera | TrackKind::Screen => {
                if congestion.video_paused {
                    return 0;
                }
                let wanted = link.wanted(sender, track);
                (0..=MAX_LAYER)
                    .filter(|l| wanted & (1 << l) != 0)
                    .fold(0, |m, l| m | (1 << l.min(congestion.max_layer)))
            }
        }
    }

    // ------------------------------------------------------------------ table upkeep

    /// Recomputes every receiver of one (sender, track).
    pub(super) fn refresh_route(&mut self, sender: ParticipantId, track: TrackKind) {
        if !self.routes.contains_key(&(sender, track)) {
            return;
        }
        let receivers: Vec<(ConnId, bool)> = self
            .conns
            .iter()
            .filter_map(|(id, c)| match c.role {
                Role::Participant(_) => Some((*id, false)),
                Role::Link(_) => Some((*id, true)),
                Role::Pending(_) => None,
            })
            .collect();
        let decisions: Vec<(ConnId, bool, Option<u8>, u8)> = receivers
            .into_iter()
            .map(|(conn, is_link)| {
                if is_link {
                    (conn, true, None, self.link_mask(conn, sender, track))
                } else {
                    (conn, false, self.participant_cap(conn, sender, track), 0)
                }
            })
            .collect();
        let Some(route) = self.routes.get_mut(&(sender, track)) else {
            return;
        };
        let mut changed = false;
        for (conn, is_link, cap, mask) in decisions {
            changed |= if is_link {
                route.set_link(conn, mask)
            } else {
                route.set_slot(conn, cap)
            };
        }
        if changed {
            self.mark_link_dirty(sender);
        }
    }

    /// Recomputes what one receiver (participant or link) gets of every
    /// track in the room.
    pub(super) fn refresh_receiver(&mut self, conn: ConnId) {
        let Some(entry) = self.conns.get(&conn) else {
            return;
        };
        let is_link = match entry.role {
            Role::Link(_) => true,
            Role::Participant(_) => false,
            Role::Pending(_) => return,
        };
        let keys: Vec<(ParticipantId, TrackKind)> = self.routes.keys().copied().collect();
        let mut touched = Vec::new();
        for (sender, track) in keys {
            let changed = if is_link {
                let mask = self.link_mask(conn, sender, track);
                self.routes
                    .get_mut(&(sender, track))
                    .is_some_and(|r| r.set_link(conn, mask))
            } else {
                let cap = self.participant_cap(conn, sender, track);
                self.routes
                    .get_mut(&(sender, track))
                    .is_some_and(|r| r.set_slot(conn, cap))
            };
            if changed {
                touched.push(sender);
            }
        }
        for sender in touched {
            self.mark_link_dirty(sender);
        }
    }

    /// Removes a receiver from every table.
    pub(super) fn drop_receiver(&mut self, conn: ConnId) {
        let mut touched = Vec::new();
        for ((sender, _), route) in self.routes.iter_mut() {
            if route.set_slot(conn, None) | route.set_link(conn, 0) {
                touched.push(*sender);
            }
        }
        for sender in touched {
            self.mark_link_dirty(sender);
        }
    }

    pub(super) fn refresh_all_routes(&mut self) {
        let keys: Vec<(ParticipantId, TrackKind)> = self.routes.keys().copied().collect();
        for (sender, track) in keys {
            self.refresh_route(sender, track);
        }
    }

    /// What the receivers here want of `sender` changed; if `sender` is
    /// behind a link, that link must hear about it.
    fn mark_link_dirty(&mut self, sender: ParticipantId) {
        if let Some(Origin::Remote { link, .. }) = self.participants.get(&sender).map(|p| p.origin)
        {
            self.dirty_links.insert(link);
        }
    }
}

/// Validates a frame's routing header; returns its track.
fn check_frame(frame: &wire::MediaFrame) -> Result<TrackKind, String> {
    let track = TrackKind::from_wire(frame.track)
        .ok_or_else(|| format!("media frame has no valid track ({})", frame.track))?;
    if frame.layer > u32::from(MAX_LAYER) {
        return Err(format!(
            "layer {} is above the highest layer {MAX_LAYER}",
            frame.layer
        ));
    }
    if track == TrackKind::Audio && frame.layer != 0 {
        return Err("audio frames have a single layer, 0".to_owned());
    }
    Ok(track)
}

/// Validates a frame that arrived over a link.
pub(super) fn check_link_frame(frame: &wire::MediaFrame) -> Option<TrackKind> {
    check_frame(frame).ok()
}
