#!/usr/bin/env python3
"""Write the main job's sample clip: generated shapes that cross, hide, enter and leave.

    .venv/bin/python tools/shapes/make_sample_clip.py OUT_DIR [--mp4 FILE]

Writes OUT_DIR/%04d.png (480x360, 240 frames meant for 30 fps) and OUT_DIR/objects.json (per
object: id, colour, shape, and its box per frame, null while hidden); --mp4 also encodes the
frames with GStreamer's x264enc (pipelines/samples/shapes.mp4 was made so). The scene is scripted
rather than sampled so that one default prompt ("red circle;purple triangle") shows every part of the
product: two instances of one concept that cross and must keep their ids, one that is hidden by
a passing square and comes back, and one that enters mid-clip and is born there.
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenes  # noqa: E402

# 4:3 like the widest frames the model was trained on: a 16:9 frame squeezed to its square
# input would turn circles into ellipses. Paths below are written for a 640-wide frame.
W, H, T = 480, 360, 240
SEED = 20261206


def scripted_objects(rng):
    """(object, path) pairs in drawing order (later ones are drawn on top)."""
    side = min(W, H)

    def obj(oid, shape, color, r, path, spin=0.0):
        o = scenes.new_object(rng, oid, W, H, shape=shape, color=color, radius=r * side)
        o["angle"] = 0.0
        o["outline"] = False
        o["spin"] = spin
        o["path"] = [(x * W / 640.0, y) for x, y in path]
        return scenes._finish_object(rng, o)

    def line(p0, p1, t0=0, t1=T - 1):
        """From p0 (before t0) to p1 (after t1), linear in between."""
        out = []
        for t in range(T):
            a = min(max((t - t0) / max(t1 - t0, 1), 0.0), 1.0)
            out.append((p0[0] + (p1[0] - p0[0]) * a, p0[1] + (p1[1] - p0[1]) * a))
        return out

    def wander(c, amp, period, phase):
        return [(c[0] + amp[0] * math.sin(2 * math.pi * t / period + phase),
                 c[1] + amp[1] * math.cos(2 * math.pi * t / period + phase)) for t in range(T)]

    return [
        # Two red circles swap sides, crossing at frame ~110.
        obj(1, "circle", "red", 0.12, line((110, 120), (530, 250), 20, 200)),
        obj(2, "circle", "red", 0.11, line((530, 110), (110, 260), 20, 200)),
        # A yellow star and a green heart that never match the default prompt.
        obj(3, "star", "yellow", 0.13, wander((500, 290), (40, 20), 160, 0.0), spin=0.01),
        obj(4, "heart", "green", 0.11, wander((150, 300), (30, 15), 200, 1.0)),
        # A small purple triangle that a big blue square passes over (hidden ~frames 150-175).
        obj(5, "triangle", "purple", 0.09, wander((330, 80), (8, 4), 120, 0.5)),
        obj(6, "square", "blue", 0.2, line((-80, 60), (720, 100), 60, 260)),
        # A second purple triangle that enters from the right at frame ~90.
        obj(7, "triangle", "purple", 0.1, line((700, 190), (450, 180), 80, 170), spin=-0.01),
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="folder for the PNG frames and objects.json")
    p.add_argument("--mp4", help="also encode the clip to this MP4 file")
    args = p.parse_args(argv)
    out = args.out
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    bg = scenes.sample_background(rng, W, H)
    objs = scripted_objects(rng)
    boxes = {o["id"]: [] for o in objs}
    for t in range(T):
        for o in objs:
            o["cx"], o["cy"] = o["path"][t]
            o["angle"] = o["spin"] * t
        img, masks, _ = scenes.render(bg, objs, rng, noise=2.0)
        Image.fromarray(img).save(os.path.join(out, "%04d.png" % t))
        for o, m in zip(objs, masks):
            boxes[o["id"]].append(scenes._bbox_of(m) if m.sum() >= scenes.MIN_VISIBLE_PIXELS else None)
    meta = {"width": W, "height": H, "frames": T, "fps": 30,
            "objects": [{"id": o["id"], "color": o["color"], "shape": o["shape"], "boxes": boxes[o["id"]]}
                        for o in objs]}
    with open(os.path.join(out, "objects.json"), "w") as f:
        json.dump(meta, f)
    if args.mp4:
        # A fixed quantiser keeps the shapes' edges clean at about 0.6 MB for the 8 s.
        subprocess.run(["gst-launch-1.0", "-q", "multifilesrc", "location=" + os.path.join(out, "%04d.png"),
                        "index=0", "caps=image/png,framerate=30/1", "!", "pngdec", "!", "videoconvert", "!",
                        "video/x-raw,format=I420", "!", "x264enc", "pass=quant", "quantizer=18",
                        "speed-preset=slower", "key-int-max=60", "!", "mp4mux", "!", "filesink",
                        "location=" + args.mp4], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
