//! The forwarding table of one sender's track: which receivers get it, at
//! which simulcast layer, and which layers the sender currently publishes.
//!
//! Tables are recomputed only when policy inputs change (joins, ranking,
//! subscriptions, congestion); forwarding a frame is a walk over a short
//! vector with no look-ups.

use super::action::ConnId;
use super::track::{clamp_layer, LAYERS, MAX_LAYER};

/// A participant receiving this track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub conn: ConnId,
    /// Highest layer the receiver is entitled to right now.
    pub cap: u8,
    /// Layer being forwarded; changes only on a keyframe.
    pub current: Option<u8>,
}

/// A link receiving this track for the participants behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkSlot {
    pub conn: ConnId,
    /// Bit L: someone behind the link wants layers up to L.
    pub mask: u8,
}

/// Where one frame goes, decided by [`Route::forward`].
pub(crate) struct Forwarding<'a> {
    pub participants: &'a mut Vec<ConnId>,
    pub links: &'a mut Vec<ConnId>,
}

/// Forwarding state of one (sender, track).
#[derive(Debug, Clone, Default)]
pub(crate) struct Route {
    last_seen_ms: [Option<u64>; LAYERS],
    published: u8,
    /// `clamp[cap]`: the layer forwarded to a receiver entitled to `cap`.
    clamp: [u8; LAYERS],
    keyframe_asked_ms: [Option<u64>; LAYERS],
    /// Sorted by connection.
    slots: Vec<Slot>,
    /// Sorted by connection.
    links: Vec<LinkSlot>,
}

impl Route {
    pub(crate) fn new() -> Self {
        Self {
            clamp: [0, 1, 2],
            ..Self::default()
        }
    }

    /// Receivers of this track.
    pub(crate) fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Bit L set: layer L was seen recently.
    #[cfg(test)]
    pub(crate) fn published(&self) -> u8 {
        self.published
    }

    /// The layer a receiver entitled to `cap` should get.
    pub(crate) fn target(&self, cap: u8) -> u8 {
        self.clamp[usize::from(cap.min(MAX_LAYER))]
    }

    /// Marks `layer` live and expires layers not seen within `timeout_ms`.
    pub(crate) fn observe_layer(&mut self, layer: u8, now_ms: u64, timeout_ms: u64) {
        self.last_seen_ms[usize::from(layer.min(MAX_LAYER))] = Some(now_ms);
        self.expire(now_ms, timeout_ms);
    }

    /// Recomputes which layers are live.
    pub(crate) fn expire(&mut self, now_ms: u64, timeout_ms: u64) {
        let mut published = 0u8;
        for (layer, seen) in self.last_seen_ms.iter().enumerate() {
            if seen.is_some_and(|t| now_ms.saturating_sub(t) <= timeout_ms) {
                published |= 1 << layer;
            }
        }
        if published != self.published {
            self.published = published;
            for cap in 0..=MAX_LAYER {
                self.clamp[usize::from(cap)] = clamp_layer(cap, published);
            }
        }
    }

    /// Sets (Some) or removes (None) a participant receiver. Returns true
    /// if anything changed.
    pub(crate) fn set_slot(&mut self, conn: ConnId, cap: Option<u8>) -> bool {
        match (self.slots.binary_search_by_key(&conn, |s| s.conn), cap) {
            (Ok(i), Some(cap)) => {
                let changed = self.slots[i].cap != cap;
                self.slots[i].cap = cap;
                changed
            }
            (Ok(i), None) => {
                self.slots.remove(i);
                true
            }
            (Err(i), Some(cap)) => {
                self.slots.insert(
                    i,
                    Slot {
                        conn,
                        cap,
                        current: None,
                    },
                );
                true
            }
            (Err(_), None) => false,
        }
    }

    /// Sets a link receiver's layer mask (0 removes it). Returns true if
    /// anything changed.
    pub(crate) fn set_link(&mut self, conn: ConnId, mask: u8) -> bool {
        match (self.links.binary_search_by_key(&conn, |s| s.conn), mask) {
            (Ok(i), 0) => {
                self.links.remove(i);
                true
            }
            (Ok(i), mask) => {
                let changed = self.links[i].mask != mask;
                self.links[i].mask = mask;
                changed
            }
            (Err(_), 0) => false,
            (Err(i), mask) => {
                self.links.insert(i, LinkSlot { conn, mask });
                true
            }
        }
    }

    /// Union of everything receivers of this track want, as a layer-cap
    /// mask (what a link asks the owning host for).
    pub(crate) fn wanted_caps(&self) -> u8 {
        let from_slots = self.slots.iter().fold(0u8, |m, s| m | (1 << s.cap));
        self.links.iter().fold(from_slots, |m, l| m | l.mask)
    }

    /// Decides who gets one frame of `layer`. Audio ignores layers. Returns
    /// true when some receiver waits for a keyframe of this layer.
    pub(crate) fn forward(
        &mut self,
        layer: u8,
        keyframe: bool,
        video: bool,
        out: Forwarding<'_>,
    ) -> bool {
        let mut needs_keyframe = false;
        for slot in &mut self.slots {
            if !video {
                out.participants.push(slot.conn);
                continue;
            }
            let target = self.clamp[usize::from(slot.cap)];
            // A receiver on an old layer keeps it until the target layer's
            // keyframe arrives (requested when the target's frames show up).
            if slot.current == Some(layer) {
                out.participants.push(slot.conn);
            } else if target == layer {
                if keyframe {
                    slot.current = Some(layer);
                    out.participants.push(slot.conn);
                } else {
                    needs_keyframe = true;
                }
            }
        }
        for link in &self.links {
            let wanted = (0..=MAX_LAYER)
                .filter(|cap| link.mask & (1 << cap) != 0)
                .any(|cap| !video || self.clamp[usize::from(cap)] == layer);
            if wanted {
                out.links.push(link.conn);
            }
        }
        needs_keyframe
    }

    /// Rate limiter for keyframe requests of one layer.
    pub(crate) fn may_ask_keyframe(&mut self, layer: u8, now_ms: u64, interval_ms: u64) -> bool {
        let asked = &mut self.keyframe_asked_ms[usize::from(layer.min(MAX_LAYER))];
        if asked.is_some_and(|t| now_ms.saturating_sub(t) < interval_ms) {
            return false;
        }
        *asked = Some(now_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(route: &mut Route, layer: u8, keyframe: bool) -> (Vec<ConnId>, bool) {
        let mut participants = Vec::new();
        let mut links = Vec::new();
        let needs = route.forward(
            layer,
            keyframe,
            true,
            Forwarding {
                participants: &mut participants,
                links: &mut links,
            },
        );
        (participants, needs)
    }

    #[test]
    fn a_receiver_starts_on_a_keyframe_of_its_target_layer() {
        let mut route = Route::new();
        route.set_slot(ConnId(1), Some(1));
        for layer in 0..=2 {
            route.observe_layer(layer, 0, 1_000);
        }
        assert_eq!(forward(&mut route, 1, false), (vec![], true));
        assert_eq!(forward(&mut route, 2, true), (vec![], false));
        assert_eq!(forward(&mut route, 1, true), (vec![ConnId(1)], false));
        assert_eq!(forward(&mut route, 1, false), (vec![ConnId(1)], false));
    }

    #[test]
    fn layer_switch_waits_for_the_new_layers_keyframe() {
        let mut route = Route::new();
        for layer in 0..=2 {
            route.observe_layer(layer, 0, 1_000);
        }
        route.set_slot(ConnId(1), Some(2));
        forward(&mut route, 2, true);
        route.set_slot(ConnId(1), Some(0));
        // Still on layer 2 until layer 0 has a keyframe.
        assert_eq!(forward(&mut route, 2, false).0, vec![ConnId(1)]);
        assert_eq!(forward(&mut route, 0, false), (vec![], true));
        assert_eq!(forward(&mut route, 0, true).0, vec![ConnId(1)]);
        assert!(forward(&mut route, 2, false).0.is_empty());
    }

    #[test]
    fn missing_layers_fall_back_to_what_is_published() {
        let mut route = Route::new();
        route.observe_layer(0, 0, 1_000);
        route.set_slot(ConnId(1), Some(2));
        assert_eq!(route.target(2), 0);
        assert_eq!(forward(&mut route, 0, true).0, vec![ConnId(1)]);
        // Layer 2 appears: the target moves up.
        route.observe_layer(2, 10, 1_000);
        assert_eq!(route.target(2), 2);
        // Layer 0 stops: expires after the timeout.
        route.expire(1_005, 1_000);
        assert_eq!(route.published(), 0b100);
    }

    #[test]
    fn links_get_every_layer_they_ask_for() {
        let mut route = Route::new();
        for layer in 0..=2 {
            route.observe_layer(layer, 0, 1_000);
        }
        route.set_link(ConnId(9), 0b101);
        let mut participants = Vec::new();
        let mut links = Vec::new();
        for layer in 0..=2 {
            route.forward(
                layer,
                false,
                true,
                Forwarding {
                    participants: &mut participants,
                    links: &mut links,
                },
            );
        }
        assert_eq!(links, vec![ConnId(9), ConnId(9)]);
        assert_eq!(route.wanted_caps(), 0b101);
    }

    #[test]
    fn keyframe_requests_are_rate_limited() {
        let mut route = Route::new();
        assert!(route.may_ask_keyframe(1, 0, 500));
        assert!(!route.may_ask_keyframe(1, 499, 500));
        assert!(route.may_ask_keyframe(2, 499, 500));
        assert!(route.may_ask_keyframe(1, 500, 500));
    }
}
