//! The meeting's controls (mute, camera, screen, leave, chat, pages), the
//! subscriptions that follow what is on screen, and the housekeeping tick.

use edgecall_proto::wire::{self, client_message, ClientMessage, ModerationAction, Track};
use prost::Message as _;
use wasm_bindgen::JsCast;

use super::{budget_clock, App};
use crate::call::Phase;
use crate::js;
use crate::media::recv::canvas_id;
use crate::subscription::{subscribe_for, TileView};
use crate::ui;

/// Housekeeping period.
const TICK_MS: i32 = 50;
/// How often the meeting view, the speaking borders, the congestion
/// verdict and the subscriptions are refreshed.
const REFRESH_EVERY_MS: f64 = 250.0;

impl App {
    /// Tells the server (and the page) what we publish now.
    pub(super) fn announce_media_state(&self) {
        let state = self.media_state();
        self.send(client_message::Msg::MediaState(state));
        self.render();
    }

    pub(super) fn toggle_mute(&self) {
        let mic = self.outbound.mic.borrow();
        let muted = {
            let mut state = self.state.borrow_mut();
            state.me.muted = !state.me.muted || mic.is_none();
            state.me.muted
        };
        if let Some(m) = mic.as_ref() {
            m.control.paused.set(muted);
        }
        drop(mic);
        self.announce_media_state();
    }

    /// Camera off gives the device back; camera on opens it again (the
    /// one chosen in the meeting's list).
    pub(super) fn toggle_camera(&self) {
        if !self.state.borrow().me.camera_off {
            self.release_camera();
            self.state.borrow_mut().me.camera_off = true;
            self.announce_media_state();
            return;
        }
        let app = self.rc();
        wasm_bindgen_futures::spawn_local(async move {
            if app.camera_back_on().await {
                app.announce_media_state();
            }
        });
    }

    pub(super) fn toggle_screen(&self) {
        if self.state.borrow().phase != Phase::InCall {
            return;
        }
        if self.stop_screen() {
            return;
        }
        let app = self.rc();
        wasm_bindgen_futures::spawn_local(async move { app.share_screen().await });
    }

    pub(super) fn leave(&self) {
        self.link.leave();
        self.stop_media();
        if let Some(stream) = self.capture.local.borrow_mut().take() {
            for t in stream.get_tracks().iter() {
                t.unchecked_into::<web_sys::MediaStreamTrack>().stop();
            }
        }
        {
            let mut state = self.state.borrow_mut();
            state.phase = Phase::Left;
            state.participants.clear();
        }
        ui::show("meeting", false);
        self.render();
    }

    pub(super) fn send_chat(&self) {
        let Some(input) = ui::input("chat-input") else {
            return;
        };
        let text = input.value();
        if text.trim().is_empty() || self.state.borrow().phase != Phase::InCall {
            return;
        }
        let sent = self
            .outgoing_chat(text)
            .and_then(|chat| self.send_within_chat_rate(client_message::Msg::Chat(chat)));
        match sent {
            Ok(()) => input.set_value(""),
            Err(why) => self.notify(format!("Message not sent: {why}")),
        }
    }

    /// Sends a chat message or a reaction if the host's chat rate allows
    /// it now (both count against it).
    fn send_within_chat_rate(&self, msg: client_message::Msg) -> Result<(), String> {
        let data = ClientMessage { msg: Some(msg) }.encode_to_vec();
        self.link
            .budget
            .borrow_mut()
            .chat(data.len(), budget_clock())
            .map_err(|why| why.to_string())?;
        if let Some(conn) = self.link.connection() {
            conn.send_control(&data);
        }
        Ok(())
    }

    /// Raises or lowers our hand.
    pub(super) fn toggle_hand(&self) {
        if self.state.borrow().phase != Phase::InCall {
            return;
        }
        {
            let mut state = self.state.borrow_mut();
            state.me.hand_raised = !state.me.hand_raised;
        }
        self.announce_media_state();
    }

    /// Sends reaction `emoji` (one of the engine's `REACTIONS`).
    pub(super) fn react(&self, emoji: &str) {
        if self.state.borrow().phase != Phase::InCall {
            return;
        }
        let reaction = client_message::Msg::Reaction(wire::Reaction {
            emoji: emoji.to_owned(),
        });
        if let Err(why) = self.send_within_chat_rate(reaction) {
            self.notify(format!("Reaction not sent: {why}"));
        }
    }

    /// A host's request about participant `id` (0 for the whole meeting).
    pub(super) fn moderate(&self, action: ModerationAction, id: u32) {
        if !self.state.borrow().me.host {
            return;
        }
        self.send(client_message::Msg::Moderate(wire::Moderate {
            action: action as i32,
            participant: id,
        }));
    }

    /// A host acted on us: follow it and say so.
    pub(super) fn moderated(&self, moderated: &wire::Moderated) {
        let by = &moderated.by_name;
        let what = match ModerationAction::try_from(moderated.action) {
            Ok(ModerationAction::Mute) => {
                if !self.state.borrow().me.muted {
                    self.toggle_mute();
                }
                format!("{by} muted you")
            }
            Ok(ModerationAction::LowerHand) => {
                self.state.borrow_mut().me.hand_raised = false;
                self.announce_media_state();
                format!("{by} lowered your hand")
            }
            _ => return,
        };
        self.state.borrow_mut().moderation.push(what.clone());
        self.notify(what);
    }

    /// The page clock: decoders every tick; in the call, the keep-alive,
    /// and every [`REFRESH_EVERY_MS`] the view and the subscriptions.
    pub(super) fn start_tick(&self) {
        let weak = self.me.clone();
        let mut last_render = 0.0;
        let tick = js::callback0(move || {
            let Some(a) = weak.upgrade() else { return };
            let now = js::now_ms();
            a.poll_receivers(now);
            if a.state.borrow().phase != Phase::InCall {
                return;
            }
            a.keep_alive(now);
            if now - last_render >= REFRESH_EVERY_MS {
                last_render = now;
                a.check_congestion(now);
                a.state.borrow_mut().refresh_speaking(now);
                a.state.borrow_mut().expire_notice(now);
                a.state.borrow_mut().expire_reactions(now);
                a.render();
                a.update_subscriptions();
            }
        });
        let _ = js::window().set_interval_with_callback_and_timeout_and_arguments_0(&tick, TICK_MS);
    }

    /// Grid or speaker view.
    pub(super) fn toggle_view(&self) {
        self.state.borrow_mut().toggle_view();
        self.render();
        self.update_subscriptions();
    }

    /// Pins participant `id` to the stage, or unpins them.
    pub(super) fn toggle_pin(&self, id: u32) {
        self.state.borrow_mut().toggle_pin(id);
        self.render();
        self.update_subscriptions();
    }

    pub(super) fn turn_page(&self, forward: bool) {
        self.state.borrow_mut().turn_page(forward);
        self.render();
        self.update_subscriptions();
    }

    /// Asks for the video of the tiles on screen, at the layer their size
    /// needs, within the host's subscription limit.
    fn update_subscriptions(&self) {
        let window = js::window();
        let vw = window
            .inner_width()
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        let vh = window
            .inner_height()
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        let mut tiles = Vec::new();
        for p in self.state.borrow().participants.values() {
            for track in [Track::Camera, Track::Screen] {
                let Some(canvas) = ui::by_id(&canvas_id(p.id, track)) else {
                    continue;
                };
                let hidden = canvas
                    .clone()
                    .dyn_into::<web_sys::HtmlElement>()
                    .is_ok_and(|e| e.hidden());
                let rect = canvas.get_bounding_client_rect();
                let on_screen = rect.width() > 0.0
                    && rect.height() > 0.0
                    && rect.bottom() > 0.0
                    && rect.right() > 0.0
                    && rect.top() < vh
                    && rect.left() < vw;
                let width = canvas
                    .closest(".tile")
                    .ok()
                    .flatten()
                    .map_or(rect.width(), |t| t.get_bounding_client_rect().width());
                tiles.push(TileView {
                    participant: p.id,
                    track,
                    visible: !hidden && on_screen,
                    width,
                });
            }
        }
        let limit = self.state.borrow().max_subscriptions;
        let subscribe = subscribe_for(&tiles, limit);
        self.state.borrow_mut().subscribed_to(&subscribe);
        if self.last_subscribe.borrow().as_ref() != Some(&subscribe) {
            *self.last_subscribe.borrow_mut() = Some(subscribe.clone());
            self.send(client_message::Msg::Subscribe(subscribe));
        }
    }
}
