//! Prometheus text exposition (format 0.0.4), written by hand: the format is
//! a few `# HELP` / `# TYPE` lines and `name{labels} value` samples, and a
//! crate for it would cost the Worker more than these lines.
//!
//! [`RoomStats::export`] names and describes every engine counter once (one
//! list, `room_counters!`), so each host exports them the same way.

use core::fmt::Write;

use crate::room::RoomStats;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// An exposition being written: every sample carries the same labels.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    out: String,
    labels: String,
}

impl Exposition {
    /// An exposition whose samples all carry `labels` (values escaped).
    pub fn new(labels: &[(&str, &str)]) -> Self {
        let mut rendered = String::new();
        for (i, (name, value)) in labels.iter().enumerate() {
            rendered.push(if i == 0 { '{' } else { ',' });
            rendered.push_str(name);
            rendered.push_str("=\"");
            for c in value.chars() {
                match c {
                    '\\' => rendered.push_str("\\\\"),
                    '"' => rendered.push_str("\\\""),
                    '\n' => rendered.push_str("\\n"),
                    c => rendered.push(c),
                }
            }
            rendered.push('"');
        }
        if !rendered.is_empty() {
            rendered.push('}');
        }
        Self {
            out: String::new(),
            labels: rendered,
        }
    }

    /// A value that can go up and down.
    pub fn gauge(&mut self, name: &str, help: &str, value: u64) {
        self.sample(name, "gauge", help, value);
    }

    /// A count that only grows (it restarts from zero with its process or
    /// object instance); `name` should end in `_total`.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.sample(name, "counter", help, value);
    }

    fn sample(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        let _ = writeln!(
            self.out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{} {value}",
            self.labels
        );
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Every engine counter once: field, metric name, help. Generates
/// [`RoomStats::export`] and [`RoomStats::add`]; both destructure every
/// field, so a counter added to [`RoomStats`] does not build until it is
/// listed here.
macro_rules! room_counters {
    ($($field:ident: $name:literal, $help:literal;)*) => {
        impl RoomStats {
            /// Writes every engine counter into `out`.
            pub fn export(&self, out: &mut Exposition) {
                let RoomStats { $($field),* } = *self;
                $(out.counter($name, $help, $field);)*
            }

            /// Adds `other`'s counters to these (totals over rooms).
            pub fn add(&mut self, other: &RoomStats) {
                let RoomStats { $($field),* } = *other;
                $(self.$field += $field;)*
            }
        }
    };
}

room_counters! {
    frames_in: "edgecall_frames_in_total", "Media frames accepted from senders.";
    frames_out: "edgecall_frames_out_total", "Media frame copies queued to receivers and links.";
    bytes_in: "edgecall_bytes_in_total", "Media payload bytes accepted.";
    bytes_out: "edgecall_bytes_out_total", "Media bytes queued to receivers and links.";
    frames_unrouted: "edgecall_frames_unrouted_total", "Frames nobody was entitled to.";
    frames_held: "edgecall_frames_held_total",
        "Audio frames dropped because a host muted the sender, who has not unmuted since.";
    audio_barge_ins: "edgecall_audio_barge_ins_total",
        "Senders outside the top K heard from their first loud frame until the next ranking.";
    frames_unknown_sender: "edgecall_frames_unknown_sender_total",
        "Link frames naming a participant the link never announced.";
    keyframe_requests: "edgecall_keyframe_requests_total", "Keyframe requests sent to senders.";
    violations: "edgecall_violations_total", "Connections closed for breaking a rule.";
    congestion_downgrades: "edgecall_congestion_downgrades_total",
        "Congestion steps down (layer lowered, video or audio paused) for slow receivers.";
    congestion_recoveries: "edgecall_congestion_recoveries_total",
        "Congestion steps back up after a receiver drained.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_carry_escaped_labels_after_help_and_type() {
        let mut out = Exposition::new(&[("room", "a\"b"), ("host", "edge")]);
        out.gauge("edgecall_room_participants", "Participants.", 2);
        assert_eq!(
            out.finish(),
            "# HELP edgecall_room_participants Participants.\n\
             # TYPE edgecall_room_participants gauge\n\
             edgecall_room_participants{room=\"a\\\"b\",host=\"edge\"} 2\n"
        );
    }

    #[test]
    fn every_engine_counter_is_exported() {
        let stats = RoomStats {
            frames_in: 3,
            congestion_recoveries: 1,
            ..RoomStats::default()
        };
        let mut out = Exposition::new(&[]);
        stats.export(&mut out);
        let text = out.finish();
        assert!(text.contains("\nedgecall_frames_in_total 3\n"), "{text}");
        assert!(text.contains("\nedgecall_congestion_recoveries_total 1\n"));
        assert_eq!(text.matches("# TYPE").count(), 12);
    }

    #[test]
    fn totals_add_every_counter() {
        let one = RoomStats {
            bytes_out: 5,
            congestion_downgrades: 2,
            ..RoomStats::default()
        };
        let mut total = one;
        total.add(&one);
        assert_eq!((total.bytes_out, total.congestion_downgrades), (10, 4));
    }
}
