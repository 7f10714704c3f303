//! The grid in pages. The host announces how many tracks a client may
//! subscribe to (`Limits.max_subscriptions`); a page never shows more
//! remote tiles than that, so the client never asks for more than the
//! host allows however many people join. Pure logic: the UI hides the
//! tiles that are not on the current page.

/// Remote tiles per page: one camera subscription each (a screen share
/// adds one, and the subscription planner keeps screens first).
pub fn page_size(max_subscriptions: usize) -> usize {
    max_subscriptions.max(1)
}

/// Pages needed for `tiles` remote tiles (at least one, even when empty).
pub fn page_count(tiles: usize, size: usize) -> usize {
    tiles.div_ceil(size.max(1)).max(1)
}

/// The participants on `page`, given everyone in tile order (screen
/// sharers first, then join order); `page` past the end shows the last.
pub fn on_page(order: &[u32], page: usize, size: usize) -> &[u32] {
    let size = size.max(1);
    let page = page.min(page_count(order.len(), size) - 1);
    let start = page * size;
    &order[start.min(order.len())..(start + size).min(order.len())]
}

/// Tile order: screen sharers first, then by participant id (join order).
pub fn tile_order(participants: impl Iterator<Item = (u32, bool)>) -> Vec<u32> {
    let mut order: Vec<(bool, u32)> = participants.map(|(id, sharing)| (!sharing, id)).collect();
    order.sort_unstable();
    order.into_iter().map(|(_, id)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nineteen_people_past_a_limit_of_sixteen_take_two_pages() {
        let order: Vec<u32> = (1..=19).collect();
        let size = page_size(16);
        assert_eq!(page_count(order.len(), size), 2);
        assert_eq!(on_page(&order, 0, size), &order[..16]);
        assert_eq!(on_page(&order, 1, size), &order[16..]);
        assert_eq!(
            on_page(&order, 7, size),
            &order[16..],
            "past the end: the last page"
        );
    }

    #[test]
    fn an_empty_meeting_has_one_empty_page() {
        assert_eq!(page_count(0, 16), 1);
        assert!(on_page(&[], 0, 16).is_empty());
        assert_eq!(
            page_size(0),
            1,
            "a host that allows nothing still gets a page"
        );
    }

    #[test]
    fn screen_sharers_come_first_then_join_order() {
        let order = tile_order([(3, false), (1, false), (7, true), (2, true)].into_iter());
        assert_eq!(order, vec![2, 7, 1, 3]);
    }
}
