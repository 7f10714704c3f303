//! Per-receiver congestion control from the host's backlog reports: lower
//! the video layer, then pause video, and pause audio last; climb back one
//! step after a stable period.

use super::config::RoomConfig;
use super::track::MAX_LAYER;

/// Steps from healthy to fully paused.
const MAX_STEP: u8 = MAX_LAYER + 2;

/// One receiver's congestion state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Congestion {
    /// 0 = healthy; 1..=MAX_LAYER lower the layer cap; MAX_LAYER+1 pauses
    /// video; MAX_LAYER+2 pauses audio too.
    step: u8,
    last_step_ms: Option<u64>,
    drained_since_ms: Option<u64>,
}

/// The limits congestion currently imposes on a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CongestionLimit {
    pub max_layer: u8,
    pub video_paused: bool,
    pub audio_paused: bool,
}

impl Congestion {
    /// Feeds one backlog report; returns true when the limit changed.
    pub(crate) fn report(&mut self, queued_bytes: u64, now_ms: u64, config: &RoomConfig) -> bool {
        if queued_bytes >= config.congestion_high_bytes {
            self.drained_since_ms = None;
            let may_step = self
                .last_step_ms
                .is_none_or(|t| now_ms.saturating_sub(t) >= config.congestion_step_ms);
            if may_step && self.step < MAX_STEP {
                self.step += 1;
                self.last_step_ms = Some(now_ms);
                return true;
            }
            return false;
        }
        if queued_bytes > config.congestion_low_bytes {
            self.drained_since_ms = None;
            return false;
        }
        if self.step == 0 {
            return false;
        }
        let since = *self.drained_since_ms.get_or_insert(now_ms);
        if now_ms.saturating_sub(since) >= config.congestion_recover_ms {
            self.step -= 1;
            self.last_step_ms = Some(now_ms);
            self.drained_since_ms = Some(now_ms);
            return true;
        }
        false
    }

    /// Whether the receiver is held back at all (so it may recover).
    pub(crate) fn holds_back(&self) -> bool {
        self.step > 0
    }

    /// How many steps from healthy (0) the receiver is.
    pub(crate) fn step(&self) -> u8 {
        self.step
    }

    /// Current limit.
    pub(crate) fn limit(&self) -> CongestionLimit {
        CongestionLimit {
            max_layer: MAX_LAYER.saturating_sub(self.step.min(MAX_LAYER)),
            video_paused: self.step > MAX_LAYER,
            audio_paused: self.step > MAX_LAYER + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RoomConfig {
        RoomConfig::default()
    }

    #[test]
    fn steps_down_layers_then_video_then_audio() {
        let c = config();
        let mut g = Congestion::default();
        let high = c.congestion_high_bytes;
        let mut t = 0;
        let mut seen = vec![g.limit()];
        while g.report(high, t, &c) {
            seen.push(g.limit());
            t += c.congestion_step_ms;
        }
        let layers: Vec<u8> = seen.iter().map(|l| l.max_layer).collect();
        assert_eq!(layers, vec![2, 1, 0, 0, 0]);
        assert!(!seen[2].video_paused && seen[3].video_paused && !seen[3].audio_paused);
        assert!(seen[4].audio_paused, "audio goes last");
    }

    #[test]
    fn one_step_per_interval() {
        let c = config();
        let mut g = Congestion::default();
        assert!(g.report(c.congestion_high_bytes, 0, &c));
        assert!(!g.report(c.congestion_high_bytes, 1, &c));
        assert_eq!(g.limit().max_layer, 1);
    }

    #[test]
    fn recovers_after_a_stable_period() {
        let c = config();
        let mut g = Congestion::default();
        g.report(c.congestion_high_bytes, 0, &c);
        assert!(!g.report(0, 1_000, &c));
        assert!(!g.report(0, 1_000 + c.congestion_recover_ms - 1, &c));
        assert!(g.report(0, 1_000 + c.congestion_recover_ms, &c));
        assert_eq!(g.limit().max_layer, 2);
    }

    #[test]
    fn a_middling_backlog_restarts_the_stable_period() {
        let c = config();
        let mut g = Congestion::default();
        g.report(c.congestion_high_bytes, 0, &c);
        g.report(0, 1_000, &c);
        g.report(c.congestion_low_bytes + 1, 2_000, &c);
        assert!(!g.report(0, 1_000 + c.congestion_recover_ms, &c));
    }
}
