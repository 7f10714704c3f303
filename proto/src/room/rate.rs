//! Per-sender token buckets (bytes and messages), refilled from the time the
//! host passes in.

/// One token bucket: `rate` tokens per second up to `burst`.
#[derive(Debug, Clone)]
struct Bucket {
    rate_per_sec: u64,
    burst: u64,
    /// Tokens scaled by 1000 to keep millisecond refills exact.
    milli_tokens: u64,
}

impl Bucket {
    fn new(rate_per_sec: u32, burst: u32) -> Self {
        let burst = u64::from(burst.max(rate_per_sec));
        Self {
            rate_per_sec: u64::from(rate_per_sec),
            burst,
            milli_tokens: burst * 1000,
        }
    }

    fn refill(&mut self, elapsed_ms: u64) {
        let add = self.rate_per_sec.saturating_mul(elapsed_ms);
        self.milli_tokens = self.milli_tokens.saturating_add(add).min(self.burst * 1000);
    }

    fn take(&mut self, tokens: u64) -> bool {
        let need = tokens.saturating_mul(1000);
        if self.milli_tokens >= need {
            self.milli_tokens -= need;
            true
        } else {
            false
        }
    }
}

/// Byte, message and chat budget of one sender.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    bytes: Bucket,
    messages: Bucket,
    chat: Bucket,
    last_ms: u64,
}

/// Which budget was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateExceeded {
    Bytes,
    Messages,
}

impl RateLimiter {
    pub(crate) fn new(config: &super::RoomConfig, now_ms: u64) -> Self {
        Self {
            bytes: Bucket::new(config.sender_bytes_per_sec, config.sender_burst_bytes),
            messages: Bucket::new(config.sender_messages_per_sec, config.sender_burst_messages),
            chat: Bucket::new(config.chat_messages_per_sec, config.chat_burst_messages),
            last_ms: now_ms,
        }
    }

    /// Charges one message of `len` bytes.
    pub(crate) fn charge(&mut self, len: usize, now_ms: u64) -> Result<(), RateExceeded> {
        self.refill(now_ms);
        if !self.messages.take(1) {
            return Err(RateExceeded::Messages);
        }
        if !self.bytes.take(len as u64) {
            return Err(RateExceeded::Bytes);
        }
        Ok(())
    }

    /// Charges one chat message; `false` when the sender is over its chat
    /// budget.
    pub(crate) fn charge_chat(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        self.chat.take(1)
    }

    fn refill(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        self.bytes.refill(elapsed);
        self.messages.refill(elapsed);
        self.chat.refill(elapsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::RoomConfig;

    fn config(bytes: u32, msgs: u32) -> RoomConfig {
        RoomConfig {
            sender_bytes_per_sec: bytes,
            sender_burst_bytes: bytes,
            sender_messages_per_sec: msgs,
            sender_burst_messages: msgs,
            ..RoomConfig::default()
        }
    }

    #[test]
    fn burst_then_refill() {
        let mut r = RateLimiter::new(&config(1_000_000, 10), 0);
        for _ in 0..10 {
            assert!(r.charge(10, 0).is_ok());
        }
        assert_eq!(r.charge(10, 0), Err(RateExceeded::Messages));
        // 100 ms refills one message at 10/s.
        assert!(r.charge(10, 100).is_ok());
        assert_eq!(r.charge(10, 100), Err(RateExceeded::Messages));
    }

    #[test]
    fn byte_budget_is_enforced() {
        let mut r = RateLimiter::new(&config(1_000, 1_000), 0);
        assert!(r.charge(1_000, 0).is_ok());
        assert_eq!(r.charge(1, 0), Err(RateExceeded::Bytes));
        assert!(r.charge(500, 500).is_ok());
    }

    #[test]
    fn chat_has_its_own_smaller_budget() {
        let config = RoomConfig {
            chat_messages_per_sec: 1,
            chat_burst_messages: 3,
            ..RoomConfig::default()
        };
        let mut r = RateLimiter::new(&config, 0);
        for _ in 0..3 {
            assert!(r.charge_chat(0));
        }
        assert!(!r.charge_chat(0));
        assert!(r.charge(10, 0).is_ok(), "media is not charged to chat");
        assert!(r.charge_chat(1_000));
    }

    #[test]
    fn clock_going_backwards_does_not_mint_tokens() {
        let mut r = RateLimiter::new(&config(1_000, 1), 1_000);
        assert!(r.charge(1, 1_000).is_ok());
        assert!(r.charge(1, 10).is_err());
    }
}
