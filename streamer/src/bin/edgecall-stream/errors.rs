//! One clear line per failure, with a hint at what to do.

use edgecall_stream::publish::PublishError;
use edgecall_stream::ClientError;

/// Describes `err` in one line (with its causes), adding a hint for the
/// failures users hit most: unreachable server, bad token, bad cert hash.
pub fn describe(err: &anyhow::Error) -> String {
    let client = err.chain().find_map(|cause| {
        cause
            .downcast_ref::<ClientError>()
            .or_else(|| match cause.downcast_ref::<PublishError>() {
                Some(PublishError::Client(client)) => Some(client),
                _ => None,
            })
    });
    let hint = match client {
        Some(ClientError::Connect { reason, .. }) if reason.contains("not pinned") => {
            " (the server's certificate does not match --cert-sha256; ask the relay's /cert-hash endpoint for the current hash)"
        }
        Some(ClientError::Connect { .. }) | Some(ClientError::Timeout(_)) => {
            " (is the server running and reachable at --url?)"
        }
        Some(ClientError::Rejected { status: 401 | 403 }) => {
            " (the join token was refused: check --token, its room and its expiry)"
        }
        Some(ClientError::Rejected { status: 404 }) => " (check --url: no meeting endpoint there)",
        Some(ClientError::Closed(info)) if matches!(info.code, Some(4010 | 4012)) => {
            " (the join token was refused: check --token, its room and its expiry)"
        }
        _ => "",
    };
    format!("{err:#}{hint}")
}
