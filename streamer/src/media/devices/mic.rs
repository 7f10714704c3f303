//! Microphones through cpal (ALSA on Linux): listing input devices and an
//! [`AudioSource`] fed by a cpal input stream, downmixed to mono and
//! resampled to 48 kHz when the device cannot deliver that itself.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample, StreamConfig};

use crate::media::audio::{AudioSource, FRAME_DURATION, SAMPLE_RATE};
use crate::media::devices::pcm::{downmix, Framer};
use crate::media::MediaError;

/// Buffers from the capture callback waiting for the encoder thread; when
/// the encoder falls this far behind, new buffers are dropped.
const QUEUE: usize = 64;
/// How long `next_frame` waits for the device before calling it stalled.
const STALL: Duration = Duration::from_secs(2);
/// What to try when no microphone works.
const HINT: &str = " (see `edgecall-stream info --list-audio-devices`, or use --audio-source tone)";
/// How far behind its real-time slot a frame may be before the pacing
/// clock starts over.
const MAX_LATE: Duration = Duration::from_millis(200);
/// How long opening the stream may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Audio inputs on the default host as `id: description` lines; the id is
/// what `--audio-device` takes.
pub fn list() -> Result<Vec<String>, MediaError> {
    let quiet = QuietAlsa::install();
    let host = cpal::default_host();
    let devices = host.input_devices().map_err(|err| {
        quiet.log();
        MediaError::Device(format!(
            "listing audio inputs ({}): {err}",
            host.id().name()
        ))
    })?;
    let lines = devices
        .map(|device| {
            let (id, description) = names(&device);
            format!("{id}: {description}")
        })
        .collect();
    quiet.log();
    Ok(lines)
}

/// Opens input `name` (the host's default input if `None`).
pub fn open(name: Option<&str>) -> Result<Box<dyn AudioSource>, MediaError> {
    let quiet = QuietAlsa::install();
    let opened = open_quietly(name);
    quiet.log();
    opened
}

fn open_quietly(name: Option<&str>) -> Result<Box<dyn AudioSource>, MediaError> {
    let host = cpal::default_host();
    let device = match name {
        None => host
            .default_input_device()
            .ok_or_else(|| MediaError::Device(format!("no default audio input device{HINT}")))?,
        Some(name) => find(&host, name)?,
    };
    let label = names(&device).0;
    let failed = |doing: &str, err: &dyn std::fmt::Display| {
        MediaError::Device(format!("microphone {label:?}: {doing}: {err}{HINT}"))
    };
    let (config, format) =
        pick_config(&device).map_err(|err| failed("reading its formats", &err))?;
    let channels = usize::from(config.channels);
    let rate = config.sample_rate;
    let (sender, receiver) = sync_channel(QUEUE);
    let failure = Arc::new(Mutex::new(None));
    let stream = match format {
        SampleFormat::I8 => build::<i8>(&device, &config, sender, &failure),
        SampleFormat::I16 => build::<i16>(&device, &config, sender, &failure),
        SampleFormat::I32 => build::<i32>(&device, &config, sender, &failure),
        SampleFormat::U8 => build::<u8>(&device, &config, sender, &failure),
        SampleFormat::U16 => build::<u16>(&device, &config, sender, &failure),
        SampleFormat::U32 => build::<u32>(&device, &config, sender, &failure),
        SampleFormat::F32 => build::<f32>(&device, &config, sender, &failure),
        SampleFormat::F64 => build::<f64>(&device, &config, sender, &failure),
        other => {
            return Err(MediaError::Unsupported(format!(
                "microphone {label:?}: sample format {other}"
            )))
        }
    }
    .map_err(|err| failed("opening", &err))?;
    stream.play().map_err(|err| failed("starting", &err))?;
    tracing::info!(device = %label, rate, channels, %format, "microphone open");
    Ok(Box::new(Microphone {
        _stream: stream,
        label,
        receiver,
        failure,
        framer: Framer::new(rate),
        clock: None,
    }))
}

/// A device's id on its host (`default`, `hw:CARD=…,DEV=0` on ALSA) and
/// its human description.
fn names(device: &cpal::Device) -> (String, String) {
    let id = device
        .id()
        .map(|id| id.id().to_owned())
        .unwrap_or_else(|_| device.to_string());
    let description = device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| device.to_string());
    (id, description)
}

/// The input device whose id, `host:id` or description is `name`, or an
/// error listing the ids there are.
fn find(host: &cpal::Host, name: &str) -> Result<cpal::Device, MediaError> {
    let devices = host
        .input_devices()
        .map_err(|err| MediaError::Device(format!("listing audio inputs: {err}{HINT}")))?;
    let mut ids = Vec::new();
    for device in devices {
        let (id, description) = names(&device);
        let full = device.id().map(|id| id.to_string()).unwrap_or_default();
        if name == id || name == full || name == description {
            return Ok(device);
        }
        ids.push(id);
    }
    let found = if ids.is_empty() {
        "this machine has no audio inputs".to_owned()
    } else {
        format!("inputs: {}", ids.join(", "))
    };
    Err(MediaError::Device(format!(
        "audio input {name:?} not found ({found}){HINT}"
    )))
}

/// A stream config at 48 kHz with the fewest channels if the device has
/// one; otherwise its default config (resampled afterwards).
fn pick_config(device: &cpal::Device) -> Result<(StreamConfig, SampleFormat), cpal::Error> {
    let at_48k = device
        .supported_input_configs()?
        .filter(|range| range.contains_rate(SAMPLE_RATE))
        .min_by_key(|range| (range.channels(), preference(range.sample_format())));
    let chosen = match at_48k {
        Some(range) => range.with_sample_rate(SAMPLE_RATE),
        None => device.default_input_config()?,
    };
    Ok((chosen.config(), chosen.sample_format()))
}

/// Lower is better: formats the callback converts most cheaply first.
fn preference(format: SampleFormat) -> u8 {
    match format {
        SampleFormat::F32 => 0,
        SampleFormat::I16 => 1,
        _ => 2,
    }
}

/// An input stream of sample type `T` that sends each buffer, downmixed to
/// mono `f32`, to `sender`; stream errors land in `failure`.
fn build<T>(
    device: &cpal::Device,
    config: &StreamConfig,
    sender: SyncSender<Vec<f32>>,
    failure: &Arc<Mutex<Option<String>>>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels);
    let failure = Arc::clone(failure);
    let mut interleaved = Vec::new();
    device.build_input_stream::<T, _, _>(
        *config,
        move |data: &[T], _| {
            interleaved.clear();
            interleaved.extend(data.iter().map(|&s| f32::from_sample(s)));
            let mut mono = Vec::with_capacity(interleaved.len() / channels.max(1));
            downmix(&interleaved, channels, &mut mono);
            // A full queue means the encoder is behind: drop this buffer.
            let _ = sender.try_send(mono);
        },
        move |err| {
            if let Ok(mut slot) = failure.lock() {
                slot.get_or_insert_with(|| err.to_string());
            }
        },
        Some(OPEN_TIMEOUT),
    )
}

/// A running microphone stream.
struct Microphone {
    /// Kept alive for the callbacks; dropping it stops the capture.
    _stream: cpal::Stream,
    label: String,
    receiver: Receiver<Vec<f32>>,
    failure: Arc<Mutex<Option<String>>>,
    framer: Framer,
    /// When the frame counted from started, and how many frames since.
    clock: Option<(Instant, u32)>,
}

impl Microphone {
    fn failed(&self, otherwise: &str) -> MediaError {
        let reason = self
            .failure
            .lock()
            .ok()
            .and_then(|slot| slot.clone())
            .unwrap_or_else(|| otherwise.to_owned());
        MediaError::Device(format!("microphone {:?}: {reason}", self.label))
    }

    /// Holds a frame back until its real-time slot: hardware paces itself,
    /// but a device that delivers faster than its rate (ALSA's `null`
    /// input, for one) must not flood the server; its surplus is dropped
    /// at the capture queue. After a stall the clock starts over.
    fn pace(&mut self) {
        let now = Instant::now();
        let (start, count) = match self.clock {
            Some((start, count)) if start + FRAME_DURATION * count + MAX_LATE >= now => {
                (start, count)
            }
            _ => (now, 0),
        };
        let due = start + FRAME_DURATION * count;
        if due > now {
            std::thread::sleep(due - now);
        }
        self.clock = Some((start, count + 1));
    }
}

impl AudioSource for Microphone {
    fn next_frame(&mut self) -> Result<Vec<i16>, MediaError> {
        loop {
            if let Some(frame) = self.framer.next_frame() {
                self.pace();
                return Ok(frame);
            }
            match self.receiver.recv_timeout(STALL) {
                Ok(mono) => self.framer.push(&mono),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.failed("no audio for 2 s (device stalled or unplugged)"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.failed("the capture stream ended"))
                }
            }
        }
    }
}

/// Collects alsa-lib's diagnostics for the current thread (it prints them
/// to stderr otherwise, e.g. "cannot find card '0'") and logs them at
/// debug level, so a failure stays one line on stderr.
struct QuietAlsa {
    #[cfg(target_os = "linux")]
    output: Option<std::rc::Rc<std::cell::RefCell<alsa::Output>>>,
}

impl QuietAlsa {
    fn install() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            output: alsa::Output::local_error_handler().ok(),
        }
    }

    /// Logs what alsa-lib said so far.
    fn log(&self) {
        #[cfg(target_os = "linux")]
        if let Some(output) = &self.output {
            let text = output.borrow().to_string();
            if !text.trim().is_empty() {
                tracing::debug!(alsa = %text.trim(), "alsa-lib diagnostics");
            }
        }
    }
}
