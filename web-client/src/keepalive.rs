//! Keeping a connection alive, measuring its round-trip time, and
//! acknowledging what was received.
//!
//! - On a WebSocket the keep-alive is the text
//!   [`KEEPALIVE_PING`](edgecall_proto::KEEPALIVE_PING), which the edge's
//!   runtime answers by itself: an idle meeting's Durable Object sleeps
//!   however long the call lasts. On WebTransport it is a `Ping` message.
//!   Either way the answer gives the round-trip time.
//! - Hosts that cannot see their send queue ask, in the `Welcome`, for an
//!   `Ack` of the bytes received at least every `ack_interval_ms`; nothing
//!   is acknowledged when nothing new arrived, so idle calls stay silent.

use std::collections::HashMap;

use crate::config::TransportKind;

/// How often the connection is kept alive.
pub const KEEPALIVE_EVERY_MS: f64 = 2_000.0;
/// Keep-alives unanswered for this long are forgotten.
const FORGET_AFTER_MS: f64 = 30_000.0;
/// A connection that answered no keep-alive and delivered nothing for this
/// long is dead (a crashed server, a cut path): five keep-alive periods, so
/// a slow link that still delivers something is never taken for one.
pub const LOST_AFTER_MS: f64 = 10_000.0;

/// What to send to keep the connection alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The WebSocket text keep-alive.
    Text,
    /// A `Ping` with this nonce (WebTransport).
    Ping(u64),
}

/// One connection's keep-alive and acknowledgement state.
#[derive(Debug, Default)]
pub struct Keepalive {
    last_probe_ms: Option<f64>,
    /// Unanswered `Ping`s by nonce.
    pings: HashMap<u64, f64>,
    next_nonce: u64,
    /// When the unanswered text keep-alive went out.
    text_sent_ms: Option<f64>,
    ack_interval_ms: Option<f64>,
    received_bytes: u64,
    acked_bytes: u64,
    last_ack_ms: Option<f64>,
    /// When the server was last heard (a message or a keep-alive answer).
    last_heard_ms: Option<f64>,
}

impl Keepalive {
    /// A fresh state for a new connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Acknowledge every `ms` (from the `Welcome`; 0 = never).
    pub fn set_ack_interval(&mut self, ms: u32) {
        self.ack_interval_ms = (ms > 0).then_some(f64::from(ms));
    }

    /// The keep-alive to send now, if one is due.
    pub fn probe_due(&mut self, now: f64, transport: TransportKind) -> Option<Probe> {
        if self
            .last_probe_ms
            .is_some_and(|at| now - at < KEEPALIVE_EVERY_MS)
        {
            return None;
        }
        self.last_probe_ms = Some(now);
        self.pings.retain(|_, sent| now - *sent < FORGET_AFTER_MS);
        match transport {
            TransportKind::WebSocket => {
                if self
                    .text_sent_ms
                    .is_none_or(|sent| now - sent >= FORGET_AFTER_MS)
                {
                    self.text_sent_ms = Some(now);
                }
                Some(Probe::Text)
            }
            TransportKind::WebTransport => {
                self.next_nonce += 1;
                self.pings.insert(self.next_nonce, now);
                Some(Probe::Ping(self.next_nonce))
            }
        }
    }

    /// The text keep-alive was answered: the round-trip time.
    pub fn text_answered(&mut self, now: f64) -> Option<f64> {
        self.text_sent_ms.take().map(|sent| now - sent)
    }

    /// A `Pong` arrived: the round-trip time, if it answers our `Ping`.
    pub fn pong(&mut self, nonce: u64, now: f64) -> Option<f64> {
        self.pings.remove(&nonce).map(|sent| now - sent)
    }

    /// How long the oldest unanswered keep-alive has waited (0 if none).
    pub fn oldest_unanswered_ms(&self, now: f64) -> f64 {
        self.pings
            .values()
            .chain(self.text_sent_ms.as_ref())
            .map(|sent| now - sent)
            .fold(0.0, f64::max)
    }

    /// A binary message of `bytes` arrived.
    pub fn received(&mut self, bytes: usize) {
        self.received_bytes += bytes as u64;
    }

    /// The server was heard from at `now` (any message or answer).
    pub fn heard(&mut self, now: f64) {
        self.last_heard_ms = Some(now);
    }

    /// Whether the connection is dead: a keep-alive has waited
    /// [`LOST_AFTER_MS`] and nothing at all arrived for as long. (A page
    /// whose timers were throttled sends late keep-alives, so silence
    /// alone proves nothing.)
    pub fn lost(&self, now: f64) -> bool {
        let waited = self.oldest_unanswered_ms(now);
        let silent = self.last_heard_ms.map_or(waited, |at| now - at);
        waited >= LOST_AFTER_MS && silent >= LOST_AFTER_MS
    }

    /// The total to acknowledge now, if an `Ack` is due: something new
    /// arrived and the interval passed since the last one.
    pub fn ack_due(&mut self, now: f64) -> Option<u64> {
        let interval = self.ack_interval_ms?;
        if self.received_bytes == self.acked_bytes
            || self.last_ack_ms.is_some_and(|at| now - at < interval)
        {
            return None;
        }
        self.acked_bytes = self.received_bytes;
        self.last_ack_ms = Some(now);
        Some(self.received_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websockets_keep_alive_with_text_and_time_the_answer() {
        let mut k = Keepalive::new();
        assert_eq!(
            k.probe_due(0.0, TransportKind::WebSocket),
            Some(Probe::Text)
        );
        assert_eq!(k.probe_due(1_000.0, TransportKind::WebSocket), None);
        assert_eq!(k.oldest_unanswered_ms(1_500.0), 1_500.0);
        assert_eq!(k.text_answered(1_600.0), Some(1_600.0));
        assert_eq!(k.oldest_unanswered_ms(1_700.0), 0.0);
        assert_eq!(k.text_answered(1_800.0), None, "answered once");
    }

    #[test]
    fn an_unanswered_keepalive_keeps_its_send_time() {
        let mut k = Keepalive::new();
        k.probe_due(0.0, TransportKind::WebSocket);
        k.probe_due(2_000.0, TransportKind::WebSocket);
        assert_eq!(
            k.text_answered(2_100.0),
            Some(2_100.0),
            "timed from the first"
        );
    }

    #[test]
    fn webtransport_pings_carry_nonces() {
        let mut k = Keepalive::new();
        let Some(Probe::Ping(nonce)) = k.probe_due(0.0, TransportKind::WebTransport) else {
            panic!("a ping");
        };
        assert_eq!(k.pong(nonce + 1, 10.0), None);
        assert_eq!(k.pong(nonce, 40.0), Some(40.0));
    }

    #[test]
    fn a_connection_is_lost_only_when_unanswered_and_silent() {
        let mut k = Keepalive::new();
        k.heard(0.0);
        k.probe_due(0.0, TransportKind::WebTransport);
        assert!(!k.lost(9_999.0), "not yet");
        // Something still arrives on a slow link: alive.
        k.heard(9_000.0);
        assert!(!k.lost(LOST_AFTER_MS + 1.0));
        assert!(k.lost(9_000.0 + LOST_AFTER_MS));
    }

    #[test]
    fn a_late_keepalive_after_a_silent_spell_is_not_a_loss() {
        // Timers throttled in a background tab: nothing was asked, so
        // nothing was owed.
        let mut k = Keepalive::new();
        k.heard(0.0);
        k.probe_due(60_000.0, TransportKind::WebSocket);
        assert!(!k.lost(61_000.0));
        assert!(k.lost(60_000.0 + LOST_AFTER_MS));
    }

    #[test]
    fn acks_wait_for_the_interval_and_for_something_new() {
        let mut k = Keepalive::new();
        k.received(100);
        assert_eq!(k.ack_due(0.0), None, "not asked to acknowledge");
        k.set_ack_interval(250);
        assert_eq!(k.ack_due(0.0), Some(100));
        k.received(50);
        assert_eq!(k.ack_due(100.0), None, "too soon");
        assert_eq!(k.ack_due(250.0), Some(150));
        assert_eq!(
            k.ack_due(1_000.0),
            None,
            "nothing new: an idle call sends nothing"
        );
    }
}
