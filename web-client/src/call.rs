//! The call as the page knows it: phase, roster, chat, counters. Updated
//! from server messages; serialised for `window.edgecall.state()` and read
//! by the UI to render. Pure logic: no browser APIs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use edgecall_proto::e2ee::RoomKey;
use edgecall_proto::wire::{self, server_message::Msg, Codec, ErrorCode, Track};
use serde::Serialize;

use crate::config::TransportKind;
use crate::congestion::Level;
use crate::layout::View;
use crate::level::SpeakingDetector;

/// Where the page is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Choosing devices.
    Lobby,
    /// Dialling the first time.
    Connecting,
    /// Joined.
    InCall,
    /// Lost the connection; dialling again.
    Reconnecting,
    /// Left on purpose.
    Left,
    /// Failed for good (see `error`).
    Error,
}

/// What we publish.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SelfView {
    /// Our participant id once welcomed.
    pub id: Option<u32>,
    /// Our name as the server knows it.
    pub name: String,
    /// Our identity as the server knows it (the E2EE sender binding).
    pub identity: String,
    /// Microphone muted.
    pub muted: bool,
    /// Camera off.
    pub camera_off: bool,
    /// Sharing the screen.
    pub sharing_screen: bool,
    /// Hand raised.
    pub hand_raised: bool,
    /// How frames come out of our camera and microphone:
    /// `track-processor` or `video-element+audio-worklet`.
    pub capture: Option<&'static str>,
    /// May moderate (our token's role is `host`).
    pub host: bool,
    /// Our last reaction, while it shows.
    pub reaction: Option<String>,
    /// Our reactions the server forwarded back, and the last one.
    pub reactions_seen: u64,
    pub last_reaction: Option<String>,
    #[serde(skip)]
    reaction_until_ms: u64,
    /// The video codec we publish (`h264` or `vp8`), once chosen.
    pub video_codec: Option<&'static str>,
    /// Camera frames sent, per simulcast layer.
    pub camera_frames_sent: [u64; 3],
    /// The camera in use (its label); `None` while off (released).
    pub camera_device: Option<String>,
    /// The microphone in use (its label).
    pub mic_device: Option<String>,
    /// The audio output chosen in the call (its label); `None`: the
    /// browser's default.
    pub audio_output: Option<String>,
    /// The chosen output's device id.
    #[serde(skip)]
    pub audio_output_id: Option<String>,
}

impl SelfView {
    /// Counts one camera frame of `layer` sent.
    pub fn sent_camera_frame(&mut self, layer: u32) {
        if let Some(count) = self.camera_frames_sent.get_mut(layer as usize) {
            *count += 1;
        }
    }
}

/// How long a notice stays in the status line.
pub const NOTICE_MS: f64 = 8_000.0;

/// The short name of a wire video codec, as the test hook shows it.
pub fn codec_name(codec: i32) -> Option<&'static str> {
    match Codec::try_from(codec).ok()? {
        Codec::H264 => Some("h264"),
        Codec::Vp8 => Some("vp8"),
        Codec::Vp9 => Some("vp9"),
        Codec::Av1 => Some("av1"),
        Codec::Opus | Codec::Unspecified => None,
    }
}

/// Another participant, with what we received from them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Remote {
    /// Their id in the room.
    pub id: u32,
    /// Their name (not unique).
    pub name: String,
    /// Their identity (unique in the room; binds their sealed frames).
    pub identity: String,
    /// The name to show: their name, plus a short tag from their identity
    /// when someone else in the room has the same name.
    pub label: String,
    /// Microphone muted.
    pub muted: bool,
    /// Camera off.
    pub camera_off: bool,
    /// Sharing the screen.
    pub sharing_screen: bool,
    /// Speaking right now (from audio levels).
    pub speaking: bool,
    /// Camera frames decoded.
    pub video_frames_decoded: u64,
    /// Audio frames decoded.
    pub audio_frames_decoded: u64,
    /// Screen frames decoded.
    pub screen_frames_decoded: u64,
    /// Their frames that failed end-to-end decryption.
    pub decrypt_failures: u64,
    /// The codec of the last camera frame received from them.
    pub camera_codec: Option<&'static str>,
    /// The simulcast layer of the last camera frame received from them.
    pub camera_layer: Option<u32>,
    /// The highest camera layer our latest `Subscribe` asks of them (by
    /// the size of their tile), or none when their camera is not asked.
    pub asked_camera_layer: Option<u32>,
    /// Hand raised.
    pub hand_raised: bool,
    /// May moderate.
    pub host: bool,
    /// Their last reaction, while it shows.
    pub reaction: Option<String>,
    /// Reactions of theirs received, and the last one (for tests: a
    /// reaction shows only for a while).
    pub reactions_seen: u64,
    pub last_reaction: Option<String>,
    #[serde(skip)]
    reaction_until_ms: u64,
    #[serde(skip)]
    detector: SpeakingDetector,
}

impl Remote {
    fn from_wire(p: &wire::Participant) -> Self {
        let mut remote = Remote {
            id: p.id,
            name: p.name.clone(),
            identity: p.identity.clone(),
            host: p.host,
            ..Remote::default()
        };
        remote.set_media(p.media_state.as_ref());
        remote
    }

    fn set_media(&mut self, media: Option<&wire::MediaState>) {
        let media = media.cloned().unwrap_or_default();
        self.muted = media.audio_muted;
        self.camera_off = media.camera_off;
        self.sharing_screen = media.screen_sharing;
        self.hand_raised = media.hand_raised;
    }

    /// Records what one of their camera frames was.
    pub fn observe_camera(&mut self, layer: u32, codec: i32) {
        self.camera_layer = Some(layer);
        self.camera_codec = codec_name(codec);
    }

    /// Records the audio level of one of their frames.
    pub fn observe_level(&mut self, level: u32, now_ms: f64) {
        self.detector.observe(level, now_ms);
    }
}

/// How long a reaction shows on its sender's tile.
pub const REACTION_MS: u64 = 4_000;

/// What a chat line shows when an end-to-end encrypted message cannot be
/// opened (never its bytes or any cleartext that came with it).
pub const UNDECRYPTABLE_CHAT: &str = "⚠ could not decrypt this message";

/// One chat line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatLine {
    /// Sender's name.
    pub from: String,
    /// The text, or [`UNDECRYPTABLE_CHAT`].
    pub text: String,
    /// It arrived sealed and was opened with the room key.
    pub sealed: bool,
    /// It could not be opened (or was cleartext in an encrypted call).
    pub undecryptable: bool,
    /// Why not, for the page's tooltip and the test hook.
    pub problem: Option<String>,
}

/// Which media counter a decoded frame bumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Camera video.
    Video,
    /// Audio.
    Audio,
    /// Screen video.
    Screen,
}

/// What a server message changed, for the caller to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing visible.
    None,
    /// Roster, media states or chat changed: re-render.
    Render,
    /// Someone left: drop their decoders too.
    Left(u32),
    /// The server refused us or ended the session; `fatal` means do not
    /// reconnect.
    Refused {
        /// A human-readable message.
        message: String,
        /// Reconnecting would fail the same way.
        fatal: bool,
    },
    /// The server asked for a keyframe.
    KeyframeWanted {
        /// Track asked for.
        track: i32,
        /// Layer asked for.
        layer: u32,
    },
}

/// The whole call state.
#[derive(Debug, Clone, Serialize)]
pub struct CallState {
    /// Page phase.
    pub phase: Phase,
    /// Browser interfaces the client uses that this browser lacks.
    pub missing_capabilities: Vec<&'static str>,
    /// A passing message for the status line (a device that cannot be
    /// used, a chat message not sent), shown for [`NOTICE_MS`].
    pub notice: Option<String>,
    #[serde(skip)]
    notice_until_ms: f64,
    /// The current error, human readable.
    pub error: Option<String>,
    /// What hosts did to us, oldest first ("chair muted you").
    pub moderation: Vec<String>,
    /// Transport in use.
    pub transport: Option<&'static str>,
    /// The server of the current connection (scheme and authority only,
    /// e.g. `https://relay-a.example:4443`), for the page and for tests.
    pub server: Option<String>,
    /// How many times the page got back into the call after losing it.
    pub reconnects: u32,
    /// From losing the connection to being welcomed again, the last time.
    pub last_outage_ms: Option<f64>,
    /// Last measured round trip.
    pub rtt_ms: Option<f64>,
    /// How much we ask to receive while the path is congested.
    pub congestion: Level,
    /// End-to-end encryption on.
    pub e2ee: bool,
    /// Ourselves.
    #[serde(rename = "self")]
    pub me: SelfView,
    /// Everyone else, by id.
    #[serde(serialize_with = "values")]
    pub participants: BTreeMap<u32, Remote>,
    /// Frames that failed to open, all senders.
    pub decrypt_failures: u64,
    /// Chat, oldest first.
    pub chat: Vec<ChatLine>,
    /// Most tracks the server lets us subscribe to explicitly.
    pub max_subscriptions: usize,
    /// Tracks our latest `Subscribe` asked for.
    pub subscribed: usize,
    /// The grid page shown (0-based) and how many there are.
    pub grid_page: usize,
    pub grid_pages: usize,
    /// Grid or speaker view (see [`crate::layout`]).
    pub view: View,
    /// Who the user pinned to the stage, if anyone.
    pub pinned: Option<u32>,
    /// The remote participant who started speaking last.
    pub active_speaker: Option<u32>,
    /// Who is on the stage now, if the view has one.
    pub stage: Option<u32>,
    /// Open mode: the secret from our Welcome that resumes our identity
    /// when we reconnect (the server then replaces our old session instead
    /// of showing a ghost until it times out).
    #[serde(skip)]
    pub resume_secret: Vec<u8>,
    /// Which kind of end-to-end key the page uses: `generated` (`#k=`),
    /// `typed` (`#key=`, stretched) or none.
    pub e2ee_key: Option<&'static str>,
    /// How long deriving the end-to-end key took, in ms.
    pub e2ee_kdf_ms: Option<f64>,
    /// The link that invites others into this meeting (key in the fragment).
    pub invite: Option<String>,
    /// Sealed chat messages dropped as replays.
    pub chat_replays_dropped: u64,
    /// Per sender, the latest `sent_ms` of a sealed chat message accepted.
    #[serde(skip)]
    chat_clock: HashMap<String, u64>,
    /// Every chat message shown or dropped so far ([`chat_key`]), so the
    /// history a reconnect brings again adds nothing twice.
    #[serde(skip)]
    chat_seen: HashSet<ChatKey>,
}

/// What tells two chat messages apart: the server's time, the sender and
/// a digest of the bytes.
type ChatKey = (u64, String, u64);

fn chat_key(chat: &wire::ChatMessage) -> ChatKey {
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    chat.text.hash(&mut digest);
    chat.sealed.hash(&mut digest);
    let sender = if chat.sender_identity.is_empty() {
        format!("#{}", chat.sender)
    } else {
        chat.sender_identity.clone()
    };
    (chat.server_time_ms, sender, digest.finish())
}

fn values<S: serde::Serializer>(map: &BTreeMap<u32, Remote>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.values())
}

impl CallState {
    /// Shows `text` in the status line for a while.
    pub fn notify(&mut self, text: impl Into<String>, now_ms: f64) {
        self.notice = Some(text.into());
        self.notice_until_ms = now_ms + NOTICE_MS;
    }

    /// Drops the notice once its time is up.
    pub fn expire_notice(&mut self, now_ms: f64) {
        if self.notice.is_some() && now_ms >= self.notice_until_ms {
            self.notice = None;
        }
    }

    /// A page in the lobby.
    pub fn new(name: &str, e2ee: bool) -> Self {
        Self {
            phase: Phase::Lobby,
            missing_capabilities: Vec::new(),
            notice: None,
            notice_until_ms: 0.0,
            error: None,
            moderation: Vec::new(),
            transport: None,
            server: None,
            reconnects: 0,
            last_outage_ms: None,
            rtt_ms: None,
            congestion: Level::Full,
            e2ee,
            me: SelfView {
                name: name.to_owned(),
                ..SelfView::default()
            },
            participants: BTreeMap::new(),
            decrypt_failures: 0,
            chat: Vec::new(),
            max_subscriptions: crate::subscription::FALLBACK_MAX_SUBSCRIPTIONS,
            subscribed: 0,
            grid_page: 0,
            grid_pages: 1,
            view: View::Grid,
            pinned: None,
            active_speaker: None,
            stage: None,
            resume_secret: Vec::new(),
            e2ee_key: None,
            e2ee_kdf_ms: None,
            invite: None,
            chat_replays_dropped: 0,
            chat_clock: HashMap::new(),
            chat_seen: HashSet::new(),
        }
    }

    /// The JSON the test hook returns.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Connected over `transport` to `server` (welcomed).
    pub fn connected(&mut self, transport: TransportKind, server: String) {
        self.transport = Some(transport.as_str());
        self.server = Some(server);
    }

    /// Failed for good with `message`.
    pub fn fail(&mut self, message: impl Into<String>) {
        self.phase = Phase::Error;
        self.error = Some(message.into());
    }

    /// The name a participant id belongs to (ourselves included).
    pub fn name_of(&self, id: u32) -> Option<&str> {
        if self.me.id == Some(id) {
            return Some(&self.me.name);
        }
        self.participants.get(&id).map(|p| p.name.as_str())
    }

    /// The identity a participant id belongs to (ourselves included): what
    /// their sealed frames are bound to.
    pub fn identity_of(&self, id: u32) -> Option<&str> {
        if self.me.id == Some(id) {
            return Some(&self.me.identity);
        }
        self.participants.get(&id).map(|p| p.identity.as_str())
    }

    /// The name of whoever in the call (ourselves included) has `identity`.
    fn name_with_identity(&self, identity: &str) -> Option<&str> {
        if self.me.identity == identity {
            return Some(&self.me.name);
        }
        self.participants
            .values()
            .find(|p| p.identity == identity)
            .map(|p| p.name.as_str())
    }

    /// Gives everyone whose name is taken twice a label with a short tag of
    /// their identity, so two "Ada"s can be told apart.
    fn relabel(&mut self) {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        *count.entry(self.me.name.as_str()).or_default() += 1;
        for p in self.participants.values() {
            *count.entry(p.name.as_str()).or_default() += 1;
        }
        let shared: std::collections::BTreeSet<String> = count
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(name, _)| name.to_owned())
            .collect();
        for p in self.participants.values_mut() {
            p.label = if shared.contains(&p.name) {
                format!("{} ({})", p.name, identity_tag(&p.identity))
            } else {
                p.name.clone()
            };
        }
    }

    /// The identity end-to-end sealing binds for participant `id` (ourselves
    /// included), for media frames and chat alike: the stable identity the
    /// server gave them (unique in the room, unlike display names).
    pub fn e2ee_sender(&self, id: u32) -> Option<&str> {
        self.identity_of(id)
    }

    /// Our own sealing identity (see [`CallState::e2ee_sender`]), once
    /// welcomed.
    pub fn my_e2ee_sender(&self) -> Option<&str> {
        self.me.id.and_then(|id| self.e2ee_sender(id))
    }

    /// Adds a chat message the server forwarded. With a room key only a
    /// sealed message that opens under the sender's identity is shown as
    /// text; anything else — sealed with another key, re-attributed,
    /// tampered, or cleartext in an encrypted call — shows as
    /// [`UNDECRYPTABLE_CHAT`]. A sealed message not newer than the last one
    /// accepted from its sender is a replay and is dropped. Without a key a
    /// sealed message is undecryptable too.
    ///
    /// The sender is the identity the server stamped on the message when
    /// it has one (the sender may have left since, and its id may belong to
    /// someone else now), else the roster's for the sender id. The name
    /// shown is that identity's in the roster, so a sealed message is never
    /// shown under someone else's name; for someone who left, the stamped
    /// name.
    pub fn chat_in(&mut self, chat: &wire::ChatMessage, key: Option<&RoomKey>) -> Change {
        self.chat_seen.insert(chat_key(chat));
        let sender = if chat.sender_identity.is_empty() {
            self.e2ee_sender(chat.sender).map(str::to_owned)
        } else {
            Some(chat.sender_identity.clone())
        };
        let from = sender
            .as_deref()
            .and_then(|identity| self.name_with_identity(identity))
            .or_else(|| (!chat.sender_name.is_empty()).then_some(chat.sender_name.as_str()))
            .or_else(|| self.name_of(chat.sender))
            .map_or_else(|| format!("#{}", chat.sender), str::to_owned);
        let opened = match (key, chat.sealed.is_empty()) {
            (None, true) => Ok(chat.text.clone()),
            (None, false) => Err("sealed, but this link has no key".to_owned()),
            (Some(_), true) => Err("sent in cleartext in an encrypted meeting".to_owned()),
            (Some(key), false) => match sender {
                None => Err("from a sender not in the roster".to_owned()),
                Some(sender) => match key.open_chat(&sender, &chat.sealed) {
                    Ok(opened) => {
                        let last = self.chat_clock.entry(sender).or_insert(0);
                        if opened.sent_ms <= *last {
                            self.chat_replays_dropped += 1;
                            return Change::None;
                        }
                        *last = opened.sent_ms;
                        Ok(opened.text)
                    }
                    Err(err) => Err(err.to_string()),
                },
            },
        };
        let line = match opened {
            Ok(text) => ChatLine {
                from,
                text,
                sealed: key.is_some(),
                undecryptable: false,
                problem: None,
            },
            Err(problem) => ChatLine {
                from,
                text: UNDECRYPTABLE_CHAT.to_owned(),
                sealed: !chat.sealed.is_empty(),
                undecryptable: true,
                problem: Some(problem),
            },
        };
        self.chat.push(line);
        Change::Render
    }

    /// Adds the room's recent chat, sent after a Welcome, oldest first.
    /// Messages this page already shows (a reconnect brings the history
    /// again) are skipped before they are opened, so they are neither
    /// doubled nor counted as replays.
    pub fn history_in(&mut self, history: &wire::ChatHistory, key: Option<&RoomKey>) -> Change {
        let mut change = Change::None;
        for chat in &history.messages {
            if self.chat_seen.contains(&chat_key(chat)) {
                continue;
            }
            if self.chat_in(chat, key) == Change::Render {
                change = Change::Render;
            }
        }
        change
    }

    /// Bumps a media counter of participant `id`.
    pub fn count(&mut self, id: u32, counter: Counter) {
        if let Some(p) = self.participants.get_mut(&id) {
            match counter {
                Counter::Video => p.video_frames_decoded += 1,
                Counter::Audio => p.audio_frames_decoded += 1,
                Counter::Screen => p.screen_frames_decoded += 1,
            }
        }
    }

    /// Counts a frame from `id` that could not be opened.
    pub fn decrypt_failed(&mut self, id: u32) {
        self.decrypt_failures += 1;
        if let Some(p) = self.participants.get_mut(&id) {
            p.decrypt_failures += 1;
        }
    }

    /// Refreshes the speaking flags; true when any changed. Someone who
    /// starts speaking becomes the active speaker (it stays theirs through
    /// pauses, until someone else starts).
    pub fn refresh_speaking(&mut self, now_ms: f64) -> bool {
        let mut changed = false;
        for p in self.participants.values_mut() {
            let speaking = p.detector.speaking(now_ms);
            if speaking && !p.speaking {
                self.active_speaker = Some(p.id);
            }
            changed |= speaking != p.speaking;
            p.speaking = speaking;
        }
        changed
    }

    /// Records what a `Subscribe` asks: how many tracks, and each
    /// participant's camera layer.
    pub fn subscribed_to(&mut self, subscribe: &wire::Subscribe) {
        self.subscribed = subscribe.subscriptions.len();
        for p in self.participants.values_mut() {
            p.asked_camera_layer = subscribe
                .subscriptions
                .iter()
                .find(|s| s.participant == p.id && s.track == Track::Camera as i32)
                .map(|s| s.max_layer);
        }
    }

    /// Shows a reaction on its sender's tile (or ours) for [`REACTION_MS`].
    pub fn reaction_in(&mut self, sent: &wire::ReactionSent, now_ms: f64) -> Change {
        let until = now_ms as u64 + REACTION_MS;
        if self.me.id == Some(sent.sender) {
            self.me.reaction = Some(sent.emoji.clone());
            self.me.reaction_until_ms = until;
            self.me.reactions_seen += 1;
            self.me.last_reaction = Some(sent.emoji.clone());
        } else if let Some(p) = self.participants.get_mut(&sent.sender) {
            p.reaction = Some(sent.emoji.clone());
            p.reaction_until_ms = until;
            p.reactions_seen += 1;
            p.last_reaction = Some(sent.emoji.clone());
        } else {
            return Change::None;
        }
        Change::Render
    }

    /// Drops reactions whose time is up; true when any went.
    pub fn expire_reactions(&mut self, now_ms: f64) -> bool {
        let mut changed = false;
        let now_ms = now_ms as u64;
        if self.me.reaction.is_some() && now_ms >= self.me.reaction_until_ms {
            self.me.reaction = None;
            changed = true;
        }
        for p in self.participants.values_mut() {
            if p.reaction.is_some() && now_ms >= p.reaction_until_ms {
                p.reaction = None;
                changed = true;
            }
        }
        changed
    }

    /// Switches between the grid and the speaker view.
    pub fn toggle_view(&mut self) {
        self.view = match self.view {
            View::Grid => View::Speaker,
            View::Speaker => View::Grid,
        };
        self.grid_page = 0;
    }

    /// Pins participant `id` to the stage, or unpins them.
    pub fn toggle_pin(&mut self, id: u32) {
        self.pinned = if self.pinned == Some(id) {
            None
        } else {
            Some(id)
        };
        self.grid_page = 0;
    }

    /// The remote participants with a tile on screen (the stage's first),
    /// after bringing the stage and the pages in line with who is here.
    pub fn repage(&mut self) -> Vec<u32> {
        let order =
            crate::pages::tile_order(self.participants.values().map(|p| (p.id, p.sharing_screen)));
        let sharers: Vec<u32> = order
            .iter()
            .copied()
            .filter(|id| self.participants.get(id).is_some_and(|p| p.sharing_screen))
            .collect();
        if self
            .pinned
            .is_some_and(|id| !self.participants.contains_key(&id))
        {
            self.pinned = None;
        }
        let arrangement = crate::layout::arrange(&crate::layout::Inputs {
            view: self.view,
            order: &order,
            sharers: &sharers,
            pinned: self.pinned,
            active_speaker: self.active_speaker,
            max_subscriptions: self.max_subscriptions,
            page: self.grid_page,
        });
        self.grid_pages = arrangement.pages;
        self.grid_page = arrangement.page;
        self.stage = arrangement.main;
        arrangement.shown
    }

    /// Shows the next (`forward`) or previous grid page, if there is one.
    pub fn turn_page(&mut self, forward: bool) {
        self.grid_page = if forward {
            (self.grid_page + 1).min(self.grid_pages.saturating_sub(1))
        } else {
            self.grid_page.saturating_sub(1)
        };
    }

    /// Applies one server message.
    pub fn apply(&mut self, msg: &Msg) -> Change {
        match msg {
            Msg::Welcome(welcome) => {
                self.phase = Phase::InCall;
                self.error = None;
                self.me.id = Some(welcome.participant_id);
                self.me.identity = welcome.identity.clone();
                self.max_subscriptions = welcome
                    .limits
                    .as_ref()
                    .map(|l| l.max_subscriptions as usize)
                    .filter(|n| *n > 0)
                    .unwrap_or(crate::subscription::FALLBACK_MAX_SUBSCRIPTIONS);
                if !welcome.resume_secret.is_empty() {
                    self.resume_secret = welcome.resume_secret.to_vec();
                }
                let mut roster = BTreeMap::new();
                for p in &welcome.roster {
                    if p.id == welcome.participant_id {
                        self.me.name = p.name.clone();
                        self.me.host = p.host;
                        continue;
                    }
                    // Keep counters across a reconnect for the same id.
                    let mut remote = self
                        .participants
                        .remove(&p.id)
                        .unwrap_or_else(|| Remote::from_wire(p));
                    remote.name = p.name.clone();
                    remote.identity = p.identity.clone();
                    remote.host = p.host;
                    remote.set_media(p.media_state.as_ref());
                    roster.insert(p.id, remote);
                }
                self.participants = roster;
                self.relabel();
                Change::Render
            }
            Msg::Joined(joined) => match &joined.participant {
                Some(p) if Some(p.id) != self.me.id => {
                    self.participants.insert(p.id, Remote::from_wire(p));
                    self.relabel();
                    Change::Render
                }
                _ => Change::None,
            },
            Msg::Left(left) => {
                if self.participants.remove(&left.id).is_some() {
                    self.relabel();
                    Change::Left(left.id)
                } else {
                    Change::None
                }
            }
            Msg::Updated(updated) => match &updated.participant {
                Some(p) => match self.participants.get_mut(&p.id) {
                    Some(remote) => {
                        remote.name = p.name.clone();
                        remote.set_media(p.media_state.as_ref());
                        self.relabel();
                        Change::Render
                    }
                    None => Change::None,
                },
                None => Change::None,
            },
            // Chat needs the room key: the page passes it to `chat_in` and
            // `history_in`.
            Msg::Chat(_) | Msg::ChatHistory(_) => Change::None,
            // Reactions need the page clock, moderation the page's media:
            // the page passes them to `reaction_in` and `moderated`.
            Msg::Reaction(_) | Msg::Moderated(_) => Change::None,
            Msg::Error(err) => refusal(err),
            Msg::KeyframeRequest(req) => Change::KeyframeWanted {
                track: req.track,
                layer: req.layer,
            },
            Msg::Media(_) | Msg::Pong(_) | Msg::Congestion(_) => Change::None,
        }
    }
}

/// Four hex digits of an identity's hash part (`anon:1f3a…` → `1f3a`), or
/// of a token subject, to tell same-name participants apart.
fn identity_tag(identity: &str) -> String {
    let body = identity.split_once(':').map_or(identity, |(_, rest)| rest);
    body.chars().take(4).collect()
}

/// Turns a server `Error` into a message that says what to do.
fn refusal(err: &wire::Error) -> Change {
    let code = ErrorCode::try_from(err.code).unwrap_or(ErrorCode::Unspecified);
    let (what, fatal) = match code {
        ErrorCode::Unauthorized => (
            "The server rejected the join token (invalid, expired or for another meeting). Ask for a fresh meeting link.",
            true,
        ),
        ErrorCode::Forbidden => ("The join token does not allow this.", false),
        ErrorCode::RoomFull => ("The meeting is full.", true),
        ErrorCode::InvalidName => ("The server did not accept this name; pick another one.", true),
        ErrorCode::NameTaken => ("You are already in this meeting from another tab or device.", true),
        ErrorCode::InvalidRoom => ("The meeting id is not valid.", true),
        ErrorCode::Replaced => ("You joined this meeting from another tab or device; this page left.", true),
        ErrorCode::UnsupportedVersion => ("This page is out of date; reload it.", true),
        ErrorCode::RateLimited | ErrorCode::TooLarge => ("The server dropped a message that was too large or too fast.", false),
        ErrorCode::ShuttingDown | ErrorCode::HeartbeatTimeout => ("The server ended the session.", false),
        ErrorCode::SlowReceiver => ("The connection fell too far behind; reconnecting.", false),
        ErrorCode::Removed => ("A host removed you from the meeting.", true),
        ErrorCode::MeetingEnded => ("The meeting has ended.", true),
        ErrorCode::Malformed | ErrorCode::NotJoined | ErrorCode::Unspecified => ("The server reported an error.", false),
    };
    let message = if err.message.is_empty() {
        what.to_owned()
    } else {
        format!("{what} ({})", err.message)
    };
    Change::Refused { message, fatal }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgecall_proto::wire::{
        ChatMessage, MediaState, Participant, ParticipantJoined, ParticipantLeft,
        ParticipantUpdated, Welcome,
    };

    fn participant(id: u32, name: &str) -> Participant {
        Participant {
            id,
            name: name.into(),
            media_state: Some(MediaState::default()),
            remote: false,
            can_publish: true,
            identity: format!("anon:{id:04}cafe"),
            joined_at_ms: 0,
            host: false,
        }
    }

    #[test]
    fn same_name_participants_get_labels_from_their_identities() {
        let mut s = welcomed();
        s.apply(&Msg::Joined(ParticipantJoined {
            participant: Some(participant(3, "bob")),
        }));
        let labels: Vec<&str> = s.participants.values().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["bob (0002)", "bob (0003)"]);
        s.apply(&Msg::Left(ParticipantLeft {
            id: 3,
            reason: String::new(),
        }));
        assert_eq!(s.participants[&2].label, "bob");
    }

    #[test]
    fn the_welcome_gives_our_identity_and_keeps_the_resume_secret() {
        let mut s = CallState::new("ada", false);
        s.apply(&Msg::Welcome(Welcome {
            participant_id: 1,
            roster: vec![participant(1, "ada")],
            identity: "anon:0001cafe".into(),
            resume_secret: vec![7; 32].into(),
            ..Welcome::default()
        }));
        assert_eq!(s.identity_of(1), Some("anon:0001cafe"));
        assert_eq!(s.resume_secret, vec![7; 32]);
        // A verified rejoin (no secret) keeps the one we have.
        s.apply(&Msg::Welcome(Welcome {
            participant_id: 4,
            roster: vec![participant(4, "ada")],
            identity: "anon:0001cafe".into(),
            ..Welcome::default()
        }));
        assert_eq!(s.resume_secret, vec![7; 32]);
    }

    fn welcomed() -> CallState {
        let mut s = CallState::new("ada", false);
        s.apply(&Msg::Welcome(Welcome {
            participant_id: 1,
            roster: vec![participant(1, "ada"), participant(2, "bob")],
            identity: "anon:0001cafe".into(),
            ..Welcome::default()
        }));
        s
    }

    #[test]
    fn welcome_fills_self_and_others() {
        let s = welcomed();
        assert_eq!(s.phase, Phase::InCall);
        assert_eq!(s.me.id, Some(1));
        assert_eq!(s.participants.keys().copied().collect::<Vec<_>>(), vec![2]);
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(json["phase"], "in-call");
        assert_eq!(json["self"]["name"], "ada");
        assert_eq!(json["participants"][0]["name"], "bob");
        assert_eq!(json["participants"][0]["video_frames_decoded"], 0);
    }

    #[test]
    fn joins_updates_leaves_and_chat_change_the_roster() {
        let mut s = welcomed();
        assert_eq!(
            s.apply(&Msg::Joined(ParticipantJoined {
                participant: Some(participant(3, "cy"))
            })),
            Change::Render
        );
        let mut cy = participant(3, "cy");
        cy.media_state = Some(MediaState {
            audio_muted: true,
            camera_off: false,
            screen_sharing: true,
            hand_raised: true,
        });
        s.apply(&Msg::Updated(ParticipantUpdated {
            participant: Some(cy),
        }));
        assert!(s.participants[&3].muted && s.participants[&3].sharing_screen);
        s.chat_in(
            &ChatMessage {
                sender: 3,
                text: "hi".into(),
                ..ChatMessage::default()
            },
            None,
        );
        s.chat_in(
            &ChatMessage {
                sender: 1,
                text: "yo".into(),
                ..ChatMessage::default()
            },
            None,
        );
        assert_eq!(
            s.chat[0],
            ChatLine {
                from: "cy".into(),
                text: "hi".into(),
                sealed: false,
                undecryptable: false,
                problem: None,
            }
        );
        assert_eq!(s.chat[1].from, "ada");
        assert_eq!(
            s.apply(&Msg::Left(ParticipantLeft {
                id: 3,
                reason: String::new()
            })),
            Change::Left(3)
        );
        assert!(!s.participants.contains_key(&3));
    }

    #[test]
    fn counters_and_decrypt_failures_are_per_participant() {
        let mut s = welcomed();
        s.count(2, Counter::Video);
        s.count(2, Counter::Audio);
        s.count(2, Counter::Audio);
        s.count(9, Counter::Audio);
        s.decrypt_failed(2);
        let bob = &s.participants[&2];
        assert_eq!((bob.video_frames_decoded, bob.audio_frames_decoded), (1, 2));
        assert_eq!((bob.decrypt_failures, s.decrypt_failures), (1, 1));
    }

    #[test]
    fn an_unauthorized_error_is_fatal_and_says_so() {
        let mut s = CallState::new("ada", false);
        let change = s.apply(&Msg::Error(wire::Error {
            code: ErrorCode::Unauthorized as i32,
            message: "expired".into(),
        }));
        let Change::Refused { message, fatal } = change else {
            panic!("not a refusal");
        };
        assert!(fatal && message.contains("token") && message.contains("expired"));
    }

    #[test]
    fn speaking_follows_levels() {
        let mut s = welcomed();
        s.participants.get_mut(&2).unwrap().observe_level(20, 100.0);
        assert!(s.refresh_speaking(150.0));
        assert!(s.participants[&2].speaking);
        assert!(!s.refresh_speaking(200.0));
        assert!(s.refresh_speaking(100.0 + SpeakingDetector::HOLD_MS + 10.0));
    }

    #[test]
    fn the_stage_follows_the_last_to_start_speaking_unless_someone_is_pinned() {
        let mut s = welcomed();
        s.apply(&Msg::Joined(wire::ParticipantJoined {
            participant: Some(participant(3, "cy")),
        }));
        s.toggle_view();
        assert_eq!(s.repage(), [2, 3]);
        assert_eq!(s.stage, Some(2), "nobody spoke yet: the first");
        s.participants.get_mut(&3).unwrap().observe_level(20, 100.0);
        s.refresh_speaking(150.0);
        assert_eq!(s.repage(), [3, 2]);
        assert_eq!(s.stage, Some(3));
        // Quiet again: the stage stays with cy until someone else starts.
        s.refresh_speaking(100.0 + SpeakingDetector::HOLD_MS + 10.0);
        s.repage();
        assert_eq!(s.stage, Some(3));
        s.toggle_pin(2);
        s.repage();
        assert_eq!(s.stage, Some(2));
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(
            (json["view"].as_str(), json["pinned"].as_u64()),
            (Some("speaker"), Some(2))
        );
        // The pinned one leaves: the pin goes with them.
        s.apply(&Msg::Left(wire::ParticipantLeft {
            id: 2,
            reason: String::new(),
        }));
        s.repage();
        assert_eq!((s.pinned, s.stage), (None, Some(3)));
    }

    fn generated_key(room: &str) -> RoomKey {
        RoomKey::from_generated(b"0123456789abcdef", room).unwrap()
    }

    /// The identities `participant()` gives ada (1) and bob (2).
    const ADA: &str = "anon:0001cafe";
    const BOB: &str = "anon:0002cafe";

    fn sealed_chat(
        key: &RoomKey,
        sender_id: u32,
        as_name: &str,
        sent_ms: u64,
        text: &str,
    ) -> ChatMessage {
        ChatMessage {
            sender: sender_id,
            sealed: key
                .seal_chat(as_name, sent_ms, text, &mut rand_core::OsRng)
                .unwrap()
                .into(),
            ..ChatMessage::default()
        }
    }

    #[test]
    fn a_sealed_chat_opens_under_the_senders_identity() {
        let mut s = welcomed();
        let key = generated_key("room");
        assert_eq!(s.e2ee_sender(2), Some(BOB));
        assert_eq!(s.my_e2ee_sender(), Some(ADA));
        s.chat_in(&sealed_chat(&key, 2, BOB, 10, "secret plans"), Some(&key));
        assert_eq!(
            s.chat[0],
            ChatLine {
                from: "bob".into(),
                text: "secret plans".into(),
                sealed: true,
                undecryptable: false,
                problem: None,
            }
        );
    }

    #[test]
    fn chat_that_does_not_open_is_never_shown_as_text() {
        let mut s = welcomed();
        let key = generated_key("room");
        let cases = [
            // Sealed with another room's key.
            sealed_chat(&generated_key("other"), 2, BOB, 1, "wrong key"),
            // Re-attributed by the server: sealed by ada, delivered as bob.
            sealed_chat(&key, 2, ADA, 2, "not bob"),
            // Cleartext in an encrypted call (a server could inject it).
            ChatMessage {
                sender: 2,
                text: "cleartext".into(),
                ..ChatMessage::default()
            },
        ];
        for chat in &cases {
            assert_eq!(s.chat_in(chat, Some(&key)), Change::Render);
        }
        assert_eq!(s.chat.len(), cases.len());
        for line in &s.chat {
            assert!(line.undecryptable, "{line:?}");
            assert_eq!(line.text, UNDECRYPTABLE_CHAT);
            assert!(line.problem.is_some(), "{line:?}");
        }
        // Without a key, sealed chat cannot be shown either.
        let mut plain = welcomed();
        plain.chat_in(&sealed_chat(&key, 2, BOB, 1, "hidden"), None);
        assert!(plain.chat[0].undecryptable && plain.chat[0].text == UNDECRYPTABLE_CHAT);
    }

    #[test]
    fn a_replayed_sealed_chat_is_dropped() {
        let mut s = welcomed();
        let key = generated_key("room");
        let first = sealed_chat(&key, 2, BOB, 100, "once");
        assert_eq!(s.chat_in(&first, Some(&key)), Change::Render);
        assert_eq!(s.chat_in(&first, Some(&key)), Change::None);
        let older = sealed_chat(&key, 2, BOB, 99, "older");
        assert_eq!(s.chat_in(&older, Some(&key)), Change::None);
        assert_eq!(s.chat_replays_dropped, 2);
        let newer = sealed_chat(&key, 2, BOB, 101, "twice");
        assert_eq!(s.chat_in(&newer, Some(&key)), Change::Render);
        let texts: Vec<&str> = s.chat.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["once", "twice"]);
    }

    fn history(messages: Vec<ChatMessage>) -> wire::ChatHistory {
        wire::ChatHistory { messages }
    }

    #[test]
    fn history_from_someone_who_left_opens_under_the_stamped_identity() {
        let mut s = welcomed();
        let key = generated_key("room");
        let carol = "sub:carol";
        let mut gone = sealed_chat(&key, 9, carol, 5, "I had to leave early");
        gone.sender_name = "carol".into();
        gone.sender_identity = carol.into();
        assert_eq!(
            s.history_in(&history(vec![gone]), Some(&key)),
            Change::Render
        );
        assert_eq!(s.chat[0].from, "carol");
        assert_eq!(s.chat[0].text, "I had to leave early");
        assert!(!s.chat[0].undecryptable);
    }

    #[test]
    fn a_stamped_identity_shows_that_identitys_name_not_the_stamped_one() {
        let mut s = welcomed();
        let key = generated_key("room");
        // Sealed by ada, but the server calls the sender "bob".
        let mut chat = sealed_chat(&key, 2, ADA, 5, "hello");
        chat.sender_identity = ADA.into();
        chat.sender_name = "bob".into();
        s.chat_in(&chat, Some(&key));
        assert_eq!(s.chat[0].from, "ada");
        assert!(!s.chat[0].undecryptable);
    }

    #[test]
    fn the_history_a_reconnect_brings_again_adds_nothing_twice() {
        let mut s = welcomed();
        let key = generated_key("room");
        let mut first = sealed_chat(&key, 2, BOB, 10, "first");
        first.server_time_ms = 1_000;
        first.sender_identity = BOB.into();
        let mut second = sealed_chat(&key, 2, BOB, 11, "second");
        second.server_time_ms = 2_000;
        second.sender_identity = BOB.into();
        // Seen live, then again in the history after a reconnect.
        s.chat_in(&first, Some(&key));
        let again = history(vec![first, second]);
        assert_eq!(s.history_in(&again, Some(&key)), Change::Render);
        assert_eq!(s.history_in(&again, Some(&key)), Change::None);
        let texts: Vec<&str> = s.chat.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["first", "second"]);
        assert_eq!(s.chat_replays_dropped, 0);
        // Cleartext chat is deduplicated the same way.
        let mut plain = welcomed();
        let line = ChatMessage {
            sender: 2,
            text: "hi".into(),
            server_time_ms: 3_000,
            ..ChatMessage::default()
        };
        plain.history_in(&history(vec![line.clone()]), None);
        plain.history_in(&history(vec![line]), None);
        assert_eq!(plain.chat.len(), 1);
    }

    #[test]
    fn camera_frames_are_counted_per_layer_and_the_last_codec_is_kept() {
        let mut me = SelfView::default();
        me.sent_camera_frame(0);
        me.sent_camera_frame(2);
        me.sent_camera_frame(2);
        me.sent_camera_frame(7);
        assert_eq!(me.camera_frames_sent, [1, 0, 2]);
        let mut remote = Remote::default();
        remote.observe_camera(2, Codec::Vp8 as i32);
        assert_eq!(
            (remote.camera_layer, remote.camera_codec),
            (Some(2), Some("vp8"))
        );
        remote.observe_camera(1, Codec::H264 as i32);
        assert_eq!(
            (remote.camera_layer, remote.camera_codec),
            (Some(1), Some("h264"))
        );
    }

    #[test]
    fn a_notice_shows_for_a_while_then_goes() {
        let mut state = CallState::new("ada", false);
        state.notify("Cannot use that camera", 1_000.0);
        state.expire_notice(1_000.0 + NOTICE_MS - 1.0);
        assert_eq!(state.notice.as_deref(), Some("Cannot use that camera"));
        state.expire_notice(1_000.0 + NOTICE_MS);
        assert_eq!(state.notice, None);
    }
}
