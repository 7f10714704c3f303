//! Audio playout: decoded `AudioData` is copied into `AudioBuffer`s and
//! scheduled on one `AudioContext`, per sender back to back with a small
//! target delay — the audio half of the jitter buffer.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::Float32Array;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AudioContext;

use crate::ffi::AudioData;
use crate::js;

/// Target playout delay, seconds.
const TARGET_DELAY_S: f64 = 0.04;
/// Playout further ahead than this is cut back (clock drift, bursts).
const MAX_AHEAD_S: f64 = 0.25;

/// Plays remote audio.
pub struct AudioOut {
    context: Option<AudioContext>,
    next_start: RefCell<HashMap<u32, f64>>,
}

impl AudioOut {
    /// Creates the context (it may start suspended until a user gesture).
    pub fn new() -> Self {
        let context = AudioContext::new().ok();
        Self {
            context,
            next_start: RefCell::new(HashMap::new()),
        }
    }

    /// Resumes the context (call from a user gesture).
    pub fn resume(&self) {
        if let Some(ctx) = &self.context {
            if let Ok(promise) = ctx.resume() {
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
                });
            }
        }
    }

    /// Sends the call's audio to output device `id` (`""`: the default),
    /// where the browser can (`AudioContext.setSinkId`).
    pub async fn set_output(&self, id: &str) -> Result<(), JsValue> {
        let Some(ctx) = &self.context else {
            return Err(JsValue::from_str("no audio output"));
        };
        let set_sink = js::get(ctx, "setSinkId");
        let set_sink: &js_sys::Function = set_sink
            .dyn_ref()
            .ok_or_else(|| JsValue::from_str("this browser cannot choose the audio output"))?;
        let promise: js_sys::Promise = set_sink.call1(ctx, &JsValue::from_str(id))?.dyn_into()?;
        wasm_bindgen_futures::JsFuture::from(promise).await?;
        Ok(())
    }

    /// Schedules one decoded frame of `sender`.
    pub fn play(&self, sender: u32, data: &AudioData) {
        if let Err(err) = self.schedule(sender, data) {
            js::warn(&format!("edgecall: audio playout: {}", js::describe(&err)));
        }
    }

    fn schedule(&self, sender: u32, data: &AudioData) -> Result<(), JsValue> {
        let Some(ctx) = &self.context else {
            return Ok(());
        };
        if ctx.state() != web_sys::AudioContextState::Running {
            return Ok(());
        }
        let frames = data.number_of_frames();
        if frames == 0 {
            return Ok(());
        }
        let samples = Float32Array::new_with_length(frames);
        data.copy_to(
            &samples,
            &js::obj(&[
                ("planeIndex", 0.into()),
                ("format", JsValue::from_str("f32-planar")),
            ]),
        )?;
        let rate = data.sample_rate();
        let buffer = ctx.create_buffer(1, frames, rate)?;
        buffer.copy_to_channel(&samples.to_vec(), 0)?;
        let source = ctx.create_buffer_source()?;
        source.set_buffer(Some(&buffer));
        source.connect_with_audio_node(&ctx.destination())?;
        let now = ctx.current_time();
        let mut starts = self.next_start.borrow_mut();
        let next = starts.entry(sender).or_insert(0.0);
        if *next < now || *next > now + MAX_AHEAD_S {
            *next = now + TARGET_DELAY_S;
        }
        source.start_with_when(*next)?;
        *next += f64::from(frames) / f64::from(rate);
        Ok(())
    }

    /// Forgets a sender who left.
    pub fn remove(&self, sender: u32) {
        self.next_start.borrow_mut().remove(&sender);
    }
}

impl Default for AudioOut {
    fn default() -> Self {
        Self::new()
    }
}
