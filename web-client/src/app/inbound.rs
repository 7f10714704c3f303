//! What the server sends: roster, chat and errors into the call state,
//! media (opened when sealed) into the decoders, decoded media to the
//! screen and the speakers.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use edgecall_proto::wire::{self, client_message, server_message, MediaFrame, Track};

use super::App;
use crate::call::{Change, Counter};
use crate::ffi::AudioData;
use crate::js;
use crate::media::audio_out::AudioOut;
use crate::media::recv::{DecodeSink, Receivers};
use crate::session::AttemptError;
use crate::stats::LatencySamples;

/// Latency samples kept for `latencySamples()`.
const LATENCY_SAMPLES: usize = 20_000;

/// Remote media on its way out of the page.
pub(super) struct Playback {
    receivers: RefCell<Option<Receivers>>,
    pub(super) audio_out: RefCell<Option<Rc<AudioOut>>>,
    /// Glass-to-glass samples of remote camera frames (the test hook).
    pub(super) latency: RefCell<LatencySamples>,
}

impl Playback {
    pub(super) fn new() -> Self {
        Self {
            receivers: RefCell::new(None),
            audio_out: RefCell::new(None),
            latency: RefCell::new(LatencySamples::new(LATENCY_SAMPLES)),
        }
    }
}

impl App {
    /// Sets up the audio output and the decoders (at join, after the
    /// user's click, so audio may play).
    pub(super) fn start_playback(&self) {
        let out = Rc::new(AudioOut::new());
        out.resume();
        *self.playback.audio_out.borrow_mut() = Some(out);
        let weak = self.me.clone();
        let sink: Rc<dyn DecodeSink> = Rc::new(AppDecodeSink(weak.clone()));
        let ask = Rc::new(move |sender: u32, track: Track, layer: u32| {
            if let Some(a) = weak.upgrade() {
                a.send(client_message::Msg::KeyframeRequest(
                    wire::KeyframeRequest {
                        participant: sender,
                        track: track as i32,
                        layer,
                    },
                ));
            }
        });
        *self.playback.receivers.borrow_mut() = Some(Receivers::new(sink, ask));
    }

    /// Drops every decoder (the connection is gone; a new one starts each
    /// stream at a keyframe).
    pub(super) fn clear_receivers(&self) {
        if let Some(r) = self.playback.receivers.borrow_mut().as_mut() {
            r.clear();
        }
    }

    /// Lets the decoders release what is due.
    pub(super) fn poll_receivers(&self, now: f64) {
        if let Some(r) = self.playback.receivers.borrow_mut().as_mut() {
            r.poll(now);
        }
    }

    /// Acts on one server message.
    pub(super) fn handle(&self, msg: server_message::Msg) {
        if let server_message::Msg::Welcome(welcome) = &msg {
            self.link.welcomed(welcome);
        }
        match msg {
            server_message::Msg::Media(frame) => self.media_in(frame),
            server_message::Msg::Chat(chat) => {
                let change = self
                    .state
                    .borrow_mut()
                    .chat_in(&chat, self.key.borrow().as_ref());
                if let Some(line) = self.state.borrow().chat.last() {
                    if let (Change::Render, Some(problem)) = (&change, &line.problem) {
                        js::warn(&format!(
                            "edgecall: a chat message from {} could not be decrypted: {problem}",
                            line.from
                        ));
                    }
                }
                if change == Change::None {
                    js::warn("edgecall: dropped a replayed chat message");
                }
                self.render();
            }
            server_message::Msg::ChatHistory(history) => {
                let change = self
                    .state
                    .borrow_mut()
                    .history_in(&history, self.key.borrow().as_ref());
                if change == Change::Render {
                    self.render();
                }
            }
            server_message::Msg::Reaction(sent) => {
                let change = self.state.borrow_mut().reaction_in(&sent, js::now_ms());
                if change == Change::Render {
                    self.render();
                }
            }
            server_message::Msg::Moderated(moderated) => self.moderated(&moderated),
            server_message::Msg::Pong(pong) => {
                if let Some(rtt) = self.link.pong(pong.nonce) {
                    self.observe_rtt(rtt);
                }
            }
            other => {
                let change = self.state.borrow_mut().apply(&other);
                self.carry_out(change, matches!(other, server_message::Msg::Welcome(_)));
            }
        }
    }

    /// Carries out what the call state says a message changed.
    fn carry_out(&self, change: Change, welcome: bool) {
        match change {
            Change::None => {}
            Change::Render => {
                if welcome {
                    self.link.settle_welcome(Ok(()));
                }
                self.render();
            }
            Change::Left(id) => {
                if let Some(r) = self.playback.receivers.borrow_mut().as_mut() {
                    r.remove(id);
                }
                if let Some(out) = self.playback.audio_out.borrow().as_ref() {
                    out.remove(id);
                }
                self.render();
            }
            Change::Refused { message, fatal } => {
                let error = if fatal {
                    AttemptError::Fatal(message.clone())
                } else {
                    AttemptError::Refused(message.clone())
                };
                if self.link.settle_welcome(Err(error)) {
                    return;
                }
                if fatal {
                    self.link.close();
                    self.stop_media();
                    self.fail(message);
                } else {
                    js::warn(&format!("edgecall: server error: {message}"));
                }
            }
            Change::KeyframeWanted { track, layer } => {
                let source = if track == Track::Screen as i32 {
                    &self.outbound.screen
                } else {
                    &self.outbound.camera
                };
                if let Some(s) = source.borrow().as_ref() {
                    s.control.force_keyframe(layer);
                }
            }
        }
    }

    fn media_in(&self, mut frame: MediaFrame) {
        let now = js::now_ms();
        self.congestion.borrow_mut().observe_frame(
            frame.capture_time_us as f64 / 1_000.0,
            js::wall_us() / 1_000.0,
        );
        let sender = frame.sender;
        let Some(identity) = self.state.borrow().e2ee_sender(sender).map(str::to_owned) else {
            return;
        };
        let key = self.key.borrow();
        match (key.as_ref(), frame.sealed) {
            (Some(key), true) => match key.open(&identity, frame.sequence, &frame.payload) {
                Ok(media) => frame.payload = media.into(),
                Err(_) => {
                    self.state.borrow_mut().decrypt_failed(sender);
                    return;
                }
            },
            (None, false) => {}
            // Sealed without a key, or cleartext in an encrypted call.
            _ => {
                self.state.borrow_mut().decrypt_failed(sender);
                return;
            }
        }
        if let Some(p) = self.state.borrow_mut().participants.get_mut(&sender) {
            if frame.track == Track::Audio as i32 {
                p.observe_level(frame.audio_level, now);
            } else if frame.track == Track::Camera as i32 {
                p.observe_camera(frame.layer, frame.codec);
            }
        }
        if let Some(r) = self.playback.receivers.borrow_mut().as_mut() {
            r.push(frame, now);
        }
    }
}

/// Decoder callbacks into the call state.
struct AppDecodeSink(Weak<App>);

impl DecodeSink for AppDecodeSink {
    fn video_rendered(&self, sender: u32, track: Track, capture_us: f64) {
        let Some(a) = self.0.upgrade() else { return };
        let counter = if track == Track::Screen {
            Counter::Screen
        } else {
            Counter::Video
        };
        a.state.borrow_mut().count(sender, counter);
        if track == Track::Camera {
            a.playback
                .latency
                .borrow_mut()
                .record(capture_us, js::wall_us());
        }
    }

    fn audio_decoded(&self, sender: u32, data: &AudioData) {
        let Some(a) = self.0.upgrade() else { return };
        a.state.borrow_mut().count(sender, Counter::Audio);
        let out = a.playback.audio_out.borrow().clone();
        if let Some(out) = out {
            out.play(sender, data);
        }
    }
}
