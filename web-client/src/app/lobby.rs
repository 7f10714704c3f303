//! The lobby: the form, "New meeting" and the invite link (the preview
//! and the device lists are in [`super::devices`]).

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
