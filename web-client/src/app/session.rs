//! The session: joining (the relay directory, the transport attempts, the
//! hello and the welcome), reconnecting when the connection is lost, and
//! the connection's upkeep (keep-alives, acknowledgements, liveness).
//!
//! The rules (which connection is current, when to reconnect, how to
//! explain a failed join) are in [`crate::session`]; this file carries
//! them out with the page's sockets and timers.

use std::cell::RefCell;
use std::rc::Rc;

use edgecall_proto::e2ee::RoomKey;
use edgecall_proto::room::SendBudget;
use edgecall_proto::wire::{self, client_message, ClientMessage, ServerMessage};
use edgecall_proto::PROTOCOL_VERSION;
use futures::channel::oneshot;
use prost::Message as _;

use super::{budget_clock, key_kind, App};
use crate::backoff::Backoff;
use crate::call::{codec_name, Phase};
use crate::config::{
    directory_lookup_url, invite_url, plan, Attempt, ConfigError, DirectoryAnswer, JoinPlan,
};
use crate::congestion::{CongestionControl, Level};
use crate::js;
use crate::keepalive::{Keepalive, Probe, LOST_AFTER_MS};
use crate::net::{Connection, Inbound, Sink};
use crate::session::{AttemptError, FailedAttempt, JoinFailures, Lifecycle};
use crate::ui;

/// How long the server has to welcome us.
const WELCOME_TIMEOUT_MS: u32 = 10_000;

/// What the page joined: enough to plan the connection again (and ask the
/// relay directory again) when it is lost.
#[derive(Debug, Clone)]
pub(super) struct JoinRequest {
    origin: String,
    name: String,
    meeting: String,
}

/// The connection to the meeting and what keeps it going.
pub(super) struct Link {
    lifecycle: RefCell<Lifecycle>,
    conn: RefCell<Option<Rc<Connection>>>,
    /// Resolved by the `Welcome` (or the refusal) of the attempt under way.
    welcome: RefCell<Option<oneshot::Sender<Result<(), AttemptError>>>>,
    keepalive: RefCell<Keepalive>,
    /// What the host's announced limits still let us send (from the
    /// `Welcome`).
    pub(super) budget: RefCell<SendBudget>,
    plan: RefCell<Option<JoinPlan>>,
    joined: RefCell<Option<JoinRequest>>,
}

impl Link {
    pub(super) fn new() -> Self {
        Self {
            lifecycle: RefCell::new(Lifecycle::new()),
            conn: RefCell::new(None),
            welcome: RefCell::new(None),
            keepalive: RefCell::new(Keepalive::new()),
            budget: RefCell::new(SendBudget::new(None, 0)),
            plan: RefCell::new(None),
            joined: RefCell::new(None),
        }
    }

    /// Whether the join of this page began.
    pub(super) fn joining(&self) -> bool {
        self.lifecycle.borrow().join_started()
    }

    /// Whether the user left.
    pub(super) fn leaving(&self) -> bool {
        self.lifecycle.borrow().leaving()
    }

    /// The current connection, if any.
    pub(super) fn connection(&self) -> Option<Rc<Connection>> {
        self.conn.borrow().clone()
    }

    /// Closes the current connection and drops whatever it still delivers.
    pub(super) fn close(&self) {
        self.lifecycle.borrow_mut().retire_connection();
        self.drop_connection();
    }

    /// The user left: the connection closes and nothing reconnects.
    pub(super) fn leave(&self) {
        self.lifecycle.borrow_mut().leave();
        self.drop_connection();
    }

    /// Closes the current connection, if any (the caller has retired its
    /// epoch).
    fn drop_connection(&self) {
        if let Some(conn) = self.conn.borrow_mut().take() {
            conn.close();
        }
    }

    /// Settles the attempt waiting for its welcome; `false` when none was.
    pub(super) fn settle_welcome(&self, result: Result<(), AttemptError>) -> bool {
        match self.welcome.borrow_mut().take() {
            Some(tx) => {
                let _ = tx.send(result);
                true
            }
            None => false,
        }
    }

    /// Takes in what the `Welcome` announced: the acknowledgement interval
    /// and the send limits.
    pub(super) fn welcomed(&self, welcome: &wire::Welcome) {
        let interval = welcome.limits.as_ref().map_or(0, |l| l.ack_interval_ms);
        self.keepalive.borrow_mut().set_ack_interval(interval);
        *self.budget.borrow_mut() = SendBudget::new(welcome.limits.as_ref(), budget_clock());
    }

    /// The round-trip time measured by a `Pong`, if it answers one of ours.
    pub(super) fn pong(&self, nonce: u64) -> Option<f64> {
        self.keepalive.borrow_mut().pong(nonce, js::now_ms())
    }

    /// How long the oldest unanswered keep-alive has waited.
    pub(super) fn oldest_unanswered_ms(&self, now: f64) -> f64 {
        self.keepalive.borrow().oldest_unanswered_ms(now)
    }
}

impl App {
    /// Sends one control message within the host's limits.
    pub(super) fn send(&self, msg: client_message::Msg) {
        let data = ClientMessage { msg: Some(msg) }.encode_to_vec();
        self.link
            .budget
            .borrow_mut()
            .control(data.len(), budget_clock());
        if let Some(conn) = self.link.connection() {
            conn.send_control(&data);
        }
    }

    pub(super) fn join(self: Rc<Self>) {
        if !self.link.lifecycle.borrow_mut().begin_join() {
            return;
        }
        let name = ui::input("name-input")
            .map(|i| i.value().trim().to_owned())
            .unwrap_or_default();
        let meeting = ui::input("meeting-input")
            .map(|i| i.value().trim().to_owned())
            .unwrap_or_default();
        if name.is_empty() || meeting.is_empty() {
            self.link.lifecycle.borrow_mut().abandon_join();
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
            Ok(p) => Some(p),
            // WebTransport only, and the relay directory is to name the relay.
            Err(ConfigError::NoRelay) if self.asks_directory() => None,
            Err(err) => {
                ui::show("lobby", false);
                self.fail(err.to_string());
                return;
            }
        };
        let secret = self.secret.borrow().clone();
        if let Some(secret) = &secret {
            // Typed secrets run Argon2id here (19 MiB): once per join.
            let started = js::now_ms();
            match RoomKey::new(secret, &meeting) {
                Ok(key) => *self.key.borrow_mut() = Some(key),
                Err(err) => {
                    ui::show("lobby", false);
                    self.fail(format!("Cannot use the meeting link's key: {err}"));
                    return;
                }
            }
            let took = js::now_ms() - started;
            js::log(&format!(
                "edgecall: derived the {} end-to-end key in {took:.0} ms",
                key_kind(secret)
            ));
            self.state.borrow_mut().e2ee_kdf_ms = Some(took);
        }
        self.state.borrow_mut().invite = Some(invite_url(&origin, &meeting, secret.as_ref()));
        *self.link.plan.borrow_mut() = join_plan;
        *self.link.joined.borrow_mut() = Some(JoinRequest {
            origin: origin.clone(),
            name: name.clone(),
            meeting: meeting.clone(),
        });
        {
            let mut state = self.state.borrow_mut();
            state.me.name = name.clone();
            state.phase = Phase::Connecting;
            let local = self.capture.local.borrow();
            state.me.muted = local
                .as_ref()
                .is_none_or(|s| s.get_audio_tracks().length() == 0);
            state.me.camera_off = local
                .as_ref()
                .is_none_or(|s| s.get_video_tracks().length() == 0);
        }
        self.start_playback();
        ui::show("lobby", false);
        ui::show("meeting", true);
        ui::ensure_self_tile(self.capture.local.borrow().as_ref(), &name);
        self.render();
        self.start_tick();
        wasm_bindgen_futures::spawn_local(async move {
            self.ask_directory(&origin, &name, &meeting).await;
            if self.link.plan.borrow().is_none() {
                self.fail(format!(
                    "{} The relay directory named none either (see the console).",
                    ConfigError::NoRelay
                ));
                return;
            }
            let codec = crate::media::choose_video_codec(self.params.video_codec).await;
            self.outbound.codec.set(codec);
            self.state.borrow_mut().me.video_codec = codec_name(codec as i32);
            match self.connect_all().await {
                Ok(()) => {
                    self.start_media();
                    // The meeting's lists start at what the lobby chose.
                    self.fill_devices().await;
                }
                Err(message) => self.fail(message),
            }
        });
    }

    /// With a relay directory configured (and no `relay=` in the URL), asks
    /// it which relay serves `meeting` and replans to join there first. A
    /// directory that fails leaves the plan as it was (the edge).
    async fn ask_directory(&self, origin: &str, name: &str, meeting: &str) {
        if !self.asks_directory() {
            return;
        }
        let Some(directory) = self.config.borrow().directory_url.clone() else {
            return;
        };
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
            Ok(join_plan) => *self.link.plan.borrow_mut() = Some(join_plan),
            Err(err) => js::warn(&format!(
                "edgecall: the relay directory at {directory} did not answer usably ({err}); joining without it"
            )),
        }
    }

    /// Whether the relay directory chooses the relay: one is configured
    /// and the page URL names no `relay=`.
    fn asks_directory(&self) -> bool {
        self.config.borrow().directory_url.is_some() && self.params.relay.is_none()
    }

    /// Tries every attempt of the plan in order; `Err` says why none worked.
    async fn connect_all(&self) -> Result<(), String> {
        let attempts = self
            .link
            .plan
            .borrow()
            .as_ref()
            .map(|p| p.attempts.clone())
            .unwrap_or_default();
        let mut failures = JoinFailures::new();
        for attempt in &attempts {
            if self.link.leaving() {
                return Err("left".into());
            }
            ui::set_text(
                "status",
                &format!("Connecting via {}…", attempt.kind().as_str()),
            );
            match self.try_attempt(attempt).await {
                Ok(()) => return Ok(()),
                Err(AttemptError::Fatal(message)) => return Err(message),
                Err(error) => {
                    js::warn(&format!(
                        "edgecall: {} failed: {}",
                        attempt.url(),
                        error.message()
                    ));
                    failures.push(FailedAttempt::new(
                        attempt.url(),
                        attempt.kind().as_str(),
                        error,
                    ));
                }
            }
        }
        // Tell "nobody there" from "someone there said no".
        let mut answering = None;
        if failures.refusal().is_none() {
            for (i, attempt) in attempts.iter().enumerate() {
                if let Some(health) = attempt.health_url() {
                    if js::reachable(&health).await {
                        answering = Some(i);
                        break;
                    }
                }
            }
        }
        Err(failures.explain(answering, self.params.token.is_some()))
    }

    async fn try_attempt(&self, attempt: &Attempt) -> Result<(), AttemptError> {
        let epoch = self.link.lifecycle.borrow_mut().open_connection();
        let weak = self.me.clone();
        let sink: Sink = Rc::new(move |inbound| {
            if let Some(a) = weak.upgrade() {
                if a.link.lifecycle.borrow().is_current(epoch) {
                    a.inbound(inbound);
                }
            }
        });
        let conn = Connection::open(attempt, sink)
            .await
            .map_err(AttemptError::Unreachable)?;
        let (tx, rx) = oneshot::channel();
        *self.link.welcome.borrow_mut() = Some(tx);
        let conn = Rc::new(conn);
        *self.link.conn.borrow_mut() = Some(conn.clone());
        *self.link.keepalive.borrow_mut() = Keepalive::new();
        let media_state = self.media_state();
        self.send(client_message::Msg::Hello(wire::Hello {
            protocol_version: PROTOCOL_VERSION,
            client: concat!("edgecall-web/", env!("CARGO_PKG_VERSION")).to_owned(),
            media_state: Some(media_state),
            resume_secret: self.state.borrow().resume_secret.clone().into(),
        }));
        let welcomed = async {
            rx.await
                .unwrap_or_else(|_| Err(AttemptError::Unreachable("cancelled".to_owned())))
        };
        let late = AttemptError::Unreachable("the server did not welcome us in time".to_owned());
        match js::timeout(WELCOME_TIMEOUT_MS, late, welcomed).await {
            Ok(()) => {
                self.state
                    .borrow_mut()
                    .connected(conn.kind(), attempt.server().to_owned());
                *self.last_subscribe.borrow_mut() = None;
                // A new connection starts with a clean slate on the server.
                *self.congestion.borrow_mut() = CongestionControl::new();
                self.apply_congestion(Level::Full);
                self.render();
                Ok(())
            }
            Err(err) => {
                self.link.close();
                Err(err)
            }
        }
    }

    /// What we publish, as the server is told in the hello and on changes.
    pub(super) fn media_state(&self) -> wire::MediaState {
        let state = self.state.borrow();
        wire::MediaState {
            audio_muted: state.me.muted,
            camera_off: state.me.camera_off,
            screen_sharing: state.me.sharing_screen,
            hand_raised: state.me.hand_raised,
        }
    }

    fn reconnect(self: Rc<Self>, reason: String) {
        if !self.link.lifecycle.borrow_mut().begin_reconnect() {
            return;
        }
        js::warn(&format!(
            "edgecall: connection lost ({reason}); reconnecting"
        ));
        // `begin_reconnect` retired the lost connection's epoch.
        self.link.drop_connection();
        self.clear_receivers();
        self.state.borrow_mut().phase = Phase::Reconnecting;
        self.render();
        let lost_at = js::now_ms();
        wasm_bindgen_futures::spawn_local(async move {
            let mut backoff = Backoff::default();
            let mut last = reason;
            loop {
                let Some(delay) = backoff.next_delay(js_sys::Math::random()) else {
                    self.link.lifecycle.borrow_mut().end_reconnect();
                    self.fail(format!(
                        "Lost the connection to the meeting and could not reconnect: {last}"
                    ));
                    return;
                };
                js::sleep(delay).await;
                if self.link.leaving() {
                    break;
                }
                // The relay we had may be gone or draining: a page sent by
                // the directory asks it again, so it learns the relay that
                // serves the meeting now (and that relay's certificate).
                let joined = self.link.joined.borrow().clone();
                if let Some(j) = joined {
                    self.ask_directory(&j.origin, &j.name, &j.meeting).await;
                }
                match self.connect_all().await {
                    Ok(()) => {
                        let outage = js::now_ms() - lost_at;
                        {
                            let mut state = self.state.borrow_mut();
                            state.reconnects += 1;
                            state.last_outage_ms = Some(outage);
                        }
                        js::log(&format!(
                            "edgecall: back in the call via {} after {outage:.0} ms",
                            self.state.borrow().server.as_deref().unwrap_or("?")
                        ));
                        self.restart_keyframes();
                        break;
                    }
                    Err(err) => last = err,
                }
            }
            self.link.lifecycle.borrow_mut().end_reconnect();
        });
    }

    /// What the current connection delivered: messages to decode, the
    /// runtime's keep-alive answer, or its end.
    fn inbound(&self, inbound: Inbound) {
        match inbound {
            Inbound::Message(bytes) => {
                {
                    let mut keepalive = self.link.keepalive.borrow_mut();
                    keepalive.received(bytes.len());
                    keepalive.heard(js::now_ms());
                }
                match ServerMessage::decode(bytes.as_slice()) {
                    Ok(ServerMessage { msg: Some(msg) }) => self.handle(msg),
                    Ok(_) => {}
                    Err(err) => js::warn(&format!("edgecall: undecodable server message: {err}")),
                }
            }
            Inbound::KeepaliveAnswer => {
                let now = js::now_ms();
                let rtt = {
                    let mut keepalive = self.link.keepalive.borrow_mut();
                    keepalive.heard(now);
                    keepalive.text_answered(now)
                };
                if let Some(rtt) = rtt {
                    self.observe_rtt(rtt);
                }
            }
            Inbound::Closed(reason) => {
                if self
                    .link
                    .settle_welcome(Err(AttemptError::Unreachable(reason.clone())))
                {
                    return;
                }
                if self.state.borrow().phase == Phase::Error {
                    return;
                }
                self.rc().reconnect(reason);
            }
        }
    }

    /// Sends the keep-alive and the `Ack` when due; a connection that went
    /// silent is given up and reconnected.
    pub(super) fn keep_alive(&self, now: f64) {
        let Some(conn) = self.link.connection() else {
            return;
        };
        if self.link.keepalive.borrow().lost(now) {
            let silent = LOST_AFTER_MS / 1_000.0;
            self.rc()
                .reconnect(format!("the server answered nothing for {silent:.0} s"));
            return;
        }
        let probe = self.link.keepalive.borrow_mut().probe_due(now, conn.kind());
        match probe {
            Some(Probe::Text) => conn.send_keepalive(),
            Some(Probe::Ping(nonce)) => self.send(client_message::Msg::Ping(wire::Ping { nonce })),
            None => {}
        }
        let ack = self.link.keepalive.borrow_mut().ack_due(now);
        if let Some(received_bytes) = ack {
            self.send(client_message::Msg::Ack(wire::Ack { received_bytes }));
        }
    }

    pub(super) fn observe_rtt(&self, rtt: f64) {
        self.state.borrow_mut().rtt_ms = Some(rtt);
        self.congestion.borrow_mut().observe_rtt(rtt);
    }
}
