//! Subscriptions follow the screen: a tile that is not visible is not
//! subscribed, a large tile asks for the high layer, a small one for the
//! low layer. Pure logic: the UI reports tile geometry.

use edgecall_proto::wire::{subscribe::Mode, Subscribe, Subscription, Track};

use crate::simulcast::layer_for_width;

/// One remote video tile as the UI sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileView {
    /// Participant shown.
    pub participant: u32,
    /// Camera or screen.
    pub track: Track,
    /// Whether any part of the tile is on screen.
    pub visible: bool,
    /// Rendered width in CSS pixels.
    pub width: f64,
}

/// The `Subscribe` message for the given tiles (explicit mode, sorted so
/// equal inputs give equal messages).
pub fn subscribe_for(tiles: &[TileView]) -> Subscribe {
    let mut subscriptions: Vec<Subscription> = tiles
        .iter()
        .filter(|t| t.visible)
        .map(|t| Subscription {
            participant: t.participant,
            track: t.track as i32,
            max_layer: layer_for_width(t.width),
        })
        .collect();
    subscriptions.sort_by_key(|s| (s.participant, s.track));
    subscriptions.dedup_by_key(|s| (s.participant, s.track));
    Subscribe {
        mode: Mode::Explicit as i32,
        subscriptions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(participant: u32, track: Track, visible: bool, width: f64) -> TileView {
        TileView {
            participant,
            track,
            visible,
            width,
        }
    }

    #[test]
    fn hidden_tiles_are_not_subscribed_and_big_ones_get_the_high_layer() {
        let sub = subscribe_for(&[
            tile(3, Track::Camera, true, 640.0),
            tile(2, Track::Camera, false, 640.0),
            tile(4, Track::Camera, true, 200.0),
            tile(3, Track::Screen, true, 900.0),
        ]);
        assert_eq!(sub.mode, Mode::Explicit as i32);
        let got: Vec<(u32, i32, u32)> = sub
            .subscriptions
            .iter()
            .map(|s| (s.participant, s.track, s.max_layer))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, Track::Camera as i32, 1),
                (3, Track::Screen as i32, 1),
                (4, Track::Camera as i32, 0)
            ]
        );
    }

    #[test]
    fn nothing_visible_means_an_empty_explicit_list() {
        let sub = subscribe_for(&[tile(1, Track::Camera, false, 640.0)]);
        assert!(sub.subscriptions.is_empty());
    }
}
