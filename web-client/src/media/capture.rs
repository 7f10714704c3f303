//! Raw frames out of a camera, screen or microphone track. Where the
//! browser has `MediaStreamTrackProcessor` (Chromium) the frames come from
//! it; elsewhere (Firefox today) video is sampled from a hidden `<video>`
//! element at the track's frame rate (`new VideoFrame(video)`) and audio
//! comes from an AudioWorklet (`static/capture-worklet.js`) in 20 ms blocks
//! (`new AudioData`). Both paths give the encoders the same WebCodecs
//! frames.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Float32Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::ffi::{AudioData, MediaStreamTrackProcessor, VideoFrame};
use crate::js;

/// The AudioWorklet module, served beside the page.
const WORKLET_URL: &str = "/capture-worklet.js";
/// The processor that module registers.
const WORKLET_NAME: &str = "edgecall-capture";
/// The sample rate asked of the fallback's audio context (Opus's own).
const FALLBACK_SAMPLE_RATE: f64 = 48_000.0;
/// Frame rate sampled from a `<video>` when the track does not say.
const DEFAULT_FPS: f64 = 20.0;

/// Whether frames come through `MediaStreamTrackProcessor` here.
pub fn has_track_processor() -> bool {
    let value = js::get(&js::window(), "MediaStreamTrackProcessor");
    !value.is_undefined() && !value.is_null()
}

/// The capture path this browser uses, for the page's state.
pub fn path_name() -> &'static str {
    if has_track_processor() {
        "track-processor"
    } else {
        "video-element+audio-worklet"
    }
}

/// Video frames of one track, oldest first.
pub enum VideoFrames {
    /// Read from a `MediaStreamTrackProcessor`.
    Processor(web_sys::ReadableStreamDefaultReader),
    /// Sampled from a `<video>` element showing the track.
    Element {
        video: web_sys::HtmlVideoElement,
        track: web_sys::MediaStreamTrack,
        interval_ms: u32,
    },
}

impl VideoFrames {
    /// Starts taking frames from `track`.
    pub fn open(track: &web_sys::MediaStreamTrack) -> Result<Self, JsValue> {
        if has_track_processor() {
            let processor =
                MediaStreamTrackProcessor::new(&js::obj(&[("track", track.clone().into())]))?;
            return Ok(Self::Processor(js::reader(&processor.readable())));
        }
        let video: web_sys::HtmlVideoElement = js::window()
            .document()
            .ok_or_else(|| JsValue::from_str("no document"))?
            .create_element("video")?
            .dyn_into()?;
        video.set_muted(true);
        let _ = video.set_attribute("playsinline", "");
        let stream = web_sys::MediaStream::new_with_tracks(&js_sys::Array::of1(track))?;
        video.set_src_object(Some(&stream));
        if let Ok(playing) = video.play() {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(playing).await;
            });
        }
        let fps = track
            .get_settings()
            .get_frame_rate()
            .filter(|f| *f > 0.0)
            .unwrap_or(DEFAULT_FPS)
            .min(30.0);
        Ok(Self::Element {
            video,
            track: track.clone(),
            interval_ms: (1_000.0 / fps) as u32,
        })
    }

    /// The next frame, or `None` once the track has ended.
    pub async fn next(&self) -> Option<VideoFrame> {
        match self {
            Self::Processor(reader) => match js::read(reader).await {
                Ok(Some(frame)) => Some(frame.unchecked_into()),
                _ => None,
            },
            Self::Element {
                video,
                track,
                interval_ms,
            } => loop {
                js::sleep(*interval_ms).await;
                if track.ready_state() == web_sys::MediaStreamTrackState::Ended {
                    return None;
                }
                // HAVE_CURRENT_DATA: a picture to take.
                if video.ready_state() < 2 || video.video_width() == 0 {
                    continue;
                }
                if let Ok(frame) = VideoFrame::from_video(video, &js::obj(&[])) {
                    return Some(frame);
                }
            },
        }
    }

    /// Stops taking frames.
    pub fn close(&self) {
        match self {
            Self::Processor(reader) => {
                let _ = reader.cancel();
            }
            Self::Element { video, .. } => video.set_src_object(None),
        }
    }
}

/// Microphone samples of one track, handed to `on_block` as they come
/// (the callee closes each); `on_block` returns false to stop.
pub struct AudioBlocks {
    stopped: Rc<Cell<bool>>,
    /// The fallback's audio graph, closed on stop.
    context: Rc<Cell<Option<web_sys::AudioContext>>>,
}

impl AudioBlocks {
    /// Starts taking samples from `track`.
    pub fn start(
        track: &web_sys::MediaStreamTrack,
        on_block: Rc<dyn Fn(AudioData) -> bool>,
    ) -> Result<Self, JsValue> {
        let stopped = Rc::new(Cell::new(false));
        let context = Rc::new(Cell::new(None));
        if has_track_processor() {
            let processor =
                MediaStreamTrackProcessor::new(&js::obj(&[("track", track.clone().into())]))?;
            let reader = js::reader(&processor.readable());
            let stop = stopped.clone();
            wasm_bindgen_futures::spawn_local(async move {
                while let Ok(Some(data)) = js::read(&reader).await {
                    let data: AudioData = data.unchecked_into();
                    if stop.get() {
                        data.close();
                        break;
                    }
                    if !on_block(data) {
                        break;
                    }
                }
                let _ = reader.cancel();
            });
        } else {
            let track = track.clone();
            let stop = stopped.clone();
            let graph = context.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match worklet_capture(&track, stop, on_block).await {
                    Ok(ctx) => graph.set(Some(ctx)),
                    Err(err) => js::warn(&format!(
                        "edgecall: the microphone cannot be captured: {}",
                        js::describe(&err)
                    )),
                }
            });
        }
        Ok(Self { stopped, context })
    }

    /// Stops taking samples.
    pub fn stop(&self) {
        self.stopped.set(true);
        if let Some(context) = self.context.take() {
            let _ = context.close();
        }
    }
}

/// The fallback: the track into an AudioWorklet that posts 20 ms blocks of
/// mono samples, each made an `AudioData`.
async fn worklet_capture(
    track: &web_sys::MediaStreamTrack,
    stopped: Rc<Cell<bool>>,
    on_block: Rc<dyn Fn(AudioData) -> bool>,
) -> Result<web_sys::AudioContext, JsValue> {
    let options = web_sys::AudioContextOptions::new();
    options.set_sample_rate(FALLBACK_SAMPLE_RATE as f32);
    let context = web_sys::AudioContext::new_with_context_options(&options)?;
    // A context made without a user gesture (a page that joins by itself)
    // starts suspended where autoplay is blocked: it runs from the first
    // click on the page.
    let _ = context.resume();
    if context.state() != web_sys::AudioContextState::Running {
        let suspended = context.clone();
        let resume = js::callback(move |_: web_sys::Event| {
            let _ = suspended.resume();
        });
        let _ = js::window().add_event_listener_with_callback("click", &resume);
    }
    JsFuture::from(context.audio_worklet()?.add_module(WORKLET_URL)?).await?;
    let stream = web_sys::MediaStream::new_with_tracks(&js_sys::Array::of1(track))?;
    let source = context.create_media_stream_source(&stream)?;
    let node_options = web_sys::AudioWorkletNodeOptions::new();
    node_options.set_number_of_outputs(0);
    let node = web_sys::AudioWorkletNode::new_with_options(&context, WORKLET_NAME, &node_options)?;
    source.connect_with_audio_node(&node)?;
    let sample_rate = f64::from(context.sample_rate());
    let port = node.port()?;
    let on_message = js::callback(move |ev: web_sys::MessageEvent| {
        if stopped.get() {
            return;
        }
        let samples: Float32Array = ev.data().unchecked_into();
        let init = js::obj(&[
            ("format", JsValue::from_str("f32-planar")),
            ("sampleRate", sample_rate.into()),
            ("numberOfFrames", samples.length().into()),
            ("numberOfChannels", 1.into()),
            ("timestamp", js::wall_us().floor().into()),
            ("data", samples.into()),
        ]);
        match AudioData::new(&init) {
            Ok(data) => {
                if !on_block(data) {
                    stopped.set(true);
                }
            }
            Err(err) => js::warn(&format!(
                "edgecall: an audio block was refused: {}",
                js::describe(&err)
            )),
        }
    });
    port.set_onmessage(Some(&on_message));
    // The running graph keeps the node, and its port's callback, alive
    // until the context closes.
    Ok(context)
}
