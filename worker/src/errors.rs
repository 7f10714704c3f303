//! JSON error responses.

use edgecall_durable_room::http::json_response;
use edgecall_proto::json::JsonWriter;
use worker::{Response, Result};

/// `{"error": message}` with `status`.
pub(crate) fn json_error(status: u16, message: &str) -> Result<Response> {
    json_response(JsonWriter::new().string("error", message).finish(), status)
}
