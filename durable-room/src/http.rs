//! Small HTTP responses shared by the Worker and the room: JSON through
//! [`edgecall_proto::json`] (the JS runtime's JSON, no JSON crate in the
//! wasm) and plain text.

use serde::Serialize;
use worker::{Response, Result};

/// `value` as `application/json` with `status`.
pub fn json_response<T: Serialize + ?Sized>(value: &T, status: u16) -> Result<Response> {
    let body = edgecall_proto::json::to_string(value)
        .map_err(|e| worker::Error::RustError(format!("cannot encode the JSON reply: {e}")))?;
    text_response(body, "application/json", status)
}

/// `body` with `content_type` and `status`.
pub fn text_response(body: String, content_type: &str, status: u16) -> Result<Response> {
    Ok(Response::builder()
        .with_status(status)
        .with_header("content-type", content_type)?
        .fixed(body.into_bytes()))
}
