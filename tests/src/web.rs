//! The built web client (`dist/web`) and helpers to read its test hook
//! (`window.edgecall.state()`, see the web-client contract).

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde_json::Value;

use crate::edge::repo_root;

/// `dist/web`, where `cargo xtask build-web` puts the client.
pub fn web_root() -> PathBuf {
    repo_root().join("dist/web")
}

/// The client's wasm inside [`web_root`].
pub fn client_wasm() -> PathBuf {
    web_root().join("pkg/edgecall_web_bg.wasm")
}

/// Fails unless the client has been built.
pub fn ensure_built() -> Result<PathBuf> {
    let root = web_root();
    for file in [root.join("index.html"), client_wasm()] {
        if !file.is_file() {
            bail!(
                "{} is missing: build the web client with `cargo xtask build-web` \
                 (`cargo xtask test` does)",
                file.display()
            );
        }
    }
    Ok(root)
}

/// `<base>/meeting/<name>/<room>?<query>[#<fragment>]`.
pub fn meeting_url(
    base: &str,
    name: &str,
    room: &str,
    query: &[(&str, &str)],
    fragment: Option<&str>,
) -> String {
    let mut url = format!("{base}/meeting/{name}/{room}");
    if !query.is_empty() {
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        url.push('?');
        url.push_str(&encoded);
    }
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

/// The state's `phase`.
pub fn phase(state: &Value) -> &str {
    state["phase"].as_str().unwrap_or("")
}

/// The entry of `participants` named `name`, if present.
pub fn peer<'a>(state: &'a Value, name: &str) -> Option<&'a Value> {
    state["participants"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

/// A counter of the participant named `name` (0 when absent).
pub fn peer_count(state: &Value, name: &str, field: &str) -> u64 {
    peer(state, name)
        .and_then(|p| p[field].as_u64())
        .unwrap_or(0)
}

/// Whether the page is in the call and has decoded at least `video`
/// camera frames and `audio` audio frames from `from`.
pub fn decoded_from(state: &Value, from: &str, video: u64, audio: u64) -> bool {
    phase(state) == "in-call"
        && peer_count(state, from, "video_frames_decoded") >= video
        && peer_count(state, from, "audio_frames_decoded") >= audio
}

/// The `p`-th percentile (0–100) of `samples` by nearest rank.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// JavaScript: whether the element `selector` exists and is shown.
pub fn visible_js(selector: &str) -> String {
    format!(
        "(() => {{ const e = document.querySelector({sel}); if (!e) return false; \
         const s = getComputedStyle(e); return !e.hidden && s.display !== 'none' && \
         s.visibility !== 'hidden' && e.getClientRects().length > 0; }})()",
        sel = Value::from(selector)
    )
}

/// JavaScript: whether an element matching `selector` exists.
pub fn exists_js(selector: &str) -> String {
    format!("document.querySelector({}) !== null", Value::from(selector))
}

/// JavaScript: the trimmed text of `selector` (`null` if absent).
pub fn text_js(selector: &str) -> String {
    format!(
        "(() => {{ const e = document.querySelector({}); return e ? e.textContent.trim() : null; }})()",
        Value::from(selector)
    )
}

/// The CSS selector of the tile of participant `name`.
pub fn tile(name: &str) -> String {
    format!(".tile[data-participant-name=\"{name}\"]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn meeting_urls_encode_the_query_and_keep_the_fragment() {
        assert_eq!(
            meeting_url(
                "http://127.0.0.1:1",
                "ada",
                "r1",
                &[("autojoin", "1"), ("relay", "https://x:2")],
                Some("key=s e")
            ),
            "http://127.0.0.1:1/meeting/ada/r1?autojoin=1&relay=https%3A%2F%2Fx%3A2#key=s e"
        );
    }

    #[test]
    fn peers_are_found_by_name() {
        let state = json!({"phase": "in-call", "participants": [
            {"name": "bob", "video_frames_decoded": 31, "audio_frames_decoded": 50}
        ]});
        assert!(decoded_from(&state, "bob", 30, 50));
        assert!(!decoded_from(&state, "bob", 32, 50));
        assert_eq!(peer_count(&state, "carol", "video_frames_decoded"), 0);
    }
}
