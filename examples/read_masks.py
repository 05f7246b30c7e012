#!/usr/bin/env python3
"""Runs video through sam3detect and prints the instances of every frame from Python.

    python3 examples/read_masks.py --model ~/models/sam3 --prompt "person;car" [VIDEO]

Without VIDEO it uses videotestsrc. The results are read from the GstSam3Meta on each
buffer through GObject introspection (namespace GstSam3); docs/metadata-guide.md explains
the environment this needs when gst-sam3 is not installed (GST_PLUGIN_PATH,
GI_TYPELIB_PATH, LD_LIBRARY_PATH).
"""

import argparse
import pathlib
import sys

try:
    import gi
except ImportError:
    sys.exit("read_masks: needs PyGObject (Debian: python3-gi, for /usr/bin/python3)")

gi.require_version("Gst", "1.0")
gi.require_version("GstSam3", "1.0")
from gi.repository import GLib, Gst, GstSam3  # noqa: E402


def build_pipeline(args):
    if args.video:
        uri = pathlib.Path(args.video).resolve().as_uri()
        source = f'uridecodebin uri="{uri}" ! videoconvert'
    else:
        source = f"videotestsrc num-buffers={args.frames} ! video/x-raw,width=320,height=240"
    # appsink keeps only what we pull; sync=false processes frames as fast as SAM 3 allows.
    description = (
        f"{source} ! sam3detect name=detect threshold={args.threshold} ! "
        "appsink name=sink sync=false max-buffers=2"
    )
    pipeline = Gst.parse_launch(description)
    detect = pipeline.get_by_name("detect")
    # Set as properties, not in the launch string, so quotes and spaces need no escaping.
    detect.set_property("model", args.model)
    detect.set_property("prompt", args.prompt)
    detect.set_property("device", args.device)
    return pipeline


def print_frame(buffer):
    meta = GstSam3.buffer_get_sam3_meta(buffer)
    if meta is None:
        # Frames between `interval` frames and QoS-skipped frames carry no results.
        print(f"pts={buffer.pts}: no results")
        return 0
    n = meta.get_n_instances()
    prompts = [meta.get_prompt(i) for i in range(meta.get_n_prompts())]
    print(f"frame {meta.frame_number} ({meta.frame_width}x{meta.frame_height}) "
          f"prompts={prompts}: {n} instance(s)")
    for i in range(n):
        inst = meta.get_instance(i)
        track = f" track={inst.track_id}" if inst.track_id else ""
        print(f"  id={inst.instance_id}{track} label={inst.get_label()!r} score={inst.score:.3f} "
              f"box=({inst.x:.1f},{inst.y:.1f} {inst.w:.1f}x{inst.h:.1f}) "
              f"mask={inst.mask_width}x{inst.mask_height}")
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", help="video file (default: videotestsrc)")
    parser.add_argument("--model", required=True, help="SAM 3 model folder")
    parser.add_argument("--prompt", default="person", help='concepts, e.g. "person;red car"')
    parser.add_argument("--threshold", type=float, default=0.5, help="minimum score (0..1)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--frames", type=int, default=10, help="frames of videotestsrc")
    args = parser.parse_args()

    Gst.init(None)
    try:
        pipeline = build_pipeline(args)
    except GLib.Error as e:
        sys.exit(f"read_masks: cannot build the pipeline: {e.message}")
    sink = pipeline.get_by_name("sink")
    bus = pipeline.get_bus()

    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
        reason = message.parse_error()[0].message if message else "state change failed"
        pipeline.set_state(Gst.State.NULL)
        sys.exit(f"read_masks: {reason}")

    frames = instances = 0
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:  # EOS or error: the bus says which
            break
        instances += print_frame(sample.get_buffer())
        frames += 1

    message = bus.timed_pop_filtered(Gst.CLOCK_TIME_NONE,
                                     Gst.MessageType.ERROR | Gst.MessageType.EOS)
    pipeline.set_state(Gst.State.NULL)
    if message.type == Gst.MessageType.ERROR:
        error, debug = message.parse_error()
        sys.exit(f"read_masks: {error.message} ({debug})")
    print(f"{frames} frame(s), {instances} instance(s)")


if __name__ == "__main__":
    main()
