//! Capture devices: cameras (nokhwa, V4L2 on Linux) and microphones (cpal).
//!
//! The backends are compiled in only with the `camera` and `mic` features,
//! which need system libraries (`libclang-dev` for nokhwa's bindgen,
//! `libasound2-dev` for cpal's ALSA). Without them, asking for a device
//! gives a clear error that points at the synthetic sources. The device-free
//! parts (choosing a camera mode, turning microphone buffers into 20 ms
//! frames) are always built so they are tested everywhere.

#[cfg(feature = "camera")]
mod camera;
#[cfg(feature = "mic")]
mod mic;
pub mod modes;
pub mod pcm;

use crate::media::audio::AudioSource;
use crate::media::convert::PixelFormat;
use crate::media::source::FrameSource;
use crate::media::MediaError;

#[cfg(not(feature = "camera"))]
const NO_CAMERA: &str =
    "this edgecall-stream was built without camera support (cargo feature `camera`); \
     rebuild with `--features camera` or use --video-source test-pattern";
#[cfg(not(feature = "mic"))]
const NO_MIC: &str =
    "this edgecall-stream was built without microphone support (cargo feature `mic`); \
     rebuild with `--features mic` or use --audio-source tone";

/// Cameras as `index: name` lines.
pub fn list_cameras() -> Result<Vec<String>, MediaError> {
    #[cfg(feature = "camera")]
    {
        camera::list()
    }
    #[cfg(not(feature = "camera"))]
    {
        Err(MediaError::Device(NO_CAMERA.into()))
    }
}

/// The formats and resolutions camera `index` offers, one line per format
/// and resolution with its frame rates.
pub fn list_formats(index: u32) -> Result<Vec<String>, MediaError> {
    #[cfg(feature = "camera")]
    {
        camera::list_formats(index)
    }
    #[cfg(not(feature = "camera"))]
    {
        let _ = index;
        Err(MediaError::Device(NO_CAMERA.into()))
    }
}

/// Opens camera `index` at `format`, `width`×`height` and `fps`; its frames
/// come out as I420.
pub fn open_camera(
    index: u32,
    format: PixelFormat,
    width: usize,
    height: usize,
    fps: u32,
) -> Result<Box<dyn FrameSource>, MediaError> {
    #[cfg(feature = "camera")]
    {
        camera::open(index, format, width, height, fps)
    }
    #[cfg(not(feature = "camera"))]
    {
        let _ = (index, format, width, height, fps);
        Err(MediaError::Device(NO_CAMERA.into()))
    }
}

/// Audio input device names.
pub fn list_audio_inputs() -> Result<Vec<String>, MediaError> {
    #[cfg(feature = "mic")]
    {
        mic::list()
    }
    #[cfg(not(feature = "mic"))]
    {
        Err(MediaError::Device(NO_MIC.into()))
    }
}

/// Opens the microphone called `name` (the default one if `None`); it
/// delivers 48 kHz mono 20 ms frames whatever the device's own rate and
/// channel count.
pub fn open_microphone(name: Option<&str>) -> Result<Box<dyn AudioSource>, MediaError> {
    #[cfg(feature = "mic")]
    {
        mic::open(name)
    }
    #[cfg(not(feature = "mic"))]
    {
        let _ = name;
        Err(MediaError::Device(NO_MIC.into()))
    }
}
