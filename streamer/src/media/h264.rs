//! H.264 encoding with openh264: one encoder per simulcast layer, keyframes
//! on request and periodically, bitrate control.

use std::time::Duration;

use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, RateControlMode, UsageType,
};
use openh264::OpenH264API;

use crate::media::frame::I420Frame;
use crate::media::MediaError;

/// How the video is encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoSettings {
    /// Full-resolution width.
    pub width: usize,
    /// Full-resolution height.
    pub height: usize,
    /// Frames per second.
    pub fps: u32,
    /// Target bitrate of the top layer, kbit/s (the half-size layer gets a
    /// quarter of it).
    pub bitrate_kbps: u32,
    /// Publish two layers: 0 at half size, 1 at full size.
    pub simulcast: bool,
    /// A keyframe at least this often.
    pub keyframe_interval: Duration,
}

/// One encoded picture of one layer.
#[derive(Debug, Clone)]
pub struct EncodedVideo {
    /// Simulcast layer (0 is the lowest).
    pub layer: u32,
    /// Whether the picture is an IDR / I frame.
    pub keyframe: bool,
    /// Annex B bitstream.
    pub data: Vec<u8>,
}

struct Layer {
    index: u32,
    encoder: Encoder,
    bitrate_bps: u32,
    frames_since_keyframe: u64,
    force_keyframe: bool,
}

/// The encoders of all layers.
pub struct VideoEncoder {
    settings: VideoSettings,
    layers: Vec<Layer>,
    scale: f32,
}

fn new_encoder(bitrate_bps: u32, fps: u32) -> Result<Encoder, MediaError> {
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(bitrate_bps))
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .rate_control_mode(RateControlMode::Bitrate)
        .usage_type(UsageType::CameraVideoRealTime)
        .skip_frames(false);
    Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|err| MediaError::Codec(format!("openh264 encoder: {err}")))
}

impl VideoEncoder {
    /// Encoders for `settings`.
    pub fn new(settings: VideoSettings) -> Result<Self, MediaError> {
        crate::media::frame::check_dimensions(settings.width, settings.height)?;
        let mut encoder = Self {
            settings,
            layers: Vec::new(),
            scale: 1.0,
        };
        encoder.rebuild()?;
        Ok(encoder)
    }

    /// The settings in use.
    pub fn settings(&self) -> &VideoSettings {
        &self.settings
    }

    fn rebuild(&mut self) -> Result<(), MediaError> {
        let top = (self.settings.bitrate_kbps as f32 * 1000.0 * self.scale).max(50_000.0) as u32;
        let mut layers = Vec::new();
        let plan: Vec<(u32, u32)> = if self.settings.simulcast {
            vec![(0, (top / 4).max(30_000)), (1, top)]
        } else {
            vec![(0, top)]
        };
        for (index, bitrate_bps) in plan {
            layers.push(Layer {
                index,
                encoder: new_encoder(bitrate_bps, self.settings.fps)?,
                bitrate_bps,
                frames_since_keyframe: 0,
                force_keyframe: true,
            });
        }
        self.layers = layers;
        Ok(())
    }

    /// Asks for a keyframe on `layer` (every layer if `None`).
    pub fn request_keyframe(&mut self, layer: Option<u32>) {
        for l in &mut self.layers {
            if layer.is_none_or(|want| want == l.index) {
                l.force_keyframe = true;
            }
        }
    }

    /// Scales every layer's bitrate to `scale` (0.1..=1) of the configured
    /// one; the encoders restart with a keyframe when it changes.
    pub fn set_bitrate_scale(&mut self, scale: f32) -> Result<(), MediaError> {
        let scale = scale.clamp(0.1, 1.0);
        if (scale - self.scale).abs() > f32::EPSILON {
            tracing::info!(scale, "changing the video bitrate");
            self.scale = scale;
            self.rebuild()?;
        }
        Ok(())
    }

    /// Current top-layer bitrate in bit/s.
    pub fn bitrate_bps(&self) -> u32 {
        self.layers.last().map_or(0, |l| l.bitrate_bps)
    }

    /// Encodes `frame` (full resolution) into one picture per layer.
    pub fn encode(&mut self, frame: &I420Frame) -> Result<Vec<EncodedVideo>, MediaError> {
        let (w, h) = (self.settings.width, self.settings.height);
        if (frame.width(), frame.height()) != (w, h) {
            return Err(MediaError::BadFrame(format!(
                "frame is {}x{}, the encoder expects {w}x{h}",
                frame.width(),
                frame.height()
            )));
        }
        let half = if self.settings.simulcast {
            Some(frame.half()?)
        } else {
            None
        };
        let period = (self.settings.keyframe_interval.as_secs_f64() * f64::from(self.settings.fps))
            .max(1.0) as u64;
        let last = self.layers.len().saturating_sub(1);
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let input = match (&half, i == last) {
                (Some(half), false) => half,
                _ => frame,
            };
            if layer.force_keyframe || layer.frames_since_keyframe + 1 >= period {
                layer.encoder.force_intra_frame();
                layer.force_keyframe = false;
            }
            let bitstream = layer
                .encoder
                .encode(input)
                .map_err(|err| MediaError::Codec(format!("openh264 encode: {err}")))?;
            let keyframe = matches!(bitstream.frame_type(), FrameType::IDR | FrameType::I);
            let data = bitstream.to_vec();
            if keyframe {
                layer.frames_since_keyframe = 0;
            } else {
                layer.frames_since_keyframe += 1;
            }
            if data.is_empty() {
                continue; // rate control skipped the picture
            }
            out.push(EncodedVideo {
                layer: layer.index,
                keyframe,
                data,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::source::TestPattern;
    use openh264::decoder::Decoder;
    use openh264::formats::YUVSource;

    fn settings(simulcast: bool) -> VideoSettings {
        VideoSettings {
            width: 160,
            height: 120,
            fps: 30,
            bitrate_kbps: 300,
            simulcast,
            keyframe_interval: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_first_frame_is_a_keyframe_and_the_stream_decodes() {
        let mut encoder = VideoEncoder::new(settings(false)).unwrap();
        let pattern = TestPattern::new(160, 120, 30).unwrap();
        let mut decoder = Decoder::new().unwrap();
        let mut decoded = 0;
        for i in 0..10 {
            for picture in encoder.encode(&pattern.draw(i)).unwrap() {
                assert_eq!(picture.keyframe, i == 0);
                if let Some(yuv) = decoder.decode(&picture.data).unwrap() {
                    assert_eq!(yuv.dimensions(), (160, 120));
                    decoded += 1;
                }
            }
        }
        assert_eq!(decoded, 10);
    }

    #[test]
    fn keyframes_come_on_request_and_periodically() {
        let mut encoder = VideoEncoder::new(settings(false)).unwrap();
        let pattern = TestPattern::new(160, 120, 30).unwrap();
        let mut keyframes = Vec::new();
        for i in 0..70 {
            if i == 5 {
                encoder.request_keyframe(None);
            }
            for picture in encoder.encode(&pattern.draw(i)).unwrap() {
                if picture.keyframe {
                    keyframes.push(i);
                }
            }
        }
        // Every 30 frames (1 s at 30 fps) after the last keyframe.
        assert_eq!(keyframes, vec![0, 5, 35, 65]);
    }

    #[test]
    fn simulcast_publishes_a_half_size_layer_0() {
        let mut encoder = VideoEncoder::new(settings(true)).unwrap();
        let pattern = TestPattern::new(160, 120, 30).unwrap();
        let pictures = encoder.encode(&pattern.draw(0)).unwrap();
        assert_eq!(pictures.len(), 2);
        let mut decoder = Decoder::new().unwrap();
        let yuv = decoder.decode(&pictures[0].data).unwrap().unwrap();
        assert_eq!((pictures[0].layer, yuv.dimensions()), (0, (80, 60)));
    }
}
