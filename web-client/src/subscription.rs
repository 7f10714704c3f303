//! Subscriptions follow the screen: a tile that is not visible is not
//! subscribed, and each tile asks for the layer its width needs (see
//! [`layer_for_width`]). Pure logic: the UI reports tile geometry.

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

/// Entries a `Subscribe` may hold when the server did not say (servers
/// before `Limits.max_subscriptions`; the edge's limit).
pub const FALLBACK_MAX_SUBSCRIPTIONS: usize = 16;

/// The `Subscribe` message for the given tiles (explicit mode, sorted so
/// equal inputs give equal messages), at most `limit` entries: when more
/// tiles are visible than the server accepts, screen shares go first, then
/// the largest tiles (ties by participant id).
pub fn subscribe_for(tiles: &[TileView], limit: usize) -> Subscribe {
    let mut visible: Vec<&TileView> = tiles.iter().filter(|t| t.visible).collect();
    visible.sort_by(|a, b| {
        let screen = |t: &TileView| t.track == Track::Screen;
        screen(b)
            .cmp(&screen(a))
            .then(b.width.total_cmp(&a.width))
            .then(a.participant.cmp(&b.participant))
    });
    let mut subscriptions: Vec<Subscription> = Vec::new();
    for t in visible {
        if subscriptions.len() >= limit {
            break;
        }
        let duplicate = subscriptions
            .iter()
            .any(|s| s.participant == t.participant && s.track == t.track as i32);
        if !duplicate {
            subscriptions.push(Subscription {
                participant: t.participant,
                track: t.track as i32,
                max_layer: layer_for_width(t.width),
            });
        }
    }
    subscriptions.sort_by_key(|s| (s.participant, s.track));
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
    fn hidden_tiles_are_not_subscribed_and_each_gets_the_layer_of_its_width() {
        let sub = subscribe_for(
            &[
                tile(3, Track::Camera, true, 640.0),
                tile(2, Track::Camera, false, 640.0),
                tile(4, Track::Camera, true, 200.0),
                tile(5, Track::Camera, true, 150.0),
                tile(3, Track::Screen, true, 900.0),
            ],
            16,
        );
        assert_eq!(sub.mode, Mode::Explicit as i32);
        let got: Vec<(u32, i32, u32)> = sub
            .subscriptions
            .iter()
            .map(|s| (s.participant, s.track, s.max_layer))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, Track::Camera as i32, 2),
                (3, Track::Screen as i32, 2),
                (4, Track::Camera as i32, 1),
                (5, Track::Camera as i32, 0)
            ]
        );
    }

    #[test]
    fn more_visible_tiles_than_the_server_accepts_keep_screens_and_the_largest() {
        let mut tiles: Vec<TileView> = (1..=19)
            .map(|p| tile(p, Track::Camera, true, 100.0 + f64::from(p)))
            .collect();
        tiles.push(tile(5, Track::Screen, true, 50.0));
        let sub = subscribe_for(&tiles, 16);
        assert_eq!(sub.subscriptions.len(), 16);
        assert!(sub
            .subscriptions
            .iter()
            .any(|s| s.participant == 5 && s.track == Track::Screen as i32));
        // The 15 widest cameras: participants 5..=19.
        let cameras: Vec<u32> = sub
            .subscriptions
            .iter()
            .filter(|s| s.track == Track::Camera as i32)
            .map(|s| s.participant)
            .collect();
        assert_eq!(cameras, (5..=19).collect::<Vec<u32>>());
    }

    #[test]
    fn nothing_visible_means_an_empty_explicit_list() {
        let sub = subscribe_for(&[tile(1, Track::Camera, false, 640.0)], 16);
        assert!(sub.subscriptions.is_empty());
    }
}
