#!/usr/bin/env python3
"""Scenes and clips for the behaviour tests (tests/behaviour/), written as files.

    .venv/bin/python tools/shapes/make_behaviour_cases.py OUT_DIR

Every scene is stated here explicitly -- which shapes, colours, sizes and places -- and drawn
with tools/shapes/scenes.py (its backgrounds, colours, shading and noise, deterministic from the
scene's seed), so a test knows exactly what is in each picture. OUT_DIR gets PNG frames, one
PNG (0 / 255) per visible object mask, and cases.json:

    {"width", "height",
     "scenes": [{"name", "image", "objects": [{"id", "shape", "color", "box", "area", "mask"}],
                 "prompts": [{"kind", "text", "boxes": [[x0, y0, x1, y1, positive]],
                              "expect": [object ids the prompt should find]}]}],
     "clips":  [{"name", "frames": [png], "tracks": [{"id", "shape", "color"}],
                 "masks": [[png or null per track] per frame],
                 "boxes": [[[x0, y0, x1, y1] or null per track] per frame]}]}

Boxes are pixels of the visible mask, x1 / y1 exclusive. Prompt kinds: see text_prompts() for
the concept scenes' (present, present-shape, absent, near-miss, absent-shape); "exemplar" (no text, one positive box:
everything like the boxed instance), "negative" (a shape plus a negative box on one instance:
that shape without the boxed instance's colour) and "negative-control" (the same shape without
the box).
"""

import json
import math
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenes  # noqa: E402

W = H = 224
SIDE = min(W, H)
NOISE = 3.0

# Four places on a 2 x 2 grid and six on a 3 x 2 grid (fractions of the frame).
GRID4 = [(0.27, 0.28), (0.73, 0.27), (0.28, 0.73), (0.72, 0.72)]
GRID6 = [(0.19, 0.28), (0.5, 0.27), (0.81, 0.29), (0.2, 0.72), (0.5, 0.73), (0.8, 0.71)]


def make_object(rng, oid, shape, color, cx, cy, r, angle=0.0):
    """One object at (cx, cy) (fractions) with radius r (fraction of the side), upright."""
    o = scenes.new_object(rng, oid, W, H, shape=shape, color=color, radius=r * SIDE)
    o["cx"], o["cy"], o["angle"], o["outline"] = cx * W, cy * H, angle, False
    return scenes._finish_object(rng, o)


def box_of(mask):
    return scenes._bbox_of(mask)


class Writer:
    def __init__(self, out_dir):
        self.dir = out_dir
        os.makedirs(out_dir, exist_ok=True)

    def png(self, name, array):
        Image.fromarray(array).save(os.path.join(self.dir, name))
        return name

    def mask(self, name, mask):
        return self.png(name, (mask.astype(np.uint8) * 255))


def still_scene(writer, name, seed, specs, grid):
    """specs: [(shape, color, radius fraction)] placed on `grid` in order; ids 1, 2, ..."""
    rng = np.random.default_rng([20261207, seed])
    bg = scenes.sample_background(rng, W, H)
    objs = [make_object(rng, i + 1, s, c, *grid[i], r) for i, (s, c, r) in enumerate(specs)]
    image, masks, _ = scenes.render(bg, objs, rng, noise=NOISE)
    out = []
    for o, m in zip(objs, masks):
        assert m.sum() >= 200, (name, o["id"])  # every object is plainly visible
        out.append({"id": o["id"], "shape": o["shape"], "color": o["color"],
                    "box": box_of(m), "area": int(m.sum()),
                    "mask": writer.mask("%s_obj%d.png" % (name, o["id"]), m)})
    return {"name": name, "image": writer.png(name + ".png", image), "objects": out, "prompts": []}


def ids_matching(objects, concept):
    return [o["id"] for o in objects if scenes.matches(concept, o)]


def text_prompts(scene):
    """Prompts of the concept scenes, by kind:
    present        every "colour shape" of the scene
    present-shape  every shape of the scene alone
    absent         each shape of the scene in a colour that nothing in the scene has
    near-miss      each colour of the scene on a shape that is not in the scene
    absent-shape   a shape that is not in the scene"""
    objs = scene["objects"]
    colors = sorted({o["color"] for o in objs})
    shapes = sorted({o["shape"] for o in objs})
    other_colors = [c for c in scenes.COLOR_NAMES if c not in colors]
    other_shapes = [s for s in scenes.SHAPES if s not in shapes]
    prompts = [("present", c) for c in sorted({"%s %s" % (o["color"], o["shape"]) for o in objs})]
    prompts += [("present-shape", s) for s in shapes]
    prompts += [("absent", "%s %s" % (other_colors[i % len(other_colors)], s))
                for i, s in enumerate(shapes)]
    prompts += [("near-miss", "%s %s" % (c, other_shapes[i % len(other_shapes)]))
                for i, c in enumerate(colors)]
    prompts += [("absent-shape", other_shapes[0])]
    for kind, text in prompts:
        expect = ids_matching(objs, text)
        assert bool(expect) == kind.startswith("present"), (kind, text)
        scene["prompts"].append({"kind": kind, "text": text, "boxes": [], "expect": expect})


def exemplar_prompt(scene, boxed_id, kind, text):
    objs = scene["objects"]
    o = next(x for x in objs if x["id"] == boxed_id)
    positive = kind == "exemplar"
    same = [x["id"] for x in objs if x["color"] == o["color"] and x["shape"] == o["shape"]]
    if positive:
        expect = same
    else:
        expect = [i for i in ids_matching(objs, text) if i not in same]
    scene["prompts"].append({"kind": kind, "text": text, "boxes": [list(o["box"]) + [positive]],
                             "expect": expect})


# Concept scenes: four objects, mid to large, one category twice.
FIND = [
    [("circle", "red", 0.12), ("square", "blue", 0.11), ("triangle", "yellow", 0.13),
     ("circle", "red", 0.10)],
    [("star", "green", 0.14), ("heart", "white", 0.12), ("cross", "purple", 0.12),
     ("star", "green", 0.12)],
    [("square", "orange", 0.11), ("circle", "blue", 0.13), ("triangle", "red", 0.13),
     ("square", "orange", 0.12)],
    [("heart", "red", 0.13), ("star", "yellow", 0.14), ("circle", "green", 0.11),
     ("heart", "red", 0.11)],
    [("cross", "blue", 0.12), ("square", "white", 0.11), ("star", "purple", 0.14),
     ("cross", "blue", 0.11)],
    [("triangle", "green", 0.14), ("circle", "orange", 0.12), ("square", "purple", 0.11),
     ("triangle", "green", 0.12)],
]

# Exemplar scenes: three of the boxed category, and distractors of its shape in another colour,
# of its colour in another shape, and one unrelated object.
EXEMPLAR = [
    [("star", "green"), ("star", "yellow"), ("star", "green"), ("circle", "green"),
     ("square", "blue"), ("star", "green")],
    [("circle", "red"), ("circle", "blue"), ("square", "red"), ("circle", "red"),
     ("triangle", "white"), ("circle", "red")],
    [("square", "blue"), ("heart", "blue"), ("square", "orange"), ("square", "blue"),
     ("star", "purple"), ("square", "blue")],
    [("triangle", "yellow"), ("triangle", "purple"), ("circle", "red"), ("triangle", "yellow"),
     ("cross", "yellow"), ("triangle", "yellow")],
]

# Negative-box scenes: two squares (or circles...) of the boxed colour, two of another colour,
# one object of the boxed colour in another shape, one unrelated.
NEGATIVE = [
    [("square", "red"), ("square", "blue"), ("circle", "red"), ("square", "blue"),
     ("square", "red"), ("star", "yellow")],
    [("circle", "green"), ("circle", "orange"), ("triangle", "green"), ("circle", "orange"),
     ("circle", "green"), ("cross", "white")],
    [("star", "blue"), ("star", "red"), ("square", "blue"), ("star", "red"),
     ("star", "blue"), ("heart", "purple")],
    [("triangle", "purple"), ("triangle", "yellow"), ("circle", "purple"),
     ("triangle", "yellow"), ("triangle", "purple"), ("square", "green")],
]


def render_clip(writer, name, seed, tracks, frames):
    """tracks: [(shape, color, radius fraction, path(t) -> (cx, cy) fractions)]; later ones on top."""
    rng = np.random.default_rng([20261208, seed])
    bg = scenes.sample_background(rng, W, H)
    objs = [make_object(rng, i + 1, s, c, *path(0), r) for i, (s, c, r, path) in enumerate(tracks)]
    out = {"name": name, "frames": [], "masks": [], "boxes": [],
           "tracks": [{"id": o["id"], "shape": o["shape"], "color": o["color"]} for o in objs]}
    for t in range(frames):
        for o, (_, _, _, path) in zip(objs, tracks):
            cx, cy = path(t)
            o["cx"], o["cy"] = cx * W, cy * H
        image, masks, _ = scenes.render(bg, objs, rng, noise=NOISE)
        out["frames"].append(writer.png("%s_%02d.png" % (name, t), image))
        row_m, row_b = [], []
        for o, m in zip(objs, masks):
            if m.sum() >= scenes.MIN_VISIBLE_PIXELS:
                row_m.append(writer.mask("%s_%02d_obj%d.png" % (name, t, o["id"]), m))
                row_b.append(box_of(m))
            else:
                row_m.append(None)
                row_b.append(None)
        out["masks"].append(row_m)
        out["boxes"].append(row_b)
    return out


def line(p0, p1, frames):
    return lambda t: (p0[0] + (p1[0] - p0[0]) * t / (frames - 1),
                      p0[1] + (p1[1] - p0[1]) * t / (frames - 1))


def make_clips(writer, frames=16):
    """Objects move at most about 4 pixels a frame. Colours: red, orange, yellow and purple
    (the current models/sam3-shapes loses green, blue and white objects on the first frame
    after their birth, in transformers as in our runtime)."""
    clips = []
    # Two circles of different colours swap sides through each other (the purple one passes
    # in front): one concept, two objects, and only the tracker's memory tells them apart.
    clips.append(render_clip(writer, "cross_circles", 1, [
        ("circle", "red", 0.12, line((0.25, 0.44), (0.75, 0.54), frames)),
        ("circle", "purple", 0.11, line((0.75, 0.5), (0.25, 0.5), frames)),
    ], frames))
    # Two squares, likewise, crossing on a diagonal.
    clips.append(render_clip(writer, "cross_squares", 2, [
        ("square", "yellow", 0.11, line((0.27, 0.3), (0.7, 0.66), frames)),
        ("square", "orange", 0.12, line((0.73, 0.32), (0.3, 0.68), frames)),
    ], frames))
    # A red circle and a yellow square crossing, and a purple triangle that stays: two
    # concepts at once, whose labels must stay on their objects through the crossing.
    clips.append(render_clip(writer, "two_concepts", 3, [
        ("circle", "red", 0.12, line((0.25, 0.36), (0.75, 0.44), frames)),
        ("square", "yellow", 0.11, line((0.75, 0.4), (0.25, 0.4), frames)),
        ("triangle", "purple", 0.12, line((0.5, 0.78), (0.55, 0.8), frames)),
    ], frames))
    # Three objects drifting slowly, apart from each other: for a prompt changed mid-stream.
    clips.append(render_clip(writer, "drift", 4, [
        ("circle", "red", 0.12, line((0.25, 0.3), (0.3, 0.32), frames)),
        ("square", "purple", 0.11, line((0.72, 0.3), (0.7, 0.36), frames)),
        ("star", "yellow", 0.13, line((0.5, 0.74), (0.45, 0.72), frames)),
    ], frames))
    return clips


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    writer = Writer(sys.argv[1])
    out = {"width": W, "height": H, "scenes": [], "clips": []}
    for i, specs in enumerate(FIND):
        s = still_scene(writer, "find%d" % i, 100 + i, specs, GRID4)
        text_prompts(s)
        out["scenes"].append(s)
    for i, specs in enumerate(EXEMPLAR):
        s = still_scene(writer, "exemplar%d" % i, 200 + i, [(a, b, 0.1) for a, b in specs], GRID6)
        exemplar_prompt(s, boxed_id=1, kind="exemplar", text="")
        out["scenes"].append(s)
    for i, specs in enumerate(NEGATIVE):
        s = still_scene(writer, "negative%d" % i, 300 + i, [(a, b, 0.1) for a, b in specs], GRID6)
        shape = specs[0][0]
        exemplar_prompt(s, boxed_id=1, kind="negative", text=shape)
        s["prompts"].append({"kind": "negative-control", "text": shape, "boxes": [],
                             "expect": ids_matching(s["objects"], shape)})
        out["scenes"].append(s)
    out["clips"] = make_clips(writer)
    with open(os.path.join(writer.dir, "cases.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
