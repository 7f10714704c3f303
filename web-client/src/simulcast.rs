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

/// Camera layers: 160×120, 320×240 and 640×480 (the three the engine
/// forwards: a filmstrip thumbnail, a grid tile, a large tile).
pub const CAMERA_LAYERS: [LayerSpec; 3] = [
    LayerSpec {
        layer: 0,
        max_width: 160,
        max_height: 120,
        bitrate: 100_000,
    },
    LayerSpec {
        layer: 1,
        max_width: 320,
        max_height: 240,
        bitrate: 250_000,
    },
    LayerSpec {
        layer: 2,
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

/// Tiles at least this wide (CSS pixels) ask for layer 1.
pub const MIDDLE_LAYER_MIN_WIDTH: f64 = 200.0;

/// Tiles at least this wide (CSS pixels) ask for the top layer, 2 (a
/// sender with fewer layers sends its highest: the engine clamps).
pub const TOP_LAYER_MIN_WIDTH: f64 = 400.0;

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
    if width >= TOP_LAYER_MIN_WIDTH {
        2
    } else if width >= MIDDLE_LAYER_MIN_WIDTH {
        1
    } else {
        0
    }
}

/// Whether layer `index` of `layers` is worth encoding for a
/// `width`×`height` source: the lowest always is; a higher one only when
/// it comes out larger than the layer below (a camera smaller than the
/// layer would give the same picture twice, at twice the cost).
pub fn adds_detail(layers: &[LayerSpec], index: usize, width: u32, height: u32) -> bool {
    match index.checked_sub(1).and_then(|below| layers.get(below)) {
        None => index == 0 && !layers.is_empty(),
        Some(below) => layers
            .get(index)
            .is_some_and(|layer| layer.fit(width, height) != below.fit(width, height)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_fit_the_source_and_stay_even() {
        assert_eq!(CAMERA_LAYERS[2].fit(640, 480), (640, 480));
        assert_eq!(CAMERA_LAYERS[1].fit(640, 480), (320, 240));
        assert_eq!(CAMERA_LAYERS[0].fit(640, 480), (160, 120));
        assert_eq!(CAMERA_LAYERS[0].fit(1280, 720), (160, 90));
        assert_eq!(SCREEN_LAYERS[1].fit(1920, 1080), (1280, 720));
        assert_eq!(SCREEN_LAYERS[0].fit(1001, 333), (640, 212));
        // Never scaled up.
        assert_eq!(CAMERA_LAYERS[2].fit(160, 120), (160, 120));
    }

    #[test]
    fn tiles_ask_for_the_layer_their_width_needs() {
        assert_eq!(layer_for_width(640.0), 2);
        assert_eq!(layer_for_width(400.0), 2);
        assert_eq!(layer_for_width(399.0), 1);
        assert_eq!(layer_for_width(200.0), 1);
        assert_eq!(layer_for_width(120.0), 0);
    }

    #[test]
    fn a_vga_camera_gets_three_layers_and_a_small_one_only_what_differs() {
        let encoded = |w, h| {
            (0..CAMERA_LAYERS.len())
                .filter(|i| adds_detail(&CAMERA_LAYERS, *i, w, h))
                .count()
        };
        assert_eq!(encoded(640, 480), 3);
        assert_eq!(encoded(1280, 720), 3);
        assert_eq!(encoded(320, 240), 2, "the top layer would repeat layer 1");
        assert_eq!(encoded(160, 120), 1);
        assert!(!adds_detail(&CAMERA_LAYERS, 3, 640, 480), "no such layer");
        assert!(!adds_detail(&[], 0, 640, 480));
    }
}
