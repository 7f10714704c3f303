//! The lobby: the form, the camera and microphone preview, the device
//! lists, "New meeting" and the invite link.

use std::rc::Rc;

use edgecall_proto::e2ee::RoomSecret;
use rand_core::OsRng;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::{key_kind, App};
use crate::call::Phase;
use crate::config::{fragment, meeting_path, random_meeting_id, ClientConfig};
use crate::js;
use crate::ui;

impl App {
    pub(super) async fn lobby(self: Rc<Self>) {
        if let Some(i) = ui::input("name-input") {
            i.set_value(&self.params.name);
        }
        if let Some(i) = ui::input("meeting-input") {
            i.set_value(&self.params.meeting);
        }
        ui::show("lobby", true);
        self.render();
        // The page config (404 or unreachable: defaults).
        if let Ok((200, body)) = js::fetch_text("/client-config.json").await {
            match ClientConfig::from_json(&body) {
                Ok(config) => *self.config.borrow_mut() = config,
                Err(err) => js::warn(&format!("edgecall: {err}")),
            }
        }
        self.start_preview().await;
        self.fill_devices().await;
        if self.params.autojoin {
            self.join();
        }
    }

    pub(super) async fn start_preview(&self) {
        if self.state.borrow().phase != Phase::Lobby {
            return;
        }
        let Some(devices) = js::window().navigator().media_devices().ok() else {
            ui::set_text(
                "device-note",
                "This browser cannot capture media; you can still join and watch.",
            );
            return;
        };
        let pick = |id: &str| {
            ui::by_id(id)
                .and_then(|e| e.dyn_into::<web_sys::HtmlSelectElement>().ok())
                .map(|s| s.value())
                .filter(|v| !v.is_empty())
        };
        let constraint = |device: Option<String>, extra: &[(&str, JsValue)]| -> JsValue {
            let mut entries: Vec<(&str, JsValue)> = extra.to_vec();
            if let Some(id) = device {
                entries.push(("deviceId", js::obj(&[("exact", id.into())]).into()));
            }
            js::obj(&entries).into()
        };
        let video = constraint(
            pick("camera-select"),
            &[("width", 640.into()), ("height", 480.into())],
        );
        let audio = constraint(pick("mic-select"), &[]);
        if let Some(old) = self.local.borrow_mut().take() {
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
            let constraints = js::obj(&[("video", v), ("audio", a)]);
            let Ok(promise) = devices.get_user_media_with_constraints(constraints.unchecked_ref())
            else {
                continue;
            };
            if let Ok(s) = JsFuture::from(promise).await {
                stream = Some(s.unchecked_into::<web_sys::MediaStream>());
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
        *self.local.borrow_mut() = stream;
    }

    async fn fill_devices(&self) {
        let Some(devices) = js::window().navigator().media_devices().ok() else {
            return;
        };
        let Ok(promise) = devices.enumerate_devices() else {
            return;
        };
        let Ok(list) = JsFuture::from(promise).await else {
            return;
        };
        let current = |kind: &str| {
            self.local.borrow().as_ref().and_then(|s| {
                let tracks = if kind == "video" {
                    s.get_video_tracks()
                } else {
                    s.get_audio_tracks()
                };
                let track: web_sys::MediaStreamTrack = tracks.get(0).dyn_into().ok()?;
                js::get(&track.get_settings(), "deviceId").as_string()
            })
        };
        for (select_id, kind) in [
            ("camera-select", "videoinput"),
            ("mic-select", "audioinput"),
        ] {
            let Some(select) = ui::by_id(select_id) else {
                continue;
            };
            select.set_inner_html("");
            let selected = current(if kind == "videoinput" {
                "video"
            } else {
                "audio"
            });
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
                if let Ok(option) = web_sys::HtmlOptionElement::new_with_text_and_value_and_default_selected_and_selected(
                    &label,
                    &info.device_id(),
                    false,
                    selected.as_deref() == Some(info.device_id().as_str()),
                ) {
                    let _ = select.append_child(&option);
                }
            }
        }
    }

    /// "New meeting": a random meeting id and, when end-to-end encryption
    /// is ticked, a random 128-bit key; the address bar and the invite link
    /// carry the key in the fragment only. Then joins it.
    pub(super) fn new_meeting(&self) {
        if self.state.borrow().phase != Phase::Lobby || self.link.joining() {
            return;
        }
        let encrypt = ui::input("new-meeting-e2ee").is_none_or(|c| c.checked());
        let meeting = random_meeting_id(&mut OsRng);
        let secret = encrypt.then(|| RoomSecret::generate(&mut OsRng));
        if let Some(i) = ui::input("meeting-input") {
            i.set_value(&meeting);
        }
        let name = ui::input("name-input")
            .map(|i| i.value().trim().to_owned())
            .unwrap_or_default();
        let location = js::window().location();
        let mut url = meeting_path(&name, &meeting);
        url.push_str(&location.search().unwrap_or_default());
        if let Some(secret) = &secret {
            url.push('#');
            url.push_str(&fragment(secret));
        }
        // Reloading the page rejoins the same meeting with the same key.
        if let Ok(history) = js::window().history() {
            if let Err(err) = history.replace_state_with_url(&JsValue::NULL, "", Some(&url)) {
                js::warn(&format!(
                    "edgecall: cannot update the address bar: {}",
                    js::describe(&err)
                ));
            }
        }
        {
            let mut state = self.state.borrow_mut();
            state.e2ee = secret.is_some();
            state.e2ee_key = secret.as_ref().map(key_kind);
        }
        *self.secret.borrow_mut() = secret;
        js::log(&format!(
            "edgecall: new meeting {meeting}{}",
            if encrypt {
                ", end-to-end encrypted"
            } else {
                ""
            }
        ));
        self.rc().join();
    }

    /// Copies the invite link to the clipboard, or selects it for the
    /// user to copy where the clipboard is not available.
    pub(super) fn copy_invite(&self) {
        let Some(link) = self.state.borrow().invite.clone() else {
            return;
        };
        let input = ui::input("invite-link");
        let clipboard = js::get(&js::window().navigator(), "clipboard");
        let write = js::get(&clipboard, "writeText");
        let copied = write
            .dyn_ref::<js_sys::Function>()
            .and_then(|f| f.call1(&clipboard, &JsValue::from_str(&link)).ok())
            .and_then(|p| p.dyn_into::<js_sys::Promise>().ok());
        wasm_bindgen_futures::spawn_local(async move {
            let ok = match copied {
                Some(promise) => JsFuture::from(promise).await.is_ok(),
                None => false,
            };
            if ok {
                ui::set_text("copy-invite", "Copied");
            } else if let Some(input) = input {
                input.select();
                ui::set_text("copy-invite", "Press Ctrl+C");
            }
        });
    }
}
