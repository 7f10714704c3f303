//! Devices: the lobby's preview, the device lists (in the lobby and in the
//! meeting), switching camera and microphone during the call, choosing the
//! audio output, and giving the camera back while it is off.
//!
//! A switch captures the new device first and only then replaces the old
//! one, so a device that cannot be opened leaves the call as it was; the
//! new encoder starts with a keyframe and the sequence numbers go on, so
//! receivers keep decoding.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::App;
use crate::call::Phase;
use crate::js;
use crate::ui;

/// The capture size asked of cameras (the top simulcast layer).
const CAMERA_WIDTH: u32 = 640;
const CAMERA_HEIGHT: u32 = 480;

/// What this page captures.
pub(super) struct Capture {
    /// The camera and microphone tracks in use (the lobby's preview, then
    /// the call's); the self tile shows this stream.
    pub(super) local: RefCell<Option<web_sys::MediaStream>>,
    /// A device is being opened (a second click waits for it).
    busy: Cell<bool>,
}

impl Capture {
    pub(super) fn new() -> Self {
        Self {
            local: RefCell::new(None),
            busy: Cell::new(false),
        }
    }

    /// The live track of a kind (`video` or `audio`) in the local stream.
    fn track(&self, video: bool) -> Option<web_sys::MediaStreamTrack> {
        let local = self.local.borrow();
        tracks_of(local.as_ref()?, video)
            .iter()
            .filter_map(|t| t.dyn_into::<web_sys::MediaStreamTrack>().ok())
            .find(|t| t.ready_state() == web_sys::MediaStreamTrackState::Live)
    }

    /// Stops and removes every track of a kind from the local stream.
    fn release(&self, video: bool) {
        let local = self.local.borrow();
        let Some(stream) = local.as_ref() else {
            return;
        };
        for track in tracks_of(stream, video).iter() {
            let track: web_sys::MediaStreamTrack = track.unchecked_into();
            track.stop();
            stream.remove_track(&track);
        }
    }

    /// Puts `track` in the local stream (made, and shown in the self tile,
    /// when there was none).
    fn add(&self, track: &web_sys::MediaStreamTrack) {
        let mut local = self.local.borrow_mut();
        if local.is_none() {
            let Ok(stream) = web_sys::MediaStream::new() else {
                return;
            };
            if let Some(video) = ui::by_id("tile-self")
                .and_then(|t| t.query_selector("video").ok().flatten())
                .and_then(|v| v.dyn_into::<web_sys::HtmlVideoElement>().ok())
            {
                video.set_src_object(Some(&stream));
            }
            *local = Some(stream);
        }
        if let Some(stream) = local.as_ref() {
            stream.add_track(track);
        }
    }
}

/// A `getUserMedia` constraint for a camera: `device` exactly when given.
fn camera_constraint(device: Option<String>) -> JsValue {
    device_constraint(
        device,
        &[
            ("width", CAMERA_WIDTH.into()),
            ("height", CAMERA_HEIGHT.into()),
        ],
    )
}

fn device_constraint(device: Option<String>, extra: &[(&str, JsValue)]) -> JsValue {
    let mut entries: Vec<(&str, JsValue)> = extra.to_vec();
    if let Some(id) = device {
        entries.push(("deviceId", js::obj(&[("exact", id.into())]).into()));
    }
    js::obj(&entries).into()
}

/// Asks the browser for media.
async fn capture(video: JsValue, audio: JsValue) -> Result<web_sys::MediaStream, JsValue> {
    let devices = js::window().navigator().media_devices()?;
    let constraints = js::obj(&[("video", video), ("audio", audio)]);
    let promise = devices.get_user_media_with_constraints(constraints.unchecked_ref())?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

/// The first track of a kind in `stream`.
fn first_track(stream: &web_sys::MediaStream, video: bool) -> Option<web_sys::MediaStreamTrack> {
    tracks_of(stream, video).get(0).dyn_into().ok()
}

/// The video (`video`) or audio tracks of `stream`.
fn tracks_of(stream: &web_sys::MediaStream, video: bool) -> js_sys::Array {
    if video {
        stream.get_video_tracks()
    } else {
        stream.get_audio_tracks()
    }
}

/// The device a track captures from.
fn device_of(track: &web_sys::MediaStreamTrack) -> Option<String> {
    js::get(&track.get_settings(), "deviceId").as_string()
}

/// The value chosen in select `id` (empty: the browser's default).
fn chosen(id: &str) -> Option<String> {
    select(id).map(|s| s.value()).filter(|v| !v.is_empty())
}

fn select(id: &str) -> Option<web_sys::HtmlSelectElement> {
    ui::by_id(id).and_then(|e| e.dyn_into().ok())
}

/// Whether this browser can send an `AudioContext` to a chosen output.
fn can_choose_output() -> bool {
    let context = js::get(&js::window(), "AudioContext");
    js::get(&js::get(&context, "prototype"), "setSinkId").is_function()
}

impl App {
    /// The lobby's preview: the chosen camera and microphone (or what is
    /// there: a page without a camera joins with it off).
    pub(super) async fn start_preview(&self) {
        if self.state.borrow().phase != Phase::Lobby {
            return;
        }
        if let Some(why) = &self.watch_only {
            ui::set_text("device-note", why);
            return;
        }
        if js::window().navigator().media_devices().is_err() {
            ui::set_text(
                "device-note",
                "This browser cannot capture media; you can still join and watch.",
            );
            return;
        }
        let video = camera_constraint(chosen("camera-select"));
        let audio = device_constraint(chosen("mic-select"), &[]);
        if let Some(old) = self.capture.local.borrow_mut().take() {
            for t in old.get_tracks().iter() {
                t.unchecked_into::<web_sys::MediaStreamTrack>().stop();
            }
        }
        let mut note = "";
        let mut stream = None;
        for (v, a, n) in [
            (video.clone(), audio.clone(), ""),
            (
                video,
                JsValue::FALSE,
                "No microphone available: you will join muted.",
            ),
            (
                JsValue::FALSE,
                audio,
                "No camera available: you will join with the camera off.",
            ),
        ] {
            if let Ok(s) = capture(v, a).await {
                stream = Some(s);
                note = n;
                break;
            }
        }
        if stream.is_none() {
            note = "No camera or microphone available: you can still join and watch.";
        }
        ui::set_text("device-note", note);
        if let Some(preview) =
            ui::by_id("preview").and_then(|e| e.dyn_into::<web_sys::HtmlVideoElement>().ok())
        {
            preview.set_src_object(stream.as_ref());
        }
        *self.capture.local.borrow_mut() = stream;
    }

    /// Fills the device lists of the lobby and of the meeting, each showing
    /// the device in use; the output list only where the browser can
    /// choose one.
    pub(super) async fn fill_devices(&self) {
        let Ok(devices) = js::window().navigator().media_devices() else {
            return;
        };
        let Ok(promise) = devices.enumerate_devices() else {
            return;
        };
        let Ok(list) = JsFuture::from(promise).await else {
            return;
        };
        let camera = self.capture.track(true).as_ref().and_then(device_of);
        let mic = self.capture.track(false).as_ref().and_then(device_of);
        let output = self.state.borrow().me.audio_output_id.clone();
        let lists = [
            ("camera-select", "videoinput", camera.clone()),
            ("mic-select", "audioinput", mic.clone()),
            ("call-camera-select", "videoinput", camera),
            ("call-mic-select", "audioinput", mic),
            ("speaker-select", "audiooutput", output),
        ];
        for (select_id, kind, in_use) in lists {
            let Some(select) = ui::by_id(select_id) else {
                continue;
            };
            select.set_inner_html("");
            for info in js_sys::Array::from(&list).iter() {
                let info: web_sys::MediaDeviceInfo = info.unchecked_into();
                if js::get(&info, "kind").as_string().as_deref() != Some(kind) {
                    continue;
                }
                let label = if info.label().is_empty() {
                    kind.to_owned()
                } else {
                    info.label()
                };
                let selected = in_use.as_deref() == Some(info.device_id().as_str());
                if let Ok(option) = web_sys::HtmlOptionElement::new_with_text_and_value_and_default_selected_and_selected(
                    &label,
                    &info.device_id(),
                    false,
                    selected,
                ) {
                    let _ = select.append_child(&option);
                }
            }
        }
        ui::show("speaker-choice", can_choose_output());
        self.note_devices();
    }

    /// Refills the lists when devices come and go (a headset plugged in).
    pub(super) fn follow_device_changes(&self) {
        let Ok(devices) = js::window().navigator().media_devices() else {
            return;
        };
        let weak = self.me.clone();
        let on_change = js::callback(move |_: web_sys::Event| {
            if let Some(a) = weak.upgrade() {
                wasm_bindgen_futures::spawn_local(async move { a.fill_devices().await });
            }
        });
        let _ = devices.add_event_listener_with_callback("devicechange", &on_change);
    }

    /// Shows the devices in use in the call state.
    fn note_devices(&self) {
        let camera = self.capture.track(true).map(|t| t.label());
        let mic = self.capture.track(false).map(|t| t.label());
        let mut state = self.state.borrow_mut();
        state.me.camera_device = camera;
        state.me.mic_device = mic;
    }

    /// Runs `switch` unless another device change is under way.
    async fn one_at_a_time(&self, switch: impl std::future::Future<Output = Result<(), String>>) {
        if self.capture.busy.replace(true) {
            return;
        }
        let result = switch.await;
        self.capture.busy.set(false);
        if let Err(why) = result {
            js::warn(&format!("edgecall: {why}"));
            self.state.borrow_mut().notify(why, js::now_ms());
        }
        self.note_devices();
        // Show what is in use now, whether or not the switch worked.
        self.fill_devices().await;
        self.render();
    }

    /// Moves the call to the camera chosen in the meeting's list. While the
    /// camera is off nothing is opened: the choice is used when it is
    /// turned back on.
    pub(super) async fn switch_camera(&self) {
        if self.state.borrow().me.camera_off {
            return;
        }
        self.one_at_a_time(async {
            let wanted = chosen("call-camera-select");
            let current = self.capture.track(true).as_ref().and_then(device_of);
            if wanted.is_some() && wanted == current {
                return Ok(());
            }
            let stream = capture(camera_constraint(wanted), JsValue::FALSE)
                .await
                .map_err(|e| format!("Cannot use that camera: {}", js::describe(&e)))?;
            let track = first_track(&stream, true).ok_or("That camera gave no video.")?;
            self.stop_camera();
            self.capture.release(true);
            self.capture.add(&track);
            self.start_camera(track);
            Ok(())
        })
        .await;
    }

    /// Moves the call to the microphone chosen in the meeting's list (muted
    /// stays muted).
    pub(super) async fn switch_mic(&self) {
        if self.watch_only.is_some() {
            return;
        }
        self.one_at_a_time(async {
            let wanted = chosen("call-mic-select");
            let current = self.capture.track(false).as_ref().and_then(device_of);
            if wanted.is_some() && wanted == current {
                return Ok(());
            }
            let stream = capture(JsValue::FALSE, device_constraint(wanted, &[]))
                .await
                .map_err(|e| format!("Cannot use that microphone: {}", js::describe(&e)))?;
            let track = first_track(&stream, false).ok_or("That microphone gave no audio.")?;
            self.stop_mic();
            self.capture.release(false);
            self.capture.add(&track);
            self.start_mic(track);
            Ok(())
        })
        .await;
    }

    /// Plays the call on the output chosen in the meeting's list.
    pub(super) async fn switch_speaker(&self) {
        let Some(out) = self.playback.audio_out.borrow().clone() else {
            return;
        };
        let wanted = chosen("speaker-select").unwrap_or_default();
        self.one_at_a_time(async {
            out.set_output(&wanted)
                .await
                .map_err(|e| format!("Cannot play on that output: {}", js::describe(&e)))?;
            let label = select("speaker-select")
                .and_then(|s| s.selected_options().item(0))
                .and_then(|o| o.text_content());
            let mut state = self.state.borrow_mut();
            state.me.audio_output_id = Some(wanted.clone());
            state.me.audio_output = label;
            Ok(())
        })
        .await;
    }

    /// Camera off: the encoder stops and the device is given back (its
    /// light goes out).
    pub(super) fn release_camera(&self) {
        self.stop_camera();
        self.capture.release(true);
        self.note_devices();
    }

    /// Camera back on: opens the chosen camera again and publishes it;
    /// `false` (with the reason in the status line) when it cannot.
    pub(super) async fn camera_back_on(&self) -> bool {
        let opened = Rc::new(Cell::new(false));
        let done = opened.clone();
        self.one_at_a_time(async move {
            if let Some(why) = &self.watch_only {
                return Err(why.clone());
            }
            let stream = capture(
                camera_constraint(chosen("call-camera-select")),
                JsValue::FALSE,
            )
            .await
            .map_err(|e| format!("Cannot turn the camera on: {}", js::describe(&e)))?;
            let track = first_track(&stream, true).ok_or("The camera gave no video.")?;
            self.capture.add(&track);
            self.state.borrow_mut().me.camera_off = false;
            self.start_camera(track);
            done.set(true);
            Ok(())
        })
        .await;
        opened.get()
    }
}
