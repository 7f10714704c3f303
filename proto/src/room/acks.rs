//! A receiver's backlog from its own acknowledgements, for hosts that cannot
//! see their send queue (a Durable Object's WebSocket has no
//! `bufferedAmount`).
//!
//! The engine counts the bytes it queues for each receiver; the receiver
//! acknowledges the total it has read (`Ack`). The backlog is what was
//! queued more than a grace period ago and is still unacknowledged: bytes
//! queued just now may be on the wire or waiting for the next `Ack`, so a
//! healthy receiver's backlog stays near zero whatever its bitrate, while a
//! receiver that reads slower than it is sent falls further behind every
//! interval.

use std::collections::VecDeque;

/// History granularity: one (time, total) sample per this many ms.
const SAMPLE_MS: u64 = 100;

/// What one receiver was sent and has acknowledged.
#[derive(Debug, Clone)]
pub(crate) struct Unacked {
    /// Bytes queued for the receiver since the count began.
    sent: u64,
    /// Of those, acknowledged by the receiver.
    acked: u64,
    /// The receiver's count minus ours: 0 for a connection counted from
    /// its start; learned from the first `Ack` after a restore (when the
    /// receiver's count includes bytes from before the restore).
    offset: Option<u64>,
    /// Bytes queued at or before the oldest sample still needed.
    settled: u64,
    /// (start of a sample period, total queued by its end), oldest first.
    history: VecDeque<(u64, u64)>,
    /// When the backlog was last evaluated.
    last_check_ms: Option<u64>,
}

/// An `Ack` claimed more than was ever sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverClaim {
    pub claimed: u64,
    pub sent: u64,
}

impl Unacked {
    /// Counting from a connection's first byte.
    pub(crate) fn new() -> Self {
        Self {
            sent: 0,
            acked: 0,
            offset: Some(0),
            settled: 0,
            history: VecDeque::new(),
            last_check_ms: None,
        }
    }

    /// Counting from a restore: the receiver has already read bytes this
    /// count never saw, so its next `Ack` sets the offset.
    pub(crate) fn restored() -> Self {
        Self {
            offset: None,
            ..Self::new()
        }
    }

    /// `bytes` were queued for the receiver at `now_ms`.
    pub(crate) fn queued(&mut self, bytes: usize, now_ms: u64) {
        self.sent = self.sent.saturating_add(bytes as u64);
        match self.history.back_mut() {
            Some((start, total)) if now_ms < start.saturating_add(SAMPLE_MS) => *total = self.sent,
            _ => self.history.push_back((now_ms, self.sent)),
        }
    }

    /// The receiver says it has read `received` bytes in total.
    pub(crate) fn acknowledge(&mut self, received: u64) -> Result<(), OverClaim> {
        let offset = *self
            .offset
            .get_or_insert_with(|| received.saturating_sub(self.sent));
        let acked = received.saturating_sub(offset);
        if acked > self.sent {
            return Err(OverClaim {
                claimed: acked,
                sent: self.sent,
            });
        }
        self.acked = self.acked.max(acked);
        Ok(())
    }

    /// Queued and not yet acknowledged, however recent.
    pub(crate) fn outstanding(&self) -> u64 {
        self.sent - self.acked
    }

    /// Bytes queued more than `grace_ms` before `now_ms` and still
    /// unacknowledged. Records `now_ms` as the last evaluation.
    pub(crate) fn backlog(&mut self, now_ms: u64, grace_ms: u64) -> u64 {
        let cutoff = now_ms.saturating_sub(grace_ms);
        while let Some(&(start, total)) = self.history.front() {
            if start > cutoff {
                break;
            }
            self.settled = total;
            self.history.pop_front();
        }
        self.last_check_ms = Some(now_ms);
        self.settled.saturating_sub(self.acked)
    }

    /// When the backlog is next worth evaluating: while the receiver is
    /// held back (`congested`) or has enough outstanding to be, every
    /// `interval_ms`; otherwise never (nothing could change).
    pub(crate) fn next_check(
        &self,
        congested: bool,
        high_bytes: u64,
        interval_ms: u64,
    ) -> Option<u64> {
        if !congested && self.outstanding() < high_bytes {
            return None;
        }
        Some(
            self.last_check_ms
                .map_or(0, |at| at.saturating_add(interval_ms)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_that_keeps_up_has_no_backlog_at_any_rate() {
        let mut u = Unacked::new();
        // 1 MB/s, acknowledged 250 ms late.
        for t in (0..10_000).step_by(10) {
            u.queued(10_000, t);
            if t >= 250 && t % 250 == 0 {
                u.acknowledge((t - 250) / 10 * 10_000 + 10_000).unwrap();
            }
        }
        assert_eq!(u.backlog(10_000, 1_000), 0);
        assert!(
            u.outstanding() > 0,
            "the last 250 ms are still unacknowledged"
        );
    }

    #[test]
    fn a_receiver_that_stops_reading_falls_behind_by_what_it_was_sent() {
        let mut u = Unacked::new();
        for t in (0..5_000).step_by(100) {
            u.queued(1_000, t);
        }
        u.acknowledge(2_000).unwrap();
        // Everything queued up to 4 s (41 samples of 1 kB) minus 2 kB read.
        assert_eq!(u.backlog(5_000, 1_000), 41_000 - 2_000);
    }

    #[test]
    fn claiming_more_than_was_sent_is_refused() {
        let mut u = Unacked::new();
        u.queued(100, 0);
        assert_eq!(
            u.acknowledge(101),
            Err(OverClaim {
                claimed: 101,
                sent: 100
            })
        );
        assert!(u.acknowledge(100).is_ok());
    }

    #[test]
    fn after_a_restore_the_first_ack_sets_the_offset() {
        let mut u = Unacked::restored();
        u.queued(500, 0);
        // The receiver read 9,000 bytes before the restore and 200 since.
        u.acknowledge(9_200).unwrap();
        assert_eq!(u.outstanding(), 0, "assumed caught up at the first ack");
        u.queued(300, 100);
        u.acknowledge(9_400).unwrap();
        assert_eq!(u.outstanding(), 100);
        assert!(u.acknowledge(9_600).is_err(), "more than sent since");
    }

    #[test]
    fn history_stays_bounded_while_unacknowledged() {
        let mut u = Unacked::new();
        for t in 0..100_000u64 {
            u.queued(10, t);
            if t % 500 == 0 {
                u.backlog(t, 1_000);
            }
        }
        assert!(u.history.len() <= 16, "{} samples", u.history.len());
    }

    #[test]
    fn checks_are_scheduled_only_when_something_could_change() {
        let mut u = Unacked::new();
        u.queued(1_000, 0);
        assert_eq!(u.next_check(false, 10_000, 500), None);
        assert_eq!(u.next_check(true, 10_000, 500), Some(0));
        u.queued(10_000, 10);
        u.backlog(20, 1_000);
        assert_eq!(u.next_check(false, 10_000, 500), Some(520));
    }
}
