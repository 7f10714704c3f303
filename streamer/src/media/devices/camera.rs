//! Cameras through nokhwa (V4L2 on Linux): listing, their capture modes,
//! and a [`FrameSource`] that converts every captured buffer to I420.

use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
};
use nokhwa::{Camera, NokhwaError};
use std::sync::mpsc::{sync_channel, Receiver};

use crate::media::convert::{to_i420, PixelFormat};
use crate::media::devices::modes::{self, CameraMode, CaptureFormat};
use crate::media::frame::I420Frame;
use crate::media::source::FrameSource;
use crate::media::MediaError;

/// Every format nokhwa knows, so opening a camera to look at it accepts
/// whatever the camera is set to.
const ANY_FORMAT: [FrameFormat; 6] = [
    FrameFormat::MJPEG,
    FrameFormat::YUYV,
    FrameFormat::NV12,
    FrameFormat::GRAY,
    FrameFormat::RAWRGB,
    FrameFormat::RAWBGR,
];

/// Converted frames waiting for the encoder.
const FRAME_QUEUE: usize = 2;

/// Cameras as `index: name (description)` lines.
pub fn list() -> Result<Vec<String>, MediaError> {
    let cameras = nokhwa::query(ApiBackend::Auto)
        .map_err(|err| MediaError::Device(format!("listing cameras: {err}")))?;
    Ok(cameras
        .iter()
        .map(|info| {
            format!(
                "{}: {} ({})",
                info.index(),
                info.human_name(),
                info.description()
            )
        })
        .collect())
}

/// Camera `index`'s capture modes, one line per format and resolution.
pub fn list_formats(index: u32) -> Result<Vec<String>, MediaError> {
    let mut camera = probe(index)?;
    Ok(modes::describe(&capture_modes(&mut camera, index)?))
}

/// Opens camera `index` in exactly `format`, `width`×`height` at `fps`.
///
/// The camera lives on its own capture thread (backends are not all safe to
/// move between threads), which converts each buffer to I420 and hands it
/// over through a short queue; when the queue is full the thread waits and
/// the driver drops frames.
pub fn open(
    index: u32,
    format: PixelFormat,
    width: usize,
    height: usize,
    fps: u32,
) -> Result<Box<dyn FrameSource>, MediaError> {
    let (opened_tx, opened_rx) = sync_channel(1);
    let (frames_tx, frames_rx) = sync_channel(FRAME_QUEUE);
    std::thread::Builder::new()
        .name(format!("camera-{index}"))
        .spawn(move || {
            let mut camera = match start(index, format, width, height, fps) {
                Ok(camera) => {
                    let _ = opened_tx.send(Ok(()));
                    camera
                }
                Err(err) => {
                    let _ = opened_tx.send(Err(err));
                    return;
                }
            };
            loop {
                let frame = match camera.frame_raw() {
                    Ok(raw) => to_i420(format, &raw, width, height),
                    Err(err) => Err(device_error(index, "capturing", &err)),
                };
                let failed = frame.is_err();
                // The receiver is gone once the stream ends: stop capturing.
                if frames_tx.send(frame).is_err() || failed {
                    break;
                }
            }
            if let Err(err) = camera.stop_stream() {
                tracing::warn!(camera = index, "stopping the capture: {err}");
            }
        })
        .map_err(|err| MediaError::Device(format!("camera {index}: capture thread: {err}")))?;
    opened_rx.recv().map_err(|_| {
        MediaError::Device(format!(
            "camera {index}: the capture thread ended while opening"
        ))
    })??;
    Ok(Box::new(CameraSource {
        frames: frames_rx,
        index,
        width,
        height,
        fps,
    }))
}

/// Opens camera `index`, checks that it offers the mode asked for, sets it
/// and starts streaming.
fn start(
    index: u32,
    format: PixelFormat,
    width: usize,
    height: usize,
    fps: u32,
) -> Result<Camera, MediaError> {
    let mut camera = probe(index)?;
    let offered = capture_modes(&mut camera, index)?;
    let mode = modes::choose(&offered, format, width, height, fps)
        .map_err(|err| MediaError::Unsupported(format!("camera {index}: {}", detail(err))))?;
    let exact = CameraFormat::new_from(mode.width, mode.height, frame_format(format), mode.fps);
    let wanted = [frame_format(format)];
    camera
        .set_camera_requset(RequestedFormat::with_formats(
            RequestedFormatType::Exact(exact),
            &wanted,
        ))
        .map_err(|err| device_error(index, "setting the capture mode", &err))?;
    camera
        .open_stream()
        .map_err(|err| device_error(index, "starting the capture", &err))?;
    Ok(camera)
}

/// Opens camera `index` in whatever mode it is in, after checking that it
/// exists, so a missing camera gets its own message.
fn probe(index: u32) -> Result<Camera, MediaError> {
    let present = nokhwa::query(ApiBackend::Auto)
        .map_err(|err| MediaError::Device(format!("listing cameras: {err}")))?;
    if !present
        .iter()
        .any(|info| info.index().as_index().ok() == Some(index))
    {
        let found = if present.is_empty() {
            "this machine has no cameras".to_owned()
        } else {
            let indices: Vec<String> = present.iter().map(|i| i.index().to_string()).collect();
            format!("cameras found: {}", indices.join(", "))
        };
        return Err(MediaError::Device(format!(
            "camera {index} not found ({found}; see `edgecall-stream info --list-cameras`, \
             or use --video-source test-pattern)"
        )));
    }
    let requested =
        RequestedFormat::with_formats(RequestedFormatType::AbsoluteHighestFrameRate, &ANY_FORMAT);
    Camera::new(CameraIndex::Index(index), requested)
        .map_err(|err| device_error(index, "opening", &err))
}

/// Every mode the open camera offers.
fn capture_modes(camera: &mut Camera, index: u32) -> Result<Vec<CameraMode>, MediaError> {
    let formats = camera
        .compatible_camera_formats()
        .map_err(|err| device_error(index, "reading its capture modes", &err))?;
    Ok(formats
        .iter()
        .map(|format| CameraMode {
            format: capture_format(format.format()),
            width: format.width(),
            height: format.height(),
            fps: format.frame_rate(),
        })
        .collect())
}

fn capture_format(format: FrameFormat) -> CaptureFormat {
    match format {
        FrameFormat::NV12 => CaptureFormat::Supported(PixelFormat::Nv12),
        FrameFormat::YUYV => CaptureFormat::Supported(PixelFormat::Yuyv),
        FrameFormat::MJPEG => CaptureFormat::Supported(PixelFormat::Mjpeg),
        other => CaptureFormat::Other(other.to_string()),
    }
}

fn frame_format(format: PixelFormat) -> FrameFormat {
    match format {
        PixelFormat::Nv12 => FrameFormat::NV12,
        PixelFormat::Yuyv => FrameFormat::YUYV,
        PixelFormat::Mjpeg => FrameFormat::MJPEG,
    }
}

/// The message of a [`MediaError`] without its kind prefix.
fn detail(err: MediaError) -> String {
    match err {
        MediaError::Unsupported(text)
        | MediaError::BadFrame(text)
        | MediaError::Codec(text)
        | MediaError::Device(text) => text,
    }
}

/// A device failure with what we were doing, and a hint when the camera is
/// held by another program.
fn device_error(index: u32, doing: &str, err: &NokhwaError) -> MediaError {
    let text = err.to_string();
    let busy = text.contains("busy") || text.contains("EBUSY");
    let hint = if busy {
        " (another program is using the camera)"
    } else {
        ""
    };
    MediaError::Device(format!("camera {index}: {doing}: {text}{hint}"))
}

/// The receiving end of a camera's capture thread; `next_frame` blocks
/// until the camera delivers.
struct CameraSource {
    frames: Receiver<Result<I420Frame, MediaError>>,
    index: u32,
    width: usize,
    height: usize,
    fps: u32,
}

impl FrameSource for CameraSource {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn fps(&self) -> u32 {
        self.fps
    }

    fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
        self.frames.recv().map_err(|_| {
            MediaError::Device(format!("camera {}: the capture stopped", self.index))
        })?
    }
}
