//! Which relay of a room holds its trunk, decided from NATS presence alone.
//!
//! Every relay serving a room already publishes a heartbeat on the room's
//! presence subject; a heartbeat also says whether its sender holds (or is
//! opening) the trunk. From what it hears, each relay applies one rule:
//!
//! 1. if any live relay claims the trunk, the claimant with the smallest id
//!    holds it (a holder keeps it when a relay with a smaller id appears,
//!    so a newcomer does not cause a handover);
//! 2. otherwise the live relay with the smallest id takes it.
//!
//! Why presence and not a NATS KV lease: it needs no JetStream, adds no
//! round trip, and fails the right way. A holder that dies stops
//! heartbeating and is dropped after the cluster timeout, so the next
//! relay takes over within that timeout. If two relays claim at once (both
//! started before hearing each other), both see both claims one heartbeat
//! later and the larger id lets go. If NATS splits the cluster, each side
//! elects its own holder — which is what it should do, since the edge is
//! then the only path between the two halves.

/// Whether relay `me` should hold the trunk. `claiming` says whether it
/// holds (or is opening) it now; `peers` are the live relays of the room
/// with their claims.
pub fn holds_trunk<'a>(
    me: &str,
    claiming: bool,
    peers: impl Iterator<Item = (&'a str, bool)> + Clone,
) -> bool {
    let claimant = peers
        .clone()
        .filter(|(_, claims)| *claims)
        .map(|(id, _)| id)
        .chain(claiming.then_some(me))
        .min();
    match claimant {
        Some(holder) => holder == me,
        None => peers.map(|(id, _)| id).all(|id| me < id),
    }
}

#[cfg(test)]
mod tests {
    use super::holds_trunk;

    fn elect(me: &str, claiming: bool, peers: &[(&'static str, bool)]) -> bool {
        holds_trunk(me, claiming, peers.iter().copied())
    }

    #[test]
    fn with_no_claim_the_smallest_id_takes_the_trunk() {
        assert!(elect("ra", false, &[("rb", false), ("rc", false)]));
        assert!(!elect("rb", false, &[("ra", false), ("rc", false)]));
        assert!(elect("rz", false, &[]));
    }

    #[test]
    fn a_holder_keeps_the_trunk_when_a_smaller_id_appears() {
        assert!(elect("rb", true, &[("ra", false)]));
        assert!(!elect("ra", false, &[("rb", true)]));
    }

    #[test]
    fn of_two_claimants_the_larger_id_lets_go() {
        assert!(elect("ra", true, &[("rb", true)]));
        assert!(!elect("rb", true, &[("ra", true)]));
    }

    #[test]
    fn when_the_holder_is_gone_the_smallest_survivor_takes_over() {
        // "ra" held the trunk and died: it is no longer among the peers.
        assert!(elect("rb", false, &[("rc", false)]));
        assert!(!elect("rc", false, &[("rb", false)]));
    }
}
