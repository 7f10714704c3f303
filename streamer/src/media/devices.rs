//! Capture devices: cameras (nokhwa, V4L2 on Linux) and microphones (cpal).
//!
//! These are compiled in only with the `camera` and `mic` features, which
//! need system libraries (`libclang-dev` for nokhwa's bindgen,
//! `libasound2-dev` for cpal). Without them, asking for a device gives a
//! clear error that points at the synthetic sources.

use crate::media::audio::AudioSource;
use crate::media::convert::PixelFormat;
use crate::media::source::FrameSource;
use crate::media::MediaError;

const NO_CAMERA: &str =
    "this edgecall-stream was built without camera support (cargo feature `camera`); \
     rebuild with `--features camera` or use --video-source test-pattern";
const NO_MIC: &str =
    "this edgecall-stream was built without microphone support (cargo feature `mic`); \
     rebuild with `--features mic` or use --audio-source tone";

/// Cameras as `index: name` lines.
pub fn list_cameras() -> Result<Vec<String>, MediaError> {
    Err(MediaError::Device(NO_CAMERA.into()))
}

/// The formats and resolutions camera `index` offers.
pub fn list_formats(index: u32) -> Result<Vec<String>, MediaError> {
    let _ = index;
    Err(MediaError::Device(NO_CAMERA.into()))
}

/// Opens camera `index` at `format`, `width`×`height` and `fps`.
pub fn open_camera(
    index: u32,
    format: PixelFormat,
    width: usize,
    height: usize,
    fps: u32,
) -> Result<Box<dyn FrameSource>, MediaError> {
    let _ = (index, format, width, height, fps);
    Err(MediaError::Device(NO_CAMERA.into()))
}

/// Audio input device names.
pub fn list_audio_inputs() -> Result<Vec<String>, MediaError> {
    Err(MediaError::Device(NO_MIC.into()))
}

/// Opens the microphone called `name` (the default one if `None`).
pub fn open_microphone(name: Option<&str>) -> Result<Box<dyn AudioSource>, MediaError> {
    let _ = name;
    Err(MediaError::Device(NO_MIC.into()))
}
