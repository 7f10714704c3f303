//! Prometheus text exposition (format 0.0.4), written by hand: the format is
//! a few `# HELP` / `# TYPE` lines and `name{labels} value` samples, and a
//! crate for it would cost the Worker more than these lines.
//!
//! [`RoomStats::export`] names and describes every engine counter once, so
//! each host exports them the same way.

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

impl RoomStats {
    /// Writes every engine counter into `out`. (The destructuring names
    /// every field, so a new counter does not build until it is exported.)
    pub fn export(&self, out: &mut Exposition) {
        let RoomStats {
            frames_in,
            frames_out,
            bytes_in,
            bytes_out,
            frames_unrouted,
            frames_unknown_sender,
            keyframe_requests,
            violations,
            congestion_downgrades,
            congestion_recoveries,
        } = *self;
        let counters = [
            (
                "edgecall_frames_in_total",
                "Media frames accepted from senders.",
                frames_in,
            ),
            (
                "edgecall_frames_out_total",
                "Media frame copies queued to receivers and links.",
                frames_out,
            ),
            (
                "edgecall_bytes_in_total",
                "Media payload bytes accepted.",
                bytes_in,
            ),
            (
                "edgecall_bytes_out_total",
                "Media bytes queued to receivers and links.",
                bytes_out,
            ),
            (
                "edgecall_frames_unrouted_total",
                "Frames nobody was entitled to.",
                frames_unrouted,
            ),
            (
                "edgecall_frames_unknown_sender_total",
                "Link frames naming a participant the link never announced.",
                frames_unknown_sender,
            ),
            (
                "edgecall_keyframe_requests_total",
                "Keyframe requests sent to senders.",
                keyframe_requests,
            ),
            (
                "edgecall_violations_total",
                "Connections closed for breaking a rule.",
                violations,
            ),
            (
                "edgecall_congestion_downgrades_total",
                "Congestion steps down (layer lowered, video or audio paused) for slow receivers.",
                congestion_downgrades,
            ),
            (
                "edgecall_congestion_recoveries_total",
                "Congestion steps back up after a receiver drained.",
                congestion_recoveries,
            ),
        ];
        for (name, help, value) in counters {
            out.counter(name, help, value);
        }
    }

    /// Adds `other`'s counters to these (totals over rooms).
    pub fn add(&mut self, other: &RoomStats) {
        let RoomStats {
            frames_in,
            frames_out,
            bytes_in,
            bytes_out,
            frames_unrouted,
            frames_unknown_sender,
            keyframe_requests,
            violations,
            congestion_downgrades,
            congestion_recoveries,
        } = *other;
        self.frames_in += frames_in;
        self.frames_out += frames_out;
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        self.frames_unrouted += frames_unrouted;
        self.frames_unknown_sender += frames_unknown_sender;
        self.keyframe_requests += keyframe_requests;
        self.violations += violations;
        self.congestion_downgrades += congestion_downgrades;
        self.congestion_recoveries += congestion_recoveries;
    }
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
        assert_eq!(text.matches("# TYPE").count(), 10);
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
