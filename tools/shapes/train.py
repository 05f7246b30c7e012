#!/usr/bin/env python3
"""Train the small SAM 3 of models/sam3-shapes on generated shapes (tools/shapes/scenes.py).

One process, one thread (the machine's cores are shared with C++ builds):

    nice -n 10 .venv/bin/python tools/shapes/train.py > /work/train-shapes.log 2>&1 &
    nice -n 10 .venv/bin/python tools/shapes/train.py --resume >> /work/train-shapes.log 2>&1 &
    .venv/bin/python tools/shapes/train.py --export-only        # latest checkpoint -> models/sam3-shapes

Every step trains the detector on a batch of still scenes (text prompts, absent concepts,
positive/negative exemplar boxes; DETR Hungarian matching, focal + L1 + GIoU + presence + mask +
semantic losses; the query scores are trained on prompts with instances, the presence token on
all, as SAM 3 decouples recognition from localisation) and, every --clip-every steps, the
tracker on a generated clip (prompt on frame 0 with the GT mask, a box or a click; propagation
through the memory bank; mask, IoU and object-score losses on every frame, occluded and
out-of-frame ones included).

Prompt composition is the official SAM 3 one (see shapes_model.detect): a text-only prompt is the
text tokens + the geometry encoder's CLS token.

Data are a function of (--seed, step), so a resumed run sees what an uninterrupted one would.
Checkpoints: tools/shapes/checkpoint/ (fp16 weights, small, not in the repository: only the
shipped models/sam3-shapes is; resuming from it restarts
the optimiser with a short warm-up) and --full-state (fp32 weights + AdamW state, outside the
repository; an exact resume when present and at the same step).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from safetensors import safe_open  # noqa: E402

import clip_vocab  # noqa: E402
import scenes  # noqa: E402
import shapes_model as sm  # noqa: E402

LOW = 4 * (sm.IMAGE_SIZE // sm.PATCH)  # mask resolution of both heads (64)
TOKEN_EMB = "detector_model.text_encoder.text_model.embeddings.token_embedding.weight"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=6000, help="total optimiser steps")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--resume", action="store_true",
                   help="continue from --ckpt-dir, or from the model in --out when there is none")
    p.add_argument("--export-only", action="store_true", help="export --ckpt-dir to --out and exit")
    p.add_argument("--ckpt-dir", default=os.path.join(HERE, "checkpoint"))
    p.add_argument("--full-state", default="/work/shapes-train-full.pt",
                   help="fp32 weights + optimiser state (exact resume); not committed")
    p.add_argument("--out", default=os.path.join(ROOT, "models", "sam3-shapes"))
    p.add_argument("--bpe", default=clip_vocab.DEFAULT_BPE)
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--images", type=int, default=4, help="still scenes per step")
    p.add_argument("--prompts", type=int, default=3, help="prompts per scene")
    p.add_argument("--clip-every", type=int, default=3, help="a tracker clip every N steps (0: never)")
    p.add_argument("--tracker-only", action="store_true",
                   help="train only the tracker, on a clip every step (the detector's weights stay as they are)")
    p.add_argument("--scene-one-colour", type=float, default=0.0,
                   help="share of still scenes whose objects all have one colour (only shape tells "
                        "them apart: the colour shortcut cannot answer a shape prompt there)")
    p.add_argument("--aux-shape-weight", type=float, default=0.0,
                   help="weight of a training-only loss classifying each ViT patch by the shape that "
                   "covers it (a linear head, not exported): the trunk otherwise learns colour and "
                   "never shape (tools/shapes/probe.py)")
    p.add_argument("--shape-only", action="store_true",
                   help="train only the ViT, on the --aux-shape-weight loss alone: a trunk phase "
                   "before a joint run, since from colour-only features the joint run starts shape slowly")
    p.add_argument("--clip-one-look", type=float, default=0.0,
                   help="share of tracker clips whose objects all look alike (only memory tells them apart)")
    p.add_argument("--clip-frames", type=int, default=8)
    p.add_argument("--clip-pace", type=int, default=0,
                   help="stage each clip's events over this many frames and train on a window of "
                        "--clip-frames of them (0: over the clip itself)")
    p.add_argument("--clip-objects", type=int, default=3)
    p.add_argument("--iou-weight", type=float, default=1.0,
                   help="weight of the tracker's IoU-prediction loss: on tracked frames the mask with the "
                        "highest predicted IoU is the one kept, so a poor IoU head picks the wrong one")
    p.add_argument("--memory-attention-layers", type=int, default=0,
                   help="on --resume, grow the tracker's memory attention to this many layers: the "
                        "new ones are appended as identities (zero output projections) and train "
                        "from there, with a fresh optimiser")
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--resume-warmup", type=int, default=100,
                   help="warm-up after a resume without optimiser state")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--no-cls-frac", type=float, default=0.1,
                   help="share of text-only prompts run without the geometry CLS token "
                   "(transformers' composition), so the model also works there; the rest use the "
                   "official composition (text + CLS); 0 = official only")
    p.add_argument("--absent-cls-weight", type=float, default=0.0,
                   help="weight of the query-score loss on prompts with no instance (presence decides those)")
    p.add_argument("--focal-alpha", type=float, default=0.5,
                   help="the query-score focal loss's positive weight (RetinaNet's 0.25 kept every score "
                   "under 0.5 at this training length)")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--easy-steps", type=int, default=800, help="steps with at most 4 objects per scene")
    p.add_argument("--text-freeze-steps", type=int, default=2000, help="steps with the CLIP text encoder frozen")
    p.add_argument("--text-lr-scale", type=float, default=0.3, help="its learning-rate factor afterwards")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after this long")
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------------
# Small helpers: boxes, Hungarian matching
# ---------------------------------------------------------------------------------------

def box_xyxy_to_cxcywh(b):
    x0, y0, x1, y1 = b.unbind(-1)
    return torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], -1)


def generalized_iou(a, b):
    """Pairwise GIoU of xyxy boxes a (n, 4), b (m, 4)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None] - inter
    iou = inter / union.clamp(min=1e-7)
    lt2 = torch.min(a[:, None, :2], b[None, :, :2])
    rb2 = torch.max(a[:, None, 2:], b[None, :, 2:])
    wh2 = (rb2 - lt2).clamp(min=0)
    hull = wh2[..., 0] * wh2[..., 1]
    return iou - (hull - union) / hull.clamp(min=1e-7)


def hungarian(cost):
    """Minimum-cost assignment of every row to a distinct column (rows <= columns).

    The classic O(n^2 m) potentials algorithm; returns (rows, cols) like
    scipy.optimize.linear_sum_assignment."""
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    assert n <= m
    INF = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    p = [0] * (m + 1)
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [INF] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0 = p[j0]
            delta = INF
            j1 = 0
            row = cost[i0 - 1]
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    rows, cols = [], []
    for j in range(1, m + 1):
        if p[j] != 0:
            rows.append(p[j] - 1)
            cols.append(j - 1)
    order = np.argsort(rows)
    return np.array(rows)[order], np.array(cols)[order]


def sigmoid_focal(logits, targets, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    a_t = alpha * targets + (1 - alpha) * (1 - targets)
    return a_t * loss


def dice_loss(logits, targets):
    """Per-row dice loss; logits/targets (n, ...)."""
    p = torch.sigmoid(logits).flatten(1)
    t = targets.flatten(1)
    num = 2 * (p * t).sum(1) + 1
    den = p.sum(1) + t.sum(1) + 1
    return 1 - num / den


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------

_TOKEN_CACHE = {}


def tokenize(tokenizer, texts):
    ids, masks = [], []
    for t in texts:
        if t not in _TOKEN_CACHE:
            b = tokenizer([t], padding="max_length", max_length=sm.CONTEXT_LENGTH, truncation=True)
            _TOKEN_CACHE[t] = (b["input_ids"][0], b["attention_mask"][0])
        i, m = _TOKEN_CACHE[t]
        ids.append(i)
        masks.append(m)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(masks, dtype=torch.long)


def low_res_masks(masks, size=LOW):
    """list of (H, W) bool -> (n, size, size) float {0, 1} (area-downsampled, squashed to square)."""
    if len(masks) == 0:
        return torch.zeros(0, size, size)
    m = torch.from_numpy(np.stack(masks)).float()[:, None]
    m = F.interpolate(m, size=(size, size), mode="area")[:, 0]
    return (m >= 0.5).float()


def norm_box(box, w, h):
    x0, y0, x1, y1 = box
    return [x0 / w, y0 / h, x1 / w, y1 / h]


def jitter_box(rng, box, w, h, amount=0.06):
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    d = rng.uniform(-amount, amount, 4) * np.array([bw, bh, bw, bh])
    x0, y0, x1, y1 = x0 + d[0], y0 + d[1], x1 + d[2], y1 + d[3]
    x0, x1 = sorted((float(np.clip(x0, 0, w)), float(np.clip(x1, 0, w))))
    y0, y1 = sorted((float(np.clip(y0, 0, h)), float(np.clip(y1, 0, h))))
    return (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))


def _concept_of(rng, o):
    r = rng.random()
    if r < 0.6:
        return "%s %s" % (o["color"], o["shape"])
    if r < 0.9:
        return o["shape"]
    return o["color"]


def _absent_concept(rng, objs):
    """A concept with no match in objs; often a near miss (same shape or same colour)."""
    for _ in range(50):
        if objs and rng.random() < 0.6:
            o = objs[int(rng.integers(len(objs)))]
            if rng.random() < 0.5:
                c = "%s %s" % (scenes.COLOR_NAMES[int(rng.integers(len(scenes.COLOR_NAMES)))], o["shape"])
            else:
                c = "%s %s" % (o["color"], scenes.SHAPES[int(rng.integers(len(scenes.SHAPES)))])
        else:
            pool = scenes.all_concepts()
            c = pool[int(rng.integers(len(pool)))]
        if not any(scenes.matches(c, o) for o in objs):
            return c
    return None


def make_prompt(rng, objs, w, h):
    """(text, [(box xyxy normalised, label)], target indices) for one prompt on one scene."""
    r = rng.random()
    if not objs or r < 0.25:
        c = _absent_concept(rng, objs)
        if c is not None:
            return c, [], []
        r = 0.5
    o = objs[int(rng.integers(len(objs)))]
    if r < 0.62:  # a present text concept
        c = _concept_of(rng, o)
        return c, [], [i for i, x in enumerate(objs) if scenes.matches(c, x)]
    if r < 0.80:  # exemplars only ("visual"): everything of the exemplar's category
        cat = scenes.category(o)
        same = [i for i, x in enumerate(objs) if scenes.category(x) == cat]
        chosen = [objs.index(o)]
        if len(same) > 1 and rng.random() < 0.3:
            chosen.append(same[int(rng.integers(len(same)))])
        boxes = [(norm_box(jitter_box(rng, objs[i]["box"], w, h), w, h), 1) for i in dict.fromkeys(chosen)]
        others = [x for x in objs if scenes.category(x) != cat]
        if others and rng.random() < 0.3:
            n = others[int(rng.integers(len(others)))]
            boxes.append((norm_box(jitter_box(rng, n["box"], w, h), w, h), 0))
        return scenes.VISUAL_PROMPT, boxes, same
    if r < 0.90:  # text + a positive exemplar of it
        c = _concept_of(rng, o)
        boxes = [(norm_box(jitter_box(rng, o["box"], w, h), w, h), 1)]
        return c, boxes, [i for i, x in enumerate(objs) if scenes.matches(c, x)]
    # text + a negative exemplar: drop the negative's category (when it matches the text)
    c = o["shape"] if rng.random() < 0.7 else _concept_of(rng, o)
    if rng.random() < 0.75:
        cands = [x for x in objs if scenes.matches(c, x)]
    else:
        cands = [x for x in objs if not scenes.matches(c, x)] or objs
    n = cands[int(rng.integers(len(cands)))]
    boxes = [(norm_box(jitter_box(rng, n["box"], w, h), w, h), 0)]
    targets = [i for i, x in enumerate(objs) if scenes.matches(c, x)
               and not (scenes.matches(c, n) and scenes.category(x) == scenes.category(n))]
    return c, boxes, targets


SIZES = [(224, 224)] * 5 + [(288, 224), (224, 288), (320, 240), (240, 320), (256, 256)]


def patch_shape_labels(objs, grid):
    """(grid, grid) int64: 1 + the index in scenes.SHAPES of the object covering most of each ViT
    patch, 0 where no object covers half of it."""
    if not objs:
        return torch.zeros(grid, grid, dtype=torch.long)
    masks = torch.from_numpy(np.stack([o["mask"] for o in objs]).astype(np.float32))
    cover = F.interpolate(masks[None], size=(grid, grid), mode="area")[0]
    best, which = cover.max(0)
    shapes = torch.tensor([1 + scenes.SHAPES.index(o["shape"]) for o in objs])
    return torch.where(best >= 0.5, shapes[which], torch.zeros_like(which))


def detector_batch(rng, n_images, n_prompts, max_objects=8, one_colour=0.0, shape_maps=None):
    images, rows = [], []
    for i in range(n_images):
        w, h = SIZES[int(rng.integers(len(SIZES)))]
        placed = None
        if one_colour > 0 and rng.random() < one_colour:
            colour = scenes.COLOR_NAMES[int(rng.integers(len(scenes.COLOR_NAMES)))]
            placed = [(None, colour)] * int(rng.integers(2, max_objects + 1))
        s = scenes.sample_image(rng, w, h, n_range=(1, max_objects), objects=placed)
        images.append(sm.preprocess(s["image"])[0])
        objs = s["objects"]
        if shape_maps is not None:
            shape_maps.append(patch_shape_labels(objs, sm.IMAGE_SIZE // sm.PATCH))
        m64 = low_res_masks([o["mask"] for o in objs])
        boxes = torch.tensor([norm_box(o["box"], w, h) for o in objs], dtype=torch.float32).reshape(-1, 4)
        for _ in range(n_prompts):
            text, bx, tg = make_prompt(rng, objs, w, h)
            rows.append({"image": i, "text": text, "boxes": bx, "targets": tg,
                         "gt_boxes": boxes[tg], "gt_masks": m64[tg]})
    return torch.stack(images), rows


# ---------------------------------------------------------------------------------------
# Detector loss
# ---------------------------------------------------------------------------------------

W_CLS, W_L1, W_GIOU, W_PRES, W_MASK_BCE, W_DICE, W_SEM = 10.0, 5.0, 2.0, 2.0, 5.0, 2.0, 4.0


def match(logits, boxes_cxcywh, gt_boxes_xyxy):
    """Hungarian matching for one prompt row: logits (Q,), boxes (Q, 4), gt (n, 4)."""
    n = gt_boxes_xyxy.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    with torch.no_grad():
        p = logits.sigmoid()
        alpha, gamma = 0.25, 2.0
        pos = alpha * ((1 - p) ** gamma) * (-(p + 1e-8).log())
        neg = (1 - alpha) * (p ** gamma) * (-(1 - p + 1e-8).log())
        c_cls = (pos - neg)[None, :].expand(n, -1)
        gt_c = box_xyxy_to_cxcywh(gt_boxes_xyxy)
        c_l1 = torch.cdist(gt_c, boxes_cxcywh, p=1)
        c_giou = -generalized_iou(gt_boxes_xyxy, sm.box_cxcywh_to_xyxy(boxes_cxcywh))
        cost = 2.0 * c_cls + 5.0 * c_l1 + 2.0 * c_giou
    ti, qi = hungarian(cost.numpy())
    return qi, ti


def detector_loss(out, rows, absent_cls_weight=1.0, alpha=0.25):
    L, R, Q = out["logits"].shape
    n_tgt = max(sum(len(r["targets"]) for r in rows), 1)
    terms = {"cls": 0.0, "l1": 0.0, "giou": 0.0, "pres": 0.0, "mask": 0.0, "dice": 0.0, "sem": 0.0}
    present = torch.tensor([[1.0 if r["targets"] else 0.0] for r in rows])
    # SAM 3 decouples recognition (the presence token) from localisation (the query scores;
    # the final score is their product). Driving every query of every absent prompt to zero as
    # well held all scores under 0.5 through the first 2338 steps; presence answers those.
    cls_row_w = present + (1 - present) * absent_cls_weight
    last_matches = None
    for layer in range(L):
        logits, boxes = out["logits"][layer], out["boxes"][layer]
        target = torch.zeros(R, Q)
        l1 = giou = 0.0
        matches_l = []
        for ri, r in enumerate(rows):
            qi, ti = match(logits[ri], boxes[ri], r["gt_boxes"])
            matches_l.append((qi, ti))
            if len(qi) == 0:
                continue
            target[ri, qi] = 1.0
            pb = boxes[ri, qi]
            gt = r["gt_boxes"][ti]
            l1 = l1 + (pb - box_xyxy_to_cxcywh(gt)).abs().sum()
            giou = giou + (1 - torch.diag(generalized_iou(sm.box_cxcywh_to_xyxy(pb), gt))).sum()
        terms["cls"] = terms["cls"] + (sigmoid_focal(logits, target, alpha) * cls_row_w).sum() / n_tgt
        terms["l1"] = terms["l1"] + l1 / n_tgt
        terms["giou"] = terms["giou"] + giou / n_tgt
        terms["pres"] = terms["pres"] + F.binary_cross_entropy_with_logits(out["presence"][layer].reshape(R, 1), present)
        last_matches = matches_l
    for k in ("cls", "l1", "giou", "pres"):
        terms[k] = terms[k] / L
    # Masks (computed for the rows in mask_rows only): last layer's matches.
    mask_rows = out["mask_rows"]
    pm, gm = [], []
    for mi, ri in enumerate(mask_rows):
        qi, ti = last_matches[ri]
        if len(qi):
            pm.append(out["masks"][mi, qi])
            gm.append(rows[ri]["gt_masks"][ti])
    if pm:
        pm, gm = torch.cat(pm), torch.cat(gm)
        terms["mask"] = F.binary_cross_entropy_with_logits(pm, gm, reduction="none").flatten(1).mean(1).sum() / n_tgt
        terms["dice"] = dice_loss(pm, gm).sum() / n_tgt
    sem_t = torch.stack([rows[ri]["gt_masks"].amax(0) if len(rows[ri]["targets"]) else torch.zeros(LOW, LOW)
                         for ri in mask_rows])
    # The semantic map is dense and prompt-conditioned: the quickest teacher of text-image fusion.
    terms["sem"] = F.binary_cross_entropy_with_logits(out["semantic"][:, 0], sem_t) + \
        0.5 * dice_loss(out["semantic"][:, 0], sem_t).mean()
    with torch.no_grad():  # diagnostics: do the outputs depend on the prompt and image at all?
        terms["pres_std"] = out["presence"][-1].flatten().std()
        terms["logit_std"] = out["logits"][-1].max(-1).values.std()
    total = (W_CLS * terms["cls"] + W_L1 * terms["l1"] + W_GIOU * terms["giou"] + W_PRES * terms["pres"]
             + W_MASK_BCE * terms["mask"] + W_DICE * terms["dice"] + W_SEM * terms["sem"])
    return total, {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in terms.items()}


def choose_mask_rows(rng, rows):
    """Rows whose masks are computed: every row with targets and one row without (the pixel
    decoder runs per prompt and dominates the detector's cost; an absent concept has no mask
    target, only the semantic map's all-zero one)."""
    pos = [i for i, r in enumerate(rows) if r["targets"]]
    neg = [i for i, r in enumerate(rows) if not r["targets"]]
    if neg:
        pos.append(neg[int(rng.integers(len(neg)))])
    return sorted(pos)


def detector_step(model, tokenizer, rng, args, step=10 ** 9, aux_head=None):
    det = model.detector_model
    # A short curriculum: fewer objects per scene at first.
    max_objects = 4 if step < args.easy_steps else 8
    shape_maps = [] if aux_head is not None else None
    images, rows = detector_batch(rng, args.images, args.prompts, max_objects, args.scene_one_colour,
                                  shape_maps)
    vit, fpn, pos = sm.vision_features(model, images)
    idx = torch.tensor([r["image"] for r in rows])
    fpn = [f[idx] for f in fpn]
    pos = [p[idx] for p in pos]
    texts = sorted(set(r["text"] for r in rows))
    ids, am = tokenize(tokenizer, texts)
    tf, tm = sm.encode_text(det, ids, am)
    ti = torch.tensor([texts.index(r["text"]) for r in rows])
    tf, tm = tf[ti], tm[ti]
    n_box = max(len(r["boxes"]) for r in rows)
    # Official composition (text + CLS) except for a --no-cls-frac share of the box-less rows,
    # which see transformers' text-only prompt (their geometry tokens masked out).
    drop = torch.tensor([not r["boxes"] and rng.random() < args.no_cls_frac for r in rows])
    mask_rows = choose_mask_rows(rng, rows)
    if n_box == 0:
        out = sm.detect(det, fpn, pos, tf, tm, mask_rows=mask_rows, drop_geometry=drop)
    else:
        R = len(rows)
        boxes = torch.tensor([[0.5, 0.5, 0.1, 0.1]]).repeat(R, n_box, 1)
        labels = torch.full((R, n_box), -10, dtype=torch.long)
        for ri, r in enumerate(rows):
            for k, (b, lab) in enumerate(r["boxes"]):
                boxes[ri, k] = box_xyxy_to_cxcywh(torch.tensor(b))
                labels[ri, k] = lab
        out = sm.detect(det, fpn, pos, tf, tm, boxes, labels, mask_rows=mask_rows, drop_geometry=drop)
    out["mask_rows"] = mask_rows
    loss, terms = detector_loss(out, rows, args.absent_cls_weight, args.focal_alpha)
    if aux_head is not None:
        aux = shape_loss(aux_head, vit.last_hidden_state, shape_maps, terms)
        if aux is not None:
            loss = loss + args.aux_shape_weight * aux
    return loss, terms


def shape_loss(aux_head, patches, shape_maps, terms):
    """Cross-entropy of each ViT patch an object covers against that object's shape (None when
    no patch is covered). Background patches are left out: telling objects from background is
    colour, which the trunk already has; the loss would be spent there."""
    target = torch.stack(shape_maps).flatten()
    on = target > 0
    if not bool(on.any()):
        return None
    logits = aux_head(patches).flatten(0, 1)[on]  # row-major patches
    aux = F.cross_entropy(logits, target[on] - 1)
    terms["auxshape"] = aux.item()
    terms["auxacc"] = float((logits.argmax(-1) == target[on] - 1).float().mean())
    return aux


def shape_step(model, rng, args, aux_head):
    """--shape-only: the ViT alone on the patch shape loss, for a trunk that has not started to
    represent shape (colour answers every other loss, so the joint run starts it slowly)."""
    shape_maps = []
    images, _ = detector_batch(rng, args.images, 0, 8, args.scene_one_colour, shape_maps)
    patches = model.detector_model.vision_encoder.backbone(images).last_hidden_state
    terms = {}
    return shape_loss(aux_head, patches, shape_maps, terms), terms


# ---------------------------------------------------------------------------------------
# Tracker
# ---------------------------------------------------------------------------------------

W_TMASK, W_TDICE, W_OBJ = 10.0, 1.0, 1.0


def tracker_step(model, rng, args):
    trk = model.tracker_model
    T = args.clip_frames
    w, h = SIZES[int(rng.integers(len(SIZES)))]
    clip = scenes.sample_clip(rng, T, w, h, one_look=args.clip_one_look > 0 and rng.random() < args.clip_one_look,
                              pace=args.clip_pace or None)
    first = np.flatnonzero(clip["visible"][0])
    if len(first) == 0:
        return None, {}
    chosen = rng.permutation(first)[: args.clip_objects]
    N = len(chosen)
    gt = torch.stack([low_res_masks([clip["masks"][t][k] for k in chosen]) for t in range(T)])  # (T, N, 64, 64)
    vis = torch.from_numpy(clip["visible"][:, chosen].astype(np.float32))  # (T, N)
    x = sm.preprocess(np.stack(clip["frames"]))
    with torch.no_grad():
        vit = model.detector_model.vision_encoder.backbone(x)
    feats, poss = sm.tracker_features(model, vit)  # lists of (HW, T, C)
    g = sm.IMAGE_SIZE // sm.PATCH
    C = trk.hidden_dim

    def frame(t):
        f = [ff[:, t:t + 1].expand(-1, N, -1) for ff in feats]
        p = poss[2][:, t:t + 1].expand(-1, N, -1)
        hr = [f[0].permute(1, 2, 0).reshape(N, -1, 4 * g, 4 * g), f[1].permute(1, 2, 0).reshape(N, -1, 2 * g, 2 * g)]
        return f[2], p, hr

    terms = {"tmask": 0.0, "tdice": 0.0, "iou": 0.0, "obj": 0.0}
    n_mask_terms = 0
    n_obj_terms = 0
    kind = rng.random()
    cond_mem, cond_ptrs, prev = None, None, []  # prev: list of (t, mem, ptr)

    def supervise(t, masks, iou, obj, multimask):
        nonlocal n_mask_terms, n_obj_terms
        tgt = gt[t]
        v = vis[t]
        terms["obj"] = terms["obj"] + F.binary_cross_entropy_with_logits(obj[:, 0], v, reduction="sum")
        n_obj_terms += N
        K = masks.shape[1]
        bce = F.binary_cross_entropy_with_logits(masks, tgt[:, None].expand(-1, K, -1, -1), reduction="none").flatten(2).mean(2)
        dice = dice_loss(masks.flatten(0, 1), tgt[:, None].expand(-1, K, -1, -1).flatten(0, 1)).view(N, K)
        per = W_TMASK * bce + W_TDICE * dice
        best = per.argmin(1) if multimask else torch.zeros(N, dtype=torch.long)
        idx = torch.arange(N)
        with torch.no_grad():
            pb = (masks > 0).float()
            inter = (pb * tgt[:, None]).flatten(2).sum(2)
            union = ((pb + tgt[:, None]) > 0).float().flatten(2).sum(2)
            actual = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))
        keep = v > 0
        if keep.any():
            terms["tmask"] = terms["tmask"] + (W_TMASK * bce[idx, best])[keep].sum() / W_TMASK
            terms["tdice"] = terms["tdice"] + (W_TDICE * dice[idx, best])[keep].sum() / W_TDICE
            terms["iou"] = terms["iou"] + ((iou - actual) ** 2).mean(1)[keep].sum()
            n_mask_terms += int(keep.sum())

    for t in range(T):
        feat, pos, hr = frame(t)
        if t == 0:
            pix = feat.permute(1, 2, 0).reshape(N, C, g, g)
            if kind < 0.65:  # the runtime's path: a (detector) mask becomes the conditioning output
                m = gt[0][:, None]
                if rng.random() < 0.5:  # a slightly wrong mask, as a detector gives
                    m = -F.max_pool2d(-m, 3, 1, 1) if rng.random() < 0.5 else F.max_pool2d(m, 3, 1, 1)
                o = sm.mask_as_output(trk, pix, hr, m, sm.IMAGE_SIZE)
                low, obj, ptr = o["low"], o["object_score"], o["pointer"]
                high = o["high"]
            else:
                pix = pix + trk.no_memory_embedding.view(1, C, 1, 1)
                s = sm.IMAGE_SIZE
                if kind < 0.9:  # a box (single-mask output)
                    bb = []
                    for k in chosen:
                        x0, y0, x1, y1 = jitter_box(rng, clip["boxes"][0][k], w, h, 0.05)
                        bb.append([x0 / w * s, y0 / h * s, x1 / w * s, y1 / h * s])
                    masks, iou, tok, obj = sm.sam_heads(trk, pix, hr, boxes=torch.tensor(bb)[:, None], multimask=False)
                    multimask = False
                else:  # one positive click inside the object (multimask output)
                    pts = []
                    for k in chosen:
                        ys, xs = np.nonzero(clip["masks"][0][k])
                        j = int(rng.integers(len(xs)))
                        pts.append([[xs[j] / w * s, ys[j] / h * s]])
                    masks, iou, tok, obj = sm.sam_heads(trk, pix, hr, points=torch.tensor(pts)[:, None],
                                                        labels=torch.ones(N, 1, 1, dtype=torch.int32), multimask=True)
                    multimask = True
                supervise(0, masks, iou, obj, multimask)
                low, token, _ = sm.select_best(masks, iou, tok)
                ptr = sm.object_pointer(trk, token, obj)
                low = torch.where(obj[:, :, None] > 0, low, torch.full_like(low, sm.NO_OBJ_SCORE))
                high = F.interpolate(low[:, None], size=(sm.IMAGE_SIZE, sm.IMAGE_SIZE), mode="bilinear", align_corners=False)
            cond_mem = sm.encode_memory(trk, feat, high, obj)
            cond_ptrs = [(ptr, 0)]
            continue
        prev_mems = [(m[0], m[1], t - pt) for (pt, m, _) in prev if t - pt < trk.num_maskmem]
        prev_ptrs = [(p, t - pt) for (pt, _, p) in prev if t - pt < 16]
        cond = sm.memory_condition(trk, feat, pos, [cond_mem], prev_mems, [(cond_ptrs[0][0], t)], prev_ptrs, g)
        masks, iou, tok, obj = sm.sam_heads(trk, cond, hr, multimask=True)
        supervise(t, masks, iou, obj, True)
        low, token, _ = sm.select_best(masks, iou, tok)
        ptr = sm.object_pointer(trk, token, obj)
        low = torch.where(obj[:, :, None] > 0, low, torch.full_like(low, sm.NO_OBJ_SCORE))
        high = F.interpolate(low[:, None], size=(sm.IMAGE_SIZE, sm.IMAGE_SIZE), mode="bilinear", align_corners=False)
        prev.append((t, sm.encode_memory(trk, feat, high, obj), ptr))
    n_mask_terms = max(n_mask_terms, 1)
    terms["tmask"] = terms["tmask"] / n_mask_terms
    terms["tdice"] = terms["tdice"] / n_mask_terms
    terms["iou"] = terms["iou"] / n_mask_terms
    terms["obj"] = terms["obj"] / max(n_obj_terms, 1)
    total = W_TMASK * terms["tmask"] + W_TDICE * terms["tdice"] + args.iou_weight * terms["iou"] + W_OBJ * terms["obj"]
    return total, {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in terms.items()}


# ---------------------------------------------------------------------------------------
# Model, checkpoints, export
# ---------------------------------------------------------------------------------------

def token_embedding_init(shape, seed):
    """The token table's initial values from numpy (stable across torch versions), so a
    checkpoint need only hold the rows training changed."""
    g = np.random.default_rng([seed, 49408])
    return torch.from_numpy((g.standard_normal(shape) * 0.1).astype(np.float32))


def new_model(config, seed):
    """A fresh model. transformers initialises every Linear/Conv with std 0.02 (meant for loading
    released weights); at width 64 that starves the text path and the heads, and a first run
    collapsed to text-independent outputs (the prompts' text features became identical). So all
    Linear and Conv layers outside the ViT get PyTorch's default (fan-in scaled) initialisation,
    as DETR-style models trained from scratch do, and the token table a larger scale."""
    model = sm.build_model(config, seed)
    torch.manual_seed(seed + 1)
    backbone = model.detector_model.vision_encoder.backbone
    skip = {id(m) for m in backbone.modules()}
    for mod in model.modules():
        if id(mod) in skip:
            continue
        if isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            mod.reset_parameters()
    emb = model.state_dict()[TOKEN_EMB]
    with torch.no_grad():
        model.detector_model.text_encoder.text_model.embeddings.token_embedding.weight.copy_(
            token_embedding_init(tuple(emb.shape), seed))
    return model


PROBE_TEXTS = ["red circle", "blue star", "green square", "yellow heart", "white cross", "purple triangle"]


def text_similarity(model, tokenizer):
    """Mean pairwise cosine of the pooled text features of same-length prompts: near 1 means the
    text path has collapsed (the detector would ignore the prompt)."""
    with torch.no_grad():
        ids, am = tokenize(tokenizer, PROBE_TEXTS)
        tf, tm = sm.encode_text(model.detector_model, ids, am)
        pooled = F.normalize((tf * tm[..., None]).sum(1) / tm.sum(1, keepdim=True), dim=-1)
        sim = pooled @ pooled.T
        n = len(PROBE_TEXTS)
        return float((sim.sum() - n) / (n * (n - 1)))


TEXT_ENCODER = "detector_model.text_encoder."


def make_optimizer(model, args):
    """Four groups: (decay, no decay) x (CLIP text encoder, the rest). The text encoder's learning
    rate is scaled by text_lr_scale (0 while it is frozen early on, so that its random but
    distinct token features cannot collapse before the detector learns to use them)."""
    groups = {(t, d): [] for t in (False, True) for d in (False, True)}
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        nd = p.dim() < 2 or "embedding" in n or "embed" in n or "token" in n or n.endswith("scale")
        groups[(n.startswith(TEXT_ENCODER), not nd)].append(p)
    return torch.optim.AdamW([{"params": ps, "weight_decay": args.weight_decay if d else 0.0, "text": t}
                              for (t, d), ps in groups.items()], lr=args.lr, betas=(0.9, 0.999))


def text_lr_scale(step, args):
    return 0.0 if step < args.text_freeze_steps else args.text_lr_scale


def lr_at(step, args, warm_start=0, warm_len=None):
    warm_len = args.warmup if warm_len is None else warm_len
    f = min(1.0, (step - warm_start + 1) / max(warm_len, 1))
    progress = min(step / max(args.steps, 1), 1.0)
    return args.lr * f * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def save_checkpoint(model, optimizer, step, args, config, history):
    os.makedirs(args.ckpt_dir, exist_ok=True)
    state = model.state_dict()
    init = token_embedding_init(tuple(state[TOKEN_EMB].shape), args.seed)
    emb = state[TOKEN_EMB]
    changed = torch.nonzero((emb != init).any(1)).flatten()
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in state.items()
               if k != TOKEN_EMB and v.is_floating_point()}
    tensors.update({k: v.contiguous() for k, v in state.items() if not v.is_floating_point()})
    tensors["token_embedding_rows"] = changed.to(torch.int64)
    tensors["token_embedding_values"] = emb[changed].to(torch.float16).contiguous()
    tmp = os.path.join(args.ckpt_dir, "weights.safetensors.tmp")
    save_file(tensors, tmp, metadata={"step": str(step)})
    os.replace(tmp, os.path.join(args.ckpt_dir, "weights.safetensors"))
    meta = {"step": step, "seed": args.seed, "config": config,
            "args": {k: v for k, v in vars(args).items() if k not in ("resume", "export_only")},
            "history": history[-200:]}
    tmp = os.path.join(args.ckpt_dir, "checkpoint.json.tmp")
    with open(tmp, "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, os.path.join(args.ckpt_dir, "checkpoint.json"))
    if args.full_state:
        tmp = args.full_state + ".tmp"
        torch.save({"step": step, "model": state, "optimizer": optimizer.state_dict()}, tmp)
        os.replace(tmp, args.full_state)


def load_shipped(folder):
    """The exported model folder as a checkpoint: what --resume starts from on a machine without
    --ckpt-dir (the checkpoint is not in git; the shipped weights are the same numbers)."""
    model, config = sm.load_release(folder)
    with safe_open(os.path.join(folder, "model.safetensors"), "pt") as f:
        tags = f.metadata()
    config = {k: v for k, v in config.items() if k not in LOOP_THRESHOLDS}
    return model.train(), {"step": int(tags["step"]), "seed": int(tags["seed"]), "config": config}


def load_checkpoint(args):
    if not os.path.exists(os.path.join(args.ckpt_dir, "checkpoint.json")):
        return load_shipped(args.out)
    with open(os.path.join(args.ckpt_dir, "checkpoint.json")) as f:
        meta = json.load(f)
    config = meta["config"]
    grow = args.memory_attention_layers - config["tracker_config"]["memory_attention_num_layers"]
    if grow > 0:
        config["tracker_config"]["memory_attention_num_layers"] = args.memory_attention_layers
    model = new_model(config, meta["seed"])
    t = load_file(os.path.join(args.ckpt_dir, "weights.safetensors"))
    rows, values = t.pop("token_embedding_rows"), t.pop("token_embedding_values")
    state = model.state_dict()
    emb = token_embedding_init(tuple(state[TOKEN_EMB].shape), meta["seed"])
    emb[rows] = values.float()
    t[TOKEN_EMB] = emb
    t = {k: v.float() if v.is_floating_point() else v for k, v in t.items()}
    if grow > 0:
        new = [k for k in state if k not in t]
        assert all(".memory_attention.layers." in k for k in new), new
        for k in new:
            # Pre-norm residual blocks: with their output projections at zero they pass the
            # queries through, so the grown tracker starts as the trained one.
            zero = any(o in k for o in ("self_attn.o_proj.", "cross_attn_image.o_proj.", "linear2."))
            t[k] = torch.zeros_like(state[k]) if zero else state[k]
        print("grew the memory attention by %d layers (%d new tensors)" % (grow, len(new)), flush=True)
    model.load_state_dict(t, strict=True)
    return model, meta


def metrics_text(folder):
    """The card's evaluation section: eval.py's JSON for both backends, side by side."""
    runs = {}
    for backend in ("transformers", "cpp"):
        path = os.path.join(folder, "eval-%s.json" % backend)
        if os.path.exists(path):
            with open(path) as f:
                runs[backend] = json.load(f)
    if not runs:
        return ("Not evaluated yet: `.venv/bin/python tools/shapes/eval.py models/sam3-shapes --backend "
                "transformers|cpp --json models/sam3-shapes/eval-<backend>.json`.")
    names = [b for b in ("transformers", "cpp") if b in runs]
    any_run = runs[names[0]]
    lines = ["`tools/shapes/eval.py` on held-out generated scenes and clips (a seed no training step uses), "
             "%s, score threshold %s, through %s:" % (
                 any_run.get("composition", "?"), any_run.get("threshold", "?"),
                 " and ".join({"transformers": "transformers (`Sam3Model`, `Sam3VideoModel`)",
                               "cpp": "our C++ (`sam3-image`; `sam3detect ! sam3track ! sam3export`)"}[n]
                              for n in names)), ""]

    def row(label, get):
        vals = []
        for n in names:
            try:
                vals.append(get(runs[n]))
            except (KeyError, TypeError):
                vals.append("-")
        return "| %s | %s |" % (label, " | ".join(vals))

    def prf(d):
        return "%.3f / %.3f / %.3f" % (d["precision"], d["recall"], d["mean_iou"])

    lines += ["| measure | %s |" % " | ".join({"transformers": "transformers", "cpp": "C++"}[n] for n in names),
              "| --- |%s" % (" --- |" * len(names))]
    lines.append(row("\"colour shape\" prompts: precision / recall / mean mask IoU",
                     lambda r: prf(r["detector"]["per_concept"]["_all_color+shape"])))
    lines.append(row("\"shape\" prompts: precision / recall / mean mask IoU",
                     lambda r: prf(r["detector"]["per_concept"]["_all_shape"])))
    lines.append(row("\"visual\" + a positive box: precision / recall / mean mask IoU",
                     lambda r: prf(r["detector"]["exemplars"]["visual+positive box"])))
    lines.append(row("shape + a negative box: precision / recall / mean mask IoU",
                     lambda r: prf(r["detector"]["exemplars"]["shape+negative box"])))
    lines.append(row("absent concepts: prompts with any detection",
                     lambda r: "%.1f %%" % (100 * r["detector"]["absent"]["false_positive_rate"])))
    lines.append(row("clips, text prompts through the video loop: recall of visible object-frames",
                     lambda r: "%.3f" % r["video"]["recall_visible"]))
    lines.append(row("clips: mean mask IoU of matched object-frames", lambda r: "%.3f" % r["video"]["mean_iou_matched"]))
    lines.append(row("clips: id switches per 100 object-frames",
                     lambda r: "%.2f" % r["video"]["id_switches_per_100_object_frames"]))
    lines.append(row("clips: ids kept through a full occlusion", lambda r: r["video"]["kept_id_through_hidden"]))
    lines.append(row("clips: false instances per frame", lambda r: "%.3f" % r["video"]["false_instances_per_frame"]))
    if len(names) > 1:
        lines += ["", VIDEO_COLUMNS_NOTE]
    t = runs.get("transformers", {}).get("tracker")
    if isinstance(t, dict):
        lines += ["", "Tracker alone (transformers; %d clips of %d frames, objects given by their true masks on "
                  "frame 0): mean mask IoU %.3f on visible frames, %.2f id switches per 100 object-frames, %s "
                  "objects recovered after being hidden, ghost masks on %.1f%% of hidden frames." % (
                      t["clips"], t["frames"], t["mean_iou_visible"], t["id_switches_per_100_object_frames"],
                      t["recovered_after_hidden"], 100 * t["ghost_rate_when_hidden"])]
    return "\n".join(lines)


# Why the two video columns differ (the detector's agree): the loops differ there by design.
VIDEO_COLUMNS_NOTE = (
    "The detector columns agree. The video columns differ where the two loops do by design: each clip "
    "prompts every concept visible on its first frame at once, and sam3track keeps the masks of different "
    "prompts from overlapping (a contested pixel goes to the more probable track, a newborn counting with its "
    "detection score, as the official loop does within its one prompt), where transformers separates masks "
    "within a prompt only (gst-sam3's docs/fidelity.md, \"several prompts at once\"). So a track that drifts "
    "onto another prompt's object is shown beside it in transformers (often a false instance) and, in C++, one "
    "of the two loses the contested pixels (often all of them: an emptied instance, counted apart).")


def write_model_card(args, config, tensors, step):
    with open(os.path.join(HERE, "model_card.md")) as f:
        text = f.read()
    hist = []
    meta_path = os.path.join(args.ckpt_dir, "checkpoint.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            hist = json.load(f).get("history", [])
    last = hist[-1] if hist else {}
    vit = config["detector_config"]["vision_config"]["backbone_config"]
    grid = vit["image_size"] // vit["patch_size"]
    fields = {
        "n_tensors": len(tensors), "n_params": "{:,}".format(sum(t.numel() for t in tensors.values())),
        "image_size": vit["image_size"], "patch": vit["patch_size"], "grid": grid, "low": 4 * grid,
        "shapes": ", ".join(scenes.SHAPES), "colors": ", ".join(scenes.COLOR_NAMES),
        "no_cls_pct": int(round(100 * args.no_cls_frac)), "steps": step, "seed": args.seed, "lr": args.lr,
        "wd": args.weight_decay, "images": args.images, "prompts": args.prompts, "clip_every": args.clip_every,
        "clip_frames": args.clip_frames, "clip_objects": args.clip_objects,
        "text_freeze": args.text_freeze_steps, "text_lr_scale": args.text_lr_scale, "easy": args.easy_steps,
        "focal_alpha": args.focal_alpha, "absent_cls": args.absent_cls_weight,
        "last_losses": ", ".join("%s %.4f" % (k, v) for k, v in last.items() if k not in ("step", "time"))
        or "(none logged)",
        "metrics": metrics_text(args.out),
    }
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(text.format(**fields))


# The video loop's score thresholds in the exported config.json (Sam3VideoConfig fields, read by
# transformers and by tools/shapes/eval.py for sam3track): this model's scores for present
# concepts sit between about 0.3 and 0.6, so the release's 0.5 and 0.7 would keep most of its
# detections out of the loop.
LOOP_THRESHOLDS = {"score_threshold_detection": 0.3, "new_det_thresh": 0.3}


def export(model, config, args, step):
    os.makedirs(args.out, exist_ok=True)
    config = dict(config, **LOOP_THRESHOLDS)
    tensors = sm.state_dict_for_export(model, torch.float16)
    save_file(tensors, os.path.join(args.out, "model.safetensors"),
              metadata={"format": "pt", "generator": "gst-sam3 tools/shapes/train.py", "step": str(step),
                        "seed": str(args.seed)})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    clip_vocab.write_tokenizer_files(args.out, args.bpe)
    write_model_card(args, config, tensors, step)
    # Round trip: transformers must load it strictly.
    reloaded, _ = sm.load_release(args.out)
    a = dict(reloaded.state_dict())
    assert a.keys() == tensors.keys()
    print("exported step %d to %s (%d tensors, %.1f MB)" % (
        step, args.out, len(tensors), os.path.getsize(os.path.join(args.out, "model.safetensors")) / 1e6), flush=True)


# ---------------------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    if args.shape_only and (args.tracker_only or args.aux_shape_weight <= 0):
        sys.exit("--shape-only needs --aux-shape-weight and excludes --tracker-only")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.export_only:
        model, meta = load_checkpoint(args)
        for k, v in meta.get("args", {}).items():  # the training run's settings, for the model card
            if k not in ("out", "ckpt_dir", "full_state", "bpe", "threads", "steps", "tracker_only"):
                setattr(args, k, v)
        args.seed = meta["seed"]
        export(model, meta["config"], args, meta["step"])
        return 0
    from transformers import CLIPTokenizer
    tok_dir = "/tmp/gst-sam3-shapes-tokenizer"
    if not os.path.exists(os.path.join(tok_dir, "merges.txt")):
        clip_vocab.write_tokenizer_files(tok_dir, args.bpe)
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir)

    history = []
    start = 0
    warm_start, warm_len = 0, args.warmup
    if args.resume:
        model, meta = load_checkpoint(args)
        config = meta["config"]
        start = meta["step"]
        history = meta.get("history", [])
        args.seed = meta["seed"]
        optimizer = make_optimizer(model, args)
        exact = False
        if args.full_state and os.path.exists(args.full_state):
            full = torch.load(args.full_state, map_location="cpu")
            # A grown model (--memory-attention-layers) has tensors the saved state lacks.
            if full["step"] == start and full["model"].keys() == model.state_dict().keys():
                model.load_state_dict(full["model"], strict=True)
                optimizer.load_state_dict(full["optimizer"])
                exact = True
        # A fresh optimiser, or a schedule stretched past the one the checkpoint was made with
        # (its learning rate jumps back up), both start with a short warm-up.
        if not exact or meta.get("args", {}).get("steps", args.steps) != args.steps:
            warm_start, warm_len = start, args.resume_warmup
        print("resumed at step %d (%s%s)" % (start, "exact: fp32 weights + optimiser state" if exact
                                             else "fp16 weights, fresh optimiser",
                                             ", %d-step warm-up" % warm_len if warm_start else ""), flush=True)
    else:
        config = sm.make_config()
        model = new_model(config, args.seed)
        optimizer = make_optimizer(model, args)
    model.train()
    aux_head = aux_optimizer = None
    if args.aux_shape_weight > 0:
        # Training-only and never saved: a linear probe is refitted in a few hundred steps.
        torch.manual_seed(args.seed + 2)
        aux_head = torch.nn.Linear(config["detector_config"]["vision_config"]["backbone_config"]["hidden_size"],
                                   len(scenes.SHAPES))
        aux_optimizer = torch.optim.AdamW(aux_head.parameters(), lr=1e-3, weight_decay=0.0)
    n_params = sum(p.numel() for p in model.parameters())
    print("model: %d parameters (%.1f MB in fp16); steps %d..%d" % (n_params, n_params * 2 / 1e6, start, args.steps), flush=True)

    t_start = time.time()
    t_ckpt = time.time()
    acc, acc_n = {}, 0
    t_log = time.time()
    step = start
    while step < args.steps:
        rng = np.random.default_rng([args.seed, step])
        lr = lr_at(step, args, warm_start, warm_len)
        for g in optimizer.param_groups:
            g["lr"] = lr * (text_lr_scale(step, args) if g.get("text") else 1.0)
        optimizer.zero_grad(set_to_none=True)
        if aux_optimizer is not None:
            aux_optimizer.zero_grad(set_to_none=True)
        if args.shape_only:
            loss, terms = shape_step(model, rng, args, aux_head)
        elif args.tracker_only:
            loss, terms = tracker_step(model, rng, args)
        else:
            loss, terms = detector_step(model, tokenizer, rng, args, step, aux_head)
            if args.clip_every and step % args.clip_every == 0:
                tl, tterms = tracker_step(model, rng, args)
                if tl is not None:
                    loss = loss + tl
                    terms.update(tterms)
        if loss is None:  # a clip or a batch of scenes with nothing to supervise
            step += 1
            continue
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if aux_optimizer is not None:
            aux_optimizer.step()
        step += 1
        terms["loss"] = loss.item()
        terms["gnorm"] = float(gn)
        for k, v in terms.items():
            a = acc.setdefault(k, [0.0, 0])
            a[0] += v
            a[1] += 1
        acc_n += 1
        if step % args.log_every == 0 or step == args.steps:
            now = time.time()
            means = {k: a[0] / max(a[1], 1) for k, a in acc.items()}
            rate = acc_n / (now - t_log)
            eta = (args.steps - step) / max(rate, 1e-9)
            means["textsim"] = text_similarity(model, tokenizer)
            print("step %6d lr %.2e | %s | %.2f step/s, %.2f s/step, eta %.0f min" % (
                step, lr, " ".join("%s %.4f" % (k, means[k]) for k in sorted(means)), rate, 1 / rate, eta / 60),
                flush=True)
            history.append({"step": step, "time": round(now - t_start, 1), **{k: round(v, 5) for k, v in means.items()}})
            acc, acc_n, t_log = {}, 0, now
        if time.time() - t_ckpt > args.ckpt_minutes * 60 or step == args.steps:
            save_checkpoint(model, optimizer, step, args, config, history)
            t_ckpt = time.time()
            print("checkpoint at step %d" % step, flush=True)
        if args.max_minutes and time.time() - t_start > args.max_minutes * 60:
            save_checkpoint(model, optimizer, step, args, config, history)
            print("stopping after %.1f min at step %d (resume with --resume)" % (args.max_minutes, step), flush=True)
            return 0
    model.eval()
    export(model, config, args, step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
