//! The web client end to end in headless Chromium: pages of the built
//! client (`dist/web`) served by the edge (`wrangler dev`) and by the
//! relay (`--web-root`), with fake camera and microphone, checked through
//! the client's test hook (`window.edgecall.state()`) and its DOM.
//!
//! The edge and relay fixtures start on first use and stop when the run
//! ends; each case has its own pages (one Chromium and profile each).
//! Screenshots and page logs: `dist/test-artifacts/browser/<case>/`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use edgecall_e2e::browser::Browser;
use edgecall_e2e::client::{Client, Event};
use edgecall_e2e::edge::{repo_root, Edge};
use edgecall_e2e::proxy::Proxy;
use edgecall_e2e::relay::{workspace_binary, DirectoryProcess, RelayProcess};
use edgecall_e2e::web::{
    self, decoded_from, exists_js, meeting_url, peer, peer_count, phase, text_js, tile, visible_js,
};
use edgecall_e2e::TempDir;
use edgecall_proto::e2ee::{RoomKey, RoomSecret};
use edgecall_proto::token::{mint, JoinClaims, Role};
use edgecall_proto::wire::{server_message, ChatMessage, Codec, MediaFrame, Track};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

const JOIN_SECRET: &str = "browser-e2e-join-secret";
const TRUNK_SECRET: &str = "browser-e2e-trunk-secret";
/// How long pages may take to join (Chromium start, wasm load, handshake).
const JOIN: Duration = Duration::from_secs(60);
/// How long media may take to reach the counts the cases ask for; several
/// Chromiums encode and decode in software on two shared cores.
const MEDIA: Duration = Duration::from_secs(120);
/// What "media flows" means: frames decoded from one peer.
const VIDEO_FRAMES: u64 = 30;
const AUDIO_FRAMES: u64 = 50;

/// A component started on first use, shared by the cases that need it.
struct Lazy<T> {
    cell: OnceLock<Result<Arc<T>, String>>,
    start: fn() -> Result<T>,
}

impl<T> Lazy<T> {
    const fn new(start: fn() -> Result<T>) -> Self {
        Self {
            cell: OnceLock::new(),
            start,
        }
    }

    /// The component, if a case has started it.
    fn started(&self) -> Option<Arc<T>> {
        self.cell.get()?.as_ref().ok().cloned()
    }

    fn get(&self) -> Result<Arc<T>> {
        self.cell
            .get_or_init(|| (self.start)().map(Arc::new).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)
    }
}

/// Everything the cases share; dropped (stopping every process) before
/// the test binary exits.
struct Fixtures {
    /// Open rooms; accepts trunks.
    edge: Lazy<Edge>,
    /// Join tokens required.
    secured_edge: Lazy<Edge>,
    /// A standalone relay serving the client.
    relay: Lazy<RelayProcess>,
}

impl Fixtures {
    fn new() -> Self {
        Self {
            edge: Lazy::new(|| Edge::start(&[("TRUNK_SECRET", TRUNK_SECRET)])),
            secured_edge: Lazy::new(|| Edge::start(&[("JOIN_TOKEN_SECRET", JOIN_SECRET)])),
            relay: Lazy::new(|| {
                let root = web::ensure_built()?;
                RelayProcess::start(&["--web-root", &root.display().to_string()])
            }),
        }
    }
}

impl Fixtures {
    /// The last lines of every started component's log, for failures.
    fn log_tails(&self) -> String {
        let mut out = String::new();
        for (name, edge) in [("edge", &self.edge), ("secured edge", &self.secured_edge)] {
            if let Some(edge) = edge.started() {
                out.push_str(&format!(
                    "--- {name}: wrangler log ---\n{}\n",
                    edge.log_tail()
                ));
            }
        }
        if let Some(relay) = self.relay.started() {
            let log = relay.log();
            out.push_str(&format!(
                "--- relay log (last lines) ---\n{}\n",
                edgecall_e2e::tail_lines(&log, 30)
            ));
        }
        out
    }
}

/// Where a case keeps screenshots and page logs (gitignored).
fn artifacts(case: &str) -> PathBuf {
    repo_root().join("dist/test-artifacts/browser").join(case)
}

fn unique_room(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        edgecall_e2e::frames::now_us() % 1_000_000_000
    )
}

/// The built client, the shared edge and a fresh room on it named after
/// `prefix`.
fn edge_room(fx: &Fixtures, prefix: &str) -> Result<(Arc<Edge>, String)> {
    web::ensure_built()?;
    Ok((fx.edge.get()?, unique_room(prefix)))
}

/// Opens one page per `(name, url)`; with `join`, waits until each is in
/// the call.
fn open_all(browser: &Browser, pages: &[(&str, String)], join: bool) -> Result<()> {
    for (name, url) in pages {
        browser.open(name, url)?;
    }
    if join {
        for (name, _) in pages {
            browser.wait_state(name, "in the call", JOIN, |s| {
                (phase(s) == "in-call").then_some(())
            })?;
        }
    }
    Ok(())
}

/// Alice and bob joined (`autojoin`) in a fresh room of the shared edge
/// named after `prefix`: the edge and the room.
fn pair_on_the_edge(fx: &Fixtures, b: &Browser, prefix: &str) -> Result<(Arc<Edge>, String)> {
    let (edge, room) = edge_room(fx, prefix)?;
    let url = |name| meeting_url(&edge.http_base(), name, &room, &[("autojoin", "1")], None);
    open_all(b, &[("alice", url("alice")), ("bob", url("bob"))], true)?;
    Ok((edge, room))
}

/// Waits until each of `names` is in the call and has decoded the agreed
/// amount of camera and audio frames from every other one.
fn wait_media_between(browser: &Browser, names: &[&str]) -> Result<()> {
    for me in names {
        for other in names.iter().filter(|n| *n != me) {
            browser.wait_state(
                me,
                &format!("{VIDEO_FRAMES} video + {AUDIO_FRAMES} audio frames from {other}"),
                MEDIA,
                |s| decoded_from(s, other, VIDEO_FRAMES, AUDIO_FRAMES).then_some(()),
            )?;
        }
        let state = browser.state(me)?;
        println!(
            "    {me}: {} rtt {} ms, decoded (video, audio) {:?}",
            state["transport"],
            state["rtt_ms"],
            names
                .iter()
                .filter(|n| *n != me)
                .map(|n| (
                    *n,
                    peer_count(&state, n, "video_frames_decoded"),
                    peer_count(&state, n, "audio_frames_decoded")
                ))
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}

fn transport_of(browser: &Browser, name: &str) -> Result<String> {
    Ok(browser.state(name)?["transport"]
        .as_str()
        .unwrap_or("none")
        .to_owned())
}

// ------------------------------------------------------------- serving --

fn the_edge_serves_the_client_as_a_single_page_app(fx: &Fixtures, _: &Browser) -> Result<()> {
    let root = web::ensure_built()?;
    let edge = fx.edge.get()?;
    let index = std::fs::read_to_string(root.join("index.html"))?;
    for path in [
        "/meeting/ada/serving-check",
        "/meeting/ada/serving-check?token=abc&autojoin=1",
    ] {
        let page = ureq::get(&format!("{}{path}", edge.http_base()))
            .call()
            .with_context(|| format!("GET {path}"))?
            .into_string()?;
        ensure!(page == index, "{path} is not dist/web/index.html");
    }
    let wasm = ureq::get(&format!("{}/pkg/edgecall_web_bg.wasm", edge.http_base())).call()?;
    ensure!(
        wasm.content_type() == "application/wasm",
        "wasm served as {}",
        wasm.content_type()
    );
    // The Worker answers the page configuration itself (empty: the client
    // uses its defaults) rather than the SPA's index.html.
    let config: Value = ureq::get(&format!("{}/client-config.json", edge.http_base()))
        .call()?
        .into_json()?;
    ensure!(
        config == serde_json::json!({}),
        "/client-config.json on the edge: {config}"
    );
    let health = ureq::get(&format!("{}/healthz", edge.http_base()))
        .call()?
        .into_string()?;
    ensure!(health.trim() == "ok", "healthz: {health:?}");
    // /api/* reaches the Worker, never the single-page fallback: the
    // operator gets room info, anyone else the Worker's JSON refusal.
    let info = edge.room_info("serving-check")?;
    ensure!(info["room"] == "serving-check", "room info: {info}");
    match ureq::get(&format!("{}/api/rooms/serving-check", edge.http_base())).call() {
        Err(ureq::Error::Status(401, response)) => {
            let body: Value = response.into_json()?;
            ensure!(body["error"].is_string(), "anonymous room info: {body}");
        }
        other => bail!("anonymous room info was not refused: {other:?}"),
    }
    Ok(())
}

// --------------------------------------------------------------- media --

fn two_pages_exchange_media_through_the_edge(fx: &Fixtures, b: &Browser) -> Result<()> {
    pair_on_the_edge(fx, b, "edge-pair")?;
    wait_media_between(b, &["alice", "bob"])?;
    for name in ["alice", "bob"] {
        let transport = transport_of(b, name)?;
        ensure!(transport == "websocket", "{name} used {transport}");
    }
    Ok(())
}

fn two_pages_exchange_media_through_the_relay_over_webtransport(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let relay = fx.relay.get()?;
    let room = unique_room("relay-pair");
    // No transport parameter: the relay's /client-config.json makes its
    // own pages prefer WebTransport to it.
    let url = |name| meeting_url(&relay.http, name, &room, &[("autojoin", "1")], None);
    open_all(b, &[("alice", url("alice")), ("bob", url("bob"))], true)?;
    wait_media_between(b, &["alice", "bob"]).map_err(|e| e.context(relay.log()))?;
    for name in ["alice", "bob"] {
        let transport = transport_of(b, name)?;
        ensure!(transport == "webtransport", "{name} used {transport}");
    }
    Ok(())
}

/// What `viewer` last received of `of`'s camera: (codec, layer).
fn camera_received(state: &Value, of: &str) -> (String, Option<u64>) {
    let remote = peer(state, of);
    (
        remote
            .and_then(|p| p["camera_codec"].as_str())
            .unwrap_or("none")
            .to_owned(),
        remote.and_then(|p| p["camera_layer"].as_u64()),
    )
}

fn pages_forced_to_vp8_exchange_it_both_ways_at_the_top_of_three_layers(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let relay = fx.relay.get()?;
    let room = unique_room("vp8-pair");
    let url = |name| {
        meeting_url(
            &relay.http,
            name,
            &room,
            &[("autojoin", "1"), ("codec", "vp8")],
            None,
        )
    };
    open_all(b, &[("alice", url("alice")), ("bob", url("bob"))], true)?;
    wait_media_between(b, &["alice", "bob"]).map_err(|e| e.context(relay.log()))?;
    for (me, other) in [("alice", "bob"), ("bob", "alice")] {
        // Two pages share a 1280×800 grid: the remote tile is wider than
        // the top layer's threshold, so it asks for layer 2.
        let (codec, layer) =
            b.wait_state(me, &format!("{other}'s camera at layer 2"), MEDIA, |s| {
                let received = camera_received(s, other);
                (received.1 == Some(2)).then_some(received)
            })?;
        ensure!(codec == "vp8", "{me} received {codec} from {other}");
        let state = b.state(me)?;
        let publishes = state["self"]["video_codec"].as_str().unwrap_or("none");
        ensure!(publishes == "vp8", "{me} publishes {publishes}");
        let sent: Vec<u64> = (0..3)
            .map(|l| state["self"]["camera_frames_sent"][l].as_u64().unwrap_or(0))
            .collect();
        ensure!(
            sent.iter().all(|n| *n > 0),
            "{me}'s 640×480 camera must publish all three layers; frames sent per layer {sent:?}"
        );
        println!("    {me}: publishes {publishes}, frames per layer {sent:?}, receives {other} at layer {layer:?}");
    }
    Ok(())
}

fn a_page_on_the_edge_and_one_on_the_relay_meet_over_the_trunk(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let root = web::ensure_built()?;
    let edge = fx.edge.get()?;
    let relay = RelayProcess::start(&[
        "--web-root",
        &root.display().to_string(),
        "--edge",
        &edge.http_base(),
        "--trunk-secret",
        TRUNK_SECRET,
        "--open-trunk",
    ])?;
    let room = unique_room("trunk-pair");
    let query = [("autojoin", "1")];
    open_all(
        b,
        &[
            (
                "alice",
                meeting_url(&edge.http_base(), "alice", &room, &query, None),
            ),
            ("bob", meeting_url(&relay.http, "bob", &room, &query, None)),
        ],
        true,
    )?;
    wait_media_between(b, &["alice", "bob"]).map_err(|e| e.context(relay.log()))?;
    ensure!(transport_of(b, "alice")? == "websocket");
    ensure!(transport_of(b, "bob")? == "webtransport");
    Ok(())
}

// ------------------------------------------------------------ streamer --

/// The `edgecall-stream` CLI streaming its test pattern and tone into
/// `room` at `url` as `name` until dropped (killed by PID).
/// A running `edgecall-stream`; its output goes to `<artifacts>/<log>`.
struct Streamer {
    child: std::process::Child,
    log: PathBuf,
}

impl Streamer {
    fn start(
        b: &Browser,
        log: &str,
        url: &str,
        room: &str,
        name: &str,
        cert_sha256: Option<&str>,
    ) -> Result<Self> {
        let log = b.artifacts().join(log);
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = std::process::Command::new(workspace_binary("edgecall-stream")?);
        command
            .args([
                "stream",
                "--url",
                url,
                "--meeting-id",
                room,
                "--user-id",
                name,
            ])
            .args(["--video-source", "test-pattern", "--audio-source", "tone"])
            .args([
                "--resolution",
                "640x480",
                "--fps",
                "20",
                "--status-interval",
                "5",
            ])
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        if let Some(hash) = cert_sha256 {
            command.args(["--cert-sha256", hash]);
        }
        let child = command.spawn().context("starting edgecall-stream")?;
        Ok(Self { child, log })
    }

    /// The last lines the streamer printed, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!(
            "--- {} (last lines) ---\n{}",
            self.log.display(),
            edgecall_e2e::tail_lines(&text, 20)
        )
    }
}

impl Drop for Streamer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A page shows the native streamer's H.264 + Opus: through the relay
/// (streamer on WebTransport, page on WebTransport) and through the edge
/// (both on WebSocket).
fn a_page_decodes_the_native_streamers_video_and_audio(fx: &Fixtures, b: &Browser) -> Result<()> {
    let relay = fx.relay.get()?;
    let room = unique_room("pi-relay");
    let pi = Streamer::start(
        b,
        "streamer-relay.log",
        &relay.url,
        &room,
        "pi",
        Some(&relay.cert_sha256),
    )?;
    let url = meeting_url(&relay.http, "viewer", &room, &[("autojoin", "1")], None);
    open_all(b, &[("viewer", url)], true)?;
    b.wait_state(
        "viewer",
        "video and audio from the streamer on the relay",
        MEDIA,
        |s| decoded_from(s, "pi", VIDEO_FRAMES, AUDIO_FRAMES).then_some(()),
    )
    .map_err(|e| e.context(pi.log_tail()))?;
    // One streamer at a time: each is a full encoder on this machine's
    // two cores.
    drop(pi);
    b.close("viewer")?;

    let edge = fx.edge.get()?;
    let room = unique_room("pi-edge");
    let pi = Streamer::start(b, "streamer-edge.log", &edge.http_base(), &room, "pi", None)?;
    let url = meeting_url(
        &edge.http_base(),
        "viewer2",
        &room,
        &[("autojoin", "1")],
        None,
    );
    open_all(b, &[("viewer2", url)], true)?;
    b.wait_state(
        "viewer2",
        "video and audio from the streamer on the edge",
        MEDIA,
        |s| decoded_from(s, "pi", VIDEO_FRAMES, AUDIO_FRAMES).then_some(()),
    )
    .map_err(|e| {
        let info = edge
            .room_info(&room)
            .map_or_else(|err| format!("{err:#}"), |info| info.to_string());
        e.context(format!("{}\nroom info: {info}", pi.log_tail()))
    })?;
    Ok(())
}

// ---------------------------------------------------------------- grid --

/// JavaScript: whether the lobby's camera preview is playing (the page
/// then joins with its camera and microphone).
const PREVIEW_JS: &str =
    "(() => { const v = document.getElementById('preview'); return !!v && v.videoWidth > 0; })()";

fn participant_items(b: &Browser, name: &str) -> Result<u64> {
    b.eval(name, "document.querySelectorAll('#participants li').length")?
        .as_u64()
        .context("#participants li count is not a number")
}

fn a_third_page_joins_and_leaves_and_the_grids_follow(fx: &Fixtures, b: &Browser) -> Result<()> {
    let (edge, room) = edge_room(fx, "grid")?;
    let auto = |name| meeting_url(&edge.http_base(), name, &room, &[("autojoin", "1")], None);
    open_all(b, &[("alice", auto("alice")), ("bob", auto("bob"))], true)?;
    wait_media_between(b, &["alice", "bob"])?;
    let before = [participant_items(b, "alice")?, participant_items(b, "bob")?];

    // Carol comes through the lobby: prefilled from the link, camera preview.
    b.open(
        "carol",
        &meeting_url(&edge.http_base(), "carol", &room, &[], None),
    )?;
    b.wait_js("carol", "the lobby", JOIN, &visible_js("#lobby"))?;
    b.wait_js("carol", "the camera preview", JOIN, PREVIEW_JS)?;
    let name = b.eval("carol", "document.getElementById('name-input').value")?;
    let meeting = b.eval("carol", "document.getElementById('meeting-input').value")?;
    ensure!(
        name == "carol" && meeting == room.as_str(),
        "lobby fields: {name} / {meeting}"
    );
    let lobby = b.screenshot("carol", "lobby.png")?;
    println!("    screenshot: {}", lobby.display());
    b.click("carol", "#join-button")?;
    b.wait_state("carol", "in the call", JOIN, |s| {
        (phase(s) == "in-call").then_some(())
    })?;

    for (i, me) in ["alice", "bob"].into_iter().enumerate() {
        b.wait_js(me, "carol's tile", JOIN, &exists_js(&tile("carol")))?;
        let expected = before[i] + 1;
        b.wait_js(
            me,
            "carol in the participant list",
            JOIN,
            &format!("document.querySelectorAll('#participants li').length === {expected}"),
        )?;
        ensure!(
            b.eval(me, &text_js("#participants"))?
                .as_str()
                .is_some_and(|t| t.contains("carol")),
            "{me}'s participant list does not name carol"
        );
    }
    wait_media_between(b, &["alice", "bob", "carol"])?;
    let meeting = b.screenshot("alice", "meeting-3.png")?;
    println!("    screenshot: {}", meeting.display());

    b.click("carol", "#leave-button")?;
    b.wait_state("carol", "left", JOIN, |s| {
        (phase(s) == "left").then_some(())
    })?;
    for (i, me) in ["alice", "bob"].into_iter().enumerate() {
        b.wait_js(
            me,
            "carol's tile to go",
            JOIN,
            &format!("!({})", exists_js(&tile("carol"))),
        )?;
        b.wait_js(
            me,
            "the participant list to shrink back",
            JOIN,
            &format!(
                "document.querySelectorAll('#participants li').length === {}",
                before[i]
            ),
        )?;
        b.wait_state(me, "carol gone from the state", JOIN, |s| {
            peer(s, "carol").is_none().then_some(())
        })?;
        ensure!(
            peer(&b.state(me)?, if me == "alice" { "bob" } else { "alice" }).is_some(),
            "{me} lost the other participant"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- E2EE --

/// Whether `payload` starts like a coded video keyframe of `codec`: an
/// H.264 Annex B start code or AVCC length prefix followed by a valid NAL
/// header, or VP8's keyframe start code.
fn looks_like_video_keyframe(codec: i32, payload: &[u8]) -> bool {
    let nal_ok = |header: u8| header & 0x80 == 0 && (1..=23).contains(&(header & 0x1f));
    if codec == Codec::Vp8 as i32 {
        return payload.len() > 6 && payload[0] & 1 == 0 && payload[3..6] == [0x9d, 0x01, 0x2a];
    }
    if payload.starts_with(&[0, 0, 0, 1]) {
        return payload.len() > 4 && nal_ok(payload[4]);
    }
    if payload.starts_with(&[0, 0, 1]) {
        return payload.len() > 3 && nal_ok(payload[3]);
    }
    if payload.len() > 5 {
        let len = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) as usize;
        return len >= 1 && len <= payload.len() - 4 && nal_ok(payload[4]);
    }
    false
}

/// What a native observer in the room received: participant names by id
/// and the media frames and chat messages the server forwarded to it.
struct Observed {
    /// Name and identity by participant id.
    people: HashMap<u32, (String, String)>,
    media: Vec<MediaFrame>,
    chat: Vec<ChatMessage>,
}

impl Observed {
    /// The id and identity (what sealing binds) of the participant `name`.
    fn who(&self, name: &str) -> Result<(u32, String)> {
        self.people
            .iter()
            .find_map(|(id, (n, identity))| (n == name).then(|| (*id, identity.clone())))
            .with_context(|| format!("the observer never saw {name} join"))
    }
}

/// A native observer (no key: the server's view) welcomed into `room` on
/// `edge` before any page opens, so it sees everyone join; `finish` stops
/// it and returns what it received.
struct ObserverRun {
    runtime: tokio::runtime::Runtime,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<Observed>>,
}

impl ObserverRun {
    fn start(edge: &Edge, room: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let client = runtime
            .block_on(Client::join(&format!(
                "{}/api/rooms/{room}/ws?name=observer",
                edge.ws_base()
            )))
            .context("the observer could not join")?;
        let task = runtime.spawn(observe(client, stopped));
        Ok(Self {
            runtime,
            stop,
            task,
        })
    }

    fn finish(self) -> Result<Observed> {
        let _ = self.stop.send(());
        self.runtime
            .block_on(self.task)
            .context("the observer task panicked")?
    }
}

/// Joins `room` on the edge as a native participant that publishes nothing
/// and records everything the server sends it until `stop` fires.
async fn observe(mut client: Client, stop: tokio::sync::oneshot::Receiver<()>) -> Result<Observed> {
    let mut observed = Observed {
        people: client
            .welcome
            .roster
            .iter()
            .map(|p| (p.id, (p.name.clone(), p.identity.clone())))
            .collect(),
        media: Vec::new(),
        chat: Vec::new(),
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            event = client.next(Duration::from_secs(5)) => match event {
                Some(Event::Msg(server_message::Msg::Joined(joined))) => {
                    if let Some(p) = joined.participant {
                        observed.people.insert(p.id, (p.name, p.identity));
                    }
                }
                Some(Event::Msg(server_message::Msg::Media(frame))) => observed.media.push(frame),
                Some(Event::Msg(server_message::Msg::Chat(chat))) => observed.chat.push(chat),
                Some(Event::Msg(_)) | None => {}
                Some(Event::Closed(close)) => bail!("the observer was closed: {close:?}"),
            },
        }
    }
    let _ = client.leave().await;
    Ok(observed)
}

/// Checks that every frame the observer got from `name` is sealed, opens
/// with `key` under the stamped sender and sequence, and that keyframes
/// look like video only once opened.
fn check_sealed(observed: &Observed, name: &str, key: &RoomKey) -> Result<()> {
    let (id, identity) = observed.who(name)?;
    let frames: Vec<&MediaFrame> = observed.media.iter().filter(|f| f.sender == id).collect();
    let count = |track: Track| frames.iter().filter(|f| f.track == track as i32).count();
    ensure!(
        count(Track::Camera) >= 20 && count(Track::Audio) >= 20,
        "the observer got too little from {name}: {} camera, {} audio frames",
        count(Track::Camera),
        count(Track::Audio)
    );
    let mut keyframes = 0;
    for frame in &frames {
        ensure!(
            frame.sealed,
            "{name}'s {:?} frame {} is not marked sealed",
            frame.track,
            frame.sequence
        );
        let plain = key
            .open(&identity, frame.sequence, &frame.payload)
            .with_context(|| format!("{name}'s frame {} does not open", frame.sequence))?;
        ensure!(
            plain.len() < 16 || !frame.payload.windows(16).any(|w| w == &plain[..16]),
            "{name}'s frame {} carries its plaintext in the clear",
            frame.sequence
        );
        if frame.track == Track::Camera as i32 && frame.keyframe {
            keyframes += 1;
            ensure!(
                looks_like_video_keyframe(frame.codec, &plain),
                "{name}'s opened keyframe {} is not coded video",
                frame.sequence
            );
            ensure!(
                !looks_like_video_keyframe(frame.codec, &frame.payload),
                "{name}'s keyframe {} reached the server as readable video",
                frame.sequence
            );
        }
    }
    ensure!(
        keyframes > 0,
        "no keyframe from {name} reached the observer"
    );
    Ok(())
}

fn e2ee_pages_exchange_media_and_the_server_sees_only_sealed_payloads(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let (edge, room) = edge_room(fx, "e2ee")?;
    let secret = format!("k{}", edgecall_e2e::frames::now_us());
    let observer = ObserverRun::start(&edge, &room)?;

    let fragment = format!("key={secret}");
    let url = |name| {
        meeting_url(
            &edge.http_base(),
            name,
            &room,
            &[("autojoin", "1")],
            Some(&fragment),
        )
    };
    open_all(b, &[("alice", url("alice")), ("bob", url("bob"))], true)?;
    wait_media_between(b, &["alice", "bob"])?;
    for (me, other) in [("alice", "bob"), ("bob", "alice")] {
        let state = b.state(me)?;
        ensure!(state["e2ee"] == true, "{me}: e2ee is not on: {state}");
        ensure!(
            peer_count(&state, other, "decrypt_failures") == 0,
            "{me} failed to open frames from {other}: {state}"
        );
        b.wait_js(me, "the E2EE badge", JOIN, &visible_js("#e2ee-badge"))?;
    }
    let observed = observer.finish()?;
    let key = RoomKey::derive(secret.as_bytes(), &room)?;
    check_sealed(&observed, "alice", &key)?;
    check_sealed(&observed, "bob", &key)?;
    // The check can tell: another room's key opens nothing.
    let other = RoomKey::derive(secret.as_bytes(), "another-room")?;
    ensure!(
        check_sealed(&observed, "alice", &other).is_err(),
        "frames opened with the wrong key"
    );
    Ok(())
}

/// Types `text` into page `name`'s chat box and sends it.
fn send_chat(b: &Browser, name: &str, text: &str) -> Result<()> {
    b.eval(
        name,
        &format!(
            "(() => {{ document.getElementById('chat-input').value = {}; return true; }})()",
            Value::from(text)
        ),
    )?;
    b.click(name, "#chat-send")
}

/// Waits until page `name` shows chat `text` from `from`, opened from a
/// sealed message.
fn wait_sealed_chat(b: &Browser, name: &str, from: &str, text: &str) -> Result<()> {
    b.wait_state(
        name,
        &format!("sealed chat {text:?} from {from}"),
        JOIN,
        |s| {
            s["chat"]
                .as_array()?
                .iter()
                .any(|line| {
                    line["from"] == from
                        && line["text"] == text
                        && line["sealed"] == true
                        && line["undecryptable"] == false
                })
                .then_some(())
        },
    )?;
    b.wait_js(
        name,
        "the chat line in the log",
        JOIN,
        &format!(
            "[...document.querySelectorAll('#chat-log li.sealed')].some(li => li.textContent === {})",
            Value::from(format!("{from}: {text}"))
        ),
    )
}

/// Checks that the chat the observer got from `name` is sealed — no text
/// field, the plaintext nowhere in the bytes — and opens with `key` as
/// exactly `expected`.
fn check_sealed_chat(observed: &Observed, name: &str, key: &RoomKey, expected: &str) -> Result<()> {
    let (id, identity) = observed.who(name)?;
    let chats: Vec<&ChatMessage> = observed.chat.iter().filter(|c| c.sender == id).collect();
    ensure!(
        chats.len() == 1,
        "the observer got {} chat messages from {name}, expected 1: {chats:?}",
        chats.len()
    );
    let chat = chats[0];
    ensure!(
        chat.text.is_empty(),
        "{name}'s chat reached the server with cleartext {:?}",
        chat.text
    );
    ensure!(
        !chat
            .sealed
            .windows(expected.len())
            .any(|w| w == expected.as_bytes()),
        "{name}'s sealed chat carries its text in the clear"
    );
    let opened = key
        .open_chat(&identity, &chat.sealed)
        .with_context(|| format!("{name}'s sealed chat does not open with the room key"))?;
    ensure!(
        opened.text == expected,
        "{name}'s chat opened as {:?}, expected {expected:?}",
        opened.text
    );
    Ok(())
}

fn a_new_e2ee_meeting_invites_a_second_page_and_chat_is_sealed_on_the_wire(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    web::ensure_built()?;
    let edge = fx.edge.get()?;
    // Alice starts in the lobby with only her name, and creates the meeting.
    b.open("alice", &format!("{}/meeting/alice/", edge.http_base()))?;
    b.wait_js("alice", "the lobby", JOIN, &visible_js("#lobby"))?;
    b.wait_js(
        "alice",
        "E2EE ticked for new meetings",
        JOIN,
        "document.getElementById('new-meeting-e2ee').checked === true",
    )?;
    b.wait_js("alice", "the camera preview", JOIN, PREVIEW_JS)?;
    b.click("alice", "#new-meeting-button")?;
    let invite = b.wait_state("alice", "in the new meeting with an invite", JOIN, |s| {
        (phase(s) == "in-call")
            .then(|| s["invite"].as_str().map(str::to_owned))
            .flatten()
    })?;
    println!("    invite link: {invite}");
    let alice = b.state("alice")?;
    ensure!(
        alice["e2ee"] == true && alice["e2ee_key"] == "generated",
        "alice's new meeting is not end-to-end encrypted with a generated key: {alice}"
    );
    b.wait_js("alice", "the invite box", JOIN, &visible_js("#invite-box"))?;
    ensure!(
        b.eval("alice", "document.getElementById('invite-link').value")? == invite.as_str(),
        "the invite box does not show the invite link"
    );
    // The key is only in the fragment, also in alice's address bar.
    let (before_fragment, fragment) = invite
        .split_once('#')
        .context("the invite link has no fragment")?;
    let key_text = fragment
        .strip_prefix("k=")
        .with_context(|| format!("the invite's fragment is not #k=: {fragment}"))?;
    ensure!(
        !before_fragment.contains(key_text),
        "the key is in the invite's path or query"
    );
    let room = before_fragment
        .rsplit('/')
        .next()
        .filter(|r| !r.is_empty())
        .context("the invite link names no meeting")?
        .to_owned();
    let href = b.eval("alice", "location.href")?;
    let href = href.as_str().unwrap_or_default();
    ensure!(
        href.ends_with(&format!("/meeting/alice/{room}#k={key_text}")),
        "alice's address bar does not hold the new meeting: {href}"
    );
    let secret = RoomSecret::from_link_param("k", key_text)?.context("no generated secret")?;
    let key = RoomKey::new(&secret, &room)?;

    // An observer without the key (a native client, like the server's view)
    // is in before bob, so it sees him join.
    let observer = ObserverRun::start(&edge, &room)?;

    // Bob opens the invite link: the lobby, meeting filled in, no name yet.
    b.open("bob", &invite)?;
    b.wait_js("bob", "the lobby", JOIN, &visible_js("#lobby"))?;
    let meeting = b.eval("bob", "document.getElementById('meeting-input').value")?;
    ensure!(
        meeting == room.as_str(),
        "bob's lobby meeting id: {meeting}"
    );
    b.wait_js("bob", "the camera preview", JOIN, PREVIEW_JS)?;
    b.eval(
        "bob",
        "(() => { document.getElementById('name-input').value = 'bob'; return true; })()",
    )?;
    b.click("bob", "#join-button")?;
    b.wait_state("bob", "in the call", JOIN, |s| {
        (phase(s) == "in-call").then_some(())
    })?;
    wait_media_between(b, &["alice", "bob"])?;
    let bob = b.state("bob")?;
    ensure!(
        bob["e2ee_key"] == "generated" && bob["e2ee_kdf_ms"].is_number(),
        "bob does not use the generated key: {bob}"
    );
    println!(
        "    key derivation in Chromium (generated, HKDF only): alice {} ms, bob {} ms",
        alice["e2ee_kdf_ms"], bob["e2ee_kdf_ms"]
    );

    let from_alice = "the launch code is 0000";
    let from_bob = "Zoë's secret: 🎥 at noon";
    send_chat(b, "alice", from_alice)?;
    wait_sealed_chat(b, "bob", "alice", from_alice)?;
    wait_sealed_chat(b, "alice", "alice", from_alice)?;
    send_chat(b, "bob", from_bob)?;
    wait_sealed_chat(b, "alice", "bob", from_bob)?;

    // Bob leaves; carol, invited later, still reads the whole chat: the
    // room kept it sealed, and her key opens it under each sender's
    // identity (bob's too, though he is no longer in the roster).
    b.click("bob", "#leave-button")?;
    b.wait_state("alice", "bob gone", JOIN, |s| {
        peer(s, "bob").is_none().then_some(())
    })?;
    let carol_url = meeting_url(
        &edge.http_base(),
        "carol",
        &room,
        &[("autojoin", "1")],
        Some(fragment),
    );
    b.open("carol", &carol_url)?;
    b.wait_state("carol", "in the call", JOIN, |s| {
        (phase(s) == "in-call").then_some(())
    })?;
    wait_sealed_chat(b, "carol", "alice", from_alice)?;
    wait_sealed_chat(b, "carol", "bob", from_bob)?;
    let carol = b.state("carol")?;
    let lines = carol["chat"].as_array().map_or(0, Vec::len);
    ensure!(lines == 2, "carol's chat holds {lines} lines: {carol}");

    let observed = observer.finish()?;
    check_sealed_chat(&observed, "alice", &key, from_alice)?;
    check_sealed_chat(&observed, "bob", &key, from_bob)?;
    check_sealed(&observed, "alice", &key)?;
    check_sealed(&observed, "bob", &key)?;
    // The checks can tell: a typed key of the same text opens nothing.
    let typed = RoomKey::new(&RoomSecret::Typed(key_text.to_owned()), &room)?;
    ensure!(
        check_sealed_chat(&observed, "alice", &typed, from_alice).is_err(),
        "the chat opened with the wrong key"
    );
    Ok(())
}

fn a_typed_key_still_works_between_two_pages(fx: &Fixtures, b: &Browser) -> Result<()> {
    let (edge, room) = edge_room(fx, "typed-key")?;
    let url = |name| {
        meeting_url(
            &edge.http_base(),
            name,
            &room,
            &[("autojoin", "1")],
            Some("key=correct%20horse%20battery%20staple"),
        )
    };
    open_all(b, &[("alice", url("alice")), ("bob", url("bob"))], true)?;
    wait_media_between(b, &["alice", "bob"])?;
    for (me, other) in [("alice", "bob"), ("bob", "alice")] {
        let state = b.state(me)?;
        ensure!(
            state["e2ee"] == true && state["e2ee_key"] == "typed",
            "{me} does not use the typed key: {state}"
        );
        ensure!(
            peer_count(&state, other, "decrypt_failures") == 0,
            "{me} failed to open frames from {other}: {state}"
        );
        println!(
            "    {me}: Argon2id key derivation in Chromium took {} ms",
            state["e2ee_kdf_ms"]
        );
        let invite = state["invite"].as_str().unwrap_or_default();
        ensure!(
            invite.ends_with(&format!(
                "/meeting/-/{room}#key=correct+horse+battery+staple"
            )),
            "{me}'s invite link: {invite}"
        );
    }
    send_chat(b, "bob", "typed keys still work")?;
    wait_sealed_chat(b, "alice", "bob", "typed keys still work")?;
    Ok(())
}

fn a_page_with_the_wrong_key_decodes_nothing_and_counts_failures(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let (edge, room) = edge_room(fx, "wrong-key")?;
    let page = |name, key: &str| {
        meeting_url(
            &edge.http_base(),
            name,
            &room,
            &[("autojoin", "1")],
            Some(&format!("key={key}")),
        )
    };
    open_all(
        b,
        &[
            ("alice", page("alice", "right-secret")),
            ("bob", page("bob", "right-secret")),
            ("mallory", page("mallory", "wrong-secret")),
        ],
        true,
    )?;
    wait_media_between(b, &["alice", "bob"])?;
    b.wait_state("mallory", "decryption failures", MEDIA, |s| {
        (phase(s) == "in-call"
            && s["decrypt_failures"].as_u64().unwrap_or(0) > 0
            && peer_count(s, "alice", "decrypt_failures") > 0
            && peer_count(s, "bob", "decrypt_failures") > 0)
            .then_some(())
    })?;
    // Give any wrongly opened frame time to be decoded before looking.
    std::thread::sleep(Duration::from_secs(3));
    let mallory = b.state("mallory")?;
    for other in ["alice", "bob"] {
        for field in [
            "video_frames_decoded",
            "audio_frames_decoded",
            "screen_frames_decoded",
        ] {
            ensure!(
                peer_count(&mallory, other, field) == 0,
                "mallory decoded {field} from {other}: {mallory}"
            );
        }
    }
    ensure!(mallory["e2ee"] == true, "mallory's e2ee is off: {mallory}");
    // And the others cannot read mallory either.
    b.wait_state("alice", "failures opening mallory's frames", MEDIA, |s| {
        (peer_count(s, "mallory", "decrypt_failures") > 0).then_some(())
    })?;
    let alice = b.state("alice")?;
    ensure!(
        peer_count(&alice, "mallory", "video_frames_decoded") == 0
            && peer_count(&alice, "mallory", "audio_frames_decoded") == 0,
        "alice decoded mallory's frames: {alice}"
    );
    Ok(())
}

// -------------------------------------------------------------- states --

fn flag_on(b: &Browser, viewer: &str, of: &str, field: &str, badge: &str, on: bool) -> Result<()> {
    b.wait_state(viewer, &format!("{of}.{field} = {on}"), MEDIA, |s| {
        (peer(s, of).and_then(|p| p[field].as_bool()) == Some(on)).then_some(())
    })?;
    let selector = format!("{} {badge}", tile(of));
    let check = if on {
        exists_js(&selector)
    } else {
        format!("!({})", exists_js(&selector))
    };
    b.wait_js(viewer, &format!("{badge} shown = {on}"), MEDIA, &check)
}

/// Picks the option labelled `label` in select `id` of `name`'s page, as
/// a user would (the page acts on the `change` event).
fn choose_option(b: &Browser, name: &str, id: &str, label: &str) -> Result<()> {
    let picked = b.eval(
        name,
        &format!(
            "(() => {{ const s = document.getElementById({id:?}); \
               const o = [...s.options].find(o => o.text === {label:?}); \
               if (!o) return [...s.options].map(o => o.text).join(', '); \
               s.value = o.value; s.dispatchEvent(new Event('change')); return true; }})()"
        ),
    )?;
    ensure!(
        picked == Value::Bool(true),
        "{name}'s {id} has no {label:?}; it lists: {picked}"
    );
    Ok(())
}

/// Waits until `name`'s page says `field` of its own view is `value`.
fn self_text(b: &Browser, name: &str, field: &str, value: Option<&str>) -> Result<()> {
    b.wait_state(name, &format!("self.{field} = {value:?}"), MEDIA, |s| {
        (s["self"][field].as_str() == value).then_some(())
    })
}

/// Waits until `viewer` has decoded `more` further frames of kind `field`
/// from `of` than it had when called.
fn keeps_decoding(b: &Browser, viewer: &str, of: &str, field: &str, more: u64) -> Result<()> {
    let before = peer_count(&b.state(viewer)?, of, field);
    b.wait_state(
        viewer,
        &format!("{more} more {field} from {of}"),
        MEDIA,
        |s| (peer_count(s, of, field) >= before + more).then_some(()),
    )
}

fn devices_switch_during_the_call_and_camera_off_gives_the_camera_back(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    pair_on_the_edge(fx, b, "devices")?;
    wait_media_between(b, &["alice", "bob"])?;
    // Chromium's fake devices: two cameras, three microphones, three outputs.
    self_text(b, "alice", "camera_device", Some("fake_device_0"))?;
    choose_option(b, "alice", "call-camera-select", "fake_device_1")?;
    self_text(b, "alice", "camera_device", Some("fake_device_1"))?;
    keeps_decoding(b, "bob", "alice", "video_frames_decoded", VIDEO_FRAMES)?;

    choose_option(b, "alice", "call-mic-select", "Fake Audio Input 1")?;
    self_text(b, "alice", "mic_device", Some("Fake Audio Input 1"))?;
    keeps_decoding(b, "bob", "alice", "audio_frames_decoded", AUDIO_FRAMES)?;

    b.wait_js(
        "alice",
        "the speaker list",
        JOIN,
        &visible_js("#speaker-choice"),
    )?;
    choose_option(b, "alice", "speaker-select", "Fake Audio Output 1")?;
    self_text(b, "alice", "audio_output", Some("Fake Audio Output 1"))?;
    keeps_decoding(b, "alice", "bob", "audio_frames_decoded", AUDIO_FRAMES)?;

    // Camera off gives the device back: no live video track is left.
    b.click("alice", "#camera-button")?;
    self_flag(b, "alice", "camera_off", true)?;
    self_text(b, "alice", "camera_device", None)?;
    let live = b.eval(
        "alice",
        "document.querySelector('#tile-self video').srcObject\
           .getVideoTracks().filter(t => t.readyState === 'live').length",
    )?;
    ensure!(live == 0, "alice still holds {live} live camera track(s)");
    flag_on(b, "bob", "alice", "camera_off", ".badge-camera-off", true)?;

    // On again: the camera chosen in the call, and bob sees it.
    b.click("alice", "#camera-button")?;
    self_flag(b, "alice", "camera_off", false)?;
    self_text(b, "alice", "camera_device", Some("fake_device_1"))?;
    flag_on(b, "bob", "alice", "camera_off", ".badge-camera-off", false)?;
    keeps_decoding(b, "bob", "alice", "video_frames_decoded", VIDEO_FRAMES)?;
    Ok(())
}

fn self_flag(b: &Browser, name: &str, field: &str, on: bool) -> Result<()> {
    b.wait_state(name, &format!("self.{field} = {on}"), JOIN, |s| {
        (s["self"][field].as_bool() == Some(on)).then_some(())
    })
}

fn mute_camera_and_screen_share_states_propagate(fx: &Fixtures, b: &Browser) -> Result<()> {
    pair_on_the_edge(fx, b, "states")?;
    wait_media_between(b, &["alice", "bob"])?;
    flag_on(b, "bob", "alice", "muted", ".badge-muted", false)?;

    b.click("alice", "#mute-button")?;
    self_flag(b, "alice", "muted", true)?;
    flag_on(b, "bob", "alice", "muted", ".badge-muted", true)?;

    b.click("alice", "#camera-button")?;
    self_flag(b, "alice", "camera_off", true)?;
    flag_on(b, "bob", "alice", "camera_off", ".badge-camera-off", true)?;

    b.click("alice", "#screen-button")?;
    self_flag(b, "alice", "sharing_screen", true)?;
    flag_on(b, "bob", "alice", "sharing_screen", ".badge-screen", true)?;
    b.wait_state("bob", "screen frames from alice", MEDIA, |s| {
        (peer_count(s, "alice", "screen_frames_decoded") >= 10).then_some(())
    })?;

    b.click("alice", "#mute-button")?;
    self_flag(b, "alice", "muted", false)?;
    flag_on(b, "bob", "alice", "muted", ".badge-muted", false)?;
    b.click("alice", "#camera-button")?;
    flag_on(b, "bob", "alice", "camera_off", ".badge-camera-off", false)?;
    // The camera is back: bob decodes new frames from it.
    let before = peer_count(&b.state("bob")?, "alice", "video_frames_decoded");
    b.wait_state("bob", "alice's camera again", MEDIA, |s| {
        (peer_count(s, "alice", "video_frames_decoded") >= before + 10).then_some(())
    })?;
    Ok(())
}

/// One remote tile as page `name` shows it.
#[derive(Debug)]
struct TileShape {
    name: String,
    /// Width / height of the picture's box on screen.
    shown: f64,
    /// Width / height of the picture itself (the canvas's frame size).
    picture: f64,
    /// The tile's width in CSS pixels.
    width: f64,
    on_stage: bool,
}

/// The remote tiles page `name` shows, with the box of the picture each
/// displays (the screen share where there is one, else the camera).
fn tile_shapes(b: &Browser, name: &str) -> Result<Vec<TileShape>> {
    let shapes = b.eval(
        name,
        "[...document.querySelectorAll('#grid .tile:not(.self)')].filter(t => !t.hidden).map(t => {
           const c = t.querySelector(t.classList.contains('sharing') ? 'canvas.screen' : 'canvas.camera');
           const r = c.getBoundingClientRect();
           return { name: t.dataset.participantName, shown: r.width / r.height,
                    picture: c.width / c.height, width: t.getBoundingClientRect().width,
                    main: t.classList.contains('main') };
         })",
    )?;
    let shapes = shapes.as_array().context("tile shapes")?;
    Ok(shapes
        .iter()
        .map(|t| TileShape {
            name: t["name"].as_str().unwrap_or_default().to_owned(),
            shown: t["shown"].as_f64().unwrap_or(0.0),
            picture: t["picture"].as_f64().unwrap_or(0.0),
            width: t["width"].as_f64().unwrap_or(0.0),
            on_stage: t["main"] == true,
        })
        .collect())
}

/// Waits until every remote tile on page `name` has the shape of its
/// picture (within 3 %: borders and rounding), so nothing is letterboxed.
fn wait_tiles_fit(b: &Browser, name: &str) -> Result<Vec<TileShape>> {
    let deadline = std::time::Instant::now() + JOIN;
    loop {
        let shapes = tile_shapes(b, name)?;
        let fits = !shapes.is_empty()
            && shapes
                .iter()
                .all(|t| t.picture > 0.0 && (t.shown / t.picture - 1.0).abs() < 0.03);
        if fits {
            return Ok(shapes);
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "{name}'s tiles do not take their pictures' shape: {shapes:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The id page `viewer` knows participant `name` by.
fn peer_id(b: &Browser, viewer: &str, name: &str) -> Result<u64> {
    let state = b.state(viewer)?;
    peer(&state, name)
        .and_then(|p| p["id"].as_u64())
        .with_context(|| format!("{viewer} does not know {name}"))
}

/// Waits until page `viewer` has `who` on its stage (`None`: no stage).
fn wait_stage(b: &Browser, viewer: &str, who: Option<u64>, what: &str) -> Result<()> {
    b.wait_state(viewer, what, JOIN, |s| {
        (s["stage"].as_u64() == who).then_some(())
    })
}

/// The camera layer page `viewer` asks of participant `name`.
fn asked_layer(state: &Value, name: &str) -> Option<u64> {
    peer(state, name).and_then(|p| p["asked_camera_layer"].as_u64())
}

fn the_grid_speaker_view_and_pins_keep_each_picture_in_shape(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let (edge, room) = edge_room(fx, "layouts")?;
    let url = |name| meeting_url(&edge.http_base(), name, &room, &[("autojoin", "1")], None);
    let names = ["alice", "bob", "carol"];
    open_all(b, &names.map(|n| (n, url(n))), true)?;
    wait_media_between(b, &names)?;

    // The grid: equal tiles in the shape of their pictures, no stage.
    let grid = wait_tiles_fit(b, "alice")?;
    ensure!(
        grid.iter().all(|t| !t.on_stage),
        "a stage in the grid: {grid:?}"
    );
    println!("    grid: {grid:?}");
    b.screenshot("alice", "layout-grid.png")?;

    // The speaker view. Whoever comes later in tile order speaks (the
    // other is muted), so the stage can only be theirs by speaking.
    let (first, later) = {
        let (bob, carol) = (peer_id(b, "alice", "bob")?, peer_id(b, "alice", "carol")?);
        if bob < carol {
            (("bob", bob), ("carol", carol))
        } else {
            (("carol", carol), ("bob", bob))
        }
    };
    b.click(first.0, "#mute-button")?;
    self_flag(b, first.0, "muted", true)?;
    b.click("alice", "#view-button")?;
    b.wait_state("alice", "the speaker view", JOIN, |s| {
        (s["view"] == "speaker").then_some(())
    })?;
    wait_stage(
        b,
        "alice",
        Some(later.1),
        &format!("{} speaking on the stage", later.0),
    )?;
    let speaker = wait_tiles_fit(b, "alice")?;
    let stage = speaker
        .iter()
        .find(|t| t.on_stage)
        .context("no stage tile")?;
    let strip = speaker
        .iter()
        .find(|t| !t.on_stage)
        .context("no filmstrip tile")?;
    ensure!(
        stage.name == later.0 && stage.width > 2.0 * strip.width,
        "the stage is not the large tile: {speaker:?}"
    );
    // The stage's camera is asked at the top layer, the strip's at the
    // bottom one: the speaker view costs the strip's bandwidth, not more.
    b.wait_state("alice", "layers by tile size", JOIN, |s| {
        (asked_layer(s, later.0) == Some(2) && asked_layer(s, first.0) == Some(0)).then_some(())
    })?;
    println!("    speaker view: {speaker:?}");
    b.screenshot("alice", "layout-speaker.png")?;

    // Pinning the quiet one puts them on the stage though the other
    // speaks; unpinning gives the stage back to the speaker.
    let pin = format!("#tile-{} button.pin", first.1);
    b.click("alice", &pin)?;
    wait_stage(b, "alice", Some(first.1), &format!("{} pinned", first.0))?;
    ensure!(
        b.eval(
            "alice",
            &format!("document.querySelector('{pin}').getAttribute('aria-pressed')")
        )? == "true",
        "the pin button does not say it is pressed"
    );
    wait_tiles_fit(b, "alice")?;
    b.screenshot("alice", "layout-pinned.png")?;
    b.click("alice", &pin)?;
    wait_stage(
        b,
        "alice",
        Some(later.1),
        "the speaker back after unpinning",
    )?;

    // A screen share takes the stage, in the shape of the screen.
    b.click(first.0, "#screen-button")?;
    self_flag(b, first.0, "sharing_screen", true)?;
    wait_stage(b, "alice", Some(first.1), "the shared screen on the stage")?;
    b.wait_state("alice", "screen frames", MEDIA, |s| {
        (peer_count(s, first.0, "screen_frames_decoded") >= 10).then_some(())
    })?;
    let sharing = wait_tiles_fit(b, "alice")?;
    println!("    screen share: {sharing:?}");
    b.screenshot("alice", "layout-screen.png")?;

    // Back to the grid: no stage (the share keeps a double tile).
    b.click("alice", "#view-button")?;
    wait_stage(b, "alice", None, "the grid again")?;
    wait_tiles_fit(b, "alice")?;
    Ok(())
}

/// Native participants that stay in a room (keep-alives, reading and
/// acknowledging everything) until stopped.
struct Crowd {
    runtime: tokio::runtime::Runtime,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<Result<()>>>,
}

impl Crowd {
    fn join(edge: &Edge, room: &str, count: usize) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for i in 1..=count {
            let url = format!("{}/api/rooms/{room}/ws?name=native-{i:02}", edge.ws_base());
            let mut client = runtime
                .block_on(Client::join(&url))
                .with_context(|| format!("native-{i:02} could not join"))?;
            let mut stopped = stopped.clone();
            tasks.push(runtime.spawn(async move {
                let mut keepalive = tokio::time::interval(Duration::from_secs(2));
                loop {
                    tokio::select! {
                        _ = stopped.changed() => break,
                        _ = keepalive.tick() => client.keepalive().await?,
                        event = client.next(Duration::from_secs(1)) => {
                            if let Some(Event::Closed(close)) = event {
                                bail!("native-{i:02} was closed: {close:?}");
                            }
                        }
                    }
                }
                client.leave().await
            }));
        }
        Ok(Self {
            runtime,
            stop,
            tasks,
        })
    }

    /// Stops everyone; fails if anyone was closed on the way.
    fn leave(self) -> Result<()> {
        let _ = self.stop.send(true);
        for task in self.tasks {
            self.runtime
                .block_on(task)
                .context("a native task panicked")??;
        }
        Ok(())
    }
}

/// Remote tiles the page shows (on the current grid page).
fn visible_tiles(b: &Browser, name: &str) -> Result<u64> {
    b.eval(
        name,
        "[...document.querySelectorAll('#grid .tile:not(.self)')].filter(t => !t.hidden).length",
    )?
    .as_u64()
    .context("tile count")
}

fn a_page_among_twenty_pages_its_grid_within_the_subscription_limit(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let (edge, room) = edge_room(fx, "edge-twenty")?;
    let crowd = Crowd::join(&edge, &room, 19)?;
    let url = meeting_url(
        &edge.http_base(),
        "viewer",
        &room,
        &[("autojoin", "1")],
        None,
    );
    open_all(b, &[("viewer", url)], true)?;
    let state = b.wait_state("viewer", "19 others, in two grid pages", JOIN, |s| {
        (s["participants"].as_array().map_or(0, Vec::len) == 19 && s["grid_pages"] == 2)
            .then(|| s.clone())
    })?;
    let limit = state["max_subscriptions"]
        .as_u64()
        .context("max_subscriptions")?;
    ensure!(limit == 16, "the edge announced {limit} subscriptions");
    let id = state["self"]["id"].clone();
    let first_page = visible_tiles(b, "viewer")?;
    ensure!(first_page == limit, "{first_page} tiles on the first page");
    b.screenshot("viewer", "grid-page-1.png")?;
    // Several subscription updates later, still in the call on the same
    // connection, never having asked for more than allowed.
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(500));
        let s = b.state("viewer")?;
        let subscribed = s["subscribed"].as_u64().unwrap_or(u64::MAX);
        ensure!(
            phase(&s) == "in-call" && s["self"]["id"] == id,
            "the page left or reconnected: {s}"
        );
        ensure!(subscribed <= limit, "asked for {subscribed} of {limit}");
    }
    b.click("viewer", "#page-next")?;
    b.wait_state("viewer", "the second page", JOIN, |s| {
        (s["grid_page"] == 1).then_some(())
    })?;
    let second_page = visible_tiles(b, "viewer")?;
    ensure!(second_page == 3, "{second_page} tiles on the second page");
    b.wait_state("viewer", "subscriptions follow the page", JOIN, |s| {
        (s["subscribed"].as_u64().is_some_and(|n| n <= 3)).then_some(())
    })?;
    b.screenshot("viewer", "grid-page-2.png")?;
    let s = b.state("viewer")?;
    ensure!(s["self"]["id"] == id, "the page reconnected: {s}");
    crowd.leave()?;
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 1, "{info}");
    Ok(())
}

/// Longer than workerd keeps an idle Durable Object in memory.
const IDLE_LONG_ENOUGH_TO_HIBERNATE: Duration = Duration::from_secs(35);

fn an_idle_edge_meeting_hibernates_with_pages_joined_and_resumes_media(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let (edge, room) = pair_on_the_edge(fx, b, "edge-idle")?;
    let names = ["alice", "bob"];
    wait_media_between(b, &names)?;
    for name in names {
        b.click(name, "#mute-button")?;
        self_flag(b, name, "muted", true)?;
        b.click(name, "#camera-button")?;
        self_flag(b, name, "camera_off", true)?;
    }
    for (viewer, of) in [("alice", "bob"), ("bob", "alice")] {
        flag_on(b, viewer, of, "muted", ".badge-muted", true)?;
        flag_on(b, viewer, of, "camera_off", ".badge-camera-off", true)?;
    }
    let ids: Vec<Value> = names
        .iter()
        .map(|n| Ok(b.state(n)?["self"]["id"].clone()))
        .collect::<Result<_>>()?;
    let before = edge.room_info(&room)?;
    // Nothing but keep-alives, which the runtime answers by itself.
    std::thread::sleep(IDLE_LONG_ENOUGH_TO_HIBERNATE);
    let after = edge.room_info(&room)?;
    ensure!(
        after["restored"] == true && after["instance_started_ms"] != before["instance_started_ms"],
        "the room was not evicted and restored: {before} → {after}"
    );
    ensure!(after["participants"] == 2, "{after}");
    for (name, id) in names.iter().zip(&ids) {
        let state = b.state(name)?;
        ensure!(
            phase(&state) == "in-call" && state["self"]["id"] == *id,
            "{name} left or reconnected while the room slept: {state}"
        );
        println!(
            "    {name}: rtt {} ms after the idle spell",
            state["rtt_ms"]
        );
    }
    let decoded: Vec<(u64, u64)> = names
        .iter()
        .zip(names.iter().rev())
        .map(|(me, other)| {
            let s = b.state(me)?;
            Ok((
                peer_count(&s, other, "video_frames_decoded"),
                peer_count(&s, other, "audio_frames_decoded"),
            ))
        })
        .collect::<Result<_>>()?;
    for name in names {
        b.click(name, "#mute-button")?;
        b.click(name, "#camera-button")?;
    }
    for ((me, other), (video, audio)) in names.iter().zip(names.iter().rev()).zip(decoded) {
        b.wait_state(me, &format!("media from {other} again"), MEDIA, |s| {
            decoded_from(s, other, video + VIDEO_FRAMES, audio + AUDIO_FRAMES).then_some(())
        })?;
    }
    Ok(())
}

/// The congestion level a page reports (`full`, `low-layer`, `video-paused`).
fn congestion_of(state: &Value) -> &str {
    state["congestion"].as_str().unwrap_or("unknown")
}

/// How long the proxy measures bob's downlink before slowing it.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// The slowed downlink carries this fraction of the measured rate.
const SLOW_LINK_DIVISOR: u64 = 3;

/// Bytes per second the proxy forwarded to its clients over `window`.
async fn downlink_rate(proxy: &Proxy, window: Duration) -> u64 {
    let before = proxy.downlink_bytes();
    let started = tokio::time::Instant::now();
    tokio::time::sleep(window).await;
    let bytes = proxy.downlink_bytes().saturating_sub(before);
    (bytes as f64 / started.elapsed().as_secs_f64()) as u64
}

/// Bob's path to the edge, through a [`Proxy`] the case can throttle or
/// break (alice's is direct). Fields drop in order: the proxy, then the
/// runtime its tasks run on.
struct BobsPath {
    proxy: Proxy,
    runtime: tokio::runtime::Runtime,
}

/// Alice on the shared edge and bob through a proxy to it, joined in a
/// fresh room named after `prefix`, with media flowing both ways.
fn pair_with_bob_behind_a_proxy(fx: &Fixtures, b: &Browser, prefix: &str) -> Result<BobsPath> {
    web::ensure_built()?;
    let edge = fx.edge.get()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let proxy = runtime.block_on(Proxy::start(edge.addr()))?;
    let room = unique_room(prefix);
    let query = [("autojoin", "1")];
    let alice = meeting_url(&edge.http_base(), "alice", &room, &query, None);
    let bob = meeting_url(&proxy.http_base(), "bob", &room, &query, None);
    open_all(b, &[("alice", alice), ("bob", bob)], true)?;
    wait_media_between(b, &["alice", "bob"])?;
    Ok(BobsPath { proxy, runtime })
}

fn a_page_on_a_slow_downlink_steps_down_and_recovers(fx: &Fixtures, b: &Browser) -> Result<()> {
    // Bob's proxy can slow his downlink.
    let BobsPath { proxy, runtime } = pair_with_bob_behind_a_proxy(fx, b, "slow-link")?;
    ensure!(
        congestion_of(&b.state("bob")?) == "full",
        "bob is congested before the link slows"
    );

    // What bob receives at full quality depends on how much alice's encoder
    // makes of the fake camera's picture, which differs between machines
    // (a fixed 40 KB/s limit was above it on some). So the link is slowed
    // relative to the rate measured here: well below it, the queue in
    // front of bob grows whatever that rate is.
    let full_rate = runtime.block_on(downlink_rate(&proxy, RATE_WINDOW));
    let limit = (full_rate / SLOW_LINK_DIVISOR).max(1_000);
    println!(
        "    bob receives {full_rate} B/s at full quality; his downlink is limited to {limit} B/s"
    );
    proxy.throttle_downlink(Some(limit));
    let alice_before = peer_count(&b.state("alice")?, "bob", "video_frames_decoded");
    let level = b.wait_state("bob", "a step down", MEDIA, |s| {
        let level = congestion_of(s);
        (level == "low-layer" || level == "video-paused").then(|| level.to_owned())
    })?;
    println!("    bob on a {limit} B/s downlink stepped down to {level}");
    let status = b.eval("bob", &text_js("#status"))?;
    ensure!(
        status
            .as_str()
            .is_some_and(|t| t.contains("Slow connection")),
        "bob's status does not say why video degraded: {status}"
    );
    // Alice's side of the call is not affected by bob's slow link.
    b.wait_state(
        "alice",
        "bob's video while bob's link is slow",
        MEDIA,
        |s| {
            (peer_count(s, "bob", "video_frames_decoded") >= alice_before + VIDEO_FRAMES)
                .then_some(())
        },
    )?;

    proxy.throttle_downlink(None);
    b.wait_state("bob", "recovery to full", MEDIA, |s| {
        (congestion_of(s) == "full").then_some(())
    })?;
    let bob_before = peer_count(&b.state("bob")?, "alice", "video_frames_decoded");
    b.wait_state("bob", "alice's video after recovery", MEDIA, |s| {
        (peer_count(s, "alice", "video_frames_decoded") >= bob_before + VIDEO_FRAMES).then_some(())
    })?;
    println!("    bob recovered to full and decodes alice again");
    drop(proxy);
    Ok(())
}

/// Every control, video and canvas on the page (hidden ones too) that has
/// no accessible name: no `aria-label`, no `<label>`, no text, no title.
const UNNAMED_CONTROLS_JS: &str = r#"(() => {
  const named = (e) => [
    e.getAttribute('aria-label'),
    e.labels && e.labels.length ? e.labels[0].textContent : '',
    e.textContent,
    e.getAttribute('title'),
  ].some((t) => (t || '').trim().length > 0);
  return [...document.querySelectorAll('button, input, select, textarea, video, canvas')]
    .filter((e) => !named(e))
    .map((e) => e.outerHTML.slice(0, 120));
})()"#;

/// The meeting's keyboard shortcuts press its buttons (Alt+A mute, Alt+V
/// camera, Alt+H hand, Alt+Q leave), the others see the result, the toggles say
/// whether they are pressed, and every control on the page has an
/// accessible name.
fn keyboard_shortcuts_press_the_controls_and_every_control_is_named(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    pair_on_the_edge(fx, b, "keys")?;
    b.wait_state("bob", "alice in the roster", JOIN, |s| {
        peer(s, "alice").map(|_| ())
    })?;
    let unnamed = b.eval("alice", UNNAMED_CONTROLS_JS)?;
    ensure!(
        unnamed.as_array().is_some_and(Vec::is_empty),
        "controls without an accessible name: {unnamed}"
    );
    let pressed = |id: &str| -> Result<Value> {
        b.eval(
            "alice",
            &format!("document.getElementById('{id}').getAttribute('aria-pressed')"),
        )
    };
    ensure!(pressed("mute-button")? == "false", "mute starts unpressed");

    b.press("alice", "Alt+KeyA")?;
    self_flag(b, "alice", "muted", true)?;
    flag_on(b, "bob", "alice", "muted", ".badge-muted", true)?;
    ensure!(
        pressed("mute-button")? == "true",
        "mute does not say it is pressed"
    );
    b.press("alice", "Alt+KeyA")?;
    self_flag(b, "alice", "muted", false)?;

    b.press("alice", "Alt+KeyV")?;
    self_flag(b, "alice", "camera_off", true)?;
    flag_on(b, "bob", "alice", "camera_off", ".badge-camera-off", true)?;
    ensure!(pressed("camera-button")? == "true");

    b.press("alice", "Alt+KeyH")?;
    self_flag(b, "alice", "hand_raised", true)?;
    flag_on(b, "bob", "alice", "hand_raised", ".badge-hand", true)?;
    ensure!(pressed("hand-button")? == "true");

    b.press("alice", "Alt+KeyQ")?;
    b.wait_state("alice", "left", JOIN, |s| {
        (phase(s) == "left").then_some(())
    })?;
    b.wait_state("bob", "alice gone from the roster", MEDIA, |s| {
        peer(s, "alice").is_none().then_some(())
    })?;
    Ok(())
}

/// Leaving shows a "You left" screen whose Rejoin button puts the page
/// back in the meeting, with media both ways again.
fn a_page_that_left_rejoins_from_the_left_screen(fx: &Fixtures, b: &Browser) -> Result<()> {
    pair_on_the_edge(fx, b, "rejoin")?;
    b.click("alice", "#leave-button")?;
    b.wait_state("alice", "left", JOIN, |s| {
        (phase(s) == "left").then_some(())
    })?;
    b.wait_js(
        "alice",
        "the left screen",
        JOIN,
        &visible_js("#rejoin-button"),
    )?;
    b.wait_state("bob", "alice gone from the roster", MEDIA, |s| {
        peer(s, "alice").is_none().then_some(())
    })?;
    b.screenshot("alice", "left.png")?;
    b.click("alice", "#rejoin-button")?;
    wait_media_between(b, &["alice", "bob"])?;
    let state = b.state("bob")?;
    let alices = state["participants"]
        .as_array()
        .map_or(0, |all| all.iter().filter(|p| p["name"] == "alice").count());
    ensure!(alices == 1, "bob sees {alices} alices: {state}");
    Ok(())
}

// ------------------------------------------------------------ recovery --

/// The deployed trust flow on loopback: relays publish themselves into a
/// registry, `edgecall-directory` answers from it, and the edge's page
/// config names that directory, so a page loaded from the edge asks it
/// which relay serves the meeting (and with which certificate).
struct DirectedEdge {
    registry: TempDir,
    directory: DirectoryProcess,
    edge: Edge,
}

impl DirectedEdge {
    fn start() -> Result<Self> {
        web::ensure_built()?;
        let registry = TempDir::new("edgecall-browser-registry")?;
        let directory = DirectoryProcess::start(registry.path(), None)?;
        let edge = Edge::start(&[("RELAY_DIRECTORY_URL", &directory.url)])?;
        Ok(Self {
            registry,
            directory,
            edge,
        })
    }

    /// A relay the directory knows as `id`, on `listen` (a free port when
    /// `None`), with its own self-signed certificate.
    fn relay(&self, id: &str, listen: Option<&str>) -> Result<RelayProcess> {
        RelayProcess::start_published(self.registry.path(), id, listen, &[])
    }

    fn page_url(&self, name: &str, room: &str, query: &[(&str, &str)]) -> String {
        meeting_url(&self.edge.http_base(), name, room, query, None)
    }

    fn log_tail(&self) -> String {
        format!(
            "--- directory at {} / edge: wrangler log ---\n{}",
            self.directory.url,
            self.edge.log_tail()
        )
    }
}

/// What a page had decoded from one peer: the peer's participant id and
/// its counters.
#[derive(Debug, Clone)]
struct DecodedFrom {
    id: Value,
    video: u64,
    audio: u64,
}

impl DecodedFrom {
    fn read(state: &Value, from: &str) -> Self {
        Self {
            id: web::peer(state, from).map_or(Value::Null, |p| p["id"].clone()),
            video: peer_count(state, from, "video_frames_decoded"),
            audio: peer_count(state, from, "audio_frames_decoded"),
        }
    }

    /// Whether `state` shows media from `from` flowing again: the same
    /// participant's counters moved on by the agreed amounts, or — after a
    /// rejoin on another server, which numbers participants afresh — the
    /// counters of the participant now called `from` reached them.
    fn resumed_in(&self, state: &Value, from: &str) -> bool {
        let now = Self::read(state, from);
        let (video, audio) = if now.id == self.id {
            (self.video + VIDEO_FRAMES, self.audio + AUDIO_FRAMES)
        } else {
            (VIDEO_FRAMES, AUDIO_FRAMES)
        };
        decoded_from(state, from, video, audio)
    }
}

/// What each of `names` had decoded from each other one.
fn decoded_between(b: &Browser, names: &[&str]) -> Result<HashMap<(String, String), DecodedFrom>> {
    let mut out = HashMap::new();
    for me in names {
        let state = b.state(me)?;
        for other in names.iter().filter(|n| *n != me) {
            out.insert(
                ((*me).to_owned(), (*other).to_owned()),
                DecodedFrom::read(&state, other),
            );
        }
    }
    Ok(out)
}

/// Waits until every page of `before` has reconnected (on `server`, when
/// given), is in the call and decodes each other page again; returns the
/// time from `fault` until the last one did.
fn wait_recovered(
    b: &Browser,
    before: &HashMap<(String, String), DecodedFrom>,
    server: Option<&str>,
    fault: Instant,
) -> Result<Duration> {
    let mut pairs: Vec<_> = before.iter().collect();
    pairs.sort_by(|a, c| a.0.cmp(c.0));
    for ((me, other), was) in pairs {
        b.wait_state(me, &format!("media from {other} again"), MEDIA, |s| {
            let back = s["reconnects"].as_u64().unwrap_or(0) >= 1
                && server.is_none_or(|server| s["server"] == server);
            (back && was.resumed_in(s, other)).then_some(())
        })
        .map_err(|e| {
            // Where the other page is tells a page that never heard of the
            // fault from one that went elsewhere.
            let theirs = b
                .state(other)
                .map_or_else(|err| format!("unreadable: {err:#}"), |s| s.to_string());
            e.context(format!(
                "{other}'s state: {theirs}\n--- {other}'s console ---\n{}",
                b.page_log(other)
            ))
        })?;
    }
    let recovered = fault.elapsed();
    for me in before.keys().map(|(me, _)| me).collect::<BTreeSet<_>>() {
        let state = b.state(me)?;
        println!(
            "    {me}: back on {} over {} ({} reconnect(s); the page was out of the call {} ms)",
            state["server"], state["transport"], state["reconnects"], state["last_outage_ms"]
        );
    }
    Ok(recovered)
}

/// The pages' server, which must be the same for all of them.
fn common_server(b: &Browser, names: &[&str]) -> Result<String> {
    let servers: BTreeSet<String> = names
        .iter()
        .map(|n| Ok(b.state(n)?["server"].as_str().unwrap_or("none").to_owned()))
        .collect::<Result<_>>()?;
    ensure!(
        servers.len() == 1,
        "the pages are on different servers: {servers:?}"
    );
    Ok(servers.into_iter().next().unwrap_or_default())
}

/// The relay crashes (SIGKILL) mid-call and comes back on the same address
/// with a new self-signed certificate, as a restarted VM's relay does. The
/// pages notice, keep trying, ask the directory again — the only way to
/// learn the new certificate — and media flows both ways again.
fn pages_sent_by_the_directory_rejoin_their_relay_after_it_crashes_and_restarts(
    _: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let directed = DirectedEdge::start()?;
    let mut relay = directed.relay("relay-a", None)?;
    let room = unique_room("relay-crash");
    // WebTransport only: with the edge as a fallback a page would move
    // there while the relay is down, and this case is about the relay.
    let query = [("autojoin", "1"), ("transport", "webtransport")];
    let names = ["alice", "bob"];
    open_all(
        b,
        &names.map(|n| (n, directed.page_url(n, &room, &query))),
        true,
    )?;
    wait_media_between(b, &names).map_err(|e| e.context(directed.log_tail()))?;
    ensure!(common_server(b, &names)? == relay.url, "not on the relay");
    let before = decoded_between(b, &names)?;

    let listen = relay.listen_addr().to_owned();
    let old_cert = relay.cert_sha256.clone();
    relay.kill();
    let crashed = Instant::now();
    for name in names {
        b.wait_state(name, "noticing the crash", MEDIA, |s| {
            (phase(s) == "reconnecting").then_some(())
        })?;
    }
    println!(
        "    both pages noticed the crash after {:.1} s",
        crashed.elapsed().as_secs_f64()
    );
    let relay = directed.relay("relay-a", Some(&listen))?;
    ensure!(
        relay.cert_sha256 != old_cert,
        "the restarted relay kept its certificate"
    );
    let restarted = Instant::now();
    let recovered = wait_recovered(b, &before, Some(&relay.url), crashed)
        .map_err(|e| e.context(format!("{}\n{}", relay.log(), directed.log_tail())))?;
    println!(
        "    media both ways again {:.1} s after the crash, {:.1} s after the restart",
        recovered.as_secs_f64(),
        restarted.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The pages' relay drains (SIGTERM: it leaves the directory's answers,
/// then closes its sessions with 4013) while a second relay is up: the
/// pages ask the directory again, move to the other relay together and
/// media flows both ways again.
fn pages_move_to_the_other_relay_when_theirs_drains(_: &Fixtures, b: &Browser) -> Result<()> {
    let directed = DirectedEdge::start()?;
    let mut relays = vec![
        directed.relay("relay-a", None)?,
        directed.relay("relay-b", None)?,
    ];
    let room = unique_room("relay-drain");
    let names = ["alice", "bob"];
    open_all(
        b,
        &names.map(|n| (n, directed.page_url(n, &room, &[("autojoin", "1")]))),
        true,
    )?;
    wait_media_between(b, &names).map_err(|e| e.context(directed.log_tail()))?;
    let server = common_server(b, &names)?;
    let Some(first) = relays.iter().position(|r| r.url == server) else {
        bail!("the pages are on {server}, not on a relay");
    };
    let before = decoded_between(b, &names)?;

    let mut drained = relays.remove(first);
    drained.terminate()?;
    let drain_began = Instant::now();
    let other = &relays[0];
    let recovered = wait_recovered(b, &before, Some(&other.url), drain_began)
        .map_err(|e| e.context(format!("{}\n{}", other.log(), directed.log_tail())))?;
    println!(
        "    media both ways on the other relay {:.1} s after the drain began",
        recovered.as_secs_f64()
    );
    let status = drained.wait_exit(MEDIA)?;
    ensure!(status.success(), "the drained relay exited with {status}");
    for name in names {
        // Sent away by the relay, not left to notice a silent connection.
        let log = b.page_log(name);
        ensure!(
            (log.contains("4013") || log.contains("The server ended the session"))
                && !log.contains("answered nothing"),
            "{name}'s log does not show the relay sending it away:\n{log}"
        );
    }
    Ok(())
}

/// What happens to the path between a page and the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathFault {
    /// Every connection on it is dropped (as a network change does) and
    /// new ones are refused until the path returns.
    Cut,
    /// The open connections stop carrying anything either way and nothing
    /// is closed (a black hole); new connections work.
    Silent,
}

/// Bob's path to the edge fails as `fault` says while alice's does not:
/// bob's page says it is reconnecting, gets back in under its own identity
/// (replacing, not duplicating, his old session) and media flows both ways
/// again; alice never reconnects.
fn a_page_recovers_from_a_fault_on_its_path_to_the_edge(
    fx: &Fixtures,
    b: &Browser,
    fault: PathFault,
) -> Result<()> {
    // Bob's proxy can break his path.
    let path = pair_with_bob_behind_a_proxy(fx, b, "edge-path")?;
    let proxy = &path.proxy;
    let names = ["alice", "bob"];
    let bob_identity = b.state("bob")?["self"]["identity"].clone();
    let before = decoded_between(b, &names)?;

    match fault {
        PathFault::Cut => proxy.sever(),
        PathFault::Silent => proxy.silence(),
    }
    let broke = Instant::now();
    b.wait_state("bob", "noticing the fault", MEDIA, |s| {
        (phase(s) == "reconnecting").then_some(())
    })?;
    println!(
        "    bob noticed the {fault:?} path after {:.1} s",
        broke.elapsed().as_secs_f64()
    );
    if fault == PathFault::Cut {
        proxy.restore();
    }
    let bob_before: HashMap<_, _> = before
        .iter()
        .filter(|((me, _), _)| me == "bob")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let recovered = wait_recovered(b, &bob_before, None, broke)?;
    let was = &before[&("alice".to_owned(), "bob".to_owned())];
    b.wait_state("alice", "media from bob again", MEDIA, |s| {
        was.resumed_in(s, "bob").then_some(())
    })?;
    println!(
        "    media both ways again {:.1} s after the fault (bob: {:.1} s)",
        broke.elapsed().as_secs_f64(),
        recovered.as_secs_f64()
    );
    let state = b.state("bob")?;
    ensure!(
        state["self"]["identity"] == bob_identity,
        "bob came back as someone else: {bob_identity} → {}",
        state["self"]["identity"]
    );
    // His old session was replaced, not left behind as a ghost.
    let alice = b.state("alice")?;
    let bobs = alice["participants"]
        .as_array()
        .map_or(0, |all| all.iter().filter(|p| p["name"] == "bob").count());
    ensure!(bobs == 1, "alice sees {bobs} bobs: {alice}");
    ensure!(
        alice["reconnects"] == 0,
        "alice reconnected though her path never failed"
    );
    if fault == PathFault::Silent {
        // Nothing closed: only the page's liveness rule can have noticed.
        let log = b.page_log("bob");
        ensure!(
            log.contains("answered nothing"),
            "bob's log does not show the liveness rule:\n{log}"
        );
    }
    drop(path);
    Ok(())
}

fn a_page_reconnects_after_its_websocket_to_the_edge_is_cut(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    a_page_recovers_from_a_fault_on_its_path_to_the_edge(fx, b, PathFault::Cut)
}

fn a_page_rejoins_when_its_path_to_the_edge_goes_silent(fx: &Fixtures, b: &Browser) -> Result<()> {
    a_page_recovers_from_a_fault_on_its_path_to_the_edge(fx, b, PathFault::Silent)
}

// -------------------------------------------------------------- errors --

/// Waits for the page to give up with a visible, non-empty `#error`.
fn wait_error(b: &Browser, name: &str) -> Result<String> {
    b.wait_state(name, "the error phase", MEDIA, |s| {
        (phase(s) == "error").then_some(())
    })?;
    b.wait_js(name, "#error shown", JOIN, &visible_js("#error"))?;
    let text = b.eval(name, &text_js("#error"))?;
    let text = text.as_str().unwrap_or("").to_owned();
    ensure!(!text.is_empty(), "{name}: #error is empty");
    let state = b.state(name)?;
    ensure!(
        state["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{name}: state.error is empty: {state}"
    );
    Ok(text)
}

fn a_rejected_token_shows_a_clear_error(fx: &Fixtures, b: &Browser) -> Result<()> {
    web::ensure_built()?;
    let edge = fx.secured_edge.get()?;
    let room = unique_room("tokens");
    let exp = edgecall_e2e::frames::now_us() / 1_000_000 + 3_600;
    let good = mint(
        JOIN_SECRET.as_bytes(),
        &JoinClaims::new(room.as_str(), "alice", exp),
    )?;
    let forged = mint(
        b"not-the-secret",
        &JoinClaims::new(room.as_str(), "eve", exp),
    )?;
    let url = |name, token: &str| {
        meeting_url(
            &edge.http_base(),
            name,
            &room,
            &[("autojoin", "1"), ("token", token)],
            None,
        )
    };
    open_all(
        b,
        &[("alice", url("alice", &good)), ("eve", url("eve", &forged))],
        false,
    )?;
    // A valid token gets in, so the refusal below is about eve's token.
    b.wait_state("alice", "in the call", JOIN, |s| {
        (phase(s) == "in-call").then_some(())
    })?;
    let text = wait_error(b, "eve")?;
    println!("    eve's error: {text}");
    ensure!(
        peer(&b.state("alice")?, "eve").is_none(),
        "eve joined with a forged token"
    );
    Ok(())
}

/// Clicks the host's moderation button `action` for `name` in `host`'s
/// participant list.
fn moderate_in_list(b: &Browser, host: &str, action: &str, name: &str) -> Result<()> {
    let id = peer_id(b, host, name)?;
    b.click(
        host,
        &format!("#participants button[data-moderate=\"{action}:{id}\"]"),
    )
}

/// A host (`role: host` token) and two participants on the secured edge:
/// hands go up and reactions show for everyone; the host lowers a hand,
/// mutes someone, removes someone (their page says so and stays out), and
/// ends the meeting for the rest. Only the host sees moderation controls.
fn a_host_lowers_hands_mutes_removes_and_ends_the_meeting(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    web::ensure_built()?;
    let edge = fx.secured_edge.get()?;
    let room = unique_room("moderation");
    let exp = edgecall_e2e::frames::now_us() / 1_000_000 + 3_600;
    let url = |name: &str, role: Role| -> Result<String> {
        let claims = JoinClaims {
            role,
            ..JoinClaims::new(room.as_str(), name, exp)
        };
        let token = mint(JOIN_SECRET.as_bytes(), &claims)?;
        Ok(meeting_url(
            &edge.http_base(),
            name,
            &room,
            &[("autojoin", "1"), ("token", &token)],
            None,
        ))
    };
    let pages = [
        ("chair", url("chair", Role::Host)?),
        ("bob", url("bob", Role::Participant)?),
        ("carol", url("carol", Role::Participant)?),
    ];
    open_all(b, &pages, true)?;
    for me in ["chair", "bob", "carol"] {
        b.wait_state(me, "everyone in the roster", JOIN, |s| {
            (s["participants"].as_array().map_or(0, Vec::len) == 2).then_some(())
        })?;
    }
    ensure!(
        b.state("chair")?["self"]["host"] == true,
        "chair is not a host"
    );
    b.wait_js("chair", "the end button", JOIN, &visible_js("#end-button"))?;
    ensure!(
        b.eval("bob", &visible_js("#end-button"))? == false,
        "a participant sees the end button"
    );
    ensure!(
        b.eval(
            "bob",
            "document.querySelectorAll('#participants button.moderate').length"
        )? == 0,
        "a participant sees moderation buttons"
    );
    b.wait_state("bob", "chair shown as host", JOIN, |s| {
        (peer(s, "chair")?["host"] == true).then_some(())
    })?;

    // Bob raises his hand; carol reacts. Everyone sees both.
    b.click("bob", "#hand-button")?;
    self_flag(b, "bob", "hand_raised", true)?;
    flag_on(b, "chair", "bob", "hand_raised", ".badge-hand", true)?;
    flag_on(b, "carol", "bob", "hand_raised", ".badge-hand", true)?;
    b.click("carol", "#reactions button[data-reaction=\"🎉\"]")?;
    // (A reaction shows for 4 s; the counters stay.)
    for viewer in ["chair", "bob"] {
        b.wait_state(viewer, "carol's reaction", JOIN, |s| {
            let carol = peer(s, "carol")?;
            (carol["reactions_seen"] == 1 && carol["last_reaction"] == "🎉").then_some(())
        })?;
    }
    b.wait_state("carol", "her own reaction", JOIN, |s| {
        (s["self"]["reactions_seen"] == 1 && s["self"]["last_reaction"] == "🎉").then_some(())
    })?;
    b.screenshot("chair", "moderation-hand-and-reaction.png")?;

    // The host lowers bob's hand and mutes carol; both pages follow.
    moderate_in_list(b, "chair", "lower-hand", "bob")?;
    b.wait_state("bob", "told who lowered it", JOIN, |s| {
        (s["moderation"] == serde_json::json!(["chair lowered your hand"])).then_some(())
    })?;
    self_flag(b, "bob", "hand_raised", false)?;
    flag_on(b, "chair", "bob", "hand_raised", ".badge-hand", false)?;
    moderate_in_list(b, "chair", "mute", "carol")?;
    self_flag(b, "carol", "muted", true)?;
    flag_on(b, "bob", "carol", "muted", ".badge-muted", true)?;

    // The host removes bob: his page says so and does not come back.
    moderate_in_list(b, "chair", "remove", "bob")?;
    let removed = wait_error(b, "bob")?;
    println!("    bob's page: {removed}");
    ensure!(
        removed.contains("removed you"),
        "bob's page says: {removed}"
    );
    b.wait_state("chair", "bob gone", JOIN, |s| {
        peer(s, "bob").is_none().then_some(())
    })?;
    let bob = b.state("bob")?;
    ensure!(
        bob["reconnects"] == 0 && phase(&bob) == "error",
        "bob's page tried to come back: {bob}"
    );

    // The host ends the meeting: carol's page says so.
    b.click("chair", "#end-button")?;
    let ended = wait_error(b, "carol")?;
    println!("    carol's page: {ended}");
    ensure!(ended.contains("ended"), "carol's page says: {ended}");
    Ok(())
}

fn browsers_without_the_track_processor_capture_another_way_and_the_rest_are_told_why(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let (edge, room) = edge_room(fx, "capabilities")?;
    let url = |name| meeting_url(&edge.http_base(), name, &room, &[("autojoin", "1")], None);
    // As Firefox today: no MediaStreamTrackProcessor. The page captures
    // through a <video> element and an AudioWorklet instead, and takes
    // full part: bob sees and hears alice, alice sees and hears bob.
    b.open_with(
        "alice",
        &url("alice"),
        Some("delete window.MediaStreamTrackProcessor;"),
    )?;
    b.open("bob", &url("bob"))?;
    for name in ["alice", "bob"] {
        b.wait_state(name, "in the call", JOIN, |s| {
            (phase(s) == "in-call").then_some(())
        })?;
    }
    let alice = b.state("alice")?;
    ensure!(
        alice["missing_capabilities"] == serde_json::json!(["MediaStreamTrackProcessor"])
            && alice["self"]["capture"] == "video-element+audio-worklet",
        "alice's capabilities and capture: {} {}",
        alice["missing_capabilities"],
        alice["self"]["capture"]
    );
    ensure!(
        b.state("bob")?["self"]["capture"] == "track-processor",
        "bob does not capture through the track processor"
    );
    wait_media_between(b, &["alice", "bob"])?;

    // Without an AudioWorklet either, nothing can capture: the page says
    // so in the lobby, joins, and sees and hears bob.
    b.open_with(
        "dave",
        &url("dave"),
        Some("delete window.MediaStreamTrackProcessor; delete window.AudioWorkletNode;"),
    )?;
    b.wait_state("dave", "in the call", JOIN, |s| {
        (phase(s) == "in-call").then_some(())
    })?;
    let dave = b.state("dave")?;
    ensure!(
        dave["missing_capabilities"]
            == serde_json::json!(["MediaStreamTrackProcessor", "AudioWorkletNode"]),
        "dave's missing capabilities: {}",
        dave["missing_capabilities"]
    );
    let note = b.eval("dave", &text_js("#device-note"))?;
    ensure!(
        note.as_str()
            .is_some_and(|n| n.contains("cannot send") && n.contains("AudioWorkletNode")),
        "dave's lobby note: {note}"
    );
    ensure!(
        dave["self"]["muted"] == true && dave["self"]["camera_off"] == true,
        "a page that cannot send joins muted with the camera off: {}",
        dave["self"]
    );
    b.wait_state("dave", "bob's media", MEDIA, |s| {
        decoded_from(s, "bob", VIDEO_FRAMES, AUDIO_FRAMES).then_some(())
    })?;
    // Turning the camera on explains instead of pretending.
    b.click("dave", "#camera-button")?;
    b.wait_js(
        "dave",
        "the status explains why the camera stays off",
        JOIN,
        &format!("{}.includes('cannot send')", text_js("#status")),
    )?;
    self_flag(b, "dave", "camera_off", true)?;

    // No WebCodecs decoder: the page cannot play a call and says so
    // before it tries to join.
    b.open_with("carol", &url("carol"), Some("delete window.VideoDecoder;"))?;
    let error = wait_error(b, "carol")?;
    ensure!(
        error.contains("cannot play a call") && error.contains("VideoDecoder"),
        "carol's error: {error}"
    );
    let bob = b.state("bob")?;
    ensure!(
        peer(&bob, "carol").is_none(),
        "carol should not have joined: {bob}"
    );
    Ok(())
}

/// Debian's Firefox ESR (no MediaStreamTrackProcessor) in a meeting with a
/// Chromium page: it captures its camera through a `<video>` element,
/// which the Chromium page decodes, and decodes the Chromium page's video
/// and audio. Both publish VP8: Debian's Firefox has no H.264 encoder
/// without the OpenH264 plugin, which it would download. Its microphone is
/// not checked: headless Firefox here keeps every AudioContext suspended
/// (no audio device), so the AudioWorklet never runs.
fn a_firefox_page_and_a_chromium_page_meet_through_the_other_capture_path(
    fx: &Fixtures,
    b: &Browser,
) -> Result<()> {
    let (edge, room) = edge_room(fx, "firefox")?;
    let url = |name| {
        meeting_url(
            &edge.http_base(),
            name,
            &room,
            &[("autojoin", "1"), ("codec", "vp8")],
            None,
        )
    };
    b.open_firefox("fox", &url("fox"))?;
    b.open("alice", &url("alice"))?;
    for name in ["fox", "alice"] {
        b.wait_state(name, "in the call", JOIN, |s| {
            (phase(s) == "in-call").then_some(())
        })?;
    }
    let fox = b.state("fox")?;
    ensure!(
        fox["self"]["capture"] == "video-element+audio-worklet"
            && fox["missing_capabilities"] == serde_json::json!(["MediaStreamTrackProcessor"]),
        "Firefox's capture path and missing interfaces: {} {}",
        fox["self"]["capture"],
        fox["missing_capabilities"]
    );
    b.wait_state("fox", "alice's video and audio", MEDIA, |s| {
        decoded_from(s, "alice", VIDEO_FRAMES, AUDIO_FRAMES).then_some(())
    })?;
    b.wait_state("alice", "Firefox's video", MEDIA, |s| {
        (peer_count(s, "fox", "video_frames_decoded") >= VIDEO_FRAMES).then_some(())
    })?;
    let (fox, alice) = (b.state("fox")?, b.state("alice")?);
    println!(
        "    Firefox decoded (video, audio) ({}, {}) from alice; alice decoded {} video frames from Firefox",
        peer_count(&fox, "alice", "video_frames_decoded"),
        peer_count(&fox, "alice", "audio_frames_decoded"),
        peer_count(&alice, "fox", "video_frames_decoded")
    );
    b.screenshot("fox", "firefox.png")?;
    Ok(())
}

fn an_unreachable_server_shows_a_clear_error(fx: &Fixtures, b: &Browser) -> Result<()> {
    web::ensure_built()?;
    let edge = fx.edge.get()?;
    let nowhere = format!("http://127.0.0.1:{}", edgecall_e2e::free_port()?);
    let url = meeting_url(
        &edge.http_base(),
        "alice",
        &unique_room("nowhere"),
        &[
            ("autojoin", "1"),
            ("transport", "websocket"),
            ("server", &nowhere),
        ],
        None,
    );
    b.open("alice", &url)?;
    let text = wait_error(b, "alice")?;
    println!("    alice's error: {text}");
    Ok(())
}

// ---------------------------------------------------------------- main --

type Case = fn(&Fixtures, &Browser) -> Result<()>;

fn trial(fixtures: &Arc<Fixtures>, name: &'static str, case: Case) -> Trial {
    let fixtures = fixtures.clone();
    Trial::test(name, move || {
        let browser =
            Browser::start(&artifacts(name)).map_err(|e| Failed::from(format!("{e:#}")))?;
        case(&fixtures, &browser).map_err(|e| {
            Failed::from(format!(
                "{e:#}\n{}(page logs and screenshots: {})",
                fixtures.log_tails(),
                browser.artifacts().display()
            ))
        })
    })
}

fn main() {
    let mut args = Arguments::from_args();
    // Each case runs several Chromiums; one case at a time.
    args.test_threads = Some(1);
    let fixtures = Arc::new(Fixtures::new());
    let trials = vec![
        trial(
            &fixtures,
            "the_edge_serves_the_client_as_a_single_page_app",
            the_edge_serves_the_client_as_a_single_page_app,
        ),
        trial(
            &fixtures,
            "two_pages_exchange_media_through_the_edge",
            two_pages_exchange_media_through_the_edge,
        ),
        trial(
            &fixtures,
            "a_page_among_twenty_pages_its_grid_within_the_subscription_limit",
            a_page_among_twenty_pages_its_grid_within_the_subscription_limit,
        ),
        trial(
            &fixtures,
            "an_idle_edge_meeting_hibernates_with_pages_joined_and_resumes_media",
            an_idle_edge_meeting_hibernates_with_pages_joined_and_resumes_media,
        ),
        trial(
            &fixtures,
            "a_firefox_page_and_a_chromium_page_meet_through_the_other_capture_path",
            a_firefox_page_and_a_chromium_page_meet_through_the_other_capture_path,
        ),
        trial(
            &fixtures,
            "a_host_lowers_hands_mutes_removes_and_ends_the_meeting",
            a_host_lowers_hands_mutes_removes_and_ends_the_meeting,
        ),
        trial(
            &fixtures,
            "the_grid_speaker_view_and_pins_keep_each_picture_in_shape",
            the_grid_speaker_view_and_pins_keep_each_picture_in_shape,
        ),
        trial(
            &fixtures,
            "two_pages_exchange_media_through_the_relay_over_webtransport",
            two_pages_exchange_media_through_the_relay_over_webtransport,
        ),
        trial(
            &fixtures,
            "pages_forced_to_vp8_exchange_it_both_ways_at_the_top_of_three_layers",
            pages_forced_to_vp8_exchange_it_both_ways_at_the_top_of_three_layers,
        ),
        trial(
            &fixtures,
            "a_page_on_the_edge_and_one_on_the_relay_meet_over_the_trunk",
            a_page_on_the_edge_and_one_on_the_relay_meet_over_the_trunk,
        ),
        trial(
            &fixtures,
            "a_page_decodes_the_native_streamers_video_and_audio",
            a_page_decodes_the_native_streamers_video_and_audio,
        ),
        trial(
            &fixtures,
            "a_third_page_joins_and_leaves_and_the_grids_follow",
            a_third_page_joins_and_leaves_and_the_grids_follow,
        ),
        trial(
            &fixtures,
            "e2ee_pages_exchange_media_and_the_server_sees_only_sealed_payloads",
            e2ee_pages_exchange_media_and_the_server_sees_only_sealed_payloads,
        ),
        trial(
            &fixtures,
            "a_new_e2ee_meeting_invites_a_second_page_and_chat_is_sealed_on_the_wire",
            a_new_e2ee_meeting_invites_a_second_page_and_chat_is_sealed_on_the_wire,
        ),
        trial(
            &fixtures,
            "a_typed_key_still_works_between_two_pages",
            a_typed_key_still_works_between_two_pages,
        ),
        trial(
            &fixtures,
            "a_page_with_the_wrong_key_decodes_nothing_and_counts_failures",
            a_page_with_the_wrong_key_decodes_nothing_and_counts_failures,
        ),
        trial(
            &fixtures,
            "mute_camera_and_screen_share_states_propagate",
            mute_camera_and_screen_share_states_propagate,
        ),
        trial(
            &fixtures,
            "devices_switch_during_the_call_and_camera_off_gives_the_camera_back",
            devices_switch_during_the_call_and_camera_off_gives_the_camera_back,
        ),
        trial(
            &fixtures,
            "keyboard_shortcuts_press_the_controls_and_every_control_is_named",
            keyboard_shortcuts_press_the_controls_and_every_control_is_named,
        ),
        trial(
            &fixtures,
            "a_page_that_left_rejoins_from_the_left_screen",
            a_page_that_left_rejoins_from_the_left_screen,
        ),
        trial(
            &fixtures,
            "a_page_on_a_slow_downlink_steps_down_and_recovers",
            a_page_on_a_slow_downlink_steps_down_and_recovers,
        ),
        trial(
            &fixtures,
            "pages_sent_by_the_directory_rejoin_their_relay_after_it_crashes_and_restarts",
            pages_sent_by_the_directory_rejoin_their_relay_after_it_crashes_and_restarts,
        ),
        trial(
            &fixtures,
            "pages_move_to_the_other_relay_when_theirs_drains",
            pages_move_to_the_other_relay_when_theirs_drains,
        ),
        trial(
            &fixtures,
            "a_page_reconnects_after_its_websocket_to_the_edge_is_cut",
            a_page_reconnects_after_its_websocket_to_the_edge_is_cut,
        ),
        trial(
            &fixtures,
            "a_page_rejoins_when_its_path_to_the_edge_goes_silent",
            a_page_rejoins_when_its_path_to_the_edge_goes_silent,
        ),
        trial(
            &fixtures,
            "a_rejected_token_shows_a_clear_error",
            a_rejected_token_shows_a_clear_error,
        ),
        trial(
            &fixtures,
            "browsers_without_the_track_processor_capture_another_way_and_the_rest_are_told_why",
            browsers_without_the_track_processor_capture_another_way_and_the_rest_are_told_why,
        ),
        trial(
            &fixtures,
            "an_unreachable_server_shows_a_clear_error",
            an_unreachable_server_shows_a_clear_error,
        ),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    drop(fixtures);
    conclusion.exit();
}
