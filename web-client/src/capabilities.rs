//! What the browser must have for a call, checked once at start, and what
//! to tell the user when something is missing. Pure logic: the page
//! reports which interfaces exist.

/// The browser interfaces the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `VideoDecoder` (WebCodecs): remote video.
    pub video_decoder: bool,
    /// `AudioDecoder` (WebCodecs): remote audio.
    pub audio_decoder: bool,
    /// `VideoEncoder` (WebCodecs): our camera and screen.
    pub video_encoder: bool,
    /// `AudioEncoder` (WebCodecs): our microphone.
    pub audio_encoder: bool,
    /// `MediaStreamTrackProcessor`: frames out of the camera and microphone.
    pub track_processor: bool,
    /// `AudioWorkletNode`: microphone samples where there is no track
    /// processor (video then comes from a `<video>` element).
    pub audio_worklet: bool,
    /// `WebTransport`: the relay's QUIC path (else WebSocket).
    pub web_transport: bool,
    /// `AudioContext`: playing remote audio.
    pub audio_context: bool,
}

/// How far this browser can take part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// Everything works.
    Full,
    /// It can join, see and hear, but not send media; the message says why.
    WatchOnly(String),
    /// It cannot take part; the message says what is missing.
    Unsupported(String),
}

/// What to suggest when something is missing.
const USE_A_CURRENT_BROWSER: &str = "Use a current Chrome, Edge or Opera";

impl Capabilities {
    /// The names of the missing interfaces, for the console and the test
    /// hook.
    pub fn missing(&self) -> Vec<&'static str> {
        absent(&[
            (self.video_decoder, "VideoDecoder"),
            (self.audio_decoder, "AudioDecoder"),
            (self.video_encoder, "VideoEncoder"),
            (self.audio_encoder, "AudioEncoder"),
            (self.track_processor, "MediaStreamTrackProcessor"),
            (self.audio_worklet, "AudioWorkletNode"),
            (self.web_transport, "WebTransport"),
            (self.audio_context, "AudioContext"),
        ])
    }

    /// The verdict. Without WebTransport the page simply joins over
    /// WebSocket, and without `MediaStreamTrackProcessor` it captures
    /// through a `<video>` element and an AudioWorklet, so neither alone
    /// changes anything.
    pub fn support(&self) -> Support {
        let receive = absent(&[
            (self.video_decoder, "VideoDecoder"),
            (self.audio_decoder, "AudioDecoder"),
            (self.audio_context, "AudioContext"),
        ]);
        if !receive.is_empty() {
            return Support::Unsupported(format!(
                "This browser cannot play a call: it lacks {} (WebCodecs and Web Audio). {USE_A_CURRENT_BROWSER}.",
                receive.join(", ")
            ));
        }
        let mut send = absent(&[
            (self.video_encoder, "VideoEncoder"),
            (self.audio_encoder, "AudioEncoder"),
        ]);
        if !self.track_processor && !self.audio_worklet {
            send.push("MediaStreamTrackProcessor or AudioWorkletNode");
        }
        if !send.is_empty() {
            return Support::WatchOnly(format!(
                "This browser can join, see and hear the meeting, but cannot send your camera or microphone: it lacks {}. {USE_A_CURRENT_BROWSER} to be seen and heard.",
                send.join(", ")
            ));
        }
        Support::Full
    }
}

/// The names whose interface is not present.
fn absent(interfaces: &[(bool, &'static str)]) -> Vec<&'static str> {
    interfaces
        .iter()
        .filter_map(|(present, name)| (!present).then_some(*name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Capabilities = Capabilities {
        video_decoder: true,
        audio_decoder: true,
        video_encoder: true,
        audio_encoder: true,
        track_processor: true,
        audio_worklet: true,
        web_transport: true,
        audio_context: true,
    };

    #[test]
    fn a_browser_with_everything_takes_full_part() {
        assert_eq!(ALL.support(), Support::Full);
        assert!(ALL.missing().is_empty());
    }

    #[test]
    fn without_webtransport_the_page_still_takes_full_part() {
        let caps = Capabilities {
            web_transport: false,
            ..ALL
        };
        assert_eq!(caps.support(), Support::Full);
        assert_eq!(caps.missing(), vec!["WebTransport"]);
    }

    #[test]
    fn without_the_track_processor_the_page_captures_another_way() {
        let caps = Capabilities {
            track_processor: false,
            ..ALL
        };
        assert_eq!(caps.support(), Support::Full);
        assert_eq!(caps.missing(), vec!["MediaStreamTrackProcessor"]);
    }

    #[test]
    fn without_any_way_to_capture_the_page_watches_and_says_why() {
        let caps = Capabilities {
            track_processor: false,
            audio_worklet: false,
            ..ALL
        };
        let Support::WatchOnly(message) = caps.support() else {
            panic!("expected watch-only, got {:?}", caps.support());
        };
        assert!(message.contains("MediaStreamTrackProcessor"), "{message}");
        assert!(message.contains("AudioWorkletNode"), "{message}");
        assert!(message.contains("can join"), "{message}");
    }

    #[test]
    fn without_decoders_the_page_cannot_take_part_and_names_what_is_missing() {
        let caps = Capabilities {
            video_decoder: false,
            audio_encoder: false,
            ..ALL
        };
        let Support::Unsupported(message) = caps.support() else {
            panic!("expected unsupported, got {:?}", caps.support());
        };
        assert!(message.contains("VideoDecoder"), "{message}");
        assert!(!message.contains("AudioDecoder"), "{message}");
    }
}
