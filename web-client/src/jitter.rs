//! A small reorder buffer per received track. Frames leave in sequence
//! order; a gap is waited for at most `max_wait_ms` (or `max_frames`
//! queued), then skipped and reported as a loss so video can ask for a
//! keyframe. Pure logic: time is an input.

use std::collections::BTreeMap;

/// What came out of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released<T> {
    /// The next frame, in order.
    Frame(T),
    /// Frames before the next one were skipped (lost or too late).
    Gap {
        /// How many sequence numbers were skipped.
        missing: u64,
    },
}

/// Reorders frames of one track by sequence number.
#[derive(Debug)]
pub struct JitterBuffer<T> {
    next: Option<u64>,
    pending: BTreeMap<u64, (T, f64)>,
    max_wait_ms: f64,
    max_frames: usize,
    late: u64,
}

impl<T> JitterBuffer<T> {
    /// A buffer that holds a gap open at most `max_wait_ms` or until
    /// `max_frames` frames wait behind it.
    pub fn new(max_wait_ms: f64, max_frames: usize) -> Self {
        Self {
            next: None,
            pending: BTreeMap::new(),
            max_wait_ms,
            max_frames: max_frames.max(1),
            late: 0,
        }
    }

    /// Frames dropped because they arrived after their turn.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Forgets the expected sequence (after a layer switch or a decoder
    /// reset); the next pushed frame starts a new run.
    pub fn reset(&mut self) {
        self.next = None;
        self.pending.clear();
    }

    /// Adds frame `seq` received at `now_ms` and returns what is ready.
    pub fn push(&mut self, seq: u64, frame: T, now_ms: f64) -> Vec<Released<T>> {
        match self.next {
            None => self.next = Some(seq),
            Some(next) if seq < next => {
                self.late += 1;
                return Vec::new();
            }
            Some(_) => {}
        }
        self.pending.entry(seq).or_insert((frame, now_ms));
        self.poll(now_ms)
    }

    /// Releases what is ready at `now_ms` (call periodically so a gap at
    /// the end of a burst is not held forever).
    pub fn poll(&mut self, now_ms: f64) -> Vec<Released<T>> {
        let mut out = Vec::new();
        while let Some(next) = self.next {
            if let Some((frame, _)) = self.pending.remove(&next) {
                out.push(Released::Frame(frame));
                self.next = Some(next + 1);
                continue;
            }
            let Some((&first, &(_, arrived))) = self.pending.iter().next() else {
                break;
            };
            let waited_out = now_ms - arrived >= self.max_wait_ms;
            if waited_out || self.pending.len() >= self.max_frames {
                out.push(Released::Gap {
                    missing: first - next,
                });
                self.next = Some(first);
                continue;
            }
            break;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(out: Vec<Released<u64>>) -> Vec<Option<u64>> {
        out.into_iter()
            .map(|r| match r {
                Released::Frame(f) => Some(f),
                Released::Gap { .. } => None,
            })
            .collect()
    }

    #[test]
    fn in_order_frames_pass_straight_through() {
        let mut jb = JitterBuffer::new(30.0, 4);
        for seq in 10..15 {
            assert_eq!(frames(jb.push(seq, seq, 0.0)), vec![Some(seq)]);
        }
    }

    #[test]
    fn reordered_frames_are_put_back_in_order() {
        let mut jb = JitterBuffer::new(30.0, 4);
        assert_eq!(frames(jb.push(1, 1, 0.0)), vec![Some(1)]);
        assert!(jb.push(3, 3, 1.0).is_empty());
        assert_eq!(frames(jb.push(2, 2, 2.0)), vec![Some(2), Some(3)]);
    }

    #[test]
    fn a_gap_is_skipped_after_the_wait_and_reported() {
        let mut jb = JitterBuffer::new(30.0, 10);
        jb.push(1, 1, 0.0);
        assert!(jb.push(4, 4, 5.0).is_empty());
        assert!(jb.poll(20.0).is_empty());
        assert_eq!(
            jb.poll(35.0),
            vec![Released::Gap { missing: 2 }, Released::Frame(4)]
        );
        // The skipped frames are late now.
        assert!(jb.push(2, 2, 36.0).is_empty());
        assert_eq!(jb.late(), 1);
    }

    #[test]
    fn a_full_buffer_skips_without_waiting() {
        let mut jb = JitterBuffer::new(1_000.0, 2);
        jb.push(1, 1, 0.0);
        assert!(jb.push(3, 3, 0.0).is_empty());
        assert_eq!(
            jb.push(4, 4, 0.0),
            vec![
                Released::Gap { missing: 1 },
                Released::Frame(3),
                Released::Frame(4)
            ]
        );
    }

    #[test]
    fn reset_starts_a_new_run() {
        let mut jb = JitterBuffer::new(30.0, 4);
        jb.push(100, 100, 0.0);
        jb.reset();
        assert_eq!(frames(jb.push(7, 7, 1.0)), vec![Some(7)]);
    }
}
