//! From whatever a microphone delivers (any rate, any channel count, any
//! buffer size) to the 48 kHz mono 20 ms frames the Opus encoder takes:
//! downmix, linear resampling and framing.
//!
//! Linear interpolation is enough here: most capture stacks (ALSA's
//! `default`/`plug` devices, PulseAudio, PipeWire) already offer 48 kHz, so
//! resampling only runs for the odd device that cannot.

use std::collections::VecDeque;

use crate::media::audio::{FRAME_SAMPLES, SAMPLE_RATE};

/// Averages each group of `channels` interleaved samples into one, appending
/// to `out`. A trailing partial group is ignored.
pub fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    let channels = channels.max(1);
    if channels == 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|group| group.iter().sum::<f32>() * scale),
    );
}

/// A streaming linear resampler from `from` Hz to [`SAMPLE_RATE`].
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output sample in the coming chunk's index space
    /// (−1 is the last sample of the previous chunk).
    position: f64,
    /// The last input sample seen.
    last: f32,
}

impl Resampler {
    /// A resampler from `from` Hz (non-zero) to 48 kHz.
    pub fn new(from: u32) -> Self {
        Self {
            step: f64::from(from.max(1)) / f64::from(SAMPLE_RATE),
            position: 0.0,
            last: 0.0,
        }
    }

    /// Whether input and output rates are equal (samples pass through).
    pub fn is_identity(&self) -> bool {
        self.step == 1.0
    }

    /// Resamples one chunk of mono input, appending to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.is_identity() {
            out.extend_from_slice(input);
            return;
        }
        if input.is_empty() {
            return;
        }
        let sample = |i: isize| if i < 0 { self.last } else { input[i as usize] };
        let end = (input.len() - 1) as f64;
        while self.position <= end {
            let index = self.position.floor();
            let frac = (self.position - index) as f32;
            let i = index as isize;
            // frac > 0 means position < end, so i + 1 is still in the chunk.
            out.push(if frac == 0.0 {
                sample(i)
            } else {
                sample(i) * (1.0 - frac) + sample(i + 1) * frac
            });
            self.position += self.step;
        }
        self.position -= input.len() as f64;
        self.last = input[input.len() - 1];
    }
}

/// Collects 48 kHz mono samples and hands them out [`FRAME_SAMPLES`] at a
/// time as 16-bit PCM.
#[derive(Debug, Clone)]
pub struct Framer {
    resampler: Resampler,
    resampled: Vec<f32>,
    pending: VecDeque<i16>,
}

impl Framer {
    /// A framer for mono input at `rate` Hz.
    pub fn new(rate: u32) -> Self {
        Self {
            resampler: Resampler::new(rate),
            resampled: Vec::new(),
            pending: VecDeque::new(),
        }
    }

    /// Adds mono samples (full scale ±1.0) at the input rate.
    pub fn push(&mut self, mono: &[f32]) {
        self.resampled.clear();
        self.resampler.process(mono, &mut self.resampled);
        self.pending
            .extend(self.resampled.iter().map(|&s| to_i16(s)));
    }

    /// The next full 20 ms frame, if enough samples have arrived.
    pub fn next_frame(&mut self) -> Option<Vec<i16>> {
        (self.pending.len() >= FRAME_SAMPLES).then(|| self.pending.drain(..FRAME_SAMPLES).collect())
    }
}

/// Full-scale float to 16-bit, clipping.
fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_is_averaged_to_mono() {
        let mut out = Vec::new();
        downmix(&[0.5, -0.5, 1.0, 0.0, 0.25], 2, &mut out);
        assert_eq!(out, [0.0, 0.5]);
    }

    #[test]
    fn same_rate_passes_through() {
        let mut resampler = Resampler::new(48_000);
        let mut out = Vec::new();
        resampler.process(&[0.1, 0.2, 0.3], &mut out);
        assert_eq!(out, [0.1, 0.2, 0.3]);
    }

    #[test]
    fn upsampling_interpolates_across_chunk_boundaries() {
        // 24 kHz → 48 kHz: every input sample, then the midpoint to the next.
        let mut resampler = Resampler::new(24_000);
        let mut out = Vec::new();
        resampler.process(&[0.0, 0.5], &mut out);
        resampler.process(&[1.0, 0.0], &mut out);
        assert_eq!(out, [0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.0]);
    }

    #[test]
    fn one_second_at_44_1_khz_becomes_one_second_at_48_khz() {
        let mut resampler = Resampler::new(44_100);
        let mut out = Vec::new();
        // In uneven chunks, like a device would deliver them.
        let input = vec![0.25f32; 44_100];
        for chunk in input.chunks(441 + 7) {
            resampler.process(chunk, &mut out);
        }
        assert!((out.len() as i64 - 48_000).abs() <= 2, "{}", out.len());
        assert!(out.iter().all(|&s| (s - 0.25).abs() < 1e-6));
    }

    #[test]
    fn a_sine_keeps_its_frequency_through_resampling() {
        // 1 kHz at 16 kHz in → 48 kHz out: zero crossings every 24 samples.
        let input: Vec<f32> = (0..16_000)
            .map(|i| (std::f32::consts::TAU * 1_000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mut resampler = Resampler::new(16_000);
        let mut out = Vec::new();
        resampler.process(&input, &mut out);
        let rising = out
            .windows(2)
            .filter(|pair| pair[0] < 0.0 && pair[1] >= 0.0)
            .count();
        assert!((999..=1_001).contains(&rising), "{rising} cycles");
    }

    #[test]
    fn frames_are_20_ms_of_16_bit_samples() {
        let mut framer = Framer::new(48_000);
        framer.push(&vec![0.5; 1_500]);
        let frame = framer.next_frame().expect("one full frame");
        assert_eq!(frame.len(), FRAME_SAMPLES);
        assert!(frame.iter().all(|&s| s == 16_384));
        assert!(framer.next_frame().is_none(), "540 samples are not a frame");
        framer.push(&[2.0; 420]);
        let clipped = framer.next_frame().expect("second frame");
        assert_eq!(clipped[FRAME_SAMPLES - 1], i16::MAX);
    }
}
