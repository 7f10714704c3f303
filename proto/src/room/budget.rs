//! The client's side of the host's limits: a [`SendBudget`] built from the
//! `Limits` in the `Welcome` runs the engine's own token buckets (at 90 %
//! of the announced rates, so network jitter bunching messages up cannot
//! push an honest client over), so a client withholds what the host would
//! close it for instead of being closed.

use super::config::RoomConfig;
use super::rate::RateLimiter;
use crate::wire;

/// Share of each announced rate and burst a client allows itself.
const HEADROOM_PERCENT: u32 = 90;

/// Why a message was withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Withheld {
    /// Larger than the host accepts (it would close the connection).
    #[error("a {len}-byte message exceeds the host's {max}-byte limit")]
    TooLarge {
        /// Encoded size.
        len: usize,
        /// The host's `max_message_bytes`.
        max: usize,
    },
    /// Over the announced message, byte or chat rate for now.
    #[error("over the host's sending rate; try again shortly")]
    OverRate,
}

/// What one client may still send, by the host's announced limits.
#[derive(Debug, Clone)]
pub struct SendBudget {
    max_message_bytes: usize,
    rate: RateLimiter,
}

impl SendBudget {
    /// The budget for `limits` (a `Welcome`'s; a zero field, from a host
    /// that predates it, means the engine's default).
    pub fn new(limits: Option<&wire::Limits>, now_ms: u64) -> Self {
        let defaults = RoomConfig::default();
        let limits = limits.cloned().unwrap_or_default();
        let announced = |value: u32, default: u32| {
            let value = if value == 0 { default } else { value };
            (u64::from(value) * u64::from(HEADROOM_PERCENT) / 100).max(1) as u32
        };
        let config = RoomConfig {
            sender_messages_per_sec: announced(
                limits.sender_messages_per_sec,
                defaults.sender_messages_per_sec,
            ),
            sender_bytes_per_sec: announced(
                limits.sender_bytes_per_sec,
                defaults.sender_bytes_per_sec,
            ),
            sender_burst_messages: announced(
                limits.sender_burst_messages,
                defaults.sender_burst_messages,
            ),
            sender_burst_bytes: announced(limits.sender_burst_bytes, defaults.sender_burst_bytes),
            chat_messages_per_sec: announced(
                limits.chat_messages_per_sec,
                defaults.chat_messages_per_sec,
            ),
            chat_burst_messages: announced(
                limits.chat_burst_messages,
                defaults.chat_burst_messages,
            ),
            ..defaults
        };
        let max_message_bytes = match limits.max_message_bytes {
            0 => defaults.max_message_bytes,
            n => n as usize,
        };
        Self {
            max_message_bytes,
            rate: RateLimiter::new(&config, now_ms),
        }
    }

    /// Charges a media frame of `len` encoded bytes, or says why it must be
    /// withheld (drop it; for video, ask the encoder for a keyframe next).
    pub fn media(&mut self, len: usize, now_ms: u64) -> Result<(), Withheld> {
        self.check_size(len)?;
        self.rate
            .charge(len, now_ms)
            .map_err(|_| Withheld::OverRate)
    }

    /// Charges a chat message of `len` encoded bytes.
    pub fn chat(&mut self, len: usize, now_ms: u64) -> Result<(), Withheld> {
        self.check_size(len)?;
        if !self.rate.charge_chat(now_ms) {
            return Err(Withheld::OverRate);
        }
        self.rate
            .charge(len, now_ms)
            .map_err(|_| Withheld::OverRate)
    }

    /// Charges a control message the client sends regardless (Hello, Ack,
    /// Subscribe, keep-alives): it still uses up the budget media shares.
    pub fn control(&mut self, len: usize, now_ms: u64) {
        let _ = self.rate.charge(len, now_ms);
    }

    fn check_size(&self, len: usize) -> Result<(), Withheld> {
        if len > self.max_message_bytes {
            return Err(Withheld::TooLarge {
                len,
                max: self.max_message_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> wire::Limits {
        wire::Limits {
            max_message_bytes: 1_000,
            sender_messages_per_sec: 100,
            sender_burst_messages: 100,
            sender_bytes_per_sec: 1_000_000,
            sender_burst_bytes: 1_000_000,
            chat_messages_per_sec: 10,
            chat_burst_messages: 10,
            ..wire::Limits::default()
        }
    }

    #[test]
    fn a_message_over_the_size_limit_is_withheld() {
        let mut b = SendBudget::new(Some(&limits()), 0);
        assert_eq!(
            b.media(1_001, 0),
            Err(Withheld::TooLarge {
                len: 1_001,
                max: 1_000
            })
        );
        assert!(b.media(1_000, 0).is_ok());
    }

    #[test]
    fn a_client_stays_under_the_announced_rate_with_headroom() {
        let mut b = SendBudget::new(Some(&limits()), 0);
        let sent = (0..200).filter(|_| b.media(10, 0).is_ok()).count();
        assert_eq!(sent, 90, "90 % of the 100-message burst");
        assert!(b.media(10, 12).is_ok(), "refilled at 90 messages/s");
    }

    #[test]
    fn chat_has_the_announced_chat_budget() {
        let mut b = SendBudget::new(Some(&limits()), 0);
        let sent = (0..20).filter(|_| b.chat(10, 0).is_ok()).count();
        assert_eq!(sent, 9);
    }

    #[test]
    fn a_host_that_announces_nothing_gets_the_engine_defaults() {
        let defaults = RoomConfig::default();
        let mut b = SendBudget::new(None, 0);
        assert!(b.media(defaults.max_message_bytes, 0).is_ok());
        assert!(matches!(
            b.media(defaults.max_message_bytes + 1, 0),
            Err(Withheld::TooLarge { .. })
        ));
    }
}
