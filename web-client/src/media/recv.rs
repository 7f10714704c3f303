//! Receive → reorder → decode → render, per remote (participant, track).
//! Video decodes into the tile's canvas; audio into the playout. Lost
//! frames and layer switches make the receiver wait for a keyframe (and
//! ask for one).

use std::collections::HashMap;
use std::rc::Rc;

use edgecall_proto::wire::{MediaFrame, Track};
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::codec_string;
use crate::ffi::{
    AudioData, AudioDecoder, Canvas2d, EncodedAudioChunk, EncodedVideoChunk, VideoDecoder,
    VideoFrame,
};
use crate::jitter::{JitterBuffer, Released};
use crate::js;

/// What decoders report back to the call.
pub trait DecodeSink {
    /// A video frame of `sender`'s `track` was rendered; `capture_us` is
    /// the sender's capture time.
    fn video_rendered(&self, sender: u32, track: Track, capture_us: f64);
    /// An audio frame of `sender` was decoded.
    fn audio_decoded(&self, sender: u32, data: &AudioData);
}

/// Ask for a keyframe of (`sender`, `track`, `layer`).
pub type KeyframeAsk = Rc<dyn Fn(u32, Track, u32)>;

/// Video frames wait this long for a missing one.
const VIDEO_WAIT_MS: f64 = 40.0;
/// Audio frames wait this long for a missing one.
const AUDIO_WAIT_MS: f64 = 30.0;
/// Keyframe requests per track at most this often.
const KEYFRAME_ASK_INTERVAL_MS: f64 = 400.0;
/// A decoder this far behind drops to the next keyframe.
const MAX_DECODE_QUEUE: u32 = 6;

/// The canvas element id for a remote track.
pub fn canvas_id(sender: u32, track: Track) -> String {
    let kind = if track == Track::Screen {
        "screen"
    } else {
        "camera"
    };
    format!("{kind}-{sender}")
}

enum Decoder {
    Video {
        decoder: Option<VideoDecoder>,
        codec: i32,
    },
    Audio(Option<AudioDecoder>),
}

struct TrackReceiver {
    sender: u32,
    track: Track,
    jitter: JitterBuffer<MediaFrame>,
    layer: Option<u32>,
    decoder: Decoder,
    need_keyframe: bool,
    last_ask_ms: f64,
}

/// Every remote track being received.
pub struct Receivers {
    tracks: HashMap<(u32, i32), TrackReceiver>,
    sink: Rc<dyn DecodeSink>,
    ask: KeyframeAsk,
}

impl Receivers {
    /// Receivers that report to `sink` and ask for keyframes with `ask`.
    pub fn new(sink: Rc<dyn DecodeSink>, ask: KeyframeAsk) -> Self {
        Self {
            tracks: HashMap::new(),
            sink,
            ask,
        }
    }

    /// Takes one frame whose payload is already opened.
    pub fn push(&mut self, frame: MediaFrame, now_ms: f64) {
        let Ok(track) = Track::try_from(frame.track) else {
            return;
        };
        if track == Track::Unspecified {
            return;
        }
        let sender = frame.sender;
        let entry = self
            .tracks
            .entry((sender, frame.track))
            .or_insert_with(|| TrackReceiver {
                sender,
                track,
                jitter: if track == Track::Audio {
                    JitterBuffer::new(AUDIO_WAIT_MS, 4)
                } else {
                    JitterBuffer::new(VIDEO_WAIT_MS, 3)
                },
                layer: None,
                decoder: if track == Track::Audio {
                    Decoder::Audio(None)
                } else {
                    Decoder::Video {
                        decoder: None,
                        codec: 0,
                    }
                },
                need_keyframe: true,
                last_ask_ms: f64::NEG_INFINITY,
            });
        if entry.layer != Some(frame.layer) {
            // Sequences are per layer: a new layer starts a new run.
            entry.jitter.reset();
            entry.layer = Some(frame.layer);
            if track != Track::Audio && !frame.keyframe {
                entry.need_keyframe = true;
            }
        }
        let released = entry.jitter.push(frame.sequence, frame, now_ms);
        entry.consume(released, now_ms, &self.sink, &self.ask);
    }

    /// Releases frames whose gap timed out.
    pub fn poll(&mut self, now_ms: f64) {
        for entry in self.tracks.values_mut() {
            let released = entry.jitter.poll(now_ms);
            if !released.is_empty() {
                entry.consume(released, now_ms, &self.sink, &self.ask);
            }
        }
    }

    /// Drops everything received from `sender`.
    pub fn remove(&mut self, sender: u32) {
        self.tracks.retain(|(s, _), entry| {
            if *s == sender {
                entry.close();
            }
            *s != sender
        });
    }

    /// Drops every receiver (after a reconnect or when leaving).
    pub fn clear(&mut self) {
        for entry in self.tracks.values_mut() {
            entry.close();
        }
        self.tracks.clear();
    }
}

impl TrackReceiver {
    fn consume(
        &mut self,
        released: Vec<Released<MediaFrame>>,
        now_ms: f64,
        sink: &Rc<dyn DecodeSink>,
        ask: &KeyframeAsk,
    ) {
        for item in released {
            match item {
                Released::Gap { .. } => {
                    if self.track != Track::Audio {
                        self.need_keyframe = true;
                    }
                }
                Released::Frame(frame) => {
                    if let Err(err) = self.decode(&frame, sink) {
                        js::warn(&format!(
                            "edgecall: decoding failed, waiting for a keyframe: {}",
                            js::describe(&err)
                        ));
                        self.reset_decoder();
                    }
                }
            }
        }
        if self.need_keyframe
            && self.track != Track::Audio
            && now_ms - self.last_ask_ms >= KEYFRAME_ASK_INTERVAL_MS
        {
            self.last_ask_ms = now_ms;
            ask(self.sender, self.track, self.layer.unwrap_or(0));
        }
    }

    fn reset_decoder(&mut self) {
        self.close();
        if self.track != Track::Audio {
            self.need_keyframe = true;
        }
    }

    fn close(&mut self) {
        match &mut self.decoder {
            Decoder::Video { decoder, .. } => {
                if let Some(d) = decoder.take() {
                    let _ = d.close();
                }
            }
            Decoder::Audio(decoder) => {
                if let Some(d) = decoder.take() {
                    let _ = d.close();
                }
            }
        }
    }

    fn decode(&mut self, frame: &MediaFrame, sink: &Rc<dyn DecodeSink>) -> Result<(), JsValue> {
        let (sender, track) = (self.sender, self.track);
        match &mut self.decoder {
            Decoder::Audio(decoder) => {
                if decoder.as_ref().is_none_or(|d| d.state() == "closed") {
                    *decoder = Some(new_audio_decoder(sender, sink.clone())?);
                }
                let Some(decoder) = decoder else {
                    return Ok(());
                };
                let chunk = EncodedAudioChunk::new(&js::obj(&[
                    ("type", JsValue::from_str("key")),
                    ("timestamp", JsValue::from_f64(frame.capture_time_us as f64)),
                    ("data", Uint8Array::from(frame.payload.as_ref()).into()),
                ]))?;
                decoder.decode(&chunk)
            }
            Decoder::Video { decoder, codec } => {
                if self.need_keyframe && !frame.keyframe {
                    return Ok(());
                }
                let broken = decoder.as_ref().is_none_or(|d| d.state() == "closed");
                if broken || *codec != frame.codec {
                    if !frame.keyframe {
                        self.need_keyframe = true;
                        return Ok(());
                    }
                    if let Some(d) = decoder.take() {
                        let _ = d.close();
                    }
                    let name = codec_string(frame.codec)
                        .ok_or_else(|| JsValue::from_str("unknown video codec"))?;
                    let d = new_video_decoder(sender, track, sink.clone())?;
                    d.configure(&js::obj(&[
                        ("codec", JsValue::from_str(name)),
                        ("optimizeForLatency", true.into()),
                    ]))?;
                    *decoder = Some(d);
                    *codec = frame.codec;
                }
                let Some(d) = decoder else { return Ok(()) };
                if d.decode_queue_size() > MAX_DECODE_QUEUE && !frame.keyframe {
                    self.need_keyframe = true;
                    return Ok(());
                }
                let chunk = EncodedVideoChunk::new(&js::obj(&[
                    (
                        "type",
                        JsValue::from_str(if frame.keyframe { "key" } else { "delta" }),
                    ),
                    ("timestamp", JsValue::from_f64(frame.capture_time_us as f64)),
                    ("data", Uint8Array::from(frame.payload.as_ref()).into()),
                ]))?;
                d.decode(&chunk)?;
                if frame.keyframe {
                    self.need_keyframe = false;
                }
                Ok(())
            }
        }
    }
}

fn new_video_decoder(
    sender: u32,
    track: Track,
    sink: Rc<dyn DecodeSink>,
) -> Result<VideoDecoder, JsValue> {
    let id = canvas_id(sender, track);
    let output = js::callback(move |frame: VideoFrame| {
        render(&id, &frame);
        let capture_us = frame.timestamp();
        frame.close();
        sink.video_rendered(sender, track, capture_us);
    });
    let error = js::callback(|err: JsValue| {
        js::warn(&format!(
            "edgecall: video decoder error: {}",
            js::describe(&err)
        ));
    });
    VideoDecoder::new(&js::obj(&[
        ("output", output.into()),
        ("error", error.into()),
    ]))
}

fn render(canvas_id: &str, frame: &VideoFrame) {
    let Some(canvas) = js::window()
        .document()
        .and_then(|d| d.get_element_by_id(canvas_id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlCanvasElement>().ok())
    else {
        return;
    };
    let (w, h) = (frame.display_width(), frame.display_height());
    if canvas.width() != w || canvas.height() != h {
        canvas.set_width(w);
        canvas.set_height(h);
    }
    if let Ok(Some(ctx)) = canvas.get_context("2d") {
        let ctx: Canvas2d = ctx.unchecked_into();
        let _ = ctx.draw_video_frame(frame, 0.0, 0.0, f64::from(w), f64::from(h));
    }
}

fn new_audio_decoder(sender: u32, sink: Rc<dyn DecodeSink>) -> Result<AudioDecoder, JsValue> {
    let output = js::callback(move |data: AudioData| {
        sink.audio_decoded(sender, &data);
        data.close();
    });
    let error = js::callback(|err: JsValue| {
        js::warn(&format!(
            "edgecall: audio decoder error: {}",
            js::describe(&err)
        ));
    });
    let decoder = AudioDecoder::new(&js::obj(&[
        ("output", output.into()),
        ("error", error.into()),
    ]))?;
    decoder.configure(&js::obj(&[
        ("codec", JsValue::from_str("opus")),
        ("sampleRate", 48_000.into()),
        ("numberOfChannels", 1.into()),
    ]))?;
    Ok(decoder)
}
