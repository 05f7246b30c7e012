#!/usr/bin/env python3
"""Evaluate a shapes model folder, through transformers or through our C++ (one parity story).

    .venv/bin/python tools/shapes/eval.py models/sam3-shapes [--images 100] [--clips 20] [--json OUT]
    .venv/bin/python tools/shapes/eval.py models/sam3-shapes --backend cpp --build build [...]

--backend transformers (default) runs the model in PyTorch (transformers' modules, the official
prompt composition of shapes_model.py); --backend cpp runs the same scenes and prompts through the
built programs: the detector through tools/sam3-image (--masks), the clips through the GStreamer
elements (sam3detect ! sam3track ! sam3export, GST_PLUGIN_PATH=BUILD/gst). Both write the same
JSON keys from the same seeded scenes, so two runs compare line by line; "postprocess" says what
filters the kept detections (a score threshold only: neither side applies NMS to still images).

Detector, on generated scenes of a seed no training step uses:
  - per concept ("red circle", "circle", ...): precision and recall of the kept detections
    (score = sigmoid(logit) * sigmoid(presence) > --threshold, as the runtime keeps them) against
    the ground-truth instances at mask IoU >= 0.5, and the mean mask IoU of the matched pairs;
  - absent concepts (no instance in the image): the share of prompts with any detection (false
    positive rate) and false detections per prompt;
  - exemplar prompts: "visual" + one positive box (find its category), text + a negative box.
  Prompts use the official composition (text + geometry CLS); --no-cls runs transformers'
  text-only composition instead (transformers backend only: the C++ composes officially).
Video ("video"), on generated clips, both backends: the product's text-prompted loop (detector +
tracker + association with the model's config defaults) prompted with the colour+shape concept of
each object visible on frame 0 -- transformers' Sam3VideoModel.propagate_in_video_iterator, or the
GStreamer pipeline. Per frame its instances are matched to the ground-truth objects of those
concepts at mask IoU >= 0.5 (greedy by IoU); reported: mean IoU of matched object-frames, recall of
visible object-frames, id switches per 100 visible object-frames (the track id matched to an object
changes), tracks kept through a hidden span (same id on the last visible frame before and the first
after), unmatched instances per frame, and instances with an empty mask per frame (left out of the
rest: transformers' post-processing drops them, the elements pass them on).
Tracker ("tracker", transformers backend only), on the same clips (crossing, full occlusion,
entering/leaving): objects visible on frame 0 are given by their ground-truth masks (the
runtime's path for detector-born objects) and propagated with the memory bank; reported: mean
mask IoU on visible frames, id switches per 100 visible object-frames (the track best overlapping
an object at IoU >= 0.5 changes), objects recovered after a full occlusion, and ghost masks on
frames where the object is not visible.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from types import SimpleNamespace

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import scenes  # noqa: E402
import shapes_model as sm  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="model folder (config.json, model.safetensors, vocab.json, merges.txt)")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--clips", type=int, default=20)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--seed", type=int, default=20261206)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--no-cls", action="store_true", help="text-only prompts without the geometry CLS token")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (both backends: SAM3_THREADS for the C++)")
    p.add_argument("--backend", choices=("transformers", "cpp"), default="transformers")
    p.add_argument("--build", default=os.environ.get("SAM3_BUILD_ROOT", os.path.join(REPO, "build")),
                   help="meson build folder with tools/sam3-image and gst/libgstsam3.so (--backend cpp)")
    p.add_argument("--json", help="write the metrics here")
    return p.parse_args(argv)


def mask_iou(a, b):
    inter = np.logical_and(a, b).sum()
    union = np.logical_or(a, b).sum()
    return inter / union if union else 0.0


def match_greedy(pred_masks, gt_masks, thresh=0.5):
    """pred_masks sorted by score; returns (tp, fp, fn, matched IoUs)."""
    used = set()
    ious = []
    tp = 0
    for pm in pred_masks:
        best, bj = 0.0, -1
        for j, gm in enumerate(gt_masks):
            if j in used:
                continue
            v = mask_iou(pm, gm)
            if v > best:
                best, bj = v, j
        if best >= thresh:
            used.add(bj)
            tp += 1
            ious.append(best)
    return tp, len(pred_masks) - tp, len(gt_masks) - tp, ious


class Detector:
    def __init__(self, model, tokenizer, threshold, use_cls=True):
        self.model = model
        self.det = model.detector_model
        self.tok = tokenizer
        self.threshold = threshold
        self.use_cls = use_cls
        self.text_cache = {}

    def text(self, t):
        if t not in self.text_cache:
            b = self.tok([t], padding="max_length", max_length=sm.CONTEXT_LENGTH, truncation=True, return_tensors="pt")
            self.text_cache[t] = sm.encode_text(self.det, b["input_ids"], b["attention_mask"])
        return self.text_cache[t]

    @torch.no_grad()
    def encode(self, image):
        _, fpn, pos = sm.vision_features(self.model, sm.preprocess(image))
        return fpn, pos, image.shape[:2]

    @torch.no_grad()
    def __call__(self, enc, text, boxes=()):
        """boxes: [((x0, y0, x1, y1) pixels, positive)] -> [(score, mask (H, W) bool)] kept, by score."""
        fpn, pos, (h, w) = enc
        tf, tm = self.text(text)
        if boxes:
            b = torch.tensor([[((x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h)
                               for (x0, y0, x1, y1), _ in boxes]], dtype=torch.float32)
            lab = torch.tensor([[1 if pos_ else 0 for _, pos_ in boxes]])
            out = sm.detect(self.det, fpn, pos, tf, tm, b, lab)
        else:
            out = sm.detect(self.det, fpn, pos, tf, tm, use_cls=self.use_cls)
        scores = out["logits"][-1, 0].sigmoid() * out["presence"][-1, 0].sigmoid()
        keep = torch.nonzero(scores > self.threshold).flatten()
        keep = keep[scores[keep].argsort(descending=True)]
        if len(keep) == 0:
            return []
        m = F.interpolate(out["masks"][0, keep][:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        return [(float(scores[k]), (m[i] > 0).numpy()) for i, k in enumerate(keep)]

    def run_all(self, jobs):
        """jobs: [(image, [(text, boxes)])] -> per job, per request, [(score, mask)] best first."""
        out = []
        for image, requests in jobs:
            enc = self.encode(image)
            out.append([self(enc, text, list(boxes)) for text, boxes in requests])
        return out


class CppDetector:
    """The same requests through tools/sam3-image, all images in one run (--requests): each
    prompt with its own boxes, one model load."""

    def __init__(self, model_dir, build, threshold, threads, workdir):
        self.program = os.path.join(build, "tools", "sam3-image")
        if not os.access(self.program, os.X_OK):
            raise SystemExit("%s: not built (ninja -C %s tools/sam3-image)" % (self.program, build))
        self.model_dir = model_dir
        self.threshold = threshold
        self.env = dict(os.environ, SAM3_THREADS=str(threads))
        self.workdir = workdir

    @staticmethod
    def prompt(text, boxes):
        p = {}
        # An exemplar-only prompt goes without text, so the runtime's own composition of it is what
        # is measured (ImagePredictor's kVisualPrompt, which scenes.VISUAL_PROMPT mirrors).
        if not (boxes and text == scenes.VISUAL_PROMPT):
            p["text"] = text
        if boxes:
            p["boxes"] = ";".join("%r,%r,%r,%r%s" % (float(x0), float(y0), float(x1 - x0), float(y1 - y0),
                                                     "" if positive else ",neg")
                                  for (x0, y0, x1, y1), positive in boxes)
        return p

    def run_all(self, jobs):
        """jobs: [(image, [(text, boxes)])] -> per job, per request, [(score, mask)] best first."""
        from PIL import Image
        doc = []
        for n, (image, requests) in enumerate(jobs):
            path = os.path.join(self.workdir, "scene%05d.png" % n)
            Image.fromarray(image).save(path)
            doc.append({"image": path, "prompts": [self.prompt(t, b) for t, b in requests]})
        req_path = os.path.join(self.workdir, "requests.json")
        with open(req_path, "w") as f:
            json.dump(doc, f)
        cmd = [self.program, "--model", self.model_dir, "--threshold", repr(self.threshold), "--masks",
               "--json", "-", "--requests", req_path]
        out = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), out.returncode, out.stderr))
        results = []
        for image, (_, requests) in zip(json.loads(out.stdout), jobs):
            res = [[] for _ in requests]
            for inst in image["instances"]:  # best first
                mask = decode_mask(inst["mask"], image["width"], image["height"])
                res[inst["prompt_index"]].append((inst["score"], mask))
            results.append(res)
        return results


def decode_mask(mask, width, height):
    """sam3export's "rle-binary" mask (docs/metadata.md) -> (height, width) bool on the frame: the
    mask's samples stretched over its rectangle, each frame pixel centre picking one sample."""
    mw, mh = mask["width"], mask["height"]
    counts = np.asarray(mask["counts"], dtype=np.int64)
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    samples = np.repeat(values, counts).reshape(mh, mw)
    r = mask["rect"]
    out = np.zeros((height, width), dtype=bool)
    if not (mw and mh and r["w"] > 0 and r["h"] > 0):
        return out
    cx = (np.arange(width) + 0.5 - r["x"]) * mw / r["w"]
    cy = (np.arange(height) + 0.5 - r["y"]) * mh / r["h"]
    okx, oky = (cx >= 0) & (cx < mw), (cy >= 0) & (cy < mh)
    xs, ys = np.floor(cx[okx]).astype(np.int64), np.floor(cy[oky]).astype(np.int64)
    out[np.ix_(oky, okx)] = samples[np.ix_(ys, xs)]
    return out


def eval_detector(detector, args):
    per = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "ious": []})
    absent = {"prompts": 0, "with_fp": 0, "fp": 0}
    ex = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "ious": []})

    def add(d, preds, gts):
        tp, fp, fn, ious = match_greedy([m for _, m in preds], gts)
        d["tp"] += tp
        d["fp"] += fp
        d["fn"] += fn
        d["ious"] += ious

    # Every prompt is drawn before any runs, so a backend can run them all together; the draws are
    # those of the sequential version (same scenes, same prompts).
    drawn = []
    for i in range(args.images):
        rng = np.random.default_rng([args.seed, 1, i])
        s = scenes.sample_image(rng)
        objs = s["objects"]
        present = set()
        for o in objs:
            present.add("%s %s" % (o["color"], o["shape"]))
            present.add(o["shape"])
        requests = [(c, ()) for c in sorted(present)]
        # absent concepts: 3 near misses + 1 random
        pool = [c for c in scenes.all_concepts(with_color_only=False) if not any(scenes.matches(c, o) for o in objs)]
        near = [c for c in pool if any(w in c.split() for o in objs for w in (o["color"], o["shape"]))]
        chosen = [str(c) for c in list(rng.permutation(near)[:3]) + list(rng.permutation(pool)[:1])]
        requests += [(c, ()) for c in chosen]
        # exemplars
        o = same_shape = visual = negative = None
        if objs:
            o = objs[int(rng.integers(len(objs)))]
            visual = len(requests)
            requests.append((scenes.VISUAL_PROMPT, ((o["box"], True),)))
            same_shape = [x for x in objs if x["shape"] == o["shape"]]
            if len({scenes.category(x) for x in same_shape}) > 1:
                negative = len(requests)
                requests.append((o["shape"], ((o["box"], False),)))
        drawn.append((s, requests, present, chosen, o, same_shape, visual, negative))

    all_results = detector.run_all([(d[0]["image"], d[1]) for d in drawn])
    for (s, requests, present, chosen, o, same_shape, visual, negative), results in zip(drawn, all_results):
        objs = s["objects"]
        for c in sorted(present):
            gts = [x["mask"] for x in objs if scenes.matches(c, x)]
            kind = "color+shape" if " " in c else "shape"
            for key in (c, "_all_" + kind):
                add(per[key], results[requests.index((c, ()))], gts)
        for c in chosen:
            preds = results[requests.index((c, ()))]
            absent["prompts"] += 1
            absent["fp"] += len(preds)
            absent["with_fp"] += bool(preds)
        if visual is not None:
            gts = [x["mask"] for x in objs if scenes.category(x) == scenes.category(o)]
            add(ex["visual+positive box"], results[visual], gts)
        if negative is not None:
            gts = [x["mask"] for x in same_shape if scenes.category(x) != scenes.category(o)]
            add(ex["shape+negative box"], results[negative], gts)

    def summary(d):
        p = d["tp"] / max(d["tp"] + d["fp"], 1)
        r = d["tp"] / max(d["tp"] + d["fn"], 1)
        return {"precision": round(p, 4), "recall": round(r, 4),
                "mean_iou": round(float(np.mean(d["ious"])) if d["ious"] else 0.0, 4),
                "tp": d["tp"], "fp": d["fp"], "fn": d["fn"]}

    return {
        "per_concept": {k: summary(v) for k, v in sorted(per.items())},
        "absent": {"prompts": absent["prompts"],
                   "false_positive_rate": round(absent["with_fp"] / max(absent["prompts"], 1), 4),
                   "false_detections_per_prompt": round(absent["fp"] / max(absent["prompts"], 1), 4)},
        "exemplars": {k: summary(v) for k, v in ex.items()},
    }


@torch.no_grad()
def track_clip(model, clip, chosen):
    """Propagate the objects `chosen` (visible on frame 0, given by their GT masks) -> masks (T, N, H, W) bool."""
    trk = model.tracker_model
    T = len(clip["frames"])
    h, w = clip["frames"][0].shape[:2]
    N = len(chosen)
    g = sm.IMAGE_SIZE // sm.PATCH
    C = trk.hidden_dim
    x = sm.preprocess(np.stack(clip["frames"]))
    vit = model.detector_model.vision_encoder.backbone(x)
    feats, poss = sm.tracker_features(model, vit)
    out = np.zeros((T, N, h, w), dtype=bool)
    prev = []
    cond_mem = cond_ptr = None
    for t in range(T):
        f = [ff[:, t:t + 1].expand(-1, N, -1) for ff in feats]
        pos = poss[2][:, t:t + 1].expand(-1, N, -1)
        hr = [f[0].permute(1, 2, 0).reshape(N, -1, 4 * g, 4 * g), f[1].permute(1, 2, 0).reshape(N, -1, 2 * g, 2 * g)]
        if t == 0:
            m = torch.from_numpy(np.stack([clip["masks"][0][k] for k in chosen])).float()[:, None]
            m = F.interpolate(m, size=(4 * g, 4 * g), mode="area")
            m = (m >= 0.5).float()
            pix = f[2].permute(1, 2, 0).reshape(N, C, g, g)
            o = sm.mask_as_output(trk, pix, hr, m, sm.IMAGE_SIZE)
            cond_mem = sm.encode_memory(trk, f[2], o["high"], o["object_score"])
            cond_ptr = o["pointer"]
            low = o["low"]
            obj = o["object_score"]
        else:
            prev_mems = [(mm[0], mm[1], t - pt) for (pt, mm, _) in prev if t - pt < trk.num_maskmem]
            prev_ptrs = [(p, t - pt) for (pt, _, p) in prev if t - pt < 16]
            cond = sm.memory_condition(trk, f[2], pos, [cond_mem], prev_mems, [(cond_ptr, t)], prev_ptrs, g)
            masks, iou, tok, obj = sm.sam_heads(trk, cond, hr, multimask=True)
            low, token, _ = sm.select_best(masks, iou, tok)
            ptr = sm.object_pointer(trk, token, obj)
            low = torch.where(obj[:, :, None] > 0, low, torch.full_like(low, sm.NO_OBJ_SCORE))
            high = F.interpolate(low[:, None], size=(sm.IMAGE_SIZE, sm.IMAGE_SIZE), mode="bilinear", align_corners=False)
            prev.append((t, sm.encode_memory(trk, f[2], high, obj), ptr))
            prev = [p for p in prev if t - p[0] < 16]
        full = F.interpolate(low[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        out[t] = ((full > 0) & (obj.view(N, 1, 1) > 0)).numpy()
    return out


def eval_tracker(model, args):
    ious, visible_frames, switches, ghosts, absent_frames = [], 0, 0, 0, 0
    recovered, occlusions = 0, 0
    per_kind = defaultdict(lambda: [0, 0])  # switches, visible object-frames
    for i in range(args.clips):
        rng = np.random.default_rng([args.seed, 2, i])
        clip = scenes.sample_clip(rng, args.frames)
        chosen = list(np.flatnonzero(clip["visible"][0]))
        if not chosen:
            continue
        pred = track_clip(model, clip, chosen)
        vis = clip["visible"][:, chosen]
        gt = [[clip["masks"][t][k] for k in chosen] for t in range(len(clip["frames"]))]
        last = list(range(len(chosen)))  # track j starts as object j
        kind = "+".join(sorted(set(clip["scenario"])))
        for j in range(len(chosen)):
            hidden_since = None
            for t in range(len(clip["frames"])):
                if not vis[t, j]:
                    absent_frames += 1
                    ghosts += bool(pred[t, j].any())
                    if t > 0 and vis[t - 1, j]:
                        hidden_since = t
                    continue
                visible_frames += 1
                per_kind[kind][1] += 1
                ious.append(mask_iou(pred[t, j], gt[t][j]))
                if hidden_since is not None:
                    occlusions += 1
                    recovered += mask_iou(pred[t, j], gt[t][j]) >= 0.5
                    hidden_since = None
                # which track covers object j best
                cand = [(mask_iou(pred[t, k], gt[t][j]), k) for k in range(len(chosen))]
                best_iou, best = max(cand)
                if best_iou >= 0.5:
                    if best != last[j]:
                        switches += 1
                        per_kind[kind][0] += 1
                    last[j] = best
    return {
        "clips": args.clips, "frames": args.frames,
        "mean_iou_visible": round(float(np.mean(ious)) if ious else 0.0, 4),
        "id_switches_per_100_object_frames": round(100.0 * switches / max(visible_frames, 1), 3),
        "recovered_after_hidden": "%d/%d" % (recovered, occlusions),
        "ghost_rate_when_hidden": round(ghosts / max(absent_frames, 1), 4),
        "visible_object_frames": visible_frames,
        "per_scenario_switches": {k: "%d/%d" % tuple(v) for k, v in sorted(per_kind.items())},
    }


def clip_prompts(clip):
    """The colour+shape concepts of the objects visible on frame 0, and the objects they name."""
    prompts = sorted({scenes.category(clip["tracks"][k]) for k in np.flatnonzero(clip["visible"][0])})
    targets = [k for k, tr in enumerate(clip["tracks"]) if scenes.category(tr) in prompts]
    return prompts, targets


def with_geometry_cls(det):
    """Makes transformers' Sam3Model compose a text-only prompt officially (text + geometry CLS,
    as shapes_model.detect and the C++ do) where Sam3VideoModel calls it without boxes."""
    forward = det.forward

    def composed(vision_embeds=None, text_embeds=None, attention_mask=None, **kwargs):
        if vision_embeds is None or text_embeds is None or kwargs.get("input_boxes") is not None:
            return forward(vision_embeds=vision_embeds, text_embeds=text_embeds, attention_mask=attention_mask,
                           **kwargs)
        out = sm.detect(det, list(vision_embeds.fpn_hidden_states[:-1]), list(vision_embeds.fpn_position_encoding[:-1]),
                        text_embeds.pooler_output, attention_mask.bool())
        return SimpleNamespace(pred_logits=out["logits"][-1], presence_logits=out["presence"][-1],
                               pred_boxes=sm.box_cxcywh_to_xyxy(out["boxes"][-1]), pred_masks=out["masks"])

    det.forward = composed


def flat_pointers(trk):
    """transformers' video tracker keeps each object pointer as (1, 1, C) and only flattens them
    when it splits pointers into memory-width tokens (the release: 256 over 64); with memory as
    wide as the model (this folder: 64 and 64) the stack is 4-D and torch.cat fails. Give it the
    (objects, C) it documents."""
    process = trk._process_object_pointers

    def flat(temporal_offsets, pointer_tokens, max_ptrs, batch_size, num_channels, device):
        pointer_tokens = [p.reshape(batch_size, num_channels) for p in pointer_tokens]
        return process(temporal_offsets, pointer_tokens, max_ptrs, batch_size, num_channels, device)

    trk._process_object_pointers = flat


def _generic_nms(ious, probs, iou_threshold, use_iou_matrix=True):
    """Greedy NMS by decreasing probability over an IoU matrix (perflib/nms.py): indices kept."""
    keep = []
    for i in torch.argsort(probs, descending=True).tolist():
        if all(float(ious[i, k]) <= iou_threshold for k in keep):
            keep.append(i)
    return torch.tensor(sorted(keep), dtype=torch.int64)


def _cc_2d(mask, get_counts=True):
    """8-connected components of (N, 1, H, W) uint8 masks: (labels, area of each pixel's
    component), by propagating the largest pixel index through 3x3 neighbourhoods."""
    on = mask.bool()
    n = on.shape[-2] * on.shape[-1]
    idx = torch.arange(1, n + 1, dtype=torch.float32).view(1, 1, *on.shape[-2:])
    labels = torch.where(on, idx, torch.zeros(()))
    while True:
        grown = torch.where(on, F.max_pool2d(labels, 3, stride=1, padding=1), torch.zeros(()))
        if torch.equal(grown, labels):
            break
        labels = grown
    labels = labels.to(torch.int64)
    counts = torch.zeros_like(labels)
    for b in range(labels.shape[0]):
        areas = torch.bincount(labels[b].flatten(), minlength=n + 1)
        counts[b] = torch.where(labels[b] > 0, areas[labels[b]], 0)
    return labels.to(torch.int32), counts.to(torch.int32)


def install_mask_ops():
    """transformers' video loop takes mask NMS and hole filling from the `kernels` package, which
    it fetches from the Hugging Face hub, and skips both (with a warning) when that fails. These
    stand-ins follow the official code (as src/video/mask_ops does), so the loop is the one the
    config describes."""
    import transformers.models.sam3_video.modeling_sam3_video as mv
    mv.cv_utils_kernel = SimpleNamespace(generic_nms=_generic_nms, cc_2d=_cc_2d)


class TransformersVideo:
    """Sam3VideoModel's text-prompted loop with the folder's config (tools/make_video_reference.py
    drives it the same way), frames out as Sam3VideoProcessor.postprocess_outputs gives them."""

    def __init__(self, model, tokenizer, use_cls, dtype=torch.float32):
        from transformers.models.sam3_video.processing_sam3_video import Sam3VideoProcessor
        self.model = model
        self.tok = tokenizer
        self.dtype = dtype
        if use_cls:
            with_geometry_cls(model.detector_model)
        flat_pointers(model.tracker_model)
        install_mask_ops()
        # Only its post-processing is used, which needs none of the processor's members.
        self.processor = Sam3VideoProcessor.__new__(Sam3VideoProcessor)

    @torch.no_grad()
    def __call__(self, clip, prompts):
        from transformers.models.sam3_video.modeling_sam3_video import Sam3VideoInferenceSession
        h, w = clip["frames"][0].shape[:2]
        # The network's input size, which is the shapes models' sm.IMAGE_SIZE but not every folder's
        # (bench/compare_video.py runs generated ones).
        size = self.model.tracker_model.image_size
        session = Sam3VideoInferenceSession(video=sm.preprocess(np.stack(clip["frames"]), size), video_height=h,
                                            video_width=w, dtype=self.dtype)
        for p in prompts:
            pid = session.add_prompt(p)
            b = self.tok([p], padding="max_length", max_length=sm.CONTEXT_LENGTH, truncation=True, return_tensors="pt")
            session.prompt_input_ids[pid] = b["input_ids"]
            session.prompt_attention_masks[pid] = b["attention_mask"]
        frames = [None] * len(clip["frames"])
        for out in self.model.propagate_in_video_iterator(inference_session=session):
            r = self.processor.postprocess_outputs(session, out)
            frames[out.frame_idx] = [(int(i), m.numpy()) for i, m in zip(r["object_ids"], r["masks"])]
        return frames


# sam3track's properties for the loop settings of a sam3_video config.json (the elements'
# defaults are the release's; a folder may set others).
TRACK_PROPERTIES = {
    "score_threshold_detection": "detection-threshold",
    "new_det_thresh": "new-object-threshold",
    "assoc_iou_thresh": "association-iou",
    "trk_assoc_iou_thresh": "match-iou",
    "hotstart_delay": "hotstart-frames",
    "hotstart_unmatch_thresh": "hotstart-unmatched",
    "hotstart_dup_thresh": "hotstart-duplicates",
    "recondition_every_nth_frame": "recondition-interval",
    "suppress_overlapping_based_on_recent_occlusion_threshold": "occlusion-iou",
    "fill_hole_area": "fill-hole-area",
}


class GstVideo:
    """The product path: PNG frames -> sam3detect ! sam3track ! sam3export (JSON Lines, masks)."""

    def __init__(self, model_dir, build, threads, workdir, precision="fp32"):
        plugin = os.path.join(build, "gst", "libgstsam3.so")
        if not os.path.exists(plugin):
            raise SystemExit("%s: not built (ninja -C %s gst/libgstsam3.so)" % (plugin, build))
        self.model_dir = os.path.abspath(model_dir)
        self.env = dict(os.environ, SAM3_THREADS=str(threads), GST_PLUGIN_PATH=os.path.dirname(plugin))
        self.workdir = workdir
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        self.track = ["%s=%s" % (prop, cfg[key]) for key, prop in TRACK_PROPERTIES.items() if key in cfg]
        # sam3detect hands sam3track what scores above its threshold: no lower than the loop's.
        self.detect_threshold = cfg.get("score_threshold_detection", 0.5)
        self.precision = precision

    def command(self, source, prompts, out_path):
        """gst-launch-1.0's arguments: the `source` elements (up to raw video), then the loop with
        the folder's settings, its JSON Lines with masks written to out_path (bench/compare_video.py
        times the same pipeline)."""
        return ["gst-launch-1.0", "-q", *source, "!",
                "sam3detect", "model=" + self.model_dir, "prompt=" + ";".join(prompts),
                "threshold=%r" % self.detect_threshold, "precision=" + self.precision, "!",
                "sam3track", *self.track, "!",
                "sam3export", "location=" + out_path, "masks=true", "!", "fakesink"]

    def __call__(self, clip, prompts):
        from PIL import Image
        T = len(clip["frames"])
        h, w = clip["frames"][0].shape[:2]
        for t, frame in enumerate(clip["frames"]):
            Image.fromarray(frame).save(os.path.join(self.workdir, "frame%04d.png" % t))
        out_path = os.path.join(self.workdir, "clip.jsonl")
        if os.path.exists(out_path):
            os.remove(out_path)
        cmd = self.command(["multifilesrc", "location=" + os.path.join(self.workdir, "frame%04d.png"), "index=0",
                            "stop-index=%d" % (T - 1), "caps=image/png,framerate=10/1", "!", "pngdec", "!",
                            "videoconvert"], prompts, out_path)
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), res.returncode, res.stderr + res.stdout))
        with open(out_path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        if len(lines) != T:
            raise RuntimeError("%s: %d frames out of %d" % (out_path, len(lines), T))
        return [[(inst["track_id"], decode_mask(inst["mask"], w, h)) for inst in line["instances"] if "mask" in inst]
                for line in lines]


def eval_video(run_clip, args):
    """The text-prompted loop over the clips eval_tracker uses, scored against ground truth."""
    ious, visible, matched, switches, false_instances, frames, empty = [], 0, 0, 0, 0, 0, 0
    kept, spans = 0, 0
    for i in range(args.clips):
        rng = np.random.default_rng([args.seed, 2, i])
        clip = scenes.sample_clip(rng, args.frames)
        prompts, targets = clip_prompts(clip)
        if not prompts:
            continue
        out = run_clip(clip, prompts)
        last_id = {}  # object -> track id it was last matched to
        before_hidden = {}  # object -> track id matched on its last visible frame before a hidden span
        for t, instances in enumerate(out):
            frames += 1
            # transformers' post-processing hides objects whose mask is empty on the frame;
            # sam3track passes them on (e.g. an object emptied by the non-overlap across prompts),
            # so they are counted apart rather than as false instances.
            shown = [(tid, m) for tid, m in instances if m.any()]
            empty += len(instances) - len(shown)
            instances = shown
            gts = [k for k in targets if clip["visible"][t, k]]
            visible += len(gts)
            pairs = sorted(((mask_iou(m, clip["masks"][t][k]), a, k) for a, (_, m) in enumerate(instances)
                            for k in gts), reverse=True)
            used_a, match = set(), {}
            for v, a, k in pairs:
                if v < 0.5:
                    break
                if a in used_a or k in match:
                    continue
                used_a.add(a)
                match[k] = (instances[a][0], v)
            false_instances += len(instances) - len(match)
            for k in targets:
                if not clip["visible"][t, k]:
                    if t > 0 and clip["visible"][t - 1, k] and k not in before_hidden:
                        before_hidden[k] = last_id.get(k)
                    continue
                if k in before_hidden:
                    prev = before_hidden.pop(k)
                    spans += 1
                    kept += prev is not None and k in match and match[k][0] == prev
                if k in match:
                    tid, v = match[k]
                    matched += 1
                    ious.append(v)
                    if k in last_id and last_id[k] != tid:
                        switches += 1
                    last_id[k] = tid
    return {
        "clips": args.clips, "frames": args.frames,
        "mean_iou_matched": round(float(np.mean(ious)) if ious else 0.0, 4),
        "recall_visible": round(matched / max(visible, 1), 4),
        "id_switches_per_100_object_frames": round(100.0 * switches / max(visible, 1), 3),
        "kept_id_through_hidden": "%d/%d" % (kept, spans),
        "false_instances_per_frame": round(false_instances / max(frames, 1), 4),
        "empty_mask_instances_per_frame": round(empty / max(frames, 1), 4),
        "visible_object_frames": visible,
    }


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    res = {"model": os.path.abspath(args.model), "backend": args.backend, "threshold": args.threshold,
           "composition": "text only (transformers)" if args.no_cls else "text + geometry CLS (official)",
           "postprocess": "still images: the score threshold only (no NMS, either backend); clips: the video "
                          "loop's own rules (detection NMS, hole filling, association, hot-start) with the "
                          "folder's config.json values"}
    if args.backend == "transformers":
        res["postprocess"] += ("; mask NMS and hole filling by eval.py's stand-ins for transformers' `kernels` "
                               "package; masks upsampled to the frame as logits, > 0")
    else:
        res["postprocess"] += "; masks as sam3export writes them (model-resolution samples over the box, >= 128/255)"
    t0 = time.time()

    def timed(fn, *a):
        start = time.time()
        out = fn(*a)
        out["seconds"] = round(time.time() - start, 1)
        return out

    if args.backend == "cpp":
        if args.no_cls:
            raise SystemExit("--no-cls: the C++ runtime composes prompts the official way only")
        res["build"] = os.path.abspath(args.build)
        with tempfile.TemporaryDirectory(prefix="sam3-eval-") as work:
            if args.images:
                res["detector"] = timed(eval_detector, CppDetector(args.model, args.build, args.threshold,
                                                                  args.threads, work), args)
            if args.clips:
                res["video"] = timed(eval_video, GstVideo(args.model, args.build, args.threads, work), args)
                res["tracker"] = "not run: the C++ tracker takes objects from the detector (see video)"
    else:
        from transformers import CLIPTokenizer
        model, _ = sm.load_release(args.model)
        tok = CLIPTokenizer.from_pretrained(args.model)
        if args.images:
            res["detector"] = timed(eval_detector, Detector(model, tok, args.threshold, not args.no_cls), args)
        if args.clips:
            res["tracker"] = timed(eval_tracker, model, args)
            res["tracker"]["prompt"] = "ground-truth masks of the objects visible on frame 0"
            res["video"] = timed(eval_video, TransformersVideo(model, tok, not args.no_cls), args)
    res["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
