//! Media: raw frames, format conversion, synthetic sources, H.264 and Opus
//! encoding. Capture devices live behind the [`FrameSource`] and
//! [`AudioSource`] traits so tests and headless machines use synthetic
//! sources.

pub mod audio;
pub mod convert;
pub mod devices;
pub mod frame;
pub mod h264;
pub mod source;

pub use audio::{audio_level, AudioSource, OpusEncoder, Tone};
pub use convert::{to_i420, PixelFormat};
pub use frame::I420Frame;
pub use h264::{EncodedVideo, VideoEncoder, VideoSettings};
pub use source::{FrameSource, TestPattern};

/// Why capturing, converting or encoding media failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The device, format or resolution is not supported.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A captured buffer could not be used.
    #[error("bad frame: {0}")]
    BadFrame(String),
    /// The encoder failed.
    #[error("codec: {0}")]
    Codec(String),
    /// A capture device failed (missing, busy, unplugged).
    #[error("device: {0}")]
    Device(String),
}
