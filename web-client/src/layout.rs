//! Which remote tiles the meeting shows and which one is on the stage.
//! Pure logic: the UI sizes the tiles, the subscription planner asks for
//! the layer each tile's size needs.
//!
//! - **Grid**: everyone in equal tiles, in pages of the host's subscription
//!   limit (see [`crate::pages`]); a screen share takes a double tile.
//! - **Speaker view**: one participant large on the stage and the others
//!   in a filmstrip (also paged, one place fewer: the stage counts against
//!   the same limit). The stage shows, in this order of precedence, the
//!   pinned participant, a screen being shared, the active speaker, else
//!   the first participant.
//! - **Pinning** someone puts them on the stage in either view, until
//!   unpinned or gone.

use serde::Serialize;

use crate::pages::{on_page, page_count, page_size};

/// The view the user chose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// Equal tiles.
    #[default]
    Grid,
    /// A large stage and a filmstrip.
    Speaker,
}

/// What decides the arrangement.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The chosen view.
    pub view: View,
    /// Remote participants in tile order (screen sharers first, then join
    /// order).
    pub order: &'a [u32],
    /// Remote participants sharing a screen, in tile order.
    pub sharers: &'a [u32],
    /// Who the user pinned, if anyone.
    pub pinned: Option<u32>,
    /// The remote participant who spoke last, if anyone has.
    pub active_speaker: Option<u32>,
    /// The host's subscription limit (`Limits.max_subscriptions`).
    pub max_subscriptions: usize,
    /// The page the user is on (clamped to the pages there are).
    pub page: usize,
}

/// What the meeting shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrangement {
    /// The participant on the stage, if the view has one.
    pub main: Option<u32>,
    /// Every remote participant with a tile on screen, the stage's first.
    pub shown: Vec<u32>,
    /// Pages of tiles (at least one).
    pub pages: usize,
    /// The page shown.
    pub page: usize,
}

/// Arranges the remote tiles.
pub fn arrange(inputs: &Inputs) -> Arrangement {
    let present = |id: &u32| inputs.order.contains(id);
    let stage = inputs.view == View::Speaker || inputs.pinned.is_some_and(|p| present(&p));
    if !stage {
        let size = page_size(inputs.max_subscriptions);
        let pages = page_count(inputs.order.len(), size);
        let page = inputs.page.min(pages - 1);
        return Arrangement {
            main: None,
            shown: on_page(inputs.order, page, size).to_vec(),
            pages,
            page,
        };
    }
    let main = inputs
        .pinned
        .filter(present)
        .or_else(|| inputs.sharers.iter().copied().find(present))
        .or_else(|| inputs.active_speaker.filter(present))
        .or_else(|| inputs.order.first().copied());
    let others: Vec<u32> = inputs
        .order
        .iter()
        .copied()
        .filter(|id| Some(*id) != main)
        .collect();
    // The stage takes one place of the limit; a filmstrip has at least one.
    let size = page_size(inputs.max_subscriptions.saturating_sub(1));
    let pages = page_count(others.len(), size);
    let page = inputs.page.min(pages - 1);
    let mut shown: Vec<u32> = main.into_iter().collect();
    shown.extend_from_slice(on_page(&others, page, size));
    Arrangement {
        main,
        shown,
        pages,
        page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(view: View, order: &[u32]) -> Inputs<'_> {
        Inputs {
            view,
            order,
            sharers: &[],
            pinned: None,
            active_speaker: None,
            max_subscriptions: 16,
            page: 0,
        }
    }

    #[test]
    fn the_grid_has_no_stage_and_pages_by_the_limit() {
        let order: Vec<u32> = (1..=19).collect();
        let grid = arrange(&inputs(View::Grid, &order));
        assert_eq!(grid.main, None);
        assert_eq!(grid.shown, order[..16]);
        assert_eq!(grid.pages, 2);
        let second = arrange(&Inputs {
            page: 1,
            ..inputs(View::Grid, &order)
        });
        assert_eq!(second.shown, order[16..]);
    }

    #[test]
    fn the_speaker_view_puts_the_active_speaker_on_the_stage() {
        let order = [1, 2, 3];
        let view = arrange(&Inputs {
            active_speaker: Some(3),
            ..inputs(View::Speaker, &order)
        });
        assert_eq!(view.main, Some(3));
        assert_eq!(view.shown, [3, 1, 2]);
        // Nobody has spoken yet: the first participant.
        assert_eq!(arrange(&inputs(View::Speaker, &order)).main, Some(1));
    }

    #[test]
    fn a_pin_beats_a_screen_share_which_beats_the_speaker() {
        let order = [4, 1, 2];
        let sharing = Inputs {
            sharers: &[4],
            active_speaker: Some(2),
            ..inputs(View::Speaker, &order)
        };
        assert_eq!(arrange(&sharing).main, Some(4));
        let pinned = Inputs {
            pinned: Some(1),
            ..sharing
        };
        assert_eq!(arrange(&pinned).main, Some(1));
    }

    #[test]
    fn pinning_in_the_grid_opens_the_stage_until_the_pinned_one_leaves() {
        let order = [1, 2, 3];
        let pinned = arrange(&Inputs {
            pinned: Some(2),
            ..inputs(View::Grid, &order)
        });
        assert_eq!(pinned.main, Some(2));
        assert_eq!(pinned.shown, [2, 1, 3]);
        let gone = arrange(&Inputs {
            pinned: Some(9),
            ..inputs(View::Grid, &order)
        });
        assert_eq!(gone.main, None, "a pin of someone who left is ignored");
    }

    #[test]
    fn stage_and_filmstrip_together_stay_within_the_subscription_limit() {
        let order: Vec<u32> = (1..=40).collect();
        for page in 0..5 {
            let view = arrange(&Inputs {
                page,
                max_subscriptions: 16,
                ..inputs(View::Speaker, &order)
            });
            assert!(view.shown.len() <= 16, "{} tiles", view.shown.len());
            assert_eq!(view.shown[0], 1, "the stage stays on every page");
        }
        let last = arrange(&Inputs {
            page: 99,
            ..inputs(View::Speaker, &order)
        });
        assert_eq!(last.pages, 3, "39 others in pages of 15");
        assert_eq!(last.page, 2);
        assert_eq!(last.shown, [1, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    }

    #[test]
    fn a_meeting_alone_has_an_empty_stage() {
        let view = arrange(&inputs(View::Speaker, &[]));
        assert_eq!(view.main, None);
        assert!(view.shown.is_empty());
        assert_eq!(view.pages, 1);
    }
}
