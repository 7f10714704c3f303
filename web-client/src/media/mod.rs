//! Media: capture and encode (camera, screen, microphone) and receive and
//! decode (per remote track), all through WebCodecs.

pub mod audio_out;
pub mod capture;
pub mod recv;
pub mod send;

use edgecall_proto::wire::Codec;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::ffi::VideoEncoder;
use crate::js;

/// H.264 Constrained Baseline, level 3.1.
pub const H264: &str = "avc1.42E01F";
/// VP8, the fallback.
pub const VP8: &str = "vp8";

/// The WebCodecs codec string of a wire codec.
pub fn codec_string(codec: i32) -> Option<&'static str> {
    match Codec::try_from(codec).ok()? {
        Codec::H264 => Some(H264),
        Codec::Vp8 => Some(VP8),
        Codec::Vp9 => Some("vp09.00.10.08"),
        Codec::Av1 => Some("av01.0.04M.08"),
        Codec::Opus => Some("opus"),
        Codec::Unspecified => None,
    }
}

/// Whether this browser encodes `codec` in real time at the camera's top
/// layer.
async fn encodes(codec: &str) -> bool {
    let config = video_encoder_config(codec, 640, 480, 700_000, 20.0);
    JsFuture::from(VideoEncoder::is_config_supported(&config))
        .await
        .map(|r| js::get(&r, "supported").as_bool().unwrap_or(false))
        .unwrap_or(false)
}

/// The video codec to publish: `forced` (the page's `codec=`) when the
/// browser encodes it, else H.264 where it can, else VP8.
pub async fn choose_video_codec(forced: Option<Codec>) -> Codec {
    if let Some(codec) = forced {
        match codec_string(codec as i32) {
            Some(name) if encodes(name).await => return codec,
            _ => js::warn(&format!(
                "edgecall: this browser cannot encode the requested {codec:?}; choosing another codec"
            )),
        }
    }
    if encodes(H264).await {
        Codec::H264
    } else {
        js::log("edgecall: H.264 encoding unsupported here, using VP8");
        Codec::Vp8
    }
}

/// A real-time `VideoEncoderConfig`.
pub fn video_encoder_config(
    codec: &str,
    width: u32,
    height: u32,
    bitrate: u32,
    framerate: f64,
) -> js_sys::Object {
    let mut entries = vec![
        ("codec", JsValue::from_str(codec)),
        ("width", width.into()),
        ("height", height.into()),
        ("bitrate", bitrate.into()),
        ("framerate", framerate.into()),
        ("latencyMode", JsValue::from_str("realtime")),
        ("hardwareAcceleration", JsValue::from_str("no-preference")),
    ];
    if codec.starts_with("avc1") {
        // Annex B carries SPS/PPS in keyframes, so decoders need no description.
        entries.push((
            "avc",
            js::obj(&[("format", JsValue::from_str("annexb"))]).into(),
        ));
    }
    js::obj(&entries)
}
