//! Small HTTP responses shared by the Worker and the room: JSON (written
//! with [`edgecall_proto::json::JsonWriter`]) and plain text.

use worker::{Response, Result};

/// `json` (a JSON document) as `application/json` with `status`.
pub fn json_response(json: String, status: u16) -> Result<Response> {
    text_response(json, "application/json", status)
}

/// `body` with `content_type` and `status`.
pub fn text_response(body: String, content_type: &str, status: u16) -> Result<Response> {
    Ok(Response::builder()
        .with_status(status)
        .with_header("content-type", content_type)?
        .fixed(body.into_bytes()))
}
