//! Camera pixel formats to I420: NV12, YUYV (4:2:2 packed) and MJPEG.

use std::fmt;
use std::str::FromStr;

use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::media::frame::{check_dimensions, I420Frame};
use crate::media::MediaError;

/// A pixel format a camera can deliver (the `--frame-format` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PixelFormat {
    /// Y plane, then interleaved U/V at quarter resolution.
    Nv12,
    /// Packed 4:2:2: `Y0 U Y1 V` for every two pixels.
    Yuyv,
    /// Motion JPEG: every frame a JPEG image.
    Mjpeg,
}

impl PixelFormat {
    /// Every supported format.
    pub const ALL: [PixelFormat; 3] = [PixelFormat::Nv12, PixelFormat::Yuyv, PixelFormat::Mjpeg];
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PixelFormat::Nv12 => "NV12",
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::Mjpeg => "MJPEG",
        })
    }
}

impl FromStr for PixelFormat {
    type Err = MediaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "NV12" => Ok(PixelFormat::Nv12),
            "YUYV" | "YUY2" => Ok(PixelFormat::Yuyv),
            "MJPEG" | "MJPG" => Ok(PixelFormat::Mjpeg),
            other => Err(MediaError::Unsupported(format!(
                "frame format {other:?}: use NV12, YUYV or MJPEG"
            ))),
        }
    }
}

/// Converts one camera buffer of `format` at `width`×`height` to I420.
pub fn to_i420(
    format: PixelFormat,
    data: &[u8],
    width: usize,
    height: usize,
) -> Result<I420Frame, MediaError> {
    match format {
        PixelFormat::Nv12 => nv12_to_i420(data, width, height),
        PixelFormat::Yuyv => yuyv_to_i420(data, width, height),
        PixelFormat::Mjpeg => mjpeg_to_i420(data, width, height),
    }
}

fn expect_len(format: &str, data: &[u8], expected: usize) -> Result<(), MediaError> {
    if data.len() < expected {
        return Err(MediaError::BadFrame(format!(
            "{format} frame is {} bytes, expected {expected}",
            data.len()
        )));
    }
    Ok(())
}

/// NV12 → I420: the Y plane is copied, the interleaved chroma split.
pub fn nv12_to_i420(data: &[u8], width: usize, height: usize) -> Result<I420Frame, MediaError> {
    check_dimensions(width, height)?;
    let luma = width * height;
    expect_len("NV12", data, luma + luma / 2)?;
    let mut frame = I420Frame::black(width, height)?;
    let (y, u, v) = frame.planes_mut();
    y.copy_from_slice(&data[..luma]);
    for (i, pair) in data[luma..luma + luma / 2].chunks_exact(2).enumerate() {
        u[i] = pair[0];
        v[i] = pair[1];
    }
    Ok(frame)
}

/// YUYV → I420: luma copied, chroma averaged over each pair of rows.
pub fn yuyv_to_i420(data: &[u8], width: usize, height: usize) -> Result<I420Frame, MediaError> {
    check_dimensions(width, height)?;
    expect_len("YUYV", data, width * height * 2)?;
    let mut frame = I420Frame::black(width, height)?;
    let (y, u, v) = frame.planes_mut();
    let row_bytes = width * 2;
    for row in 0..height {
        let src = &data[row * row_bytes..(row + 1) * row_bytes];
        for (col, px) in src.chunks_exact(2).enumerate() {
            y[row * width + col] = px[0];
        }
    }
    let cw = width / 2;
    for crow in 0..height / 2 {
        let top = &data[2 * crow * row_bytes..];
        let bottom = &data[(2 * crow + 1) * row_bytes..];
        for ccol in 0..cw {
            let i = ccol * 4;
            u[crow * cw + ccol] = avg(top[i + 1], bottom[i + 1]);
            v[crow * cw + ccol] = avg(top[i + 3], bottom[i + 3]);
        }
    }
    Ok(frame)
}

/// MJPEG → I420: decoded to full-resolution YCbCr by `zune-jpeg`, then the
/// chroma subsampled 2×2.
pub fn mjpeg_to_i420(data: &[u8], width: usize, height: usize) -> Result<I420Frame, MediaError> {
    check_dimensions(width, height)?;
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::YCbCr);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
    let pixels = decoder
        .decode()
        .map_err(|err| MediaError::BadFrame(format!("MJPEG frame: {err:?}")))?;
    let info = decoder
        .info()
        .ok_or_else(|| MediaError::BadFrame("MJPEG frame without a header".into()))?;
    let (w, h) = (usize::from(info.width), usize::from(info.height));
    if (w, h) != (width, height) {
        return Err(MediaError::BadFrame(format!(
            "MJPEG frame is {w}x{h}, expected {width}x{height}"
        )));
    }
    expect_len("decoded MJPEG", &pixels, w * h * 3)?;
    let mut frame = I420Frame::black(width, height)?;
    let (y, u, v) = frame.planes_mut();
    for (i, px) in pixels.chunks_exact(3).take(w * h).enumerate() {
        y[i] = px[0];
    }
    let cw = width / 2;
    for crow in 0..height / 2 {
        for ccol in 0..cw {
            let at = |r: usize, c: usize, k: usize| u16::from(pixels[(r * width + c) * 3 + k]);
            let (r, c) = (2 * crow, 2 * ccol);
            let sum = |k| at(r, c, k) + at(r, c + 1, k) + at(r + 1, c, k) + at(r + 1, c + 1, k);
            u[crow * cw + ccol] = ((sum(1) + 2) / 4) as u8;
            v[crow * cw + ccol] = ((sum(2) + 2) / 4) as u8;
        }
    }
    Ok(frame)
}

fn avg(a: u8, b: u8) -> u8 {
    (u16::from(a) + u16::from(b)).div_ceil(2) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nv12_chroma_is_deinterleaved() {
        // 2x2 image: Y = 1,2,3,4; one chroma sample U=100 V=200.
        let frame = nv12_to_i420(&[1, 2, 3, 4, 100, 200], 2, 2).unwrap();
        assert_eq!(frame.y(), &[1, 2, 3, 4]);
        assert_eq!(frame.u(), &[100]);
        assert_eq!(frame.v(), &[200]);
    }

    #[test]
    fn yuyv_chroma_is_averaged_over_row_pairs() {
        // 2x2: row 0 = Y0 U Y1 V = 10 100 20 200, row 1 = 30 110 40 210.
        let frame = yuyv_to_i420(&[10, 100, 20, 200, 30, 110, 40, 210], 2, 2).unwrap();
        assert_eq!(frame.y(), &[10, 20, 30, 40]);
        assert_eq!(frame.u(), &[105]);
        assert_eq!(frame.v(), &[205]);
    }

    #[test]
    fn short_buffers_are_an_error_not_a_panic() {
        assert!(nv12_to_i420(&[0; 5], 2, 2).is_err());
        assert!(yuyv_to_i420(&[0; 7], 2, 2).is_err());
        assert!(mjpeg_to_i420(b"not a jpeg", 2, 2).is_err());
    }

    #[test]
    fn mjpeg_of_a_known_colour_decodes_to_its_yuv() {
        // 16x16 solid BT.601 full-range colour: RGB (200, 60, 40).
        let (w, h) = (16u16, 16u16);
        let rgb: Vec<u8> = [200u8, 60, 40].repeat(usize::from(w) * usize::from(h));
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 95)
            .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let frame = mjpeg_to_i420(&jpeg, 16, 16).unwrap();
        // JFIF (full range): Y = .299R+.587G+.114B ≈ 99, Cb ≈ 94, Cr ≈ 200.
        let close = |plane: &[u8], want: i32| {
            plane
                .iter()
                .all(|&value| (i32::from(value) - want).abs() <= 4)
        };
        assert!(close(frame.y(), 99), "Y {:?}", &frame.y()[..4]);
        assert!(close(frame.u(), 94), "U {:?}", &frame.u()[..4]);
        assert!(close(frame.v(), 200), "V {:?}", &frame.v()[..4]);
        assert!(mjpeg_to_i420(&jpeg, 32, 16).is_err(), "size mismatch");
    }

    #[test]
    fn format_names_parse_case_insensitively() {
        assert_eq!("nv12".parse::<PixelFormat>().unwrap(), PixelFormat::Nv12);
        assert_eq!("MJPG".parse::<PixelFormat>().unwrap(), PixelFormat::Mjpeg);
        assert!("RGB3".parse::<PixelFormat>().is_err());
    }
}
