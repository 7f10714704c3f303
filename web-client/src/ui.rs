//! The page's DOM: the static shell in `static/index.html` plus the parts
//! rendered from the call state (tiles, participant list, chat, status).

use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement, HtmlInputElement};

use crate::call::{CallState, Phase};
use crate::congestion::Level;
use crate::js;
use crate::media::recv::canvas_id;
use edgecall_proto::wire::Track;

fn document() -> Document {
    js::window().document().expect("the page has a document")
}

/// The element with `id`, if the shell has it.
pub fn by_id(id: &str) -> Option<Element> {
    document().get_element_by_id(id)
}

/// The input element with `id`.
pub fn input(id: &str) -> Option<HtmlInputElement> {
    by_id(id).and_then(|e| e.dyn_into().ok())
}

/// Shows or hides element `id`.
pub fn show(id: &str, visible: bool) {
    if let Some(e) = by_id(id).and_then(|e| e.dyn_into::<HtmlElement>().ok()) {
        e.set_hidden(!visible);
    }
}

/// Sets the text of element `id`.
pub fn set_text(id: &str, text: &str) {
    if let Some(e) = by_id(id) {
        if e.text_content().as_deref() != Some(text) {
            e.set_text_content(Some(text));
        }
    }
}

/// Presses button `id` as a click would (nothing when it is disabled).
pub fn press(id: &str) {
    if let Some(b) = by_id(id).and_then(|e| e.dyn_into::<HtmlElement>().ok()) {
        b.click();
    }
}

fn create(tag: &str, class: &str) -> Element {
    let e = document().create_element(tag).expect("valid tag");
    if !class.is_empty() {
        e.set_class_name(class);
    }
    e
}

fn set_attribute_if_changed(e: &Element, name: &str, value: &str) {
    if e.get_attribute(name).as_deref() != Some(value) {
        let _ = e.set_attribute(name, value);
    }
}

fn toggle_class(e: &Element, class: &str, on: bool) {
    let _ = e.class_list().toggle_with_force(class, on);
}

/// Makes badge `class` present in `badges` exactly when `on`.
fn badge(badges: &Element, class: &str, label: &str, on: bool) {
    let existing = badges.query_selector(&format!(".{class}")).ok().flatten();
    match (existing, on) {
        (None, true) => {
            let b = create("span", &format!("badge {class}"));
            b.set_text_content(Some(label));
            let _ = badges.append_child(&b);
        }
        (Some(b), false) => b.remove(),
        _ => {}
    }
}

/// Shows the error box with `message` (or hides it).
pub fn show_error(message: Option<&str>) {
    match message {
        Some(m) => {
            set_text("error", m);
            show("error", true);
        }
        None => show("error", false),
    }
}

/// The self tile, created once with the local camera preview.
pub fn ensure_self_tile(stream: Option<&web_sys::MediaStream>, name: &str) -> Element {
    let grid = by_id("grid").expect("the shell has #grid");
    if let Some(tile) = by_id("tile-self") {
        return tile;
    }
    let tile = create("div", "tile self");
    tile.set_id("tile-self");
    let _ = tile.set_attribute("role", "group");
    let _ = tile.set_attribute("aria-label", &format!("{name} (you)"));
    let _ = tile.set_attribute("data-participant-name", name);
    let video = create("video", "");
    let _ = video.set_attribute("autoplay", "");
    let _ = video.set_attribute("aria-label", "Your camera");
    let _ = video.set_attribute("muted", "");
    let _ = video.set_attribute("playsinline", "");
    if let Ok(v) = video.clone().dyn_into::<web_sys::HtmlVideoElement>() {
        v.set_muted(true);
        v.set_src_object(stream);
    }
    let _ = tile.append_child(&video);
    let label = create("span", "name");
    label.set_text_content(Some(&format!("{name} (you)")));
    let _ = tile.append_child(&label);
    let _ = tile.append_child(&create("div", "badges"));
    let _ = grid.prepend_with_node_1(&tile);
    tile
}

/// Brings tiles, list, chat, status and badges in line with `state`.
/// `self_speaking` comes from the local microphone level; `page` lists the
/// participants whose tiles the current grid page shows.
pub fn render(state: &CallState, self_speaking: bool, page: &[u32]) {
    if let Some(tile) = by_id("tile-self") {
        let _ = tile.set_attribute("data-participant-name", &state.me.name);
        if let Some(label) = tile.query_selector(".name").ok().flatten() {
            let text = format!("{} (you)", state.me.name);
            if label.text_content().as_deref() != Some(&text) {
                label.set_text_content(Some(&text));
            }
            set_attribute_if_changed(&tile, "aria-label", &text);
        }
        toggle_class(&tile, "speaking", self_speaking && !state.me.muted);
        if let Some(badges) = tile.query_selector(".badges").ok().flatten() {
            badge(&badges, "badge-muted", "🔇 muted", state.me.muted);
            badge(&badges, "badge-camera-off", "📷 off", state.me.camera_off);
            badge(
                &badges,
                "badge-screen",
                "🖥 sharing",
                state.me.sharing_screen,
            );
            badge(
                &badges,
                "badge-hand",
                "✋ hand raised",
                state.me.hand_raised,
            );
            badge(&badges, "badge-host", "host", state.me.host);
        }
        show_reaction(&tile, state.me.reaction.as_deref());
        if let Some(video) = tile.query_selector("video").ok().flatten() {
            toggle_class(&video, "off", state.me.camera_off);
            if let Ok(v) = video.clone().dyn_into::<web_sys::HtmlVideoElement>() {
                fit_to(&tile, v.video_width(), v.video_height());
            }
            if let Ok(v) = video.dyn_into::<HtmlElement>() {
                v.set_hidden(state.me.camera_off);
            }
        }
    }
    render_tiles(state, page);
    render_pager(state);
    render_participants(state);
    render_chat(state);
    render_header(state);
}

/// The pager, shown when the grid has more than one page.
fn render_pager(state: &CallState) {
    show("pager", state.grid_pages > 1);
    let text = format!("Page {} of {}", state.grid_page + 1, state.grid_pages);
    if by_id("page-label")
        .and_then(|l| l.text_content())
        .as_deref()
        != Some(text.as_str())
    {
        set_text("page-label", &text);
    }
    for (id, disabled) in [
        ("page-prev", state.grid_page == 0),
        ("page-next", state.grid_page + 1 >= state.grid_pages),
    ] {
        if let Some(button) = by_id(id) {
            if disabled {
                let _ = button.set_attribute("disabled", "");
            } else {
                let _ = button.remove_attribute("disabled");
            }
        }
    }
}

/// Shows `emoji` large over `tile` (or takes it away).
fn show_reaction(tile: &Element, emoji: Option<&str>) {
    let existing = tile.query_selector(".reaction").ok().flatten();
    match (existing, emoji) {
        (None, Some(emoji)) => {
            let r = create("span", "reaction");
            let _ = r.set_attribute("role", "status");
            r.set_text_content(Some(emoji));
            let _ = tile.append_child(&r);
        }
        (Some(r), Some(emoji)) => {
            if r.text_content().as_deref() != Some(emoji) {
                r.set_text_content(Some(emoji));
            }
        }
        (Some(r), None) => r.remove(),
        (None, None) => {}
    }
}

/// Gives `tile` the aspect ratio of the `width`×`height` picture it shows
/// (nothing until one is known), so the picture fills it without bands.
fn fit_to(tile: &Element, width: u32, height: u32) {
    if width == 0 || height == 0 {
        return;
    }
    let style = format!(
        "aspect-ratio: {width} / {height}; --aspect: {:.4}",
        f64::from(width) / f64::from(height)
    );
    set_attribute_if_changed(tile, "style", &style);
}

/// The size of the picture on canvas `id`, once a frame was drawn.
fn canvas_size(id: &str) -> Option<(u32, u32)> {
    let canvas: web_sys::HtmlCanvasElement = by_id(id)?.dyn_into().ok()?;
    Some((canvas.width(), canvas.height()))
}

fn render_tiles(state: &CallState, page: &[u32]) {
    let Some(grid) = by_id("grid") else { return };
    toggle_class(&grid, "stage", state.stage.is_some());
    // Remove tiles of people who left.
    let tiles = grid.query_selector_all(".tile:not(.self)");
    if let Ok(tiles) = tiles {
        for i in 0..tiles.length() {
            let Some(tile) = tiles.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            let id = tile
                .get_attribute("data-participant-id")
                .and_then(|v| v.parse::<u32>().ok());
            if id.is_none_or(|id| !state.participants.contains_key(&id)) {
                tile.remove();
            }
        }
    }
    for p in state.participants.values() {
        let tile_id = format!("tile-{}", p.id);
        let tile = by_id(&tile_id).unwrap_or_else(|| {
            let tile = create("div", "tile");
            tile.set_id(&tile_id);
            let _ = tile.set_attribute("data-participant-id", &p.id.to_string());
            let _ = tile.set_attribute("role", "group");
            let camera = create("canvas", "camera");
            camera.set_id(&canvas_id(p.id, Track::Camera));
            let _ = camera.set_attribute("role", "img");
            let _ = tile.append_child(&camera);
            let label = create("span", "name");
            let _ = tile.append_child(&label);
            let _ = tile.append_child(&create("div", "badges"));
            let pin = create("button", "pin");
            let _ = pin.set_attribute("type", "button");
            let _ = pin.set_attribute("data-pin", &p.id.to_string());
            pin.set_text_content(Some("📌"));
            let _ = tile.append_child(&pin);
            let _ = grid.append_child(&tile);
            tile
        });
        toggle_class(&tile, "main", state.stage == Some(p.id));
        if let Some(pin) = tile.query_selector("button.pin").ok().flatten() {
            let pinned = state.pinned == Some(p.id);
            let action = if pinned { "Unpin" } else { "Pin" };
            set_attribute_if_changed(&pin, "aria-label", &format!("{action} {}", p.label));
            set_attribute_if_changed(&pin, "title", &format!("{action} {}", p.label));
            set_attribute_if_changed(&pin, "aria-pressed", if pinned { "true" } else { "false" });
        }
        let shown = if p.sharing_screen {
            canvas_size(&canvas_id(p.id, Track::Screen))
        } else if p.camera_off {
            None
        } else {
            canvas_size(&canvas_id(p.id, Track::Camera))
        };
        if let Some((width, height)) = shown {
            fit_to(&tile, width, height);
        }
        if let Ok(t) = tile.clone().dyn_into::<HtmlElement>() {
            let off_page = !page.contains(&p.id);
            if t.hidden() != off_page {
                t.set_hidden(off_page);
            }
        }
        let _ = tile.set_attribute("data-participant-name", &p.name);
        let _ = tile.set_attribute("data-participant-identity", &p.identity);
        set_attribute_if_changed(&tile, "aria-label", &p.label);
        if let Some(camera) = by_id(&canvas_id(p.id, Track::Camera)) {
            set_attribute_if_changed(&camera, "aria-label", &format!("Camera of {}", p.label));
        }
        if let Some(label) = tile.query_selector(".name").ok().flatten() {
            if label.text_content().as_deref() != Some(p.label.as_str()) {
                label.set_text_content(Some(&p.label));
            }
        }
        toggle_class(&tile, "speaking", p.speaking);
        toggle_class(&tile, "sharing", p.sharing_screen);
        if let Some(camera) = by_id(&canvas_id(p.id, Track::Camera)) {
            if let Ok(c) = camera.dyn_into::<HtmlElement>() {
                c.set_hidden(p.camera_off);
            }
        }
        let screen_id = canvas_id(p.id, Track::Screen);
        match (by_id(&screen_id), p.sharing_screen) {
            (None, true) => {
                let screen = create("canvas", "screen");
                screen.set_id(&screen_id);
                let _ = screen.set_attribute("role", "img");
                let _ = screen.set_attribute("aria-label", &format!("Screen of {}", p.label));
                let _ = tile.prepend_with_node_1(&screen);
            }
            (Some(screen), false) => screen.remove(),
            _ => {}
        }
        if let Some(badges) = tile.query_selector(".badges").ok().flatten() {
            badge(&badges, "badge-muted", "🔇 muted", p.muted);
            badge(&badges, "badge-camera-off", "📷 off", p.camera_off);
            badge(&badges, "badge-screen", "🖥 sharing", p.sharing_screen);
            badge(&badges, "badge-hand", "✋ hand raised", p.hand_raised);
            badge(&badges, "badge-host", "host", p.host);
            badge(
                &badges,
                "badge-decrypt",
                "⚠ cannot decrypt",
                p.decrypt_failures > 0 && p.video_frames_decoded + p.audio_frames_decoded == 0,
            );
        }
        show_reaction(&tile, p.reaction.as_deref());
    }
}

/// One entry of the participant list.
struct Row {
    name: String,
    label: String,
    me: bool,
    /// Moderation buttons for a host: (action, participant id, text).
    actions: Vec<(&'static str, u32, &'static str)>,
}

impl Row {
    /// What the entry shows, to tell whether it must be redrawn.
    fn signature(&self) -> String {
        let actions: Vec<&str> = self.actions.iter().map(|(a, _, _)| *a).collect();
        format!("{}|{}", self.label, actions.join(","))
    }
}

fn render_participants(state: &CallState) {
    let Some(list) = by_id("participants") else {
        return;
    };
    let mut rows: Vec<Row> = Vec::new();
    if state.me.id.is_some() {
        let mut label = format!("{} (you)", state.me.name);
        if state.me.host {
            label.push_str(" · host");
        }
        if state.me.hand_raised {
            label.push_str(" ✋");
        }
        rows.push(Row {
            name: state.me.name.clone(),
            label,
            me: true,
            actions: Vec::new(),
        });
    }
    for p in state.participants.values() {
        let mut label = p.label.clone();
        if p.host {
            label.push_str(" · host");
        }
        if p.hand_raised {
            label.push_str(" ✋");
        }
        if p.muted {
            label.push_str(" 🔇");
        }
        if p.sharing_screen {
            label.push_str(" 🖥");
        }
        let mut actions = Vec::new();
        if state.me.host {
            if !p.muted {
                actions.push(("mute", p.id, "Mute"));
            }
            if p.hand_raised {
                actions.push(("lower-hand", p.id, "Lower hand"));
            }
            actions.push(("remove", p.id, "Remove"));
        }
        rows.push(Row {
            name: p.name.clone(),
            label,
            me: false,
            actions,
        });
    }
    let items = list.children();
    let same = items.length() as usize == rows.len()
        && rows.iter().enumerate().all(|(i, row)| {
            items
                .item(i as u32)
                .and_then(|e| e.get_attribute("data-signature"))
                == Some(row.signature())
        });
    if same {
        return;
    }
    list.set_inner_html("");
    for row in rows {
        let li = create("li", if row.me { "self" } else { "" });
        let _ = li.set_attribute("data-participant-name", &row.name);
        let _ = li.set_attribute("data-signature", &row.signature());
        let who = create("span", "who");
        who.set_text_content(Some(&row.label));
        let _ = li.append_child(&who);
        for (action, id, text) in &row.actions {
            let button = create("button", "moderate");
            let _ = button.set_attribute("type", "button");
            let _ = button.set_attribute("data-moderate", &format!("{action}:{id}"));
            let _ = button.set_attribute("aria-label", &format!("{text} {}", row.name));
            button.set_text_content(Some(text));
            let _ = li.append_child(&button);
        }
        let _ = list.append_child(&li);
    }
}

fn render_chat(state: &CallState) {
    let Some(log) = by_id("chat-log") else { return };
    let shown = log.child_element_count() as usize;
    for line in state.chat.iter().skip(shown) {
        let class = match (line.undecryptable, line.sealed) {
            (true, _) => "undecryptable",
            (false, true) => "sealed",
            (false, false) => "",
        };
        let li = create("li", class);
        if let Some(problem) = &line.problem {
            let _ = li.set_attribute("title", problem);
        }
        let from = create("b", "");
        from.set_text_content(Some(&format!("{}: ", line.from)));
        let _ = li.append_child(&from);
        let _ = li.append_with_str_1(&line.text);
        let _ = log.append_child(&li);
        if let Ok(log) = log.clone().dyn_into::<HtmlElement>() {
            log.set_scroll_top(log.scroll_height());
        }
    }
}

/// The status line: transport and RTT, or what is going on.
pub fn status_text(state: &CallState) -> String {
    match state.phase {
        Phase::Lobby => "Ready to join".to_owned(),
        Phase::Connecting => "Connecting…".to_owned(),
        Phase::Reconnecting => "Connection lost — reconnecting…".to_owned(),
        Phase::Left => "You left the meeting.".to_owned(),
        Phase::Error => state.error.clone().unwrap_or_else(|| "Error".to_owned()),
        Phase::InCall => {
            let transport = match state.transport {
                Some("webtransport") => "WebTransport",
                Some(_) => "WebSocket",
                None => "?",
            };
            let mut text = match state.rtt_ms {
                Some(rtt) => format!("Connected via {transport} · RTT {rtt:.0} ms"),
                None => format!("Connected via {transport}"),
            };
            match state.congestion {
                Level::Full => {}
                Level::LowLayer => text.push_str(" · Slow connection: receiving low-quality video"),
                Level::VideoPaused => text.push_str(" · Slow connection: video paused, audio only"),
            }
            if state.decrypt_failures > 0 {
                text.push_str(&format!(
                    " · {} frames could not be decrypted — check the meeting link's #key",
                    state.decrypt_failures
                ));
            }
            if let Some(notice) = &state.notice {
                text.push_str(" · ");
                text.push_str(notice);
            }
            text
        }
    }
}

fn render_header(state: &CallState) {
    set_text("status", &status_text(state));
    show("e2ee-badge", state.e2ee);
    if let (Some(link), Some(input)) = (&state.invite, input("invite-link")) {
        if input.value() != *link {
            input.set_value(link);
        }
    }
    show(
        "invite-box",
        state.invite.is_some() && state.phase != Phase::Left,
    );
    show("left", state.phase == Phase::Left);
    show_error(if state.phase == Phase::Error {
        state.error.as_deref()
    } else {
        None
    });
    let label = |id: &str, on: bool, yes: &str, no: &str| {
        if let Some(b) = by_id(id) {
            toggle_class(&b, "active", on);
            // A toggle: screen readers say "pressed" with the same name.
            let _ = b.set_attribute("aria-pressed", if on { "true" } else { "false" });
            let text = if on { yes } else { no };
            if b.text_content().as_deref() != Some(text) {
                b.set_text_content(Some(text));
            }
        }
    };
    label("mute-button", state.me.muted, "Unmute", "Mute");
    label(
        "camera-button",
        state.me.camera_off,
        "Start camera",
        "Stop camera",
    );
    label(
        "screen-button",
        state.me.sharing_screen,
        "Stop sharing",
        "Share screen",
    );
    label(
        "view-button",
        state.view == crate::layout::View::Speaker,
        "Grid view",
        "Speaker view",
    );
    label(
        "hand-button",
        state.me.hand_raised,
        "Lower hand",
        "Raise hand",
    );
    show("end-button", state.me.host && state.phase == Phase::InCall);
}
