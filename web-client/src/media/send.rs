//! Capture → encode → publish. A video source (camera or screen) feeds one
//! `VideoEncoder` per simulcast layer; the microphone feeds an Opus
//! `AudioEncoder`, and its level goes in every frame's header.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use edgecall_proto::wire::{Codec, Track};
use js_sys::{Float32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::capture::{AudioBlocks, VideoFrames};
use super::video_encoder_config;
use crate::ffi::{
    AudioData, AudioEncoder, Canvas2d, EncodedAudioChunk, EncodedVideoChunk, VideoEncoder,
    VideoFrame,
};
use crate::js;
use crate::level::audio_level;
use crate::simulcast::{adds_detail, LayerSpec};

/// One encoded frame, ready to be wrapped in a `MediaFrame`.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Which track.
    pub track: Track,
    /// Simulcast layer.
    pub layer: u32,
    /// Decodable on its own.
    pub keyframe: bool,
    /// Sender wall clock at capture, µs.
    pub capture_us: u64,
    /// Codec.
    pub codec: Codec,
    /// RFC 6464 level (audio), 127 for video.
    pub audio_level: u32,
    /// Encoded bytes.
    pub payload: Vec<u8>,
}

/// Where encoded frames go.
pub type Publish = Rc<dyn Fn(Encoded)>;

/// A periodic keyframe, so late joiners and layer switches never wait long.
const KEYFRAME_EVERY_FRAMES: u64 = 60;

/// Shared switches of a running source.
#[derive(Default)]
pub struct Control {
    /// Stop reading (the source is being torn down).
    pub stopped: Cell<bool>,
    /// Drop frames instead of encoding (muted / camera off).
    pub paused: Cell<bool>,
    /// Force a keyframe on each layer at the next frame.
    force_key: [Cell<bool>; MAX_LAYERS],
    /// Encode only layer 0 (the path is congested).
    pub low_layer_only: Cell<bool>,
}

/// The most layers one source encodes.
const MAX_LAYERS: usize = 3;

impl Control {
    /// The next frame of `layer` is a keyframe (a receiver lost its place,
    /// or the layer restarts).
    pub fn force_keyframe(&self, layer: u32) {
        self.force_key[(layer as usize).min(MAX_LAYERS - 1)].set(true);
    }

    /// The next frame of every layer is a keyframe (everyone starts over:
    /// a new connection, the camera back on).
    pub fn force_keyframes(&self) {
        for force in &self.force_key {
            force.set(true);
        }
    }

    /// The next frame of every layer above `layer` is a keyframe (they
    /// restart after being left out).
    pub fn force_keyframes_above(&self, layer: u32) {
        for force in self.force_key.iter().skip(layer as usize + 1) {
            force.set(true);
        }
    }

    /// Whether `layer`'s next frame must be a keyframe; clears the request.
    fn take_keyframe_request(&self, layer: u32) -> bool {
        self.force_key[(layer as usize).min(MAX_LAYERS - 1)].replace(false)
    }
}

struct LayerEncoder {
    spec: LayerSpec,
    encoder: Option<VideoEncoder>,
    size: (u32, u32),
    frames: u64,
}

/// A running camera or screen encoder.
pub struct VideoSource {
    /// Shared switches.
    pub control: Rc<Control>,
    track: web_sys::MediaStreamTrack,
}

impl VideoSource {
    /// Starts reading `track`, encoding each frame at every layer of
    /// `layers` with `codec`. `on_end` runs when the track ends by itself
    /// (the user stopped a screen share).
    pub fn start(
        track: web_sys::MediaStreamTrack,
        kind: Track,
        codec: Codec,
        layers: &[LayerSpec],
        publish: Publish,
        on_end: Rc<dyn Fn()>,
    ) -> Result<Self, JsValue> {
        let frames = VideoFrames::open(&track)?;
        let control = Rc::new(Control::default());
        let codec_name = if codec == Codec::H264 {
            super::H264
        } else {
            super::VP8
        };
        let specs = layers.to_vec();
        let encoders: Vec<Rc<RefCell<LayerEncoder>>> = layers
            .iter()
            .map(|spec| {
                Rc::new(RefCell::new(LayerEncoder {
                    spec: *spec,
                    encoder: None,
                    size: (0, 0),
                    frames: 0,
                }))
            })
            .collect();
        let ctl = control.clone();
        let converter = Converter::default();
        wasm_bindgen_futures::spawn_local(async move {
            while let Some(frame) = frames.next().await {
                if ctl.stopped.get() {
                    frame.close();
                    break;
                }
                if ctl.paused.get() {
                    frame.close();
                    continue;
                }
                let capture_us = js::wall_us().floor();
                let (w, h) = (frame.display_width(), frame.display_height());
                let init = js::obj(&[("timestamp", capture_us.into())]);
                let stamped = if frame.format().is_some() {
                    VideoFrame::new(&frame, &init)
                } else {
                    // Encoders take only the common pixel formats: a camera
                    // in another (the browser shows it, but does not say
                    // which) is redrawn as RGBA first.
                    redraw(&converter, &frame, w, h, &init)
                };
                frame.close();
                let Ok(stamped) = stamped else { continue };
                for (index, layer) in encoders.iter().enumerate() {
                    let mut layer = layer.borrow_mut();
                    if layer.spec.layer > 0 && ctl.low_layer_only.get() {
                        continue;
                    }
                    if !adds_detail(&specs, index, w, h) {
                        continue;
                    }
                    let force = ctl.take_keyframe_request(layer.spec.layer);
                    if let Err(err) = encode_layer(
                        &mut layer, &stamped, kind, codec, codec_name, w, h, force, &publish,
                    ) {
                        js::warn(&format!(
                            "edgecall: encoder failed, restarting it: {}",
                            js::describe(&err)
                        ));
                        if let Some(enc) = layer.encoder.take() {
                            let _ = enc.close();
                        }
                        ctl.force_keyframe(layer.spec.layer);
                    }
                }
                stamped.close();
            }
            frames.close();
            for layer in &encoders {
                if let Some(enc) = layer.borrow_mut().encoder.take() {
                    let _ = enc.close();
                }
            }
            if !ctl.stopped.get() {
                on_end();
            }
        });
        Ok(Self { control, track })
    }

    /// Stops capture and encoding and releases the device.
    pub fn stop(&self) {
        self.control.stopped.set(true);
        self.track.stop();
    }
}

/// A canvas that turns frames of an unencodable pixel format into RGBA
/// ones, made on first need.
#[derive(Default)]
struct Converter {
    canvas: RefCell<Option<(web_sys::HtmlCanvasElement, Canvas2d)>>,
}

/// `frame` redrawn through the converter's canvas, as a new frame with
/// `init` (its timestamp).
fn redraw(
    converter: &Converter,
    frame: &VideoFrame,
    width: u32,
    height: u32,
    init: &js_sys::Object,
) -> Result<VideoFrame, JsValue> {
    let mut slot = converter.canvas.borrow_mut();
    if slot.is_none() {
        let canvas: web_sys::HtmlCanvasElement = js::window()
            .document()
            .ok_or_else(|| JsValue::from_str("no document"))?
            .create_element("canvas")?
            .dyn_into()?;
        let context: Canvas2d = canvas
            .get_context("2d")?
            .ok_or_else(|| JsValue::from_str("no 2D canvas"))?
            .unchecked_into();
        *slot = Some((canvas, context));
    }
    let Some((canvas, context)) = slot.as_ref() else {
        return Err(JsValue::from_str("no canvas"));
    };
    if canvas.width() != width || canvas.height() != height {
        canvas.set_width(width);
        canvas.set_height(height);
    }
    context.draw_video_frame(frame, 0.0, 0.0, f64::from(width), f64::from(height))?;
    VideoFrame::from_canvas(canvas, init)
}

#[allow(clippy::too_many_arguments)]
fn encode_layer(
    layer: &mut LayerEncoder,
    frame: &VideoFrame,
    kind: Track,
    codec: Codec,
    codec_name: &str,
    width: u32,
    height: u32,
    force: bool,
    publish: &Publish,
) -> Result<(), JsValue> {
    let size = layer.spec.fit(width, height);
    let closed = layer.encoder.as_ref().is_none_or(|e| e.state() == "closed");
    if closed || layer.size != size {
        if closed {
            layer.encoder = Some(new_video_encoder(
                kind,
                layer.spec.layer,
                codec,
                publish.clone(),
            )?);
        }
        let framerate = if kind == Track::Screen { 10.0 } else { 20.0 };
        let config =
            video_encoder_config(codec_name, size.0, size.1, layer.spec.bitrate, framerate);
        if let Some(encoder) = &layer.encoder {
            encoder.configure(&config)?;
        }
        layer.size = size;
        layer.frames = 0;
    }
    let Some(encoder) = &layer.encoder else {
        return Ok(());
    };
    // A busy encoder skips this frame rather than adding delay.
    if encoder.encode_queue_size() > 1 {
        return Ok(());
    }
    let keyframe = force || layer.frames.is_multiple_of(KEYFRAME_EVERY_FRAMES);
    layer.frames += 1;
    encoder.encode(frame, &js::obj(&[("keyFrame", keyframe.into())]))
}

fn new_video_encoder(
    track: Track,
    layer: u32,
    codec: Codec,
    publish: Publish,
) -> Result<VideoEncoder, JsValue> {
    let output = Closure::<dyn FnMut(EncodedVideoChunk, JsValue)>::new(
        move |chunk: EncodedVideoChunk, _meta: JsValue| {
            let buf = Uint8Array::new_with_length(chunk.byte_length());
            chunk.copy_to(&buf);
            publish(Encoded {
                track,
                layer,
                keyframe: chunk.kind() == "key",
                capture_us: chunk.timestamp().max(0.0) as u64,
                codec,
                audio_level: 127,
                payload: buf.to_vec(),
            });
        },
    )
    .into_js_value();
    let error = js::callback(|err: JsValue| {
        js::warn(&format!(
            "edgecall: video encoder error: {}",
            js::describe(&err)
        ));
    });
    VideoEncoder::new(&js::obj(&[("output", output), ("error", error.into())]))
}

/// A running microphone encoder.
pub struct AudioSource {
    /// Shared switches (`paused` = muted).
    pub control: Rc<Control>,
    /// The level of the most recent 20 ms, for the self tile.
    pub level: Rc<Cell<u32>>,
    track: web_sys::MediaStreamTrack,
    blocks: AudioBlocks,
    encoder: Rc<AudioEncoder>,
}

impl AudioSource {
    /// Starts reading `track` into an Opus encoder (20 ms frames).
    pub fn start(track: web_sys::MediaStreamTrack, publish: Publish) -> Result<Self, JsValue> {
        let control = Rc::new(Control::default());
        let level = Rc::new(Cell::new(127u32));
        let out_level = level.clone();
        let output = Closure::<dyn FnMut(EncodedAudioChunk, JsValue)>::new(
            move |chunk: EncodedAudioChunk, _meta: JsValue| {
                let buf = Uint8Array::new_with_length(chunk.byte_length());
                chunk.copy_to(&buf);
                publish(Encoded {
                    track: Track::Audio,
                    layer: 0,
                    keyframe: true,
                    capture_us: js::wall_us().floor() as u64,
                    codec: Codec::Opus,
                    audio_level: out_level.get(),
                    payload: buf.to_vec(),
                });
            },
        )
        .into_js_value();
        let error = js::callback(|err: JsValue| {
            js::warn(&format!(
                "edgecall: audio encoder error: {}",
                js::describe(&err)
            ));
        });
        let encoder = AudioEncoder::new(&js::obj(&[("output", output), ("error", error.into())]))?;
        let ctl = control.clone();
        let lvl = level.clone();
        let configured = Cell::new(false);
        // Each 20 ms block: its level, then (unless muted) into the encoder.
        // False stops the capture.
        let encoder = Rc::new(encoder);
        let block_encoder = encoder.clone();
        let on_block = move |data: AudioData| -> bool {
            let encoder = &block_encoder;
            if ctl.stopped.get() {
                data.close();
                return false;
            }
            let frames = data.number_of_frames();
            let samples = Float32Array::new_with_length(frames);
            let opts = js::obj(&[
                ("planeIndex", 0.into()),
                ("format", JsValue::from_str("f32-planar")),
            ]);
            if data.copy_to(&samples, &opts).is_ok() {
                lvl.set(audio_level(&samples.to_vec()));
            }
            if ctl.paused.get() {
                lvl.set(127);
                data.close();
                return true;
            }
            if !configured.get() || encoder.state() == "closed" {
                let config = js::obj(&[
                    ("codec", JsValue::from_str("opus")),
                    (
                        "sampleRate",
                        JsValue::from_f64(f64::from(data.sample_rate())),
                    ),
                    ("numberOfChannels", data.number_of_channels().into()),
                    ("bitrate", 32_000.into()),
                    ("opus", js::obj(&[("frameDuration", 20_000.into())]).into()),
                ]);
                if let Err(err) = encoder.configure(&config) {
                    js::warn(&format!(
                        "edgecall: cannot configure Opus: {}",
                        js::describe(&err)
                    ));
                    data.close();
                    return false;
                }
                configured.set(true);
            }
            if let Err(err) = encoder.encode(&data) {
                js::warn(&format!(
                    "edgecall: audio encode failed: {}",
                    js::describe(&err)
                ));
            }
            data.close();
            true
        };
        let blocks = AudioBlocks::start(&track, Rc::new(on_block))?;
        Ok(Self {
            control,
            level,
            track,
            blocks,
            encoder,
        })
    }

    /// Stops capture and releases the microphone.
    pub fn stop(&self) {
        self.control.stopped.set(true);
        self.blocks.stop();
        let _ = self.encoder.close();
        self.track.stop();
    }
}
