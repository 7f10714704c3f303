//! Small helpers over js-sys/web-sys: object literals, clocks, timers,
//! fetch, stream reads.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Builds a plain JS object from key/value pairs.
pub fn obj(entries: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in entries {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

/// Reads `target[key]`.
pub fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The page window.
pub fn window() -> web_sys::Window {
    web_sys::window().expect("edgecall-web runs in a browser window")
}

/// `performance.now()`, milliseconds.
pub fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

/// Wall clock in microseconds, `(performance.timeOrigin + performance.now()) · 1000`.
pub fn wall_us() -> f64 {
    match window().performance() {
        Some(p) => (p.time_origin() + p.now()) * 1_000.0,
        None => js_sys::Date::now() * 1_000.0,
    }
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
    });
    let _ = JsFuture::from(promise).await;
}

/// Runs `future`, giving up with `on_timeout` after `ms` milliseconds.
pub async fn timeout<T, E>(
    ms: u32,
    on_timeout: E,
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let timer = async {
        sleep(ms).await;
        Err(on_timeout)
    };
    futures::pin_mut!(timer, future);
    futures::future::select(future, timer)
        .await
        .factor_first()
        .0
}

/// A human-readable form of a thrown JS value.
pub fn describe(err: &JsValue) -> String {
    if let Some(e) = err.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    if let Some(s) = err.as_string() {
        return s;
    }
    let message = get(err, "message");
    if let Some(s) = message.as_string() {
        return s;
    }
    format!("{err:?}")
}

/// GETs `url` and returns `(status, body)`; `Err` when it cannot be reached.
pub async fn fetch_text(url: &str) -> Result<(u16, String), String> {
    let response = JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|e| describe(&e))?;
    let response: web_sys::Response = response.unchecked_into();
    let status = response.status();
    let text = match response.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok((status, text))
}

/// Whether anything answers at `url` (a `no-cors` GET: network errors
/// fail, any HTTP answer succeeds).
pub async fn reachable(url: &str) -> bool {
    let init = web_sys::RequestInit::new();
    init.set_mode(web_sys::RequestMode::NoCors);
    JsFuture::from(window().fetch_with_str_and_init(url, &init))
        .await
        .is_ok()
}

/// One `reader.read()`: `Ok(Some(value))`, `Ok(None)` at the end.
pub async fn read(
    reader: &web_sys::ReadableStreamDefaultReader,
) -> Result<Option<JsValue>, JsValue> {
    let result = JsFuture::from(reader.read()).await?;
    if get(&result, "done").as_bool().unwrap_or(false) {
        return Ok(None);
    }
    Ok(Some(get(&result, "value")))
}

/// A default reader for `stream`.
pub fn reader(stream: &web_sys::ReadableStream) -> web_sys::ReadableStreamDefaultReader {
    stream.get_reader().unchecked_into()
}

/// Copies a JS `Uint8Array` into a `Vec`.
pub fn bytes(value: &JsValue) -> Vec<u8> {
    Uint8Array::new(value).to_vec()
}

/// Spawns a future whose result is ignored, logging a failure.
pub fn spawn<F>(what: &'static str, future: F)
where
    F: std::future::Future<Output = Result<(), JsValue>> + 'static,
{
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(err) = future.await {
            log(&format!("edgecall: {what}: {}", describe(&err)));
        }
    });
}

/// `console.log`.
pub fn log(message: &str) {
    web_sys::console::log_1(&JsValue::from_str(message));
}

/// `console.warn`.
pub fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}

/// Wraps a Rust closure as a JS function that lives for the page.
pub fn callback<A: wasm_bindgen::convert::FromWasmAbi + 'static>(
    f: impl FnMut(A) + 'static,
) -> js_sys::Function {
    Closure::<dyn FnMut(A)>::new(f)
        .into_js_value()
        .unchecked_into()
}

/// A no-argument callback.
pub fn callback0(f: impl FnMut() + 'static) -> js_sys::Function {
    Closure::<dyn FnMut()>::new(f)
        .into_js_value()
        .unchecked_into()
}
