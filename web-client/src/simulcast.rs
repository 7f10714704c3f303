//! Simulcast layers a sender publishes and which layer a tile asks for.

/// One encoded layer of a video track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSpec {
    /// Wire layer number (0 is the lowest).
    pub layer: u32,
    /// Largest width the layer is scaled into.
    pub max_width: u32,
    /// Largest height the layer is scaled into.
    pub max_height: u32,
    /// Target bitrate, bits per second.
    pub bitrate: u32,
}

/// Camera layers: 320×240 and 640×480.
pub const CAMERA_LAYERS: [LayerSpec; 2] = [
    LayerSpec {
        layer: 0,
        max_width: 320,
        max_height: 240,
        bitrate: 200_000,
    },
    LayerSpec {
        layer: 1,
        max_width: 640,
        max_height: 480,
        bitrate: 700_000,
    },
];

/// Screen layers: 640×360 and 1280×720.
pub const SCREEN_LAYERS: [LayerSpec; 2] = [
    LayerSpec {
        layer: 0,
        max_width: 640,
        max_height: 360,
        bitrate: 300_000,
    },
    LayerSpec {
        layer: 1,
        max_width: 1280,
        max_height: 720,
        bitrate: 1_200_000,
    },
];

/// The highest layer a sender publishes.
pub const HIGH_LAYER: u32 = 1;

/// Tiles at least this wide (CSS pixels) ask for the high layer.
pub const HIGH_LAYER_MIN_WIDTH: f64 = 400.0;

impl LayerSpec {
    /// The encoded size for a `width`×`height` source: scaled down (never
    /// up) to fit the layer, aspect kept, both sides even (H.264 needs it).
    pub fn fit(&self, width: u32, height: u32) -> (u32, u32) {
        if width == 0 || height == 0 {
            return (self.max_width, self.max_height);
        }
        let scale = (f64::from(self.max_width) / f64::from(width))
            .min(f64::from(self.max_height) / f64::from(height))
            .min(1.0);
        let even = |v: f64| ((v.round() as u32) & !1).max(2);
        (
            even(f64::from(width) * scale),
            even(f64::from(height) * scale),
        )
    }
}

/// The layer a tile of `width` CSS pixels should receive.
pub fn layer_for_width(width: f64) -> u32 {
    if width >= HIGH_LAYER_MIN_WIDTH {
        HIGH_LAYER
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_fit_the_source_and_stay_even() {
        assert_eq!(CAMERA_LAYERS[1].fit(640, 480), (640, 480));
        assert_eq!(CAMERA_LAYERS[0].fit(640, 480), (320, 240));
        assert_eq!(SCREEN_LAYERS[1].fit(1920, 1080), (1280, 720));
        assert_eq!(SCREEN_LAYERS[0].fit(1001, 333), (640, 212));
        // Never scaled up.
        assert_eq!(CAMERA_LAYERS[1].fit(160, 120), (160, 120));
    }

    #[test]
    fn big_tiles_ask_for_the_high_layer() {
        assert_eq!(layer_for_width(640.0), HIGH_LAYER);
        assert_eq!(layer_for_width(200.0), 0);
    }
}
