//! NATS subject names. Room ids and relay ids are restricted to
//! `[A-Za-z0-9_-]`, so they are always single subject tokens.
//!
//! | subject | carries |
//! |---|---|
//! | `edgecall.<room>.presence` | `alive <relay> <epoch> [trunk]` heartbeats and `bye <relay> <epoch>` |
//! | `edgecall.<room>.ctl.<to>.<from>.<epoch>` | one reliable `LinkMessage` from relay `from` to relay `to` |
//! | `edgecall.<room>.media.<origin>.<participant>.<track>.<layer>` | one media `LinkMessage`, published once by its origin relay |

use edgecall_proto::room::ParticipantId;

/// Presence heartbeats of every relay serving `room`.
pub fn presence(room: &str) -> String {
    format!("edgecall.{room}.presence")
}

/// Control messages from `from` (in its `epoch`) to `to`.
pub fn control(room: &str, to: &str, from: &str, epoch: u64) -> String {
    format!("edgecall.{room}.ctl.{to}.{from}.{epoch}")
}

/// Every control subject addressed to `me`.
pub fn control_inbox(room: &str, me: &str) -> String {
    format!("edgecall.{room}.ctl.{me}.*.*")
}

/// One sender's track layer, published by `origin`.
pub fn media(
    room: &str,
    origin: &str,
    participant: ParticipantId,
    track: i32,
    layer: u32,
) -> String {
    format!("edgecall.{room}.media.{origin}.{participant}.{track}.{layer}")
}

/// All audio published by `origin` (audio selection is made by the
/// origin's engine: it publishes only the speakers some link needs).
pub fn media_audio(room: &str, origin: &str, audio_track: i32) -> String {
    format!("edgecall.{room}.media.{origin}.*.{audio_track}.*")
}

/// The tokens after `edgecall.<room>.` of a received subject.
pub fn tail<'a>(subject: &'a str, room: &str) -> Option<Vec<&'a str>> {
    let rest = subject
        .strip_prefix("edgecall.")?
        .strip_prefix(room)?
        .strip_prefix('.')?;
    Some(rest.split('.').collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_back_into_their_parts() {
        let s = control("standup", "rb", "ra", 3);
        assert_eq!(tail(&s, "standup").unwrap(), ["ctl", "rb", "ra", "3"]);
        let m = media("standup", "ra", 7, 2, 1);
        assert_eq!(m, "edgecall.standup.media.ra.7.2.1");
        assert_eq!(tail(&m, "standup").unwrap(), ["media", "ra", "7", "2", "1"]);
        assert!(tail(&m, "other").is_none());
    }
}
