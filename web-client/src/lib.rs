//! # edgecall-web
//!
//! The browser client, Rust compiled to WebAssembly: a lobby with camera and
//! microphone preview, then the meeting — a grid of tiles decoded with
//! WebCodecs, chat, participant list, screen share — over WebSocket (the
//! edge) or WebTransport (the relay), optionally end-to-end encrypted.
//!
//! Pure logic (browser capabilities, URL and config parsing, jitter buffer, subscription policy,
//! simulcast layers, call state, session lifecycle, statistics, keyboard
//! shortcuts) lives in plain modules with native unit tests; the browser
//! glue lives in `app` (split by job: lobby, session, inbound, publishing,
//! meeting), `net`, `media`, `ui` and `ffi`.

pub mod backoff;
pub mod call;
pub mod capabilities;
pub mod config;
pub mod congestion;
pub mod framing;
pub mod jitter;
pub mod keepalive;
pub mod layout;
pub mod level;
pub mod pages;
pub mod session;
pub mod shortcuts;
pub mod simulcast;
pub mod stats;
pub mod subscription;

pub mod ffi;
pub mod js;
pub mod media;
pub mod net;
pub mod ui;

mod app;

/// Runs when the wasm module is instantiated.
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn main() {
    app::start();
}
