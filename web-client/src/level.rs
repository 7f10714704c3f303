//! Audio levels in the RFC 6464 sense: 0 is the loudest (0 dBov), 127 is
//! silence; the engine ranks speakers by it and the UI lights tiles.

/// The level of `samples` (floats in −1..1): −dBov of their RMS, 0..=127.
pub fn audio_level(samples: &[f32]) -> u32 {
    if samples.is_empty() {
        return 127;
    }
    let power: f64 = samples
        .iter()
        .map(|s| f64::from(*s) * f64::from(*s))
        .sum::<f64>()
        / samples.len() as f64;
    if power <= 0.0 {
        return 127;
    }
    let dbov = 10.0 * power.log10();
    (-dbov).round().clamp(0.0, 127.0) as u32
}

/// Levels at or below this count as speaking (the engine's default).
pub const SPEAKING_LEVEL: u32 = 90;

/// Tracks whether a participant is speaking, with a hold time so the
/// indicator does not flicker between words.
#[derive(Debug, Clone, Default)]
pub struct SpeakingDetector {
    last_loud_ms: Option<f64>,
}

impl SpeakingDetector {
    /// How long a tile stays lit after the last loud frame.
    pub const HOLD_MS: f64 = 600.0;

    /// Records one frame's level.
    pub fn observe(&mut self, level: u32, now_ms: f64) {
        if level <= SPEAKING_LEVEL {
            self.last_loud_ms = Some(now_ms);
        }
    }

    /// Whether the participant counts as speaking at `now_ms`.
    pub fn speaking(&self, now_ms: f64) -> bool {
        self.last_loud_ms
            .is_some_and(|t| now_ms - t <= Self::HOLD_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_is_zero_and_silence_is_127() {
        assert_eq!(audio_level(&[1.0, -1.0, 1.0]), 0);
        assert_eq!(audio_level(&[0.0; 480]), 127);
        assert_eq!(audio_level(&[]), 127);
        // A 0.1 amplitude square wave is −20 dBov.
        assert_eq!(audio_level(&[0.1, -0.1]), 20);
    }

    #[test]
    fn speaking_holds_briefly_after_the_last_loud_frame() {
        let mut d = SpeakingDetector::default();
        d.observe(127, 0.0);
        assert!(!d.speaking(0.0));
        d.observe(30, 10.0);
        assert!(d.speaking(500.0));
        assert!(!d.speaking(10.0 + SpeakingDetector::HOLD_MS + 1.0));
    }
}
