//! Bindings for browser APIs that web-sys only offers behind
//! `--cfg=web_sys_unstable_apis`: WebCodecs, MediaStreamTrackProcessor,
//! WebTransport, and `drawImage` with a `VideoFrame`. Declared here so the
//! crate builds with plain flags on every target.

#![allow(missing_docs)]

use js_sys::{Object, Promise, Uint8Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    // ------------------------------------------------------------ frames

    /// A raw video frame (WebCodecs).
    #[derive(Debug, Clone)]
    pub type VideoFrame;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(source: &VideoFrame, init: &Object) -> Result<VideoFrame, JsValue>;
    /// `new VideoFrame(canvas, init)`: a copy of what the canvas shows.
    #[wasm_bindgen(constructor, catch)]
    pub fn from_canvas(
        source: &web_sys::HtmlCanvasElement,
        init: &Object,
    ) -> Result<VideoFrame, JsValue>;
    /// `new VideoFrame(video, init)`: the picture a `<video>` shows now.
    #[wasm_bindgen(constructor, catch)]
    pub fn from_video(
        source: &web_sys::HtmlVideoElement,
        init: &Object,
    ) -> Result<VideoFrame, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn timestamp(this: &VideoFrame) -> f64;
    /// The pixel format; `None` where the browser does not expose it
    /// (e.g. a depth camera's 16-bit frames), which encoders refuse.
    #[wasm_bindgen(method, getter)]
    pub fn format(this: &VideoFrame) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = displayWidth)]
    pub fn display_width(this: &VideoFrame) -> u32;
    #[wasm_bindgen(method, getter, js_name = displayHeight)]
    pub fn display_height(this: &VideoFrame) -> u32;
    #[wasm_bindgen(method)]
    pub fn close(this: &VideoFrame);

    /// Raw audio samples (WebCodecs).
    #[derive(Debug, Clone)]
    pub type AudioData;
    /// `new AudioData(init)`: samples the page captured itself.
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<AudioData, JsValue>;
    #[wasm_bindgen(method, getter, js_name = numberOfFrames)]
    pub fn number_of_frames(this: &AudioData) -> u32;
    #[wasm_bindgen(method, getter, js_name = numberOfChannels)]
    pub fn number_of_channels(this: &AudioData) -> u32;
    #[wasm_bindgen(method, getter, js_name = sampleRate)]
    pub fn sample_rate(this: &AudioData) -> f32;
    #[wasm_bindgen(method, getter)]
    pub fn timestamp(this: &AudioData) -> f64;
    #[wasm_bindgen(method, catch, js_name = copyTo)]
    pub fn copy_to(
        this: &AudioData,
        dest: &js_sys::Float32Array,
        options: &Object,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    pub fn close(this: &AudioData);

    // ------------------------------------------------------------ chunks

    /// One encoded video frame.
    #[derive(Debug, Clone)]
    pub type EncodedVideoChunk;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<EncodedVideoChunk, JsValue>;
    #[wasm_bindgen(method, getter, js_name = type)]
    pub fn kind(this: &EncodedVideoChunk) -> String;
    #[wasm_bindgen(method, getter)]
    pub fn timestamp(this: &EncodedVideoChunk) -> f64;
    #[wasm_bindgen(method, getter, js_name = byteLength)]
    pub fn byte_length(this: &EncodedVideoChunk) -> u32;
    #[wasm_bindgen(method, js_name = copyTo)]
    pub fn copy_to(this: &EncodedVideoChunk, dest: &Uint8Array);

    /// One encoded audio frame.
    #[derive(Debug, Clone)]
    pub type EncodedAudioChunk;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<EncodedAudioChunk, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn timestamp(this: &EncodedAudioChunk) -> f64;
    #[wasm_bindgen(method, getter, js_name = byteLength)]
    pub fn byte_length(this: &EncodedAudioChunk) -> u32;
    #[wasm_bindgen(method, js_name = copyTo)]
    pub fn copy_to(this: &EncodedAudioChunk, dest: &Uint8Array);

    // ------------------------------------------------------------ codecs

    /// WebCodecs video encoder.
    #[derive(Debug, Clone)]
    pub type VideoEncoder;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<VideoEncoder, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn configure(this: &VideoEncoder, config: &Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn encode(this: &VideoEncoder, frame: &VideoFrame, options: &Object)
        -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter, js_name = encodeQueueSize)]
    pub fn encode_queue_size(this: &VideoEncoder) -> u32;
    #[wasm_bindgen(method, getter)]
    pub fn state(this: &VideoEncoder) -> String;
    #[wasm_bindgen(method, catch)]
    pub fn close(this: &VideoEncoder) -> Result<(), JsValue>;
    #[wasm_bindgen(static_method_of = VideoEncoder, js_name = isConfigSupported)]
    pub fn is_config_supported(config: &Object) -> Promise;

    /// WebCodecs video decoder.
    #[derive(Debug, Clone)]
    pub type VideoDecoder;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<VideoDecoder, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn configure(this: &VideoDecoder, config: &Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn decode(this: &VideoDecoder, chunk: &EncodedVideoChunk) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter, js_name = decodeQueueSize)]
    pub fn decode_queue_size(this: &VideoDecoder) -> u32;
    #[wasm_bindgen(method, getter)]
    pub fn state(this: &VideoDecoder) -> String;
    #[wasm_bindgen(method, catch)]
    pub fn close(this: &VideoDecoder) -> Result<(), JsValue>;

    /// WebCodecs audio encoder.
    #[derive(Debug, Clone)]
    pub type AudioEncoder;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<AudioEncoder, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn configure(this: &AudioEncoder, config: &Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn encode(this: &AudioEncoder, data: &AudioData) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn state(this: &AudioEncoder) -> String;
    #[wasm_bindgen(method, catch)]
    pub fn close(this: &AudioEncoder) -> Result<(), JsValue>;

    /// WebCodecs audio decoder.
    #[derive(Debug, Clone)]
    pub type AudioDecoder;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<AudioDecoder, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn configure(this: &AudioDecoder, config: &Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn decode(this: &AudioDecoder, chunk: &EncodedAudioChunk) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn state(this: &AudioDecoder) -> String;
    #[wasm_bindgen(method, catch)]
    pub fn close(this: &AudioDecoder) -> Result<(), JsValue>;

    // ------------------------------------------------------------ capture

    /// Turns a `MediaStreamTrack` into a stream of frames (Chromium).
    #[derive(Debug, Clone)]
    pub type MediaStreamTrackProcessor;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(init: &Object) -> Result<MediaStreamTrackProcessor, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn readable(this: &MediaStreamTrackProcessor) -> web_sys::ReadableStream;

    // ------------------------------------------------------------ WebTransport

    /// A WebTransport session.
    #[derive(Debug, Clone)]
    pub type WebTransport;
    #[wasm_bindgen(constructor, catch)]
    pub fn new(url: &str, options: &Object) -> Result<WebTransport, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn ready(this: &WebTransport) -> Promise;
    #[wasm_bindgen(method, getter)]
    pub fn closed(this: &WebTransport) -> Promise;
    #[wasm_bindgen(method, getter)]
    pub fn datagrams(this: &WebTransport) -> WebTransportDatagrams;
    #[wasm_bindgen(method, js_name = createBidirectionalStream)]
    pub fn create_bidirectional_stream(this: &WebTransport) -> Promise;
    #[wasm_bindgen(method, js_name = createUnidirectionalStream)]
    pub fn create_unidirectional_stream(this: &WebTransport) -> Promise;
    #[wasm_bindgen(method, getter, js_name = incomingUnidirectionalStreams)]
    pub fn incoming_unidirectional_streams(this: &WebTransport) -> web_sys::ReadableStream;
    #[wasm_bindgen(method, catch)]
    pub fn close(this: &WebTransport, info: &Object) -> Result<(), JsValue>;

    /// `WebTransport.datagrams`.
    #[derive(Debug, Clone)]
    pub type WebTransportDatagrams;
    #[wasm_bindgen(method, getter)]
    pub fn readable(this: &WebTransportDatagrams) -> web_sys::ReadableStream;
    #[wasm_bindgen(method, getter)]
    pub fn writable(this: &WebTransportDatagrams) -> web_sys::WritableStream;

    /// A bidirectional stream.
    #[derive(Debug, Clone)]
    pub type WebTransportBidi;
    #[wasm_bindgen(method, getter)]
    pub fn readable(this: &WebTransportBidi) -> web_sys::ReadableStream;
    #[wasm_bindgen(method, getter)]
    pub fn writable(this: &WebTransportBidi) -> web_sys::WritableStream;

    // ------------------------------------------------------------ canvas

    /// A canvas 2D context, for `drawImage(videoFrame, ...)`.
    #[derive(Debug, Clone)]
    pub type Canvas2d;
    /// `ctx.drawImage(videoFrame, dx, dy, dw, dh)`.
    #[wasm_bindgen(method, catch, js_name = drawImage)]
    pub fn draw_video_frame(
        this: &Canvas2d,
        frame: &VideoFrame,
        dx: f64,
        dy: f64,
        dw: f64,
        dh: f64,
    ) -> Result<(), JsValue>;

    /// `navigator.mediaDevices`, for `getDisplayMedia` with any options.
    #[derive(Debug, Clone)]
    pub type Devices;
    /// `navigator.mediaDevices.getDisplayMedia(options)`.
    #[wasm_bindgen(method, catch, js_name = getDisplayMedia)]
    pub fn get_display_media_with(this: &Devices, options: &Object) -> Result<Promise, JsValue>;
}
