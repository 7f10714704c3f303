//! Raw video frames in I420 (planar YUV 4:2:0), the encoder's input format.

use crate::media::MediaError;

/// One picture in I420: a full-resolution Y plane followed by quarter-size
/// U and V planes, tightly packed (strides equal the plane widths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420Frame {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl I420Frame {
    /// A black frame (Y = 16, U = V = 128). Width and height must be even
    /// and non-zero.
    pub fn black(width: usize, height: usize) -> Result<Self, MediaError> {
        check_dimensions(width, height)?;
        let luma = width * height;
        let mut data = vec![16u8; luma + luma / 2];
        data[luma..].fill(128);
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Wraps packed I420 bytes; fails if the length does not match.
    pub fn from_vec(width: usize, height: usize, data: Vec<u8>) -> Result<Self, MediaError> {
        check_dimensions(width, height)?;
        let expected = width * height * 3 / 2;
        if data.len() != expected {
            return Err(MediaError::BadFrame(format!(
                "I420 {width}x{height} needs {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// All three planes, packed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// The Y plane.
    pub fn y(&self) -> &[u8] {
        &self.data[..self.width * self.height]
    }

    /// The U (Cb) plane.
    pub fn u(&self) -> &[u8] {
        let luma = self.width * self.height;
        &self.data[luma..luma + luma / 4]
    }

    /// The V (Cr) plane.
    pub fn v(&self) -> &[u8] {
        let luma = self.width * self.height;
        &self.data[luma + luma / 4..]
    }

    /// Mutable Y, U and V planes.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let luma = self.width * self.height;
        let (y, chroma) = self.data.split_at_mut(luma);
        let (u, v) = chroma.split_at_mut(luma / 4);
        (y, u, v)
    }

    /// A copy at half the width and height (2×2 box filter), for the lower
    /// simulcast layer. Dimensions are rounded down to even numbers.
    pub fn half(&self) -> Result<Self, MediaError> {
        let (w, h) = ((self.width / 2) & !1, (self.height / 2) & !1);
        let mut out = Self::black(w, h)?;
        let (sw, cw) = (self.width, self.width / 2);
        let (oy, ou, ov) = out.planes_mut();
        downscale(self.y(), sw, oy, w, h);
        downscale(self.u(), cw, ou, w / 2, h / 2);
        downscale(self.v(), cw, ov, w / 2, h / 2);
        Ok(out)
    }
}

/// Averages 2×2 blocks of `src` (row length `src_w`) into `dst` (`w`×`h`).
fn downscale(src: &[u8], src_w: usize, dst: &mut [u8], w: usize, h: usize) {
    for row in 0..h {
        let top = &src[2 * row * src_w..];
        let bottom = &src[(2 * row + 1) * src_w..];
        for col in 0..w {
            let sum = u16::from(top[2 * col])
                + u16::from(top[2 * col + 1])
                + u16::from(bottom[2 * col])
                + u16::from(bottom[2 * col + 1]);
            dst[row * w + col] = ((sum + 2) / 4) as u8;
        }
    }
}

/// I420 needs even, non-zero dimensions.
pub(crate) fn check_dimensions(width: usize, height: usize) -> Result<(), MediaError> {
    if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
        return Err(MediaError::Unsupported(format!(
            "resolution {width}x{height}: width and height must be even and non-zero"
        )));
    }
    Ok(())
}

impl openh264::formats::YUVSource for I420Frame {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.width, self.width / 2, self.width / 2)
    }

    fn y(&self) -> &[u8] {
        I420Frame::y(self)
    }

    fn u(&self) -> &[u8] {
        I420Frame::u(self)
    }

    fn v(&self) -> &[u8] {
        I420Frame::v(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_dimensions_are_refused() {
        assert!(I420Frame::black(641, 480).is_err());
        assert!(I420Frame::black(0, 480).is_err());
    }

    #[test]
    fn halving_averages_blocks() {
        let mut frame = I420Frame::black(4, 4).unwrap();
        frame.planes_mut().0.copy_from_slice(&[
            0, 100, 10, 10, //
            100, 0, 10, 10, //
            0, 0, 255, 255, //
            0, 0, 255, 255,
        ]);
        let half = frame.half().unwrap();
        assert_eq!((half.width(), half.height()), (2, 2));
        assert_eq!(half.y(), &[50, 10, 0, 255]);
    }
}
