//! Where raw video comes from: the [`FrameSource`] trait and the synthetic
//! test pattern (cameras are in `camera`, behind the `camera` feature).

use std::time::{Duration, Instant};

use crate::media::frame::I420Frame;
use crate::media::MediaError;

/// A source of raw video. `next_frame` blocks until the next picture is
/// due (a camera paces itself; synthetic sources sleep to their frame rate).
pub trait FrameSource: Send {
    /// Width and height of the frames this source produces.
    fn dimensions(&self) -> (usize, usize);
    /// Frames per second the source aims for.
    fn fps(&self) -> u32;
    /// The next picture in I420.
    fn next_frame(&mut self) -> Result<I420Frame, MediaError>;
}

/// Moving colour bars with a sweeping line and a frame counter stripe,
/// paced in real time (or as fast as asked with [`TestPattern::unpaced`]).
pub struct TestPattern {
    width: usize,
    height: usize,
    fps: u32,
    index: u64,
    paced: bool,
    started: Option<Instant>,
}

impl TestPattern {
    /// A real-time pattern at `width`×`height` and `fps`.
    pub fn new(width: usize, height: usize, fps: u32) -> Result<Self, MediaError> {
        crate::media::frame::check_dimensions(width, height)?;
        if fps == 0 || fps > 120 {
            return Err(MediaError::Unsupported(format!(
                "frame rate {fps}: use 1 to 120"
            )));
        }
        Ok(Self {
            width,
            height,
            fps,
            index: 0,
            paced: true,
            started: None,
        })
    }

    /// Produces frames as fast as they are asked for (benchmarks, bots'
    /// pre-encoding).
    pub fn unpaced(mut self) -> Self {
        self.paced = false;
        self
    }

    /// Draws frame `index` without waiting.
    pub fn draw(&self, index: u64) -> I420Frame {
        let (w, h) = (self.width, self.height);
        let mut frame = match I420Frame::black(w, h) {
            Ok(frame) => frame,
            Err(_) => unreachable!("dimensions checked in TestPattern::new"),
        };
        // Eight bars scrolling left by 4 pixels per frame.
        const BARS: [(u8, u8, u8); 8] = [
            (235, 128, 128),
            (210, 16, 146),
            (170, 166, 16),
            (145, 54, 34),
            (106, 202, 222),
            (81, 90, 240),
            (41, 240, 110),
            (16, 128, 128),
        ];
        let shift = (index as usize * 4) % w;
        let bar_of = |x: usize| BARS[((x + shift) % w) * BARS.len() / w];
        let sweep = (index as usize * 2) % h;
        let (y, u, v) = frame.planes_mut();
        for row in 0..h {
            for col in 0..w {
                let luma = if row == sweep { 255 } else { bar_of(col).0 };
                y[row * w + col] = luma;
            }
        }
        for row in 0..h / 2 {
            for col in 0..w / 2 {
                let (_, cb, cr) = bar_of(col * 2);
                u[row * (w / 2) + col] = cb;
                v[row * (w / 2) + col] = cr;
            }
        }
        // The frame number in binary as a stripe of 32 blocks at the bottom.
        let block = (w / 32).max(1);
        let stripe_top = h.saturating_sub(block.min(h / 8).max(2));
        for bit in 0..32.min(w / block) {
            let on = (index >> bit) & 1 == 1;
            for row in stripe_top..h {
                for col in bit * block..(bit + 1) * block {
                    y[row * w + col] = if on { 235 } else { 16 };
                }
            }
        }
        frame
    }
}

impl FrameSource for TestPattern {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn fps(&self) -> u32 {
        self.fps
    }

    fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
        if self.paced {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = started + frame_offset(self.index, self.fps);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let frame = self.draw(self.index);
        self.index += 1;
        Ok(frame)
    }
}

/// When frame `index` is due after the start at `fps`.
fn frame_offset(index: u64, fps: u32) -> Duration {
    Duration::from_micros(index.saturating_mul(1_000_000) / u64::from(fps.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_pattern_frames_differ_and_have_the_asked_size() {
        let pattern = TestPattern::new(64, 48, 30).unwrap();
        let (a, b) = (pattern.draw(0), pattern.draw(1));
        assert_eq!((a.width(), a.height()), (64, 48));
        assert_ne!(a, b);
    }

    #[test]
    fn frame_offsets_follow_the_rate() {
        assert_eq!(frame_offset(30, 30), Duration::from_secs(1));
        assert_eq!(frame_offset(1, 4), Duration::from_millis(250));
    }
}
