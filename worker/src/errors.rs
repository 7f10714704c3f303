//! JSON error responses.

use serde::Serialize;
use worker::{Response, Result};

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// `{"error": message}` with `status`.
pub(crate) fn json_error(status: u16, message: &str) -> Result<Response> {
    Ok(Response::from_json(&ErrorBody { error: message })?.with_status(status))
}
