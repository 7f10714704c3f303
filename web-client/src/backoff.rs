//! Reconnect delays: exponential, capped, with a bounded number of tries.

/// Exponential backoff without randomness (the browser tab is one client;
/// jitter comes from the `jitter` input).
#[derive(Debug, Clone)]
pub struct Backoff {
    initial_ms: u32,
    max_ms: u32,
    current_ms: u32,
    tries: u32,
    max_tries: u32,
}

impl Backoff {
    /// Starts at `initial_ms`, doubles to `max_ms`, gives up after `max_tries`.
    pub fn new(initial_ms: u32, max_ms: u32, max_tries: u32) -> Self {
        Self {
            initial_ms,
            max_ms,
            current_ms: initial_ms,
            tries: 0,
            max_tries,
        }
    }

    /// The delay before the next try, or `None` when it is time to give up.
    /// `jitter` in `[0, 1)` spreads the delay over `[d/2, d]`.
    pub fn next_delay(&mut self, jitter: f64) -> Option<u32> {
        if self.tries >= self.max_tries {
            return None;
        }
        self.tries += 1;
        let upper = self.current_ms;
        self.current_ms = self.current_ms.saturating_mul(2).min(self.max_ms);
        let lower = upper / 2;
        let span = f64::from(upper - lower) * jitter.clamp(0.0, 1.0);
        Some(lower + span as u32)
    }

    /// Tries used so far.
    pub fn tries(&self) -> u32 {
        self.tries
    }

    /// Back to the start (after a successful connection).
    pub fn reset(&mut self) {
        self.current_ms = self.initial_ms;
        self.tries = 0;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(500, 8_000, 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_the_cap_then_give_up() {
        let mut b = Backoff::new(100, 400, 4);
        assert_eq!(b.next_delay(1.0), Some(100));
        assert_eq!(b.next_delay(1.0), Some(200));
        assert_eq!(b.next_delay(0.0), Some(200));
        assert_eq!(b.next_delay(1.0), Some(400));
        assert_eq!(b.next_delay(1.0), None);
        b.reset();
        assert_eq!(b.next_delay(0.0), Some(50));
        assert_eq!(b.tries(), 1);
    }
}
