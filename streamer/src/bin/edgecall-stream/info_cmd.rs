//! `info`: list cameras, camera formats and audio input devices.

use anyhow::Result;
use edgecall_stream::media::devices;

use crate::args::InfoArgs;

/// Prints what was asked for; with no flags, the cameras and the audio
/// inputs. An empty list is a line saying so (a Pi with no camera attached,
/// a machine with no sound card), not an error.
pub fn run(args: &InfoArgs) -> Result<()> {
    let everything = !(args.list_cameras || args.list_formats || args.list_audio_devices);
    let cameras = args.list_cameras || everything;
    let audio = args.list_audio_devices || everything;
    // Several lists get a heading each, so camera and audio lines (both
    // `id: description`) cannot be confused.
    let headings = [cameras, args.list_formats, audio]
        .iter()
        .filter(|&&on| on)
        .count()
        > 1;
    if cameras {
        let lines = devices::list_cameras()?;
        print_list(headings.then_some("cameras:"), &lines, "no cameras found");
    }
    if args.list_formats {
        let lines = devices::list_formats(args.video_device_index)?;
        let heading = format!("camera {} formats:", args.video_device_index);
        print_list(
            headings.then_some(heading.as_str()),
            &lines,
            "no formats found",
        );
    }
    if audio {
        let lines = devices::list_audio_inputs()?;
        print_list(
            headings.then_some("audio inputs:"),
            &lines,
            "no audio input devices found",
        );
    }
    Ok(())
}

/// One list: its heading (items then indented) if any, its lines, or
/// `empty` when there are none.
fn print_list(heading: Option<&str>, lines: &[String], empty: &str) {
    let indent = if let Some(heading) = heading {
        println!("{heading}");
        "  "
    } else {
        ""
    };
    if lines.is_empty() {
        println!("{indent}{empty}");
    }
    for line in lines {
        println!("{indent}{line}");
    }
}
