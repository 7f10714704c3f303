//! `info`: list cameras, camera formats and audio input devices.

use anyhow::{bail, Result};
use edgecall_stream::media::devices;

use crate::args::InfoArgs;

/// Prints what was asked for.
pub fn run(args: &InfoArgs) -> Result<()> {
    if !(args.list_cameras || args.list_formats || args.list_audio_devices) {
        bail!("nothing to list: pass --list-cameras, --list-formats or --list-audio-devices");
    }
    if args.list_cameras {
        let cameras = devices::list_cameras()?;
        if cameras.is_empty() {
            println!("no cameras found");
        }
        for camera in cameras {
            println!("{camera}");
        }
    }
    if args.list_formats {
        for format in devices::list_formats(args.video_device_index)? {
            println!("{format}");
        }
    }
    if args.list_audio_devices {
        let inputs = devices::list_audio_inputs()?;
        if inputs.is_empty() {
            println!("no audio input devices found");
        }
        for name in inputs {
            println!("{name}");
        }
    }
    Ok(())
}
