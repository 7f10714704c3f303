//! The controller: lobby → join (transport attempts, hello/welcome) →
//! meeting (media in and out, controls, reconnects), and the test hook.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use edgecall_proto::e2ee::RoomKey;
use edgecall_proto::wire::{
    self, client_message, server_message, ClientMessage, Codec, MediaFrame, ServerMessage, Track,
};
use edgecall_proto::PROTOCOL_VERSION;
use futures::channel::oneshot;
use prost::Message as _;
use rand_core::OsRng;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::backoff::Backoff;
use crate::call::{CallState, Change, Counter, Phase};
use crate::config::{
    directory_lookup_url, plan, ClientConfig, DirectoryAnswer, JoinPlan, PageParams,
};
use crate::congestion::{CongestionControl, Level};
use crate::ffi::{AudioData, Devices};
use crate::js;
use crate::level::SPEAKING_LEVEL;
use crate::media::audio_out::AudioOut;
use crate::media::recv::{canvas_id, DecodeSink, Receivers};
use crate::media::send::{AudioSource, Encoded, Publish, VideoSource};
use crate::net::{Connection, Inbound, Sink};
use crate::simulcast::{CAMERA_LAYERS, SCREEN_LAYERS};
use crate::stats::LatencySamples;
use crate::subscription::{subscribe_for, TileView};
use crate::ui;

/// How long the server has to welcome us.
const WELCOME_TIMEOUT_MS: u32 = 10_000;
/// Housekeeping period.
const TICK_MS: i32 = 50;
/// Ping period (RTT display, heartbeat).
const PING_EVERY_MS: f64 = 2_000.0;
/// Latency samples kept for `latencySamples()`.
const LATENCY_SAMPLES: usize = 20_000;

type WelcomeResult = Result<(), (String, bool)>;

/// The running page.
pub struct App {
    me: Weak<App>,
    params: PageParams,
    config: RefCell<ClientConfig>,
    state: RefCell<CallState>,
    key: RefCell<Option<RoomKey>>,
    conn: RefCell<Option<Rc<Connection>>>,
    epoch: Cell<u32>,
    welcome: RefCell<Option<oneshot::Sender<WelcomeResult>>>,
    receivers: RefCell<Option<Receivers>>,
    audio_out: RefCell<Option<Rc<AudioOut>>>,
    latency: RefCell<LatencySamples>,
    local: RefCell<Option<web_sys::MediaStream>>,
    camera: RefCell<Option<VideoSource>>,
    screen: RefCell<Option<VideoSource>>,
    mic: RefCell<Option<AudioSource>>,
    codec: Cell<Codec>,
    sequences: RefCell<HashMap<(i32, u32), u64>>,
    pings: RefCell<HashMap<u64, f64>>,
    congestion: RefCell<CongestionControl>,
    next_nonce: Cell<u64>,
    last_ping_ms: Cell<f64>,
    last_subscribe: RefCell<Option<wire::Subscribe>>,
    plan: RefCell<Option<JoinPlan>>,
    leaving: Cell<bool>,
    reconnecting: Cell<bool>,
    joining: Cell<bool>,
}

thread_local! {
    static APP: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
}

/// Entry point: parses the page URL, shows the lobby, installs the hook.
pub fn start() {
    let location = js::window().location();
    let path = location.pathname().unwrap_or_default();
    let search = location.search().unwrap_or_default();
    let hash = location.hash().unwrap_or_default();
    let parsed = PageParams::parse(&path, &search, &hash);
    let (params, error) = match parsed {
        Ok(p) => (p, None),
        Err(err) => (PageParams::default(), Some(err.to_string())),
    };
    let e2ee = params.key.is_some();
    let app = Rc::new_cyclic(|me| App {
        me: me.clone(),
        state: RefCell::new(CallState::new(&params.name, e2ee)),
        params,
        config: RefCell::new(ClientConfig::default()),
        key: RefCell::new(None),
        conn: RefCell::new(None),
        epoch: Cell::new(0),
        welcome: RefCell::new(None),
        receivers: RefCell::new(None),
        audio_out: RefCell::new(None),
        latency: RefCell::new(LatencySamples::new(LATENCY_SAMPLES)),
        local: RefCell::new(None),
        camera: RefCell::new(None),
        screen: RefCell::new(None),
        mic: RefCell::new(None),
        codec: Cell::new(Codec::H264),
        sequences: RefCell::new(HashMap::new()),
        pings: RefCell::new(HashMap::new()),
        congestion: RefCell::new(CongestionControl::new()),
        next_nonce: Cell::new(1),
        last_ping_ms: Cell::new(0.0),
        last_subscribe: RefCell::new(None),
        plan: RefCell::new(None),
        leaving: Cell::new(false),
        reconnecting: Cell::new(false),
        joining: Cell::new(false),
    });
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    install_hook();
    if let Some(err) = error {
        app.fail(err);
        return;
    }
    app.bind_controls();
    wasm_bindgen_futures::spawn_local(async move { app.lobby().await });
}

fn app() -> Option<Rc<App>> {
    APP.with(|a| a.borrow().clone())
}

/// `window.edgecall = { state(), latencySamples() }`.
fn install_hook() {
    let hook = js_sys::Object::new();
    let state = Closure::<dyn Fn() -> JsValue>::new(|| {
        let json = app().map_or_else(|| "{}".to_owned(), |a| a.state.borrow().to_json());
        js_sys::JSON::parse(&json).unwrap_or(JsValue::NULL)
    });
    let samples = Closure::<dyn Fn() -> JsValue>::new(|| {
        let out = js_sys::Array::new();
        if let Some(a) = app() {
            for s in a.latency.borrow().all() {
                out.push(&JsValue::from_f64(*s));
            }
        }
        out.into()
    });
    let _ = js_sys::Reflect::set(&hook, &"state".into(), &state.into_js_value());
    let _ = js_sys::Reflect::set(&hook, &"latencySamples".into(), &samples.into_js_value());
    let _ = js_sys::Reflect::set(&js::window(), &"edgecall".into(), &hook);
}

/// Runs `f` on `event` of element `id`; `submit` events do not reload.
fn on(id: &str, event: &'static str, f: impl Fn(&Rc<App>) + 'static) {
    if let Some(e) = ui::by_id(id) {
        let cb = js::callback(move |ev: web_sys::Event| {
            if event == "submit" {
                ev.prevent_default();
            }
            if let Some(a) = app() {
                f(&a);
            }
        });
        let _ = e.add_event_listener_with_callback(event, &cb);
    }
}

impl App {
    fn rc(&self) -> Rc<App> {
        self.me.upgrade().expect("the app lives for the page")
    }

    fn render(&self) {
        let speaking = self
            .mic
            .borrow()
            .as_ref()
            .is_some_and(|m| m.level.get() <= SPEAKING_LEVEL);
        ui::render(&self.state.borrow(), speaking);
    }

    fn fail(&self, message: impl Into<String>) {
        let message = message.into();
        js::warn(&format!("edgecall: {message}"));
        self.state.borrow_mut().fail(message);
        ui::render(&self.state.borrow(), false);
    }

    // ------------------------------------------------------------ lobby

    fn bind_controls(&self) {
        on("lobby-form", "submit", |a| a.clone().join());
        on("mute-button", "click", |a| a.toggle_mute());
        on("camera-button", "click", |a| a.toggle_camera());
        on("screen-button", "click", |a| a.toggle_screen());
        on("leave-button", "click", |a| a.leave());
        on("chat-form", "submit", |a| a.send_chat());
        for id in ["camera-select", "mic-select"] {
            on(id, "change", |a| {
                let a = a.clone();
                wasm_bindgen_futures::spawn_local(async move { a.start_preview().await });
            });
        }
        // Any click may unlock audio output.
        let cb = js::callback(|_: web_sys::Event| {
            if let Some(out) = app().and_then(|a| a.audio_out.borrow().clone()) {
                out.resume();
            }
        });
        let _ = js::window().add_event_listener_with_callback("click", &cb);
    }

    async fn lobby(self: Rc<Self>) {
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

    async fn start_preview(&self) {
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

    // ------------------------------------------------------------ joining

    fn join(self: Rc<Self>) {
        if self.joining.replace(true) {
            return;
        }
        let name = ui::input("name-input")
            .map(|i| i.value().trim().to_owned())
            .unwrap_or_default();
        let meeting = ui::input("meeting-input")
            .map(|i| i.value().trim().to_owned())
            .unwrap_or_default();
        if name.is_empty() || meeting.is_empty() {
            self.joining.set(false);
            ui::show_error(Some("Enter your name and a meeting id to join."));
            return;
        }
        let origin = js::window().location().origin().unwrap_or_default();
        let join_plan = match plan(
            &self.params,
            &self.config.borrow(),
            &origin,
            &name,
            &meeting,
        ) {
            Ok(p) => p,
            Err(err) => {
                ui::show("lobby", false);
                self.fail(err.to_string());
                return;
            }
        };
        if let Some(secret) = &self.params.key {
            match RoomKey::derive(secret.as_bytes(), &meeting) {
                Ok(key) => *self.key.borrow_mut() = Some(key),
                Err(err) => {
                    self.fail(err.to_string());
                    return;
                }
            }
        }
        *self.plan.borrow_mut() = Some(join_plan);
        {
            let mut state = self.state.borrow_mut();
            state.me.name = name.clone();
            state.phase = Phase::Connecting;
            let local = self.local.borrow();
            state.me.muted = local
                .as_ref()
                .is_none_or(|s| s.get_audio_tracks().length() == 0);
            state.me.camera_off = local
                .as_ref()
                .is_none_or(|s| s.get_video_tracks().length() == 0);
        }
        let out = Rc::new(AudioOut::new());
        out.resume();
        *self.audio_out.borrow_mut() = Some(out);
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
        *self.receivers.borrow_mut() = Some(Receivers::new(sink, ask));
        ui::show("lobby", false);
        ui::show("meeting", true);
        ui::ensure_self_tile(self.local.borrow().as_ref(), &name);
        self.render();
        self.start_tick();
        wasm_bindgen_futures::spawn_local(async move {
            self.ask_directory(&origin, &name, &meeting).await;
            self.codec.set(crate::media::choose_video_codec().await);
            match self.connect_all().await {
                Ok(()) => self.start_media(),
                Err(message) => self.fail(message),
            }
        });
    }

    /// With a relay directory configured (and no `relay=` in the URL), asks
    /// it which relay serves `meeting` and replans to join there first. A
    /// directory that fails leaves the plan as it was (the edge).
    async fn ask_directory(&self, origin: &str, name: &str, meeting: &str) {
        let Some(directory) = self.config.borrow().directory_url.clone() else {
            return;
        };
        if self.params.relay.is_some() {
            return;
        }
        let url = directory_lookup_url(&directory, meeting, self.params.token.as_deref());
        let answer = match js::fetch_text(&url).await {
            Ok((200, body)) => DirectoryAnswer::from_json(&body).map_err(|e| e.to_string()),
            Ok((status, body)) => Err(format!("HTTP {status}: {body}")),
            Err(err) => Err(err),
        };
        let mut params = self.params.clone();
        let replanned = answer.and_then(|answer| {
            answer.apply(&mut params).map_err(|e| e.to_string())?;
            plan(&params, &self.config.borrow(), origin, name, meeting).map_err(|e| e.to_string())
        });
        match replanned {
            Ok(join_plan) => *self.plan.borrow_mut() = Some(join_plan),
            Err(err) => js::warn(&format!(
                "edgecall: the relay directory at {directory} did not answer usably ({err}); joining without it"
            )),
        }
    }

    /// Tries every attempt of the plan in order; `Err` says why none worked.
    async fn connect_all(&self) -> Result<(), String> {
        let attempts = self
            .plan
            .borrow()
            .as_ref()
            .map(|p| p.attempts.clone())
            .unwrap_or_default();
        let mut failures = Vec::new();
        let mut refusal: Option<String> = None;
        for attempt in &attempts {
            if self.leaving.get() {
                return Err("left".into());
            }
            ui::set_text(
                "status",
                &format!("Connecting via {}…", attempt.kind().as_str()),
            );
            match self.try_attempt(attempt).await {
                Ok(()) => return Ok(()),
                Err((message, fatal)) => {
                    js::warn(&format!("edgecall: {} failed: {message}", attempt.url()));
                    if fatal {
                        return Err(message);
                    }
                    if message.starts_with("The server") {
                        refusal.get_or_insert(message.clone());
                    }
                    failures.push((attempt.clone(), message));
                }
            }
        }
        if let Some(refusal) = refusal {
            return Err(refusal);
        }
        // Tell "nobody there" from "someone there said no".
        for (attempt, message) in &failures {
            if let Some(health) = attempt.health_url() {
                if js::reachable(&health).await {
                    let token = if self.params.token.is_some() {
                        "the join token was rejected (invalid, expired or for another meeting)"
                    } else {
                        "the meeting may need a join token (?token=) or the name is not allowed"
                    };
                    return Err(format!(
                        "The server refused to let you join: {token}. ({} via {}: {message})",
                        attempt.url().split('?').next().unwrap_or_default(),
                        attempt.kind().as_str()
                    ));
                }
            }
        }
        let tried: Vec<String> = failures
            .iter()
            .map(|(a, m)| format!("{} ({m})", a.url().split('?').next().unwrap_or_default()))
            .collect();
        Err(format!(
            "Cannot reach the meeting server. Tried: {}. Check that the server is running and the address is right.",
            tried.join("; ")
        ))
    }

    async fn try_attempt(&self, attempt: &crate::config::Attempt) -> Result<(), (String, bool)> {
        let epoch = self.epoch.get() + 1;
        self.epoch.set(epoch);
        let weak = self.me.clone();
        let sink: Sink = Rc::new(move |inbound| {
            if let Some(a) = weak.upgrade() {
                if a.epoch.get() == epoch {
                    a.inbound(inbound);
                }
            }
        });
        let conn = Connection::open(attempt, sink)
            .await
            .map_err(|m| (m, false))?;
        let (tx, rx) = oneshot::channel();
        *self.welcome.borrow_mut() = Some(tx);
        let conn = Rc::new(conn);
        *self.conn.borrow_mut() = Some(conn.clone());
        let media_state = self.media_state();
        self.send(client_message::Msg::Hello(wire::Hello {
            protocol_version: PROTOCOL_VERSION,
            client: concat!("edgecall-web/", env!("CARGO_PKG_VERSION")).to_owned(),
            media_state: Some(media_state),
            resume_secret: self.state.borrow().resume_secret.clone().into(),
        }));
        let welcomed = async {
            rx.await
                .unwrap_or_else(|_| Err(("cancelled".to_owned(), false)))
        };
        let late = ("the server did not welcome us in time".to_owned(), false);
        let result = js::timeout(WELCOME_TIMEOUT_MS, late, welcomed).await;
        match result {
            Ok(()) => {
                self.state.borrow_mut().connected(conn.kind());
                *self.last_subscribe.borrow_mut() = None;
                // A new connection starts with a clean slate on the server.
                *self.congestion.borrow_mut() = CongestionControl::new();
                self.apply_congestion(Level::Full);
                self.render();
                Ok(())
            }
            Err(err) => {
                self.epoch.set(epoch + 1);
                conn.close();
                *self.conn.borrow_mut() = None;
                Err(err)
            }
        }
    }

    fn media_state(&self) -> wire::MediaState {
        let state = self.state.borrow();
        wire::MediaState {
            audio_muted: state.me.muted,
            camera_off: state.me.camera_off,
            screen_sharing: state.me.sharing_screen,
        }
    }

    fn reconnect(self: Rc<Self>, reason: String) {
        if self.leaving.get() || self.reconnecting.replace(true) {
            return;
        }
        js::warn(&format!(
            "edgecall: connection lost ({reason}); reconnecting"
        ));
        if let Some(conn) = self.conn.borrow_mut().take() {
            conn.close();
        }
        self.epoch.set(self.epoch.get() + 1);
        if let Some(r) = self.receivers.borrow_mut().as_mut() {
            r.clear();
        }
        self.state.borrow_mut().phase = Phase::Reconnecting;
        self.render();
        wasm_bindgen_futures::spawn_local(async move {
            let mut backoff = Backoff::default();
            let mut last = reason;
            loop {
                let Some(delay) = backoff.next_delay(js_sys::Math::random()) else {
                    self.reconnecting.set(false);
                    self.fail(format!(
                        "Lost the connection to the meeting and could not reconnect: {last}"
                    ));
                    return;
                };
                js::sleep(delay).await;
                if self.leaving.get() {
                    break;
                }
                match self.connect_all().await {
                    Ok(()) => {
                        // Everyone needs a fresh keyframe from us.
                        for source in [&self.camera, &self.screen] {
                            if let Some(s) = source.borrow().as_ref() {
                                s.control.force_key[0].set(true);
                                s.control.force_key[1].set(true);
                            }
                        }
                        break;
                    }
                    Err(err) => last = err,
                }
            }
            self.reconnecting.set(false);
        });
    }

    // ------------------------------------------------------------ inbound

    fn inbound(&self, inbound: Inbound) {
        match inbound {
            Inbound::Message(bytes) => match ServerMessage::decode(bytes.as_slice()) {
                Ok(ServerMessage { msg: Some(msg) }) => self.handle(msg),
                Ok(_) => {}
                Err(err) => js::warn(&format!("edgecall: undecodable server message: {err}")),
            },
            Inbound::Closed(reason) => {
                if let Some(tx) = self.welcome.borrow_mut().take() {
                    let _ = tx.send(Err((reason, false)));
                    return;
                }
                if self.state.borrow().phase == Phase::Error {
                    return;
                }
                self.rc().reconnect(reason);
            }
        }
    }

    fn handle(&self, msg: server_message::Msg) {
        match msg {
            server_message::Msg::Media(frame) => self.media_in(frame),
            server_message::Msg::Pong(pong) => {
                if let Some(sent) = self.pings.borrow_mut().remove(&pong.nonce) {
                    let rtt = js::now_ms() - sent;
                    self.state.borrow_mut().rtt_ms = Some(rtt);
                    self.congestion.borrow_mut().observe_rtt(rtt);
                }
            }
            other => {
                let change = self.state.borrow_mut().apply(&other);
                match change {
                    Change::None => {}
                    Change::Render => {
                        if matches!(other, server_message::Msg::Welcome(_)) {
                            if let Some(tx) = self.welcome.borrow_mut().take() {
                                let _ = tx.send(Ok(()));
                            }
                        }
                        self.render();
                    }
                    Change::Left(id) => {
                        if let Some(r) = self.receivers.borrow_mut().as_mut() {
                            r.remove(id);
                        }
                        if let Some(out) = self.audio_out.borrow().as_ref() {
                            out.remove(id);
                        }
                        self.render();
                    }
                    Change::Refused { message, fatal } => {
                        if let Some(tx) = self.welcome.borrow_mut().take() {
                            let _ = tx.send(Err((message, fatal)));
                            return;
                        }
                        if fatal {
                            self.epoch.set(self.epoch.get() + 1);
                            if let Some(conn) = self.conn.borrow_mut().take() {
                                conn.close();
                            }
                            self.stop_media();
                            self.fail(message);
                        } else {
                            js::warn(&format!("edgecall: server error: {message}"));
                        }
                    }
                    Change::KeyframeWanted { track, layer } => {
                        let source = if track == Track::Screen as i32 {
                            &self.screen
                        } else {
                            &self.camera
                        };
                        if let Some(s) = source.borrow().as_ref() {
                            s.control.force_key[(layer as usize).min(1)].set(true);
                        }
                    }
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
        let Some(identity) = self.state.borrow().identity_of(sender).map(str::to_owned) else {
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
        if frame.track == Track::Audio as i32 {
            if let Some(p) = self.state.borrow_mut().participants.get_mut(&sender) {
                p.observe_level(frame.audio_level, now);
            }
        }
        if let Some(r) = self.receivers.borrow_mut().as_mut() {
            r.push(frame, now);
        }
    }

    // ------------------------------------------------------------ outbound

    fn send(&self, msg: client_message::Msg) {
        let data = ClientMessage { msg: Some(msg) }.encode_to_vec();
        if let Some(conn) = self.conn.borrow().as_ref() {
            conn.send_control(&data);
        }
    }

    fn publish(&self, encoded: Encoded) {
        if self.state.borrow().phase != Phase::InCall {
            return;
        }
        let Some(conn) = self.conn.borrow().clone() else {
            return;
        };
        let sequence = {
            let mut seqs = self.sequences.borrow_mut();
            let seq = seqs
                .entry((encoded.track as i32, encoded.layer))
                .or_insert(0);
            *seq += 1;
            *seq
        };
        let (payload, sealed) = match self.key.borrow().as_ref() {
            Some(key) => {
                let identity = self.state.borrow().me.identity.clone();
                match key.seal(&identity, sequence, &encoded.payload, &mut OsRng) {
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
        if !conn.send_media(&data, audio) {
            let source = if encoded.track == Track::Screen {
                &self.screen
            } else {
                &self.camera
            };
            if let Some(s) = source.borrow().as_ref() {
                s.control.force_key[(encoded.layer as usize).min(1)].set(true);
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

    fn start_media(&self) {
        if self.camera.borrow().is_some() || self.mic.borrow().is_some() {
            return;
        }
        let Some(stream) = self.local.borrow().clone() else {
            return;
        };
        if let Ok(track) = stream
            .get_video_tracks()
            .get(0)
            .dyn_into::<web_sys::MediaStreamTrack>()
        {
            match VideoSource::start(
                track,
                Track::Camera,
                self.codec.get(),
                &CAMERA_LAYERS,
                self.publisher(),
                Rc::new(|| {}),
            ) {
                Ok(source) => {
                    source.control.paused.set(self.state.borrow().me.camera_off);
                    *self.camera.borrow_mut() = Some(source);
                    let level = self.state.borrow().congestion;
                    self.apply_congestion(level);
                }
                Err(err) => js::warn(&format!(
                    "edgecall: cannot encode the camera: {}",
                    js::describe(&err)
                )),
            }
        }
        if let Ok(track) = stream
            .get_audio_tracks()
            .get(0)
            .dyn_into::<web_sys::MediaStreamTrack>()
        {
            match AudioSource::start(track, self.publisher()) {
                Ok(source) => {
                    source.control.paused.set(self.state.borrow().me.muted);
                    *self.mic.borrow_mut() = Some(source);
                }
                Err(err) => js::warn(&format!(
                    "edgecall: cannot encode the microphone: {}",
                    js::describe(&err)
                )),
            }
        }
    }

    fn stop_media(&self) {
        if let Some(s) = self.camera.borrow_mut().take() {
            s.stop();
        }
        if let Some(s) = self.screen.borrow_mut().take() {
            s.stop();
        }
        if let Some(s) = self.mic.borrow_mut().take() {
            s.stop();
        }
        if let Some(r) = self.receivers.borrow_mut().as_mut() {
            r.clear();
        }
    }

    // ------------------------------------------------------------ controls

    fn announce_media_state(&self) {
        let state = self.media_state();
        self.send(client_message::Msg::MediaState(state));
        self.render();
    }

    fn toggle_mute(&self) {
        let has_mic = self.mic.borrow().is_some();
        let muted = {
            let mut state = self.state.borrow_mut();
            state.me.muted = !state.me.muted || !has_mic;
            state.me.muted
        };
        if let Some(m) = self.mic.borrow().as_ref() {
            m.control.paused.set(muted);
        }
        self.announce_media_state();
    }

    fn toggle_camera(&self) {
        let has_camera = self.camera.borrow().is_some();
        let off = {
            let mut state = self.state.borrow_mut();
            state.me.camera_off = !state.me.camera_off || !has_camera;
            state.me.camera_off
        };
        if let Some(c) = self.camera.borrow().as_ref() {
            c.control.paused.set(off);
            if !off {
                c.control.force_key[0].set(true);
                c.control.force_key[1].set(true);
            }
        }
        self.announce_media_state();
    }

    fn toggle_screen(&self) {
        if self.state.borrow().phase != Phase::InCall {
            return;
        }
        if let Some(s) = self.screen.borrow_mut().take() {
            s.stop();
            self.state.borrow_mut().me.sharing_screen = false;
            self.announce_media_state();
            return;
        }
        let app = self.rc();
        wasm_bindgen_futures::spawn_local(async move {
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
                    ui::set_text("status", "Screen sharing was cancelled or is not allowed.");
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
            let weak = app.me.clone();
            let on_end = Rc::new(move || {
                if let Some(a) = weak.upgrade() {
                    if a.screen.borrow_mut().take().is_some() {
                        a.state.borrow_mut().me.sharing_screen = false;
                        a.announce_media_state();
                    }
                }
            });
            match VideoSource::start(
                track,
                Track::Screen,
                app.codec.get(),
                &SCREEN_LAYERS,
                app.publisher(),
                on_end,
            ) {
                Ok(source) => {
                    *app.screen.borrow_mut() = Some(source);
                    let level = app.state.borrow().congestion;
                    app.apply_congestion(level);
                    app.state.borrow_mut().me.sharing_screen = true;
                    app.announce_media_state();
                }
                Err(err) => js::warn(&format!(
                    "edgecall: cannot encode the screen: {}",
                    js::describe(&err)
                )),
            }
        });
    }

    fn leave(&self) {
        self.leaving.set(true);
        self.epoch.set(self.epoch.get() + 1);
        if let Some(conn) = self.conn.borrow_mut().take() {
            conn.close();
        }
        self.stop_media();
        if let Some(stream) = self.local.borrow_mut().take() {
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

    fn send_chat(&self) {
        let Some(input) = ui::input("chat-input") else {
            return;
        };
        let text = input.value();
        if text.trim().is_empty() || self.state.borrow().phase != Phase::InCall {
            return;
        }
        self.send(client_message::Msg::Chat(wire::Chat { text }));
        input.set_value("");
    }

    // ------------------------------------------------------------ housekeeping

    fn start_tick(&self) {
        let weak = self.me.clone();
        let mut last_render = 0.0;
        let tick = js::callback0(move || {
            let Some(a) = weak.upgrade() else { return };
            let now = js::now_ms();
            if let Some(r) = a.receivers.borrow_mut().as_mut() {
                r.poll(now);
            }
            if a.state.borrow().phase != Phase::InCall {
                return;
            }
            if now - a.last_ping_ms.get() >= PING_EVERY_MS {
                a.last_ping_ms.set(now);
                let nonce = a.next_nonce.get();
                a.next_nonce.set(nonce + 1);
                a.pings.borrow_mut().insert(nonce, now);
                a.pings
                    .borrow_mut()
                    .retain(|_, sent| now - *sent < 30_000.0);
                a.send(client_message::Msg::Ping(wire::Ping { nonce }));
            }
            if now - last_render >= 250.0 {
                last_render = now;
                a.check_congestion(now);
                a.state.borrow_mut().refresh_speaking(now);
                a.render();
                a.update_subscriptions();
            }
        });
        let _ = js::window().set_interval_with_callback_and_timeout_and_arguments_0(&tick, TICK_MS);
    }

    /// Feeds the oldest unanswered ping to the congestion controller and
    /// acts on its verdict.
    fn check_congestion(&self, now: f64) {
        let oldest_ping = self
            .pings
            .borrow()
            .values()
            .map(|sent| now - sent)
            .fold(0.0, f64::max);
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
    fn apply_congestion(&self, level: Level) {
        self.state.borrow_mut().congestion = level;
        for source in [&self.camera, &self.screen] {
            if let Some(s) = source.borrow().as_ref() {
                let low_only = level != Level::Full;
                if s.control.low_layer_only.replace(low_only) && !low_only {
                    // The high layer restarts: its receivers need a keyframe.
                    s.control.force_key[1].set(true);
                }
            }
        }
    }

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
        let subscribe = subscribe_for(&tiles);
        if self.last_subscribe.borrow().as_ref() != Some(&subscribe) {
            *self.last_subscribe.borrow_mut() = Some(subscribe.clone());
            self.send(client_message::Msg::Subscribe(subscribe));
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
            a.latency.borrow_mut().record(capture_us, js::wall_us());
        }
    }

    fn audio_decoded(&self, sender: u32, data: &AudioData) {
        let Some(a) = self.0.upgrade() else { return };
        a.state.borrow_mut().count(sender, Counter::Audio);
        let out = a.audio_out.borrow().clone();
        if let Some(out) = out {
            out.play(sender, data);
        }
    }
}
