//! JSON for the few values hosts exchange as JSON (join token headers and
//! claims, the member a Worker hands its room, persisted socket state).
//!
//! Natively this is `serde_json`. In `wasm32-unknown-unknown` (the Worker,
//! the Durable Object, the browser) it is the JavaScript runtime's own
//! `JSON.parse` / `JSON.stringify` with `serde-wasm-bindgen` between the JS
//! values and Rust types, which keeps a JSON parser and float formatter
//! out of the wasm. The same serde derives decide the shape either way.
//!
//! One difference: JavaScript numbers are doubles, so in wasm an integer
//! field accepts only safe integers (up to 2^53 − 1) and also takes `1.0`
//! or `1e3` spelled as floats, where serde_json takes any `u64` but no
//! float spelling.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value that could not be read from or written as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(String);

/// Parses `bytes` (UTF-8 JSON) into a `T`.
///
/// # Errors
///
/// [`JsonError`] when the text is not JSON or does not have `T`'s shape.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    imp::from_slice(bytes)
}

/// Parses JSON text into a `T`.
///
/// # Errors
///
/// [`JsonError`] when the text is not JSON or does not have `T`'s shape.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    imp::from_slice(text.as_bytes())
}

/// Writes `value` as compact JSON (fields in declaration order).
///
/// # Errors
///
/// [`JsonError`] when `value` cannot be represented (in wasm: an integer
/// beyond 2^53 − 1).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, JsonError> {
    imp::to_string(value)
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod imp {
    use super::*;

    pub(super) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
        serde_json::from_slice(bytes).map_err(|e| JsonError(e.to_string()))
    }

    pub(super) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, JsonError> {
        serde_json::to_string(value).map_err(|e| JsonError(e.to_string()))
    }
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod imp {
    use super::*;
    use js_sys::JSON;
    use wasm_bindgen::{JsCast, JsValue};

    /// The message of a thrown JS error (e.g. `JSON.parse`'s SyntaxError).
    fn js_error(value: JsValue) -> JsonError {
        let message = value
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| value.as_string())
            .unwrap_or_else(|| "JavaScript error".to_owned());
        JsonError(message)
    }

    pub(super) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
        let text = core::str::from_utf8(bytes).map_err(|_| JsonError("not UTF-8".to_owned()))?;
        let value = JSON::parse(text).map_err(js_error)?;
        serde_wasm_bindgen::from_value(value).map_err(|e| JsonError(e.to_string()))
    }

    pub(super) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, JsonError> {
        let value = value
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(|e| JsonError(e.to_string()))?;
        JSON::stringify(&value).map(String::from).map_err(js_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::Member;

    #[test]
    fn a_member_survives_the_round_trip() {
        let member = Member::verified("Ada", "u-1");
        let text = to_string(&member).expect("json");
        assert_eq!(from_str::<Member>(&text).expect("parse"), member);
    }

    #[test]
    fn text_that_is_not_json_is_an_error() {
        assert!(from_str::<Member>("{name").is_err());
    }
}
