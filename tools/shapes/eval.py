#!/usr/bin/env python3
"""Evaluate a shapes model folder with transformers (the Python side of the parity story).

    .venv/bin/python tools/shapes/eval.py models/sam3-shapes [--images 100] [--clips 20] [--json OUT]

Detector, on generated scenes of a seed no training step uses:
  - per concept ("red circle", "circle", ...): precision and recall of the kept detections
    (score = sigmoid(logit) * sigmoid(presence) >= --threshold) against the ground-truth
    instances at mask IoU >= 0.5, and the mean mask IoU of the matched pairs;
  - absent concepts (no instance in the image): the share of prompts with any detection (false
    positive rate) and false detections per prompt;
  - exemplar prompts: "visual" + one positive box (find its category), text + a negative box.
  Prompts use the official composition (text + geometry CLS); --no-cls runs transformers'
  text-only composition instead.
Tracker, on generated clips (crossing, full occlusion, entering/leaving): objects visible on frame
0 are given by their ground-truth masks (the runtime's path for detector-born objects) and
propagated with the memory bank; reported: mean mask IoU on visible frames, id switches per 100
visible object-frames (the track best overlapping an object at IoU >= 0.5 changes), objects
recovered after a full occlusion, and ghost masks on frames where the object is not visible.
"""

import argparse
import json
import os
import sys
import time
from collections import defaultdict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import scenes  # noqa: E402
import shapes_model as sm  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="model folder (config.json, model.safetensors, vocab.json, merges.txt)")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--clips", type=int, default=20)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--seed", type=int, default=20261206)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--no-cls", action="store_true", help="text-only prompts without the geometry CLS token")
    p.add_argument("--threads", type=int, default=1)
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
        keep = torch.nonzero(scores >= self.threshold).flatten()
        keep = keep[scores[keep].argsort(descending=True)]
        if len(keep) == 0:
            return []
        m = F.interpolate(out["masks"][0, keep][:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        return [(float(scores[k]), (m[i] > 0).numpy()) for i, k in enumerate(keep)]


def eval_detector(detector, args):
    per = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "ious": []})
    absent = {"prompts": 0, "with_fp": 0, "fp": 0}
    ex = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "ious": []})
    for i in range(args.images):
        rng = np.random.default_rng([args.seed, 1, i])
        s = scenes.sample_image(rng)
        objs = s["objects"]
        enc = detector.encode(s["image"])
        present = set()
        for o in objs:
            present.add("%s %s" % (o["color"], o["shape"]))
            present.add(o["shape"])
        # present concepts
        for c in sorted(present):
            preds = detector(enc, c)
            gts = [o["mask"] for o in objs if scenes.matches(c, o)]
            tp, fp, fn, ious = match_greedy([m for _, m in preds], gts)
            kind = "color+shape" if " " in c else "shape"
            for key in (c, "_all_" + kind):
                per[key]["tp"] += tp
                per[key]["fp"] += fp
                per[key]["fn"] += fn
                per[key]["ious"] += ious
        # absent concepts: 3 near misses + 1 random
        pool = [c for c in scenes.all_concepts(with_color_only=False) if not any(scenes.matches(c, o) for o in objs)]
        near = [c for c in pool if any(w in c.split() for o in objs for w in (o["color"], o["shape"]))]
        chosen = list(rng.permutation(near)[:3]) + list(rng.permutation(pool)[:1])
        for c in chosen:
            preds = detector(enc, str(c))
            absent["prompts"] += 1
            absent["fp"] += len(preds)
            absent["with_fp"] += bool(preds)
        # exemplars
        if objs:
            o = objs[int(rng.integers(len(objs)))]
            preds = detector(enc, scenes.VISUAL_PROMPT, [(o["box"], True)])
            gts = [x["mask"] for x in objs if scenes.category(x) == scenes.category(o)]
            tp, fp, fn, ious = match_greedy([m for _, m in preds], gts)
            d = ex["visual+positive box"]
            d["tp"] += tp; d["fp"] += fp; d["fn"] += fn; d["ious"] += ious  # noqa: E702
            same_shape = [x for x in objs if x["shape"] == o["shape"]]
            if len({scenes.category(x) for x in same_shape}) > 1:
                preds = detector(enc, o["shape"], [(o["box"], False)])
                gts = [x["mask"] for x in same_shape if scenes.category(x) != scenes.category(o)]
                tp, fp, fn, ious = match_greedy([m for _, m in preds], gts)
                d = ex["shape+negative box"]
                d["tp"] += tp; d["fp"] += fp; d["fn"] += fn; d["ious"] += ious  # noqa: E702

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


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from transformers import CLIPTokenizer
    model, _ = sm.load_release(args.model)
    tok = CLIPTokenizer.from_pretrained(args.model)
    t0 = time.time()
    res = {"model": os.path.abspath(args.model), "threshold": args.threshold,
           "composition": "text only (transformers)" if args.no_cls else "text + geometry CLS (official)"}
    if args.images:
        res["detector"] = eval_detector(Detector(model, tok, args.threshold, not args.no_cls), args)
    if args.clips:
        res["tracker"] = eval_tracker(model, args)
    res["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
