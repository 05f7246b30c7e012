#!/usr/bin/env python3
"""Reference tensors of the SAM 3 tracker from transformers, for tests/unit/test_tracker_parity.cpp.

Runs transformers' Sam3VideoModel (its tracker_model, fed the detector's ViT features through
the tracker neck, as the video model feeds it) on a seeded clip of --frames frames: object 1 is
prompted with a box and object 2 with a positive and a negative click on frame 0, then both are
propagated frame by frame. Memory is written as the video model writes it (after the frame's
masks are final, from the low-resolution mask logits), which is how libsam3's loop drives its
tracker; the prompted frame's memory comes from the high-resolution mask, as in transformers'
tracker.

Saved, per frame f and object k (k = 0, 1):
  f{f}.pixel_values            the frame's normalised pixels (the input)
  f{f}.features.{0,1,2}        the tracker's view of the frame (conv_s0, conv_s1, level g)
  f{f}.position                the sine position encoding of level g
  f{f}.obj{k}.mask_logits      (4g, 4g) low-resolution logits of the chosen mask
  f{f}.obj{k}.object_score     object-score logit
  f{f}.obj{k}.object_pointer   (C,)
  f{f}.obj{k}.maskmem          (mem, g, g) the memory written for the frame
and, for the blocks, their inputs and outputs on the calls named in BLOCK_CALLS ("in." / "out."
prefixes, tensors as transformers passes them).

With --behaviour official the prompted frame's memory mask is mapped (> 0) before it is
resized to the memory encoder's input size, as the official SAM 3 does; transformers resizes
the logits first.
"""

import argparse
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

import transformers
from transformers import Sam3VideoConfig, Sam3VideoModel
from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import (
    Sam3TrackerVideoInferenceSession,
)

PIXEL_SEED = 20261206
BOX = [18.0, 26.0, 74.0, 90.0]  # object 1, pixels of a 112 x 112 input (scaled to image_size)
POINTS = [[62.0, 40.0], [28.0, 84.0]]  # object 2: a positive and a negative click
POINT_LABELS = [1, 0]
# (block, frame, object index): the calls whose inputs and outputs are saved.
BLOCK_CALLS = {
    ("prompt_encoder", 0, 0): "box",
    ("prompt_encoder", 0, 1): "points",
    ("mask_decoder", 0, 0): "single",
    ("mask_decoder", -1, 1): "multimask",
    ("memory_attention", -1, 0): "full_bank",
    ("object_pointer_proj", -1, 1): "tracked",
    ("memory_encoder", 0, 0): "prompted",
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="sam3_video model folder")
    p.add_argument("--out", required=True)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--behaviour", choices=["transformers", "official"], default="transformers")
    return p.parse_args()


def load_model(model_dir):
    config = Sam3VideoConfig.from_pretrained(model_dir)
    config._attn_implementation = "eager"
    model = Sam3VideoModel(config)
    model.load_state_dict(load_file(os.path.join(model_dir, "model.safetensors")), strict=True)
    for module in model.modules():  # non-persistent RoPE tables, filled explicitly
        if hasattr(module, "rope_embeddings_cos"):
            model._init_weights(module)
    return model.eval()


def make_clip(frames, size):
    """Smooth seeded noise with a bright square moving across: something for the masks to
    follow, though with random weights the content matters little."""
    g = torch.Generator().manual_seed(PIXEL_SEED)
    base = F.interpolate(torch.rand(frames, 3, size // 8, size // 8, generator=g) * 2 - 1,
                         size=(size, size), mode="bilinear", align_corners=False)
    for f in range(frames):
        x = 10 + (f * 5) % (size - 40)
        base[f, :, 30:60, x:x + 30] = 1.5
    return base


class Recorder:
    """Forward hooks that keep the inputs and outputs of the chosen block calls."""

    def __init__(self, tracker, frames):
        self.frames = frames
        self.frame = 0
        self.calls = {}
        self.saved = {}
        for name in sorted({b for b, _, _ in BLOCK_CALLS}):
            getattr(tracker, name).register_forward_hook(self.hook(name), with_kwargs=True)

    def hook(self, name):
        def fn(module, args, kwargs, output):
            key = (name, self.frame)
            index = self.calls.get(key, 0)
            self.calls[key] = index + 1
            label = BLOCK_CALLS.get((name, self.frame, index)) or (
                BLOCK_CALLS.get((name, -1, index)) if self.frame == self.frames - 1 else None)
            if label is None:
                return
            prefix = f"{name}.{label}."
            params = list(module.forward.__code__.co_varnames[1:module.forward.__code__.co_argcount])
            values = dict(zip(params, args))
            values.update(kwargs)
            for k, v in values.items():
                if torch.is_tensor(v):
                    self.saved[prefix + "in." + k] = v
                elif isinstance(v, (list, tuple)) and v and all(torch.is_tensor(t) for t in v):
                    for i, t in enumerate(v):
                        self.saved[prefix + f"in.{k}.{i}"] = t
                elif isinstance(v, (bool, int)):
                    self.saved[prefix + "in." + k] = torch.tensor(int(v))
            outs = output if isinstance(output, (tuple, list)) else (output,)
            for i, t in enumerate(outs):
                if torch.is_tensor(t):
                    self.saved[prefix + f"out.{i}"] = t
        return fn


def encode_memory(tracker, session, frame, feats, masks, scores, binarize, official):
    """The memory of `frame` for every object from `masks` (N,1,H,W) logits, stored where
    transformers' tracker reads it."""
    n = masks.shape[0]
    if official and binarize:
        # The official order: map the mask, then resize it to the encoder's input size.
        size = tracker.prompt_encoder.mask_input_size[0] * 4
        mapped = (masks > 0).float() * tracker.config.sigmoid_scale_for_mem_enc + \
            tracker.config.sigmoid_bias_for_mem_enc
        mapped = F.interpolate(mapped, size=(size, size), mode="bilinear", align_corners=False,
                               antialias=True)
        c, g = tracker.hidden_dim, tracker.backbone_feature_sizes[-1]
        pix = feats[-1].expand(-1, n, -1).permute(1, 2, 0).reshape(n, c, *g)
        maskmem, pos = tracker.memory_encoder(pix, mapped)
        if tracker.occlusion_spatial_embedding_parameter is not None:
            absent = (scores.reshape(n) <= 0).float().view(n, 1, 1, 1)
            maskmem = maskmem + absent * tracker.occlusion_spatial_embedding_parameter.view(1, -1, 1, 1)
        maskmem = maskmem.to(torch.bfloat16).flatten(2).permute(2, 0, 1)
        pos = pos.flatten(2).permute(2, 0, 1)
    else:
        maskmem, pos = tracker._encode_new_memory(
            current_vision_feats=feats[-1].expand(-1, n, -1), pred_masks_high_res=masks,
            object_score_logits=scores, is_mask_from_pts=binarize)
    for k in range(n):
        outputs = session.output_dict_per_obj[k]
        key = "cond_frame_outputs" if frame in outputs["cond_frame_outputs"] else "non_cond_frame_outputs"
        outputs[key][frame]["maskmem_features"] = maskmem[:, k:k + 1]
        outputs[key][frame]["maskmem_pos_enc"] = pos[:, k:k + 1]
    return maskmem


@torch.no_grad()
def main():
    args = parse_args()
    torch.set_float32_matmul_precision("highest")
    model = load_model(args.model)
    tracker = model.tracker_model
    size = tracker.image_size
    scale = size / 112.0
    clip = make_clip(args.frames, size)
    session = Sam3TrackerVideoInferenceSession(video=clip, video_height=size, video_width=size,
                                               dtype=torch.float32)
    recorder = Recorder(tracker, args.frames)
    saved = {"box": torch.tensor(BOX) * scale, "points": torch.tensor(POINTS) * scale,
             "point_labels": torch.tensor(POINT_LABELS)}

    for obj_id in (1, 2):
        session.obj_id_to_idx(obj_id)
    session.add_point_inputs(0, 0, {"point_coords": saved["box"].view(1, 1, 2, 2),
                                    "point_labels": torch.tensor([[[2, 3]]])})
    session.add_point_inputs(1, 0, {"point_coords": saved["points"].view(1, 1, 2, 2),
                                    "point_labels": saved["point_labels"].view(1, 1, 2)})
    session.obj_with_new_inputs = [1, 2]

    for f in range(args.frames):
        recorder.frame = f
        pixels = clip[f:f + 1]
        feats, pos = model.get_vision_features_for_tracker(
            model.detector_model.get_vision_features(pixel_values=pixels))
        session.cache.cache_vision_features(f, {"vision_feats": feats, "vision_pos_embeds": pos})
        g = tracker.backbone_feature_sizes
        saved[f"f{f}.pixel_values"] = pixels
        for i, (x, s) in enumerate(zip(feats, g)):
            saved[f"f{f}.features.{i}"] = x.permute(1, 2, 0).reshape(1, -1, *s)
        saved[f"f{f}.position"] = pos[-1].permute(1, 2, 0).reshape(1, -1, *g[-1])

        out = tracker(inference_session=session, frame_idx=f, run_mem_encoder=False)
        prompted = f == 0
        key = "cond_frame_outputs" if prompted else "non_cond_frame_outputs"
        current = [session.output_dict_per_obj[k][key][f] for k in range(2)]
        if prompted:
            masks = torch.cat([c["high_res_masks"] for c in current])
        else:
            masks = out.pred_masks
        scores = torch.cat([c["object_score_logits"] for c in current])
        maskmem = encode_memory(tracker, session, f, feats, masks, scores, prompted,
                                args.behaviour == "official")
        for k in range(2):
            saved[f"f{f}.obj{k}.mask_logits"] = current[k]["pred_masks"].reshape(
                current[k]["pred_masks"].shape[-2:])
            saved[f"f{f}.obj{k}.object_score"] = current[k]["object_score_logits"].reshape(())
            saved[f"f{f}.obj{k}.object_pointer"] = current[k]["object_pointer"].reshape(-1)
            saved[f"f{f}.obj{k}.maskmem"] = maskmem[:, k].permute(1, 0).reshape(
                -1, *tracker.backbone_feature_sizes[-1])

    saved.update(recorder.saved)
    missing = {f"{b}.{label}" for (b, _, _), label in BLOCK_CALLS.items()} - {
        ".".join(k.split(".")[:2]) for k in recorder.saved}
    if missing:
        sys.exit(f"block calls not seen: {sorted(missing)}")
    tensors = {}
    for name, t in saved.items():
        t = t.detach().cpu()
        if t.is_floating_point():
            t = t.to(torch.float32)
        tensors[name] = t.contiguous().clone()
    save_file(tensors, args.out, metadata={
        "generator": "tools/make_tracker_reference.py", "transformers": transformers.__version__,
        "torch": torch.__version__, "frames": str(args.frames), "behaviour": args.behaviour,
        "dtype": "fp32"})
    print(f"wrote {len(tensors)} tensors ({args.frames} frames) to {args.out}")


if __name__ == "__main__":
    main()
