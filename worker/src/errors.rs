//! JSON error responses.

use edgecall_durable_room::http::json_response;
use serde::Serialize;
use worker::{Response, Result};

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// `{"error": message}` with `status`.
pub(crate) fn json_error(status: u16, message: &str) -> Result<Response> {
    json_response(&ErrorBody { error: message }, status)
}
