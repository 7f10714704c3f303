//! Audio: the [`AudioSource`] trait, a synthetic tone, Opus encoding and
//! the RFC 6464 audio level carried in each frame's cleartext header.

use std::time::{Duration, Instant};

use crate::media::MediaError;

/// Sample rate of everything this crate captures and encodes.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame.
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE as usize) / 50;
/// Duration of one audio frame.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);
/// Opus bitrate for voice.
const OPUS_BITRATE: i32 = 32_000;
/// Largest Opus packet we accept from the encoder.
const MAX_PACKET: usize = 1_000;

/// A source of 48 kHz mono audio, 20 ms at a time. `next_frame` blocks
/// until the frame is due.
pub trait AudioSource: Send {
    /// The next [`FRAME_SAMPLES`] samples.
    fn next_frame(&mut self) -> Result<Vec<i16>, MediaError>;
}

/// A sine tone at a fixed frequency and amplitude, paced in real time.
pub struct Tone {
    frequency: f64,
    amplitude: f64,
    sample: u64,
    started: Option<Instant>,
    paced: bool,
}

impl Tone {
    /// A `frequency` Hz tone whose peak is `amplitude` (0..=1 of full scale).
    pub fn new(frequency: f64, amplitude: f64) -> Self {
        Self {
            frequency,
            amplitude: amplitude.clamp(0.0, 1.0),
            sample: 0,
            started: None,
            paced: true,
        }
    }

    /// Produces frames as fast as asked.
    pub fn unpaced(mut self) -> Self {
        self.paced = false;
        self
    }
}

impl AudioSource for Tone {
    fn next_frame(&mut self) -> Result<Vec<i16>, MediaError> {
        if self.paced {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = started + Duration::from_micros(self.sample * 1_000_000 / 48_000);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let step = std::f64::consts::TAU * self.frequency / f64::from(SAMPLE_RATE);
        let peak = self.amplitude * f64::from(i16::MAX);
        let frame = (0..FRAME_SAMPLES as u64)
            .map(|i| ((self.sample + i) as f64 * step).sin() * peak)
            .map(|value| value as i16)
            .collect();
        self.sample += FRAME_SAMPLES as u64;
        Ok(frame)
    }
}

/// The RFC 6464 audio level of `samples`: −dBov of the RMS, 0 (loudest)
/// to 127 (silence).
pub fn audio_level(samples: &[i16]) -> u8 {
    if samples.is_empty() {
        return 127;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    let rms = (energy / samples.len() as f64).sqrt() / 32_768.0;
    if rms <= 0.0 {
        return 127;
    }
    let dbov = 20.0 * rms.log10();
    (-dbov).round().clamp(0.0, 127.0) as u8
}

/// A 48 kHz mono Opus encoder for 20 ms VoIP frames.
pub struct OpusEncoder {
    inner: opus::Encoder,
}

impl OpusEncoder {
    /// A VoIP encoder at 32 kbit/s.
    pub fn new() -> Result<Self, MediaError> {
        let mut inner =
            opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)
                .map_err(|err| MediaError::Codec(format!("Opus encoder: {err}")))?;
        inner
            .set_bitrate(opus::Bitrate::Bits(OPUS_BITRATE))
            .map_err(|err| MediaError::Codec(format!("Opus bitrate: {err}")))?;
        Ok(Self { inner })
    }

    /// Encodes one 20 ms frame.
    pub fn encode(&mut self, samples: &[i16]) -> Result<Vec<u8>, MediaError> {
        self.inner
            .encode_vec(samples, MAX_PACKET)
            .map_err(|err| MediaError::Codec(format!("Opus encode: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_level_127_and_full_scale_is_near_0() {
        assert_eq!(audio_level(&[0; 960]), 127);
        assert_eq!(audio_level(&[i16::MAX; 960]), 0);
    }

    #[test]
    fn a_tone_at_a_tenth_of_full_scale_is_about_23_dbov() {
        // Sine RMS = peak / sqrt(2): 20*log10(0.1/1.414) ≈ -23 dBov.
        let samples = Tone::new(440.0, 0.1).unpaced().next_frame().unwrap();
        assert_eq!(samples.len(), FRAME_SAMPLES);
        assert!((22..=24).contains(&audio_level(&samples)));
    }

    #[test]
    fn opus_packets_decode_back_to_20_ms() {
        let mut encoder = OpusEncoder::new().unwrap();
        let mut decoder = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).unwrap();
        let mut tone = Tone::new(440.0, 0.3).unpaced();
        let mut out = vec![0i16; FRAME_SAMPLES * 2];
        for _ in 0..5 {
            let packet = encoder.encode(&tone.next_frame().unwrap()).unwrap();
            assert_eq!(
                decoder.decode(&packet, &mut out, false).unwrap(),
                FRAME_SAMPLES
            );
        }
    }
}
