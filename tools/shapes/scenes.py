"""Generated scenes and clips of coloured shapes, with exact per-object masks, boxes and ids.

Deterministic from a seed (numpy Generator + PIL drawing, nothing else). Used to train and
evaluate the small SAM 3 in models/sam3-shapes/.

    img = sample_image(np.random.default_rng(7))          # one still scene
    clip = sample_clip(np.random.default_rng(7), 16)      # a clip: motion, crossing, occlusion

A scene is a dict:
    image    (H, W, 3) uint8
    objects  list of {"id", "shape", "color", "mask" (H, W) bool visible pixels,
                      "box" (x0, y0, x1, y1) float pixels of the visible mask (x1/y1 exclusive),
                      "area" visible pixels, "full_area" pixels when unoccluded and inside}
A clip is a dict:
    frames   list of (H, W, 3) uint8
    tracks   list of {"id", "shape", "color"}
    masks    masks[t][k] (H, W) bool, the visible pixels of track k in frame t
    boxes    boxes[t][k] (x0, y0, x1, y1) or None when not visible
    visible  (T, K) bool: the object has at least MIN_VISIBLE_PIXELS visible pixels
    scenario the kinds of motion that were staged

Concepts ("red circle", "circle", "red") match objects by colour and/or shape; a concept that
matches no visible object of a frame has zero targets there.
"""

import math

import numpy as np
from PIL import Image, ImageDraw

# Every word is a single CLIP BPE token (checked in tools/shapes/check_vocab via CLIPTokenizer).
SHAPES = ["circle", "square", "triangle", "star", "cross", "heart"]
# name: (hue degrees, hue jitter, saturation range, value range); None hue = achromatic.
COLORS = {
    "red": (0.0, 8.0, (0.70, 1.0), (0.65, 1.0)),
    "orange": (28.0, 5.0, (0.75, 1.0), (0.85, 1.0)),
    "yellow": (55.0, 6.0, (0.70, 1.0), (0.85, 1.0)),
    "green": (122.0, 18.0, (0.60, 1.0), (0.50, 0.95)),
    "blue": (222.0, 14.0, (0.65, 1.0), (0.60, 1.0)),
    "purple": (282.0, 12.0, (0.55, 0.95), (0.50, 0.90)),
    "white": (None, 0.0, (0.0, 0.10), (0.93, 1.0)),
}
COLOR_NAMES = list(COLORS)
# The text of an exemplar-only prompt (the runtime's kVisualPrompt, as in the reference).
VISUAL_PROMPT = "visual"
MIN_VISIBLE_PIXELS = 12


def all_concepts(with_color_only=True):
    out = ["%s %s" % (c, s) for c in COLOR_NAMES for s in SHAPES] + list(SHAPES)
    if with_color_only:
        out += list(COLOR_NAMES)
    return out


def parse_concept(concept):
    """(color or None, shape or None) of a concept phrase."""
    color = shape = None
    for w in concept.lower().split():
        if w in COLORS:
            color = w
        elif w in SHAPES:
            shape = w
        else:
            raise ValueError("unknown word %r in concept %r" % (w, concept))
    return color, shape


def matches(concept, obj):
    color, shape = parse_concept(concept)
    return (color is None or obj["color"] == color) and (shape is None or obj["shape"] == shape)


def category(obj):
    return "%s %s" % (obj["color"], obj["shape"])


# ---------------------------------------------------------------------------------------
# Colours and backgrounds
# ---------------------------------------------------------------------------------------

def hsv_to_rgb(h, s, v):
    h = (h % 360.0) / 60.0
    i = int(h) % 6
    f = h - int(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array([r, g, b], dtype=np.float32) * 255.0


def sample_color(rng, name):
    hue, jitter, sat, val = COLORS[name]
    s = rng.uniform(*sat)
    v = rng.uniform(*val)
    h = 0.0 if hue is None else hue + rng.uniform(-jitter, jitter)
    return hsv_to_rgb(h, s, v)


def _smooth_noise(rng, h, w, cells):
    g = rng.standard_normal((cells, cells)).astype(np.float32)
    im = Image.fromarray(g, mode="F").resize((w, h), Image.BICUBIC)
    return np.asarray(im, dtype=np.float32)


def sample_background(rng, w, h):
    """A muted, textured, noisy background (H, W, 3) float32 in 0..255."""
    def muted():
        return hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.0, 0.35), rng.uniform(0.15, 0.75))
    c0, c1 = muted(), muted()
    a = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (xx / w - 0.5) * math.cos(a) + (yy / h - 0.5) * math.sin(a) + 0.5
    t = np.clip(t, 0, 1)[..., None]
    bg = c0 * (1 - t) + c1 * t
    # Low-frequency blotches, per channel a little different.
    amp = rng.uniform(5, 30)
    base = _smooth_noise(rng, h, w, int(rng.integers(3, 9)))
    bg += amp * (base[..., None] + 0.3 * np.stack([_smooth_noise(rng, h, w, 4) for _ in range(3)], -1))
    kind = rng.integers(0, 5)
    if kind == 1:  # stripes
        f = rng.uniform(0.05, 0.4)
        b = rng.uniform(0, 2 * math.pi)
        s = np.sin(f * (xx * math.cos(b) + yy * math.sin(b)))
        bg += rng.uniform(4, 18) * s[..., None]
    elif kind == 2:  # checker
        p = int(rng.integers(8, 32))
        s = ((xx // p + yy // p) % 2) * 2 - 1
        bg += rng.uniform(3, 12) * s[..., None]
    elif kind == 3:  # clutter: thin lines and dots in muted colours
        im = Image.new("RGB", (w, h))
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(5, 30))):
            col = tuple(int(x) for x in muted())
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            if rng.random() < 0.6:
                d.line([x0, y0, x0 + rng.uniform(-60, 60), y0 + rng.uniform(-60, 60)], fill=col,
                       width=int(rng.integers(1, 3)))
            else:
                r = rng.uniform(1, 4)
                d.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=col)
        m = np.asarray(im.convert("L")) > 0
        bg = np.where(m[..., None], np.asarray(im, dtype=np.float32) * 0.6 + bg * 0.4, bg)
    elif kind == 4:  # fine grain texture
        bg += rng.uniform(4, 14) * _smooth_noise(rng, h, w, max(w, h) // 4)[..., None]
    return bg


# ---------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------

def _unit_polygon(shape):
    if shape == "square":
        return [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 5)[:-1] + math.pi / 4]
    if shape == "triangle":
        return [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 4)[:-1] - math.pi / 2]
    if shape == "star":
        pts = []
        for k in range(10):
            r = 1.0 if k % 2 == 0 else 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((r * math.cos(a), r * math.sin(a)))
        return pts
    if shape == "cross":
        w = 0.34
        return [(-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1), (-w, 1), (-w, w),
                (-1, w), (-1, -w), (-w, -w)]
    if shape == "heart":
        ts = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        x = 16 * np.sin(ts) ** 3
        y = -(13 * np.cos(ts) - 5 * np.cos(2 * ts) - 2 * np.cos(3 * ts) - np.cos(4 * ts))
        y = y + 2.5
        s = 1.0 / 16.5
        return list(zip(x * s, y * s))
    raise ValueError(shape)


_POLYS = {s: np.array(_unit_polygon(s), dtype=np.float64) for s in SHAPES if s != "circle"}
# Scale so that every shape covers a similar area for the same nominal radius.
_SCALE = {"circle": 0.92, "square": 1.0, "triangle": 1.18, "star": 1.2, "cross": 1.05, "heart": 1.0}


def draw_alpha(shape, cx, cy, r, angle, w, h, ss=2):
    """Coverage (H, W) float32 in 0..1 of one shape, supersampled ss x ss."""
    im = Image.new("L", (w * ss, h * ss), 0)
    d = ImageDraw.Draw(im)
    r = r * _SCALE[shape]
    if shape == "circle":
        d.ellipse([(cx - r) * ss, (cy - r) * ss, (cx + r) * ss, (cy + r) * ss], fill=255)
    else:
        p = _POLYS[shape]
        ca, sa = math.cos(angle), math.sin(angle)
        xs = cx + r * (p[:, 0] * ca - p[:, 1] * sa)
        ys = cy + r * (p[:, 0] * sa + p[:, 1] * ca)
        d.polygon([(float(x * ss), float(y * ss)) for x, y in zip(xs, ys)], fill=255)
    if ss > 1:
        im = im.resize((w, h), Image.BOX)
    return np.asarray(im, dtype=np.float32) / 255.0


def _bbox_of(mask):
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(xs) == 0:
        return None
    return (float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1))


def new_object(rng, oid, w, h, shape=None, color=None, radius=None):
    side = min(w, h)
    return {
        "id": oid,
        "shape": shape or SHAPES[int(rng.integers(len(SHAPES)))],
        "color": color or COLOR_NAMES[int(rng.integers(len(COLOR_NAMES)))],
        "r": radius if radius is not None else float(side * rng.choice([0.05, 0.075, 0.1, 0.14, 0.18])
                                                     * rng.uniform(0.85, 1.15)),
        "cx": float(rng.uniform(0.08, 0.92) * w),
        "cy": float(rng.uniform(0.08, 0.92) * h),
        "angle": float(rng.uniform(-math.pi, math.pi)) if rng.random() < 0.7 else 0.0,
        "rgb": None,  # filled by _finish_object
        "shade": None,
        "outline": bool(rng.random() < 0.2),
    }


def _finish_object(rng, o):
    o["rgb"] = sample_color(rng, o["color"])
    # A gentle linear shading across the shape: (direction, strength).
    o["shade"] = (float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.0, 0.25)))
    if o["shape"] == "heart":
        o["angle"] = float(rng.uniform(-0.4, 0.4))
    return o


def render(bg, objects, rng, noise=None, ss=2):
    """Composite `objects` (drawn in list order: later ones on top) onto a copy of `bg`.

    Returns (image uint8 (H, W, 3), visible masks [(H, W) bool] in `objects` order,
    full-coverage areas)."""
    h, w = bg.shape[:2]
    img = bg.copy()
    alphas = []
    yy = xx = None
    for o in objects:
        a = draw_alpha(o["shape"], o["cx"], o["cy"], o["r"], o["angle"], w, h, ss)
        alphas.append(a)
        if not a.any():
            continue
        col = np.broadcast_to(o["rgb"], img.shape).copy()
        d, k = o["shade"]
        if k > 0:
            if yy is None:
                yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            t = ((xx - o["cx"]) * math.cos(d) + (yy - o["cy"]) * math.sin(d)) / max(o["r"], 1.0)
            col = col * (1.0 + k * np.clip(t, -1, 1) * 0.5)[..., None]
        if o["outline"]:
            # A darker rim: coverage of an eroded copy marks the interior.
            inner = draw_alpha(o["shape"], o["cx"], o["cy"], max(o["r"] - 2.0, 0.5), o["angle"], w, h, ss)
            rim = np.clip(a - inner, 0, 1)[..., None]
            col = col * (1 - 0.5 * rim)
        img = img * (1 - a[..., None]) + col * a[..., None]
    # Visible coverage: own alpha times what the shapes above let through.
    masks, full = [], []
    through = np.ones((h, w), dtype=np.float32)
    for a in reversed(alphas):
        masks.append((a * through) >= 0.5)
        full.append(int((a >= 0.5).sum()))
        through = through * (1 - a)
    masks.reverse()
    full.reverse()
    sigma = noise if noise is not None else rng.uniform(1.0, 7.0)
    img = img + rng.standard_normal(img.shape).astype(np.float32) * sigma
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), masks, full


# ---------------------------------------------------------------------------------------
# Still scenes
# ---------------------------------------------------------------------------------------

def sample_image(rng, w=224, h=224, n_range=(1, 8), objects=None):
    """One still scene. `objects` (optional): list of (shape, color) to place."""
    bg = sample_background(rng, w, h)
    if objects is None:
        n = int(rng.integers(n_range[0], n_range[1] + 1))
        # Repeats of a category are common (several red circles): draw from a small palette.
        palette = [(SHAPES[int(rng.integers(len(SHAPES)))], COLOR_NAMES[int(rng.integers(len(COLOR_NAMES)))])
                   for _ in range(int(rng.integers(1, 5)))]
        objects = []
        for _ in range(n):
            if rng.random() < 0.5:
                objects.append(palette[int(rng.integers(len(palette)))])
            else:
                objects.append((None, None))
    objs = []
    for i, (s, c) in enumerate(objects):
        o = new_object(rng, i + 1, w, h, shape=s, color=c)
        # Avoid piling everything: a few tries for a spot with little overlap.
        for _ in range(6):
            if all(math.hypot(o["cx"] - p["cx"], o["cy"] - p["cy"]) > 0.8 * (o["r"] + p["r"]) for p in objs):
                break
            o["cx"] = float(rng.uniform(0.08, 0.92) * w)
            o["cy"] = float(rng.uniform(0.08, 0.92) * h)
        objs.append(_finish_object(rng, o))
    image, masks, full = render(bg, objs, rng)
    out = []
    for o, m, f in zip(objs, masks, full):
        area = int(m.sum())
        if area < MIN_VISIBLE_PIXELS:
            continue
        out.append({"id": o["id"], "shape": o["shape"], "color": o["color"], "mask": m,
                    "box": _bbox_of(m), "area": area, "full_area": f})
    return {"image": image, "objects": out}


# ---------------------------------------------------------------------------------------
# Clips
# ---------------------------------------------------------------------------------------

def _stage(rng, w, h, T, kind, next_id):
    """Objects with trajectories for one staged event. Each: object dict + per-frame (cx, cy, angle)."""
    side = min(w, h)
    objs = []
    if kind == "cross":
        # Two objects (often of the same category) swap sides, crossing mid-clip.
        same = rng.random() < 0.5
        a = new_object(rng, next_id, w, h)
        b = new_object(rng, next_id + 1, w, h, shape=a["shape"] if same else None,
                       color=a["color"] if same else None, radius=a["r"] * rng.uniform(0.8, 1.25))
        mx, my = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        ang = rng.uniform(0, 2 * math.pi)
        dist = rng.uniform(0.25, 0.45) * side
        tc = rng.uniform(0.35, 0.65) * (T - 1)
        speed = dist / max(tc, 1.0)
        for o, sgn, off in ((a, 1, rng.uniform(-0.3, 0.3)), (b, -1, rng.uniform(-0.3, 0.3))):
            d = ang + (0 if sgn > 0 else math.pi) + off
            o["path"] = [(mx - math.cos(d) * speed * (tc - t), my - math.sin(d) * speed * (tc - t))
                         for t in range(T)]
        objs = [a, b]
    elif kind == "occlude":
        # A big object passes over a small one that stays (almost) still: fully hidden mid-clip.
        small = new_object(rng, next_id, w, h, radius=side * rng.uniform(0.05, 0.08))
        big = new_object(rng, next_id + 1, w, h, radius=side * rng.uniform(0.17, 0.24))
        if big["shape"] in ("star", "cross", "triangle", "heart"):
            big["shape"] = ["circle", "square"][int(rng.integers(2))]
        sx, sy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        drift = rng.uniform(-0.4, 0.4, size=2)
        small["path"] = [(sx + drift[0] * t, sy + drift[1] * t) for t in range(T)]
        ang = rng.uniform(0, 2 * math.pi)
        tc = rng.uniform(0.35, 0.65) * (T - 1)
        speed = rng.uniform(0.25, 0.5) * side / max(tc, 1.0)
        big["path"] = [(sx + drift[0] * tc + math.cos(ang) * speed * (t - tc),
                        sy + drift[1] * tc + math.sin(ang) * speed * (t - tc)) for t in range(T)]
        big["angle"] = 0.0
        objs = [small, big]  # big is drawn on top
    elif kind == "enter_exit":
        o = new_object(rng, next_id, w, h)
        # From outside one edge to the other side (or out).
        edge = int(rng.integers(4))
        r = o["r"]
        if edge == 0:
            p0 = (-r * 1.2, rng.uniform(0.2, 0.8) * h)
        elif edge == 1:
            p0 = (w + r * 1.2, rng.uniform(0.2, 0.8) * h)
        elif edge == 2:
            p0 = (rng.uniform(0.2, 0.8) * w, -r * 1.2)
        else:
            p0 = (rng.uniform(0.2, 0.8) * w, h + r * 1.2)
        target = (rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h)
        v = np.array(target) - np.array(p0)
        v = v / (np.linalg.norm(v) + 1e-6) * rng.uniform(0.02, 0.05) * side
        if rng.random() < 0.5:
            o["path"] = [(p0[0] + v[0] * t, p0[1] + v[1] * t) for t in range(T)]
        else:  # reversed: leaves the frame
            o["path"] = [(p0[0] + v[0] * (T - 1 - t), p0[1] + v[1] * (T - 1 - t)) for t in range(T)]
        objs = [o]
    else:  # "wander": straight motion with bounces
        o = new_object(rng, next_id, w, h)
        v = rng.standard_normal(2) * rng.uniform(0.0, 0.03) * side
        x, y = o["cx"], o["cy"]
        path = []
        for t in range(T):
            path.append((x, y))
            x, y = x + v[0], y + v[1]
            if x < 0.05 * w or x > 0.95 * w:
                v[0] = -v[0]
            if y < 0.05 * h or y > 0.95 * h:
                v[1] = -v[1]
        o["path"] = path
        objs = [o]
    for o in objs:
        spin = rng.uniform(-0.08, 0.08) if o["shape"] != "heart" else 0.0
        o["spin"] = float(spin)
    return objs


def sample_clip(rng, T=8, w=224, h=224, kinds=None, n_extra=None, one_look=False, pace=None):
    """A clip of T frames. `kinds`: staged events (default: a random mix). `one_look`: every
    object gets the first one's colour and shape, so that only where an object was tells it
    from the others (what a tracker's memory is for). `pace`: the events are staged over that
    many frames (> T) and the clip is a random window of T of them, so that a short clip moves
    as fast as a `pace`-frame one (crossings and occlusions take a share of the clip's length:
    an 8-frame clip alone moves them three times as fast as a 24-frame one)."""
    if kinds is None:
        pool = ["cross", "occlude", "enter_exit", "wander"]
        kinds = [pool[int(rng.integers(len(pool)))] for _ in range(int(rng.integers(1, 3)))]
    if n_extra is None:
        n_extra = int(rng.integers(0, 3))
    kinds = list(kinds) + ["wander"] * n_extra
    bg = sample_background(rng, w, h)
    span = max(T, pace or T)
    objs = []
    for kind in kinds:
        objs += _stage(rng, w, h, span, kind, len(objs) + 1)
    first = int(rng.integers(span - T + 1)) if span > T else 0
    if one_look:
        for o in objs[1:]:
            o["shape"], o["color"] = objs[0]["shape"], objs[0]["color"]
    for o in objs:
        _finish_object(rng, o)
    # Draw order: staged occluders keep their place above what they occlude; otherwise random
    # layers, fixed for the clip.
    sigma = rng.uniform(1.0, 6.0)
    frames, masks, boxes = [], [], []
    visible = np.zeros((T, len(objs)), dtype=bool)
    a0 = [o["angle"] for o in objs]
    for t in range(T):
        for k, o in enumerate(objs):
            o["cx"], o["cy"] = o["path"][first + t]
            o["angle"] = a0[k] + o["spin"] * (first + t)
        img, ms, _ = render(bg, objs, rng, noise=sigma)
        frames.append(img)
        masks.append(ms)
        row = []
        for k, m in enumerate(ms):
            if m.sum() >= MIN_VISIBLE_PIXELS:
                visible[t, k] = True
                row.append(_bbox_of(m))
            else:
                masks[t][k] = np.zeros_like(m)
                row.append(None)
        boxes.append(row)
    tracks = [{"id": o["id"], "shape": o["shape"], "color": o["color"]} for o in objs]
    return {"frames": frames, "tracks": tracks, "masks": masks, "boxes": boxes, "visible": visible,
            "scenario": kinds}


def clip_frame_objects(clip, t):
    """The visible objects of frame t in the still-scene layout."""
    out = []
    for k, tr in enumerate(clip["tracks"]):
        if clip["visible"][t, k]:
            m = clip["masks"][t][k]
            out.append({"id": tr["id"], "shape": tr["shape"], "color": tr["color"], "mask": m,
                        "box": clip["boxes"][t][k], "area": int(m.sum()), "full_area": int(m.sum())})
    return out


def _main():
    import argparse
    import os
    p = argparse.ArgumentParser(description="Write a few generated scenes and a clip as PNG files.")
    p.add_argument("out_dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", type=int, default=6)
    p.add_argument("--frames", type=int, default=16)
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for i in range(a.images):
        s = sample_image(rng)
        Image.fromarray(s["image"]).save(os.path.join(a.out_dir, "scene%02d.png" % i))
        print("scene%02d:" % i, ", ".join("#%d %s %s (%d px)" % (o["id"], o["color"], o["shape"], o["area"])
                                          for o in s["objects"]))
    c = sample_clip(rng, a.frames)
    for t, f in enumerate(c["frames"]):
        Image.fromarray(f).save(os.path.join(a.out_dir, "clip_%02d.png" % t))
    print("clip:", c["scenario"], [(tr["id"], tr["color"], tr["shape"]) for tr in c["tracks"]])
    print(c["visible"].astype(int))


if __name__ == "__main__":
    _main()
