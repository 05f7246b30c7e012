#!/usr/bin/env python3
"""The video loop's and the tracker's speed, ours against transformers, in one run.

    .venv/bin/python bench/compare_video.py [--preset tiny|full] [--model DIR] [--threads N]
        [--frames N] [--objects 1,2,4] [--loop-threshold T | --loop-objects K]
        [--precision fp32|bf16] [--tables abc] [--build DIR]

Both sides get the same seeded weights (a sam3_video folder from sam3-make-test-model: preset
tiny is its reference-video, the smallest one transformers loads; or --model), the same thread
count and, for the loop, the same clip, prompt and loop settings.

(a) Video loop. A generated 1280x720 clip of coloured shapes (tools/shapes/scenes.py, drawn at
    320x180 and scaled up) with the text prompt of one of its objects runs through
      ours:         filesrc ! rawvideoparse (RGB) ! sam3detect ! sam3track ! sam3export masks=true
                    ! fakesink (tools/shapes/eval.py's GstVideo pipeline), timed from GStreamer's
                    debug log of the pads' chain calls: a frame is the interval between two frames
                    entering sam3detect (one streaming thread, so the next frame comes only once the
                    last is through), which leaves out the model load;
      transformers: Sam3VideoModel.propagate_in_video_iterator over the whole clip (eval.py's
                    TransformersVideo: the official prompt composition, its stand-ins for the
                    `kernels` package's mask NMS and hole filling), pre-processing included (the
                    clip resized to the network's input as one batch) and Sam3VideoProcessor's
                    post-processing (masks to 1280x720) of each frame.
    Random weights score everything about 0.1, so --loop-threshold sets the loop's detection and
    new-object thresholds (score_threshold_detection, new_det_thresh) in a copy of the folder's
    config.json that both sides read; the tables say how many objects each side showed. At full
    size the 200 queries of generated weights score within a hair of each other, so any fixed
    threshold passes none or nearly all (and transformers' mask NMS over 200 masks of 288x288
    asks for 26 GB): --loop-objects K takes the highest threshold that lets K of frame 0's
    queries through on both sides (threshold_for) and makes the clip still (frame 0 repeated),
    since the scores of generated weights drift from frame to frame by more than they spread
    within one. --precision bf16 runs both sides' weights and activations in bfloat16
    (sam3detect precision=bf16).
(b) Tracker, per object: ours is build/bench/bench_tracker --model DIR --csv (propagate, then
    encode the memories of N objects, features from random ViT outputs); transformers' is the
    folder's Sam3TrackerVideoModel (Sam3VideoModel.tracker_model) on the same kind of features,
    the N objects given by boxes on frame 0, one forward per frame (propagation object by object,
    memory encoding batched). Both time frames after the memory bank is full.
(c) Our pipeline outside the network: the per-element median times of (a), and the same clip run
    again at the network's input size (frames resized as our pre-processing resizes them, so the
    network sees the same input): the difference is what the 1280x720 frame itself costs
    (conversion, resize, masks to the frame, their run-length encoding).

Medians throughout (the machine may be shared); ratios are transformers / ours (> 1: ours is
faster) from the same run.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "shapes"))
import eval as shapes_eval  # noqa: E402  (the loop on both sides, as the shapes evaluation runs it)
import scenes  # noqa: E402
import shapes_model as sm  # noqa: E402

PRESETS = {"tiny": "reference-video", "full": "full-video"}
CLIP_SEED = 20261207
W, H = 1280, 720


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--model", help="sam3_video folder (default: generated for --preset, seed 0)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--frames", type=int, default=24, help="frames of the clip (a)")
    p.add_argument("--objects", default="1,2,4", help="object counts of the tracker table (b)")
    p.add_argument("--tracker-frames", type=int, default=10, help="timed frames per count (b)")
    p.add_argument("--tracker-warmup", type=int, default=16,
                   help="frames before timing (b): enough to fill the memory bank and pointers")
    p.add_argument("--loop-threshold", type=float,
                   help="detection and new-object threshold of the loop (default: 0.11 for "
                        "generated weights, the folder's own for --model)")
    p.add_argument("--loop-objects", type=int,
                   help="instead of --loop-threshold: the threshold that lets this many of frame "
                        "0's queries through, on a still clip (frame 0 repeated) so that it holds "
                        "on every frame")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="both sides' weights and activations (the loop, table a)")
    p.add_argument("--tables", default="abc", help="which tables to run: any of a, b, c")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    return p.parse_args()


def source_folder(args, tmp):
    """--model, or a folder generated for --preset."""
    if args.model:
        return os.path.abspath(args.model)
    source = os.path.join(tmp, "generated")
    subprocess.run([os.path.join(args.build, "tools", "sam3-make-test-model"), "--preset",
                    PRESETS[args.preset], "--seed", "0", source], check=True,
                   stdout=subprocess.DEVNULL)
    return source


@torch.no_grad()
def threshold_for(source, dtype, frame, prompt, objects):
    """The highest threshold that lets at least `objects` of frame 0's queries through on both
    sides (the loop's score, query x presence, official prompt composition; halfway between two
    scores). In bf16 the sides differ: transformers multiplies the two sigmoids in bf16 (scores a
    step of 0.002 apart at 0.3), ours in fp32 from the bf16 logits; and transformers compares its
    bf16 scores with the threshold rounded to bf16, which can round it up to the score itself."""
    from transformers import CLIPTokenizer
    model = load_transformers(source, dtype)
    det = model.detector_model
    tokens = CLIPTokenizer.from_pretrained(source)([prompt], padding="max_length",
                                                   max_length=sm.CONTEXT_LENGTH, truncation=True,
                                                   return_tensors="pt")
    _, fpn, pos = sm.vision_features(model, sm.preprocess(frame, model.tracker_model.image_size)
                                     .to(dtype))
    text, mask = sm.encode_text(det, tokens["input_ids"], tokens["attention_mask"])
    out = sm.detect(det, fpn, pos, text, mask)
    logits, presence = out["logits"][-1].flatten(), out["presence"][-1].flatten()
    theirs = (logits.sigmoid() * presence.sigmoid()).float()
    ours = logits.float().sigmoid() * presence.float().sigmoid()
    ranked = torch.cat([theirs, ours]).unique().sort(descending=True).values
    for high, low in zip(ranked[:-1].tolist(), ranked[1:].tolist()):
        t = (high + low) / 2
        as_theirs = float(torch.tensor(t, dtype=dtype))
        if min(int((theirs > as_theirs).sum()), int((ours > t).sum())) >= objects:
            return t
    raise SystemExit("frame 0 has fewer than %d queries" % objects)


def model_folder(source, tmp, threshold):
    """The folder both sides load: `source` with the loop thresholds set (none: as it is)."""
    if threshold is None:
        return source
    folder = os.path.join(tmp, "model")
    os.makedirs(folder)
    for name in os.listdir(source):
        if name != "config.json":
            os.symlink(os.path.abspath(os.path.join(source, name)), os.path.join(folder, name))
    with open(os.path.join(source, "config.json")) as f:
        config = json.load(f)
    config["score_threshold_detection"] = config["new_det_thresh"] = threshold
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    return folder


def make_clip(frames):
    """scenes.sample_clip drawn at a quarter of 1280x720 (drawing at full size takes half a
    second a frame) and scaled up; the prompt names its first object."""
    clip = scenes.sample_clip(np.random.default_rng(CLIP_SEED), frames, w=W // 4, h=H // 4)
    big = [np.asarray(Image.fromarray(f).resize((W, H), Image.BILINEAR)) for f in clip["frames"]]
    return {"frames": big}, scenes.category(clip["tracks"][0])


def load_transformers(model_dir, dtype=torch.float32):
    model, _ = sm.load_release(model_dir, dtype)
    # The low-resolution masks are the tracker's 4 x grid, as ours are (the config field is the
    # release's 288 whatever the model's size).
    model.low_res_mask_size = model.tracker_model.prompt_encoder.mask_input_size[0]
    return model


class Stopwatch:
    """Durations (ms) of every call of wrapped functions, by label."""

    def __init__(self):
        self.ms = {}

    def wrap(self, owner, name, label):
        inner = getattr(owner, name)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.ms.setdefault(label, []).append((time.perf_counter() - t0) * 1000)

        setattr(owner, name, timed)

    def total(self, label):
        return sum(self.ms.get(label, []))


def transformers_video(model, model_dir, clip, prompt, dtype):
    from transformers import CLIPTokenizer
    import transformers.models.sam3_video.modeling_sam3_video as mv
    video = shapes_eval.TransformersVideo(model, CLIPTokenizer.from_pretrained(model_dir),
                                          use_cls=True, dtype=dtype)
    watch = Stopwatch()
    watch.wrap(sm, "preprocess", "preprocess")
    watch.wrap(model, "forward", "frame")
    watch.wrap(video.processor, "postprocess_outputs", "postprocess")
    watch.wrap(mv.cv_utils_kernel, "generic_nms", "stand-ins")
    watch.wrap(mv.cv_utils_kernel, "cc_2d", "stand-ins")
    # The detector's share of the loop, to set beside sam3detect's (the rest is the tracker's).
    watch.wrap(model.detector_model.vision_encoder, "forward", "vision")
    watch.wrap(model.detector_model, "forward", "heads")
    frames = video(clip, [prompt])
    n = len(clip["frames"])
    post = statistics.median(watch.ms["postprocess"])
    return {
        "median": statistics.median(watch.ms["frame"]) + post + watch.total("preprocess") / n,
        "mean": (watch.total("frame") + watch.total("postprocess") + watch.total("preprocess")) / n,
        "preprocess": watch.total("preprocess") / n,
        "loop": statistics.median(watch.ms["frame"]),
        "postprocess": post,
        "stand-ins": watch.total("stand-ins") / n,
        "detector": (watch.total("vision") + watch.total("heads")) / n,
        "objects": sum(1 for f in frames for _, m in f if m.any()) / n,
    }


CHAIN = re.compile(r"^(\d+):(\d+):(\d+)\.(\d+) .*gst_pad_chain_data_unchecked:<(\w+?)\d*:sink> "
                   r"(calling|called) chainfunction", re.M)


def element_times(log):
    """Per element, the time (ms) of each of its chain calls, less the downstream chains it
    called (one streaming thread: calls nest), from GST_SCHEDULING's debug log; and the start
    times (ms) of the first element's chain calls, one per frame."""
    stack, times, starts, first = [], {}, [], None
    for h, m, sec, ns, element, what in CHAIN.findall(log):
        t = ((int(h) * 60 + int(m)) * 60 + int(sec)) * 1e3 + int(ns) / 1e6
        if what == "calling":
            first = first or element
            if element == first:
                starts.append(t)
            stack.append([element, t, 0.0])
        else:
            element, t0, nested = stack.pop()
            times.setdefault(element, []).append(t - t0 - nested)
            if stack:
                stack[-1][2] += t - t0
    return times, starts


def ours_video(model_dir, build, threads, frames, prompt, tmp, tag, precision):
    """Our pipeline over `frames` (T, h, w, 3) uint8 from raw RGB: per-frame and per-element
    medians (ms) from GStreamer's debug log, and the objects sam3export wrote per frame."""
    t, h, w, _ = frames.shape
    raw, out = os.path.join(tmp, tag + ".rgb"), os.path.join(tmp, tag + ".jsonl")
    frames.tofile(raw)
    gst = shapes_eval.GstVideo(model_dir, build, threads, tmp, precision)
    cmd = gst.command(["filesrc", "location=" + raw, "!", "rawvideoparse", "format=rgb",
                       "width=%d" % w, "height=%d" % h, "framerate=10/1"], [prompt], out)
    # The pads' chain calls carry timestamps, which time each element without instrumenting it.
    env = dict(gst.env, GST_DEBUG="GST_SCHEDULING:5", GST_DEBUG_NO_COLOR="1")
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), res.returncode,
                                                    res.stderr[-2000:]))
    times, starts = element_times(res.stderr)
    if len(starts) != t:
        raise RuntimeError("%s: %d frames out of %d" % (" ".join(cmd), len(starts), t))
    with open(out) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    shown = [sum(1 for inst in line["instances"]
                 if "mask" in inst and shapes_eval.decode_mask(inst["mask"], w, h).any())
             for line in lines]
    return {
        # A frame leaves the source once the last one is through: the interval is all its work.
        "median": statistics.median(np.diff(starts)),
        "mean": (starts[-1] - starts[0]) / (t - 1),
        "elements": {k: statistics.median(v) for k, v in times.items()},
        "objects": sum(shown) / len(shown),
    }


def network_size_clip(frames, size):
    """The clip resized as our pre-processing resizes a frame (antialiased bilinear), in uint8."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def random_vit(model):
    """A frame's ViT output of the model's shape: what the tracker's neck takes."""
    vit = model.config.detector_config.vision_config.backbone_config
    grid = vit.image_size // vit.patch_size
    return SimpleNamespace(last_hidden_state=torch.randn(1, grid, grid, vit.hidden_size))


@torch.no_grad()
def transformers_tracker(model, objects, warmup, frames):
    """Median ms of Sam3TrackerVideoModel's forward per frame (propagate + memory encoding) with
    `objects` objects given by boxes on frame 0."""
    from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import (
        Sam3TrackerVideoInferenceSession,
    )
    tracker = model.tracker_model
    size = tracker.image_size
    count = warmup + frames + 1
    session = Sam3TrackerVideoInferenceSession(video=torch.zeros(count, 3, size, size),
                                               video_height=size, video_width=size,
                                               dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    for obj_id in range(objects):
        obj_idx = session.obj_id_to_idx(obj_id)
        x0, y0 = (torch.rand(2, generator=g) * size * 0.6).tolist()
        box = torch.tensor([x0, y0, x0 + size * 0.3, y0 + size * 0.3])
        session.add_point_inputs(obj_idx, 0, {"point_coords": box.view(1, 1, 2, 2),
                                              "point_labels": torch.tensor([[[2, 3]]])})
    session.obj_with_new_inputs = list(range(objects))
    times = []
    for f in range(count):
        feats, pos = model.get_vision_features_for_tracker(random_vit(model))
        session.cache.cache_vision_features(f, {"vision_feats": feats, "vision_pos_embeds": pos})
        t0 = time.perf_counter()
        tracker(inference_session=session, frame_idx=f)
        if f > warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def ours_tracker(build, model_dir, threads, counts, warmup, frames):
    env = dict(os.environ, SAM3_THREADS=str(threads))
    out = subprocess.run([os.path.join(build, "bench", "bench_tracker"), "--model", model_dir,
                          "--objects", ",".join(map(str, counts)), "--warmup", str(warmup),
                          "--frames", str(frames), "--csv"],
                         env=env, check=True, capture_output=True, text=True).stdout
    return {int(n): float(total) for n, _, _, total in (line.split(",") for line in out.split())}


def slope(counts, ms):
    """Least-squares ms per additional object."""
    return float(np.polyfit(counts, ms, 1)[0]) if len(counts) > 1 else float("nan")


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    counts = [int(n) for n in args.objects.split(",")]
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.precision]
    if "b" in args.tables and args.precision != "fp32":
        raise SystemExit("table (b) runs in fp32 only: --tables ac with --precision bf16")
    with tempfile.TemporaryDirectory(prefix="sam3-compare-video-") as tmp:
        source = source_folder(args, tmp)
        clip, prompt = make_clip(args.frames)
        threshold = args.loop_threshold
        if args.loop_objects:
            clip["frames"] = [clip["frames"][0]] * args.frames
            threshold = threshold_for(source, dtype, clip["frames"][0], prompt, args.loop_objects)
        elif threshold is None and not args.model:
            threshold = 0.11
        frames = np.stack(clip["frames"])
        model_dir = model_folder(source, tmp, threshold)
        model = load_transformers(model_dir, dtype)
        size = model.tracker_model.image_size

        if "a" in args.tables or "c" in args.tables:
            theirs_video = transformers_video(model, model_dir, clip, prompt, dtype)
            ours_full = ours_video(model_dir, args.build, args.threads, frames, prompt, tmp, "full",
                                   args.precision)
        if "c" in args.tables:
            ours_small = ours_video(model_dir, args.build, args.threads,
                                    network_size_clip(frames, size), prompt, tmp, "small",
                                    args.precision)
        if "b" in args.tables:
            # A fresh model for the tracker: the loop above wrapped the video model's methods.
            model = load_transformers(model_dir)
            # As the loop has it: models whose memory is as wide as the tracker need it.
            shapes_eval.flat_pointers(model.tracker_model)
            theirs_tracker = {n: transformers_tracker(model, n, args.tracker_warmup,
                                                      args.tracker_frames) for n in counts}
            ours_trk = ours_tracker(args.build, model_dir, args.threads, counts,
                                    args.tracker_warmup, args.tracker_frames)

    import transformers
    name = args.model or "preset " + args.preset
    print(f"SAM 3 video, {name} (network input {size}x{size}), cpu {args.precision}, "
          f"{args.threads} threads; torch {torch.__version__}, transformers "
          f"{transformers.__version__}" + (f"; loop threshold {threshold:.6g}" if threshold else ""))
    if "a" in args.tables:
        print()
        print(f"(a) Video loop, {args.frames} frames of {W}x{H}"
              + (" (still: frame 0 repeated)" if args.loop_objects else "")
              + f", prompt \"{prompt}\", ms per frame (median; mean: first to last frame)")
        print()
        print("| per frame | ours ms | transformers ms | transformers / ours |")
        print("|---|---|---|---|")
        for label, key in (("median", "median"), ("mean", "mean")):
            mine, ref = ours_full[key], theirs_video[key]
            print(f"| {label} | {mine:.2f} | {ref:.2f} | {ref / mine:.2f}x |")
        print(f"| frames per second (median) | {1000 / ours_full['median']:.3g} | "
              f"{1000 / theirs_video['median']:.3g} | |")
        print(f"| objects shown per frame | {ours_full['objects']:.2f} | "
              f"{theirs_video['objects']:.2f} | |")
        print()
        print(f"transformers' frame: pre-processing {theirs_video['preprocess']:.2f} ms (the clip "
              f"as one batch, per frame) + the loop {theirs_video['loop']:.2f} ms (of which "
              f"eval.py's stand-ins for `kernels` {theirs_video['stand-ins']:.2f} ms, mean) + "
              f"post-processing to {W}x{H} {theirs_video['postprocess']:.2f} ms; of the loop, the "
              f"detector (vision encoder and heads) {theirs_video['detector']:.2f} ms (mean)")
        elements = ours_full["elements"]
        print(f"ours' frame (medians): sam3detect {elements['sam3detect']:.2f} ms, sam3track "
              f"{elements['sam3track']:.2f} ms, sam3export {elements['sam3export']:.2f} ms")
    if "b" in args.tables:
        print()
        print(f"(b) Tracker, ms per frame (propagate + memory encoding, median of "
              f"{args.tracker_frames} frames after {args.tracker_warmup})")
        print()
        print("| objects | ours ms | transformers ms | transformers / ours |")
        print("|---|---|---|---|")
        for n in counts:
            print(f"| {n} | {ours_trk[n]:.2f} | {theirs_tracker[n]:.2f} | "
                  f"{theirs_tracker[n] / ours_trk[n]:.2f}x |")
        mine = slope(counts, [ours_trk[n] for n in counts])
        ref = slope(counts, [theirs_tracker[n] for n in counts])
        print(f"| per object (slope) | {mine:.2f} | {ref:.2f} | {ref / mine:.2f}x |")
    if "c" in args.tables:
        print()
        print(f"(c) Our pipeline by element, ms per frame (median), the clip at {W}x{H} and at "
              f"the network's {size}x{size}")
        print()
        print(f"| element | {W}x{H} ms | {size}x{size} ms | cost of the {W}x{H} frame ms |")
        print("|---|---|---|---|")
        for element in ("sam3detect", "sam3track", "sam3export"):
            big, small = ours_full["elements"][element], ours_small["elements"][element]
            print(f"| {element} | {big:.2f} | {small:.2f} | {big - small:.2f} |")
        big, small = ours_full["median"], ours_small["median"]
        print(f"| frame | {big:.2f} | {small:.2f} | "
              f"{big - small:.2f} ({100 * (big - small) / big:.0f}%) |")
        print(f"| objects shown per frame | {ours_full['objects']:.2f} | "
              f"{ours_small['objects']:.2f} | |")


if __name__ == "__main__":
    main()
