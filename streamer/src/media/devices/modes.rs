//! Camera capture modes (pixel format, resolution, frame rate): picking the
//! one `--frame-format`, `--resolution` and `--fps` ask for, with an error
//! that says what the camera offers instead, and listing them for
//! `info --list-formats`.

use std::collections::BTreeMap;
use std::fmt;

use crate::media::convert::PixelFormat;
use crate::media::MediaError;

/// A camera pixel format: one this crate converts, or another one the
/// camera reports (listed, never chosen).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum CaptureFormat {
    /// NV12, YUYV or MJPEG.
    Supported(PixelFormat),
    /// Anything else (GRAY, RGB3, …), by the name the backend gives it.
    Other(String),
}

impl fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureFormat::Supported(format) => write!(f, "{format}"),
            CaptureFormat::Other(name) => f.write_str(name),
        }
    }
}

/// One mode a camera can capture in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CameraMode {
    /// Pixel format.
    pub format: CaptureFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

/// Picks the mode with exactly `format`, `width`×`height` and `fps` from
/// what the camera offers; otherwise says which of the three it lacks and
/// what it has instead.
pub fn choose(
    modes: &[CameraMode],
    format: PixelFormat,
    width: usize,
    height: usize,
    fps: u32,
) -> Result<CameraMode, MediaError> {
    let hint = "see `edgecall-stream info --list-formats`";
    if modes.is_empty() {
        return Err(MediaError::Unsupported(format!(
            "the camera reports no capture modes ({hint})"
        )));
    }
    let wanted = CaptureFormat::Supported(format);
    let in_format: Vec<&CameraMode> = modes.iter().filter(|m| m.format == wanted).collect();
    if in_format.is_empty() {
        let offered = join(modes.iter().map(|m| m.format.to_string()));
        return Err(MediaError::Unsupported(format!(
            "frame format {format}: this camera offers {offered} ({hint})"
        )));
    }
    let at_size: Vec<&CameraMode> = in_format
        .iter()
        .copied()
        .filter(|m| m.width as usize == width && m.height as usize == height)
        .collect();
    if at_size.is_empty() {
        let offered = join(
            in_format
                .iter()
                .map(|m| format!("{}x{}", m.width, m.height)),
        );
        return Err(MediaError::Unsupported(format!(
            "resolution {width}x{height} in {format}: this camera offers {offered} ({hint})"
        )));
    }
    match at_size.iter().find(|m| m.fps == fps) {
        Some(mode) => Ok((*mode).clone()),
        None => {
            let offered = join(at_size.iter().map(|m| m.fps.to_string()));
            Err(MediaError::Unsupported(format!(
                "{fps} fps at {width}x{height} {format}: this camera offers {offered} fps ({hint})"
            )))
        }
    }
}

/// One line per format and resolution, with its frame rates:
/// `MJPEG 1280x720 @ 30, 15 fps`. Formats this crate cannot convert are
/// marked.
pub fn describe(modes: &[CameraMode]) -> Vec<String> {
    let mut grouped: BTreeMap<(&CaptureFormat, u32, u32), Vec<u32>> = BTreeMap::new();
    for mode in modes {
        grouped
            .entry((&mode.format, mode.width, mode.height))
            .or_default()
            .push(mode.fps);
    }
    grouped
        .into_iter()
        .map(|((format, width, height), mut rates)| {
            rates.sort_unstable_by(|a, b| b.cmp(a));
            rates.dedup();
            let note = match format {
                CaptureFormat::Supported(_) => "",
                CaptureFormat::Other(_) => "  (not usable: pick NV12, YUYV or MJPEG)",
            };
            format!(
                "{format} {width}x{height} @ {} fps{note}",
                join(rates.iter().map(u32::to_string))
            )
        })
        .collect()
}

/// Distinct values in first-seen order, comma separated.
fn join(values: impl Iterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(format: PixelFormat, width: u32, height: u32, fps: u32) -> CameraMode {
        CameraMode {
            format: CaptureFormat::Supported(format),
            width,
            height,
            fps,
        }
    }

    fn webcam() -> Vec<CameraMode> {
        vec![
            mode(PixelFormat::Yuyv, 640, 480, 30),
            mode(PixelFormat::Yuyv, 1280, 720, 10),
            mode(PixelFormat::Yuyv, 1280, 720, 5),
            mode(PixelFormat::Mjpeg, 1280, 720, 30),
            mode(PixelFormat::Mjpeg, 1280, 720, 15),
            CameraMode {
                format: CaptureFormat::Other("GRAY".into()),
                width: 640,
                height: 480,
                fps: 30,
            },
        ]
    }

    #[test]
    fn the_exact_mode_is_chosen() {
        let chosen = choose(&webcam(), PixelFormat::Mjpeg, 1280, 720, 15).unwrap();
        assert_eq!(chosen, mode(PixelFormat::Mjpeg, 1280, 720, 15));
    }

    #[test]
    fn a_missing_format_lists_the_offered_ones() {
        let err = choose(&webcam(), PixelFormat::Nv12, 1280, 720, 30).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("frame format NV12: this camera offers YUYV, MJPEG, GRAY"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_resolution_lists_the_sizes_in_that_format() {
        let err = choose(&webcam(), PixelFormat::Yuyv, 1920, 1080, 30).unwrap_err();
        assert!(
            err.to_string()
                .contains("resolution 1920x1080 in YUYV: this camera offers 640x480, 1280x720"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_rate_lists_the_rates_at_that_size() {
        let err = choose(&webcam(), PixelFormat::Yuyv, 1280, 720, 30).unwrap_err();
        assert!(
            err.to_string()
                .contains("30 fps at 1280x720 YUYV: this camera offers 10, 5 fps"),
            "{err}"
        );
    }

    #[test]
    fn no_modes_at_all_is_an_error() {
        assert!(choose(&[], PixelFormat::Nv12, 640, 480, 30).is_err());
    }

    #[test]
    fn modes_are_listed_per_format_and_size() {
        assert_eq!(
            describe(&webcam()),
            [
                "YUYV 640x480 @ 30 fps",
                "YUYV 1280x720 @ 10, 5 fps",
                "MJPEG 1280x720 @ 30, 15 fps",
                "GRAY 640x480 @ 30 fps  (not usable: pick NV12, YUYV or MJPEG)",
            ]
        );
    }
}
