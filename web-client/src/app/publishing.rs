//! Our media and chat on the way out: the camera, screen and microphone
//! encoders, sealing (when end-to-end encrypted), the host's send limits,
//! and what the path's congestion level lets us encode.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use edgecall_proto::wire::{self, client_message, ClientMessage, Codec, MediaFrame, Track};
use prost::Message as _;
use rand_core::OsRng;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::{budget_clock, App};
use crate::call::Phase;
use crate::congestion::Level;
use crate::ffi::Devices;
use crate::js;
use crate::media::send::{AudioSource, Encoded, Publish, VideoSource};
use crate::simulcast::{CAMERA_LAYERS, SCREEN_LAYERS};

/// The running encoders and the numbering of what they send.
pub(super) struct Outbound {
    pub(super) camera: RefCell<Option<VideoSource>>,
    pub(super) screen: RefCell<Option<VideoSource>>,
    pub(super) mic: RefCell<Option<AudioSource>>,
    /// The video codec chosen for this browser at join.
    pub(super) codec: Cell<Codec>,
    /// The last sequence number sent per (track, layer).
    sequences: RefCell<HashMap<(i32, u32), u64>>,
    /// `sent_ms` of our last sealed chat message (kept strictly increasing).
    last_chat_ms: Cell<u64>,
}

impl Outbound {
    pub(super) fn new() -> Self {
        Self {
            camera: RefCell::new(None),
            screen: RefCell::new(None),
            mic: RefCell::new(None),
            codec: Cell::new(Codec::H264),
            sequences: RefCell::new(HashMap::new()),
            last_chat_ms: Cell::new(0),
        }
    }

    /// The next sequence number of `track`'s `layer` (the E2EE nonce and
    /// the receivers' gap detector both rest on it).
    fn next_sequence(&self, track: Track, layer: u32) -> u64 {
        let mut sequences = self.sequences.borrow_mut();
        let sequence = sequences.entry((track as i32, layer)).or_insert(0);
        *sequence += 1;
        *sequence
    }

    /// The camera or the screen.
    fn video(&self, track: Track) -> &RefCell<Option<VideoSource>> {
        if track == Track::Screen {
            &self.screen
        } else {
            &self.camera
        }
    }
}

impl App {
    fn publish(&self, encoded: Encoded) {
        if self.state.borrow().phase != Phase::InCall {
            return;
        }
        let Some(conn) = self.link.connection() else {
            return;
        };
        let sequence = self.outbound.next_sequence(encoded.track, encoded.layer);
        let (payload, sealed) = match self.key.borrow().as_ref() {
            Some(key) => {
                let Some(sender) = self.state.borrow().my_e2ee_sender().map(str::to_owned) else {
                    return;
                };
                match key.seal(&sender, sequence, &encoded.payload, &mut OsRng) {
                    Ok(sealed) => (sealed, true),
                    Err(err) => {
                        js::warn(&format!("edgecall: cannot seal a frame: {err}"));
                        return;
                    }
                }
            }
            None => (encoded.payload, false),
        };
        let audio = encoded.track == Track::Audio;
        let frame = MediaFrame {
            track: encoded.track as i32,
            layer: encoded.layer,
            keyframe: encoded.keyframe,
            sequence,
            capture_time_us: encoded.capture_us,
            audio_level: encoded.audio_level,
            codec: encoded.codec as i32,
            sealed,
            payload: payload.into(),
            sender: 0,
        };
        let data = ClientMessage {
            msg: Some(client_message::Msg::Media(frame)),
        }
        .encode_to_vec();
        let within_limits = match self
            .link
            .budget
            .borrow_mut()
            .media(data.len(), budget_clock())
        {
            Ok(()) => true,
            Err(why) => {
                js::warn(&format!("edgecall: frame not sent: {why}"));
                false
            }
        };
        let sent = within_limits && conn.send_media(&data, audio);
        if sent && encoded.track == Track::Camera {
            self.state.borrow_mut().me.sent_camera_frame(encoded.layer);
        }
        if !sent && !audio {
            // Receivers cannot decode past the gap: the next frame of this
            // layer is a keyframe.
            if let Some(s) = self.outbound.video(encoded.track).borrow().as_ref() {
                s.control.force_keyframe(encoded.layer);
            }
        }
    }

    fn publisher(&self) -> Publish {
        let weak = self.me.clone();
        Rc::new(move |encoded| {
            if let Some(a) = weak.upgrade() {
                a.publish(encoded);
            }
        })
    }

    /// Starts encoding the lobby's camera and microphone (once joined).
    pub(super) fn start_media(&self) {
        let outbound = &self.outbound;
        if outbound.camera.borrow().is_some() || outbound.mic.borrow().is_some() {
            return;
        }
        let Some(stream) = self.capture.local.borrow().clone() else {
            return;
        };
        if let Ok(track) = stream.get_video_tracks().get(0).dyn_into() {
            self.start_camera(track);
        }
        if let Ok(track) = stream.get_audio_tracks().get(0).dyn_into() {
            self.start_mic(track);
        }
    }

    /// Publishes `track` as our camera, in every layer it allows.
    pub(super) fn start_camera(&self, track: web_sys::MediaStreamTrack) {
        match VideoSource::start(
            track,
            Track::Camera,
            self.outbound.codec.get(),
            &CAMERA_LAYERS,
            self.publisher(),
            Rc::new(|| {}),
        ) {
            Ok(source) => {
                source.control.paused.set(self.state.borrow().me.camera_off);
                *self.outbound.camera.borrow_mut() = Some(source);
                let level = self.state.borrow().congestion;
                self.apply_congestion(level);
            }
            Err(err) => js::warn(&format!(
                "edgecall: cannot encode the camera: {}",
                js::describe(&err)
            )),
        }
    }

    /// Publishes `track` as our microphone (paused while muted).
    pub(super) fn start_mic(&self, track: web_sys::MediaStreamTrack) {
        match AudioSource::start(track, self.publisher()) {
            Ok(source) => {
                source.control.paused.set(self.state.borrow().me.muted);
                *self.outbound.mic.borrow_mut() = Some(source);
            }
            Err(err) => js::warn(&format!(
                "edgecall: cannot encode the microphone: {}",
                js::describe(&err)
            )),
        }
    }

    /// Stops the camera's encoder (the device stays with the capture).
    pub(super) fn stop_camera(&self) {
        if let Some(s) = self.outbound.camera.borrow_mut().take() {
            s.stop();
        }
    }

    /// Stops the microphone's encoder.
    pub(super) fn stop_mic(&self) {
        if let Some(s) = self.outbound.mic.borrow_mut().take() {
            s.stop();
        }
    }

    /// Stops every encoder and decoder.
    pub(super) fn stop_media(&self) {
        self.stop_camera();
        self.stop_mic();
        if let Some(s) = self.outbound.screen.borrow_mut().take() {
            s.stop();
        }
        self.clear_receivers();
    }

    /// Every layer of our camera and screen starts with a keyframe (after a
    /// reconnect everyone needs one from us).
    pub(super) fn restart_keyframes(&self) {
        for source in [&self.outbound.camera, &self.outbound.screen] {
            if let Some(s) = source.borrow().as_ref() {
                s.control.force_keyframes();
            }
        }
    }

    /// Asks for the screen and publishes it; a refusal is reported in the
    /// status line.
    pub(super) async fn share_screen(&self) {
        let devices: Devices = match js::window().navigator().media_devices() {
            Ok(d) => d.unchecked_into(),
            Err(_) => return,
        };
        let options = js::obj(&[
            ("video", js::obj(&[("frameRate", 10.into())]).into()),
            ("audio", JsValue::FALSE),
        ]);
        let stream = match devices.get_display_media_with(&options) {
            Ok(p) => JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        let stream: web_sys::MediaStream = match stream {
            Ok(s) => s.unchecked_into(),
            Err(err) => {
                js::warn(&format!(
                    "edgecall: screen share refused: {}",
                    js::describe(&err)
                ));
                self.notify("Screen sharing was cancelled or is not allowed.");
                return;
            }
        };
        let Ok(track) = stream
            .get_video_tracks()
            .get(0)
            .dyn_into::<web_sys::MediaStreamTrack>()
        else {
            return;
        };
        let weak = self.me.clone();
        // The browser's own "Stop sharing" ends the track.
        let on_end = Rc::new(move || {
            if let Some(a) = weak.upgrade() {
                a.stop_screen();
            }
        });
        match VideoSource::start(
            track,
            Track::Screen,
            self.outbound.codec.get(),
            &SCREEN_LAYERS,
            self.publisher(),
            on_end,
        ) {
            Ok(source) => {
                *self.outbound.screen.borrow_mut() = Some(source);
                let level = self.state.borrow().congestion;
                self.apply_congestion(level);
                self.state.borrow_mut().me.sharing_screen = true;
                self.announce_media_state();
            }
            Err(err) => js::warn(&format!(
                "edgecall: cannot encode the screen: {}",
                js::describe(&err)
            )),
        }
    }

    /// Stops sharing the screen; `false` when it was not shared.
    pub(super) fn stop_screen(&self) -> bool {
        let Some(source) = self.outbound.screen.borrow_mut().take() else {
            return false;
        };
        source.stop();
        self.state.borrow_mut().me.sharing_screen = false;
        self.announce_media_state();
        true
    }

    /// A chat message as it goes on the wire: sealed when the meeting is
    /// end-to-end encrypted. `Err` says why it cannot be sent.
    pub(super) fn outgoing_chat(&self, text: String) -> Result<wire::Chat, String> {
        let key = self.key.borrow();
        let Some(key) = key.as_ref() else {
            return Ok(wire::Chat {
                text,
                sealed: Default::default(),
            });
        };
        let sender = self
            .state
            .borrow()
            .my_e2ee_sender()
            .map(str::to_owned)
            .ok_or_else(|| "not in the meeting yet".to_owned())?;
        // Strictly increasing, so receivers can drop replays.
        let sent_ms = (js::wall_us() / 1_000.0) as u64;
        let sent_ms = sent_ms.max(self.outbound.last_chat_ms.get() + 1);
        let sealed = key
            .seal_chat(&sender, sent_ms, &text, &mut OsRng)
            .map_err(|err| {
                js::warn(&format!("edgecall: cannot seal a chat message: {err}"));
                err.to_string()
            })?;
        self.outbound.last_chat_ms.set(sent_ms);
        Ok(wire::Chat {
            text: String::new(),
            sealed: sealed.into(),
        })
    }

    /// Feeds the oldest unanswered keep-alive to the congestion controller
    /// and acts on its verdict.
    pub(super) fn check_congestion(&self, now: f64) {
        let oldest_ping = self.link.oldest_unanswered_ms(now);
        let level = {
            let mut cc = self.congestion.borrow_mut();
            if oldest_ping > self.state.borrow().rtt_ms.unwrap_or(0.0) {
                cc.observe_rtt(oldest_ping);
            }
            cc.evaluate(js::wall_us() / 1_000.0)
        };
        if let Some(level) = level {
            js::warn(&format!("edgecall: congestion level now {level:?}"));
            self.apply_congestion(level);
            self.send(client_message::Msg::Congestion(wire::Congestion {
                max_layer: level.max_layer(),
                video_paused: level.video_paused(),
                audio_paused: false,
            }));
        }
    }

    /// Shows `level` and encodes only what it allows of our own video.
    pub(super) fn apply_congestion(&self, level: Level) {
        self.state.borrow_mut().congestion = level;
        for source in [&self.outbound.camera, &self.outbound.screen] {
            if let Some(s) = source.borrow().as_ref() {
                let low_only = level != Level::Full;
                if s.control.low_layer_only.replace(low_only) && !low_only {
                    // The higher layers restart: their receivers need a
                    // keyframe.
                    s.control.force_keyframes_above(0);
                }
            }
        }
    }
}
