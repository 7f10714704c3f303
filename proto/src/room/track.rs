//! Track kinds and simulcast layers as the engine sees them.

use crate::wire::Track;

/// Highest simulcast layer (layers are 0, 1 and 2).
pub const MAX_LAYER: u8 = 2;
/// Number of simulcast layers.
pub const LAYERS: usize = MAX_LAYER as usize + 1;

/// A layer from the wire as an engine layer: anything above [`MAX_LAYER`]
/// means the top layer.
pub(crate) fn layer_from_wire(layer: u32) -> u8 {
    u8::try_from(layer).unwrap_or(MAX_LAYER).min(MAX_LAYER)
}

/// A participant's media track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrackKind {
    /// Microphone.
    Audio,
    /// Camera video.
    Camera,
    /// Screen-share video.
    Screen,
}

impl TrackKind {
    /// Every track kind, in wire order.
    pub const ALL: [TrackKind; 3] = [TrackKind::Audio, TrackKind::Camera, TrackKind::Screen];

    /// Maps a wire track; `None` for `TRACK_UNSPECIFIED` or unknown values.
    pub fn from_wire(value: i32) -> Option<Self> {
        match Track::try_from(value).ok()? {
            Track::Audio => Some(TrackKind::Audio),
            Track::Camera => Some(TrackKind::Camera),
            Track::Screen => Some(TrackKind::Screen),
            Track::Unspecified => None,
        }
    }

    /// The wire value.
    pub fn to_wire(self) -> Track {
        match self {
            TrackKind::Audio => Track::Audio,
            TrackKind::Camera => Track::Camera,
            TrackKind::Screen => Track::Screen,
        }
    }

    /// True for camera and screen.
    pub fn is_video(self) -> bool {
        !matches!(self, TrackKind::Audio)
    }

    /// Dense index 0..3, for per-track arrays.
    pub fn index(self) -> usize {
        match self {
            TrackKind::Audio => 0,
            TrackKind::Camera => 1,
            TrackKind::Screen => 2,
        }
    }
}

/// The layer actually forwarded for a wanted maximum, given which layers the
/// sender publishes (bit L of `published` set: layer L is live): the highest
/// published layer not above `cap`, else the lowest published one, else
/// `cap` itself when nothing has been seen yet.
pub fn clamp_layer(cap: u8, published: u8) -> u8 {
    if published == 0 {
        return cap;
    }
    (0..=cap.min(MAX_LAYER))
        .rev()
        .find(|l| published & (1 << l) != 0)
        .or_else(|| (0..=MAX_LAYER).find(|l| published & (1 << l) != 0))
        .unwrap_or(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_prefers_highest_published_at_or_below_cap() {
        assert_eq!(clamp_layer(2, 0b111), 2);
        assert_eq!(clamp_layer(1, 0b111), 1);
        assert_eq!(clamp_layer(2, 0b011), 1);
        assert_eq!(
            clamp_layer(0, 0b110),
            1,
            "falls back to the lowest live layer"
        );
        assert_eq!(clamp_layer(2, 0), 2, "nothing seen yet: keep the cap");
    }

    #[test]
    fn wire_track_round_trips() {
        for t in TrackKind::ALL {
            assert_eq!(TrackKind::from_wire(t.to_wire() as i32), Some(t));
        }
        assert_eq!(TrackKind::from_wire(0), None);
        assert_eq!(TrackKind::from_wire(99), None);
    }
}
