"""The small SAM 3 of models/sam3-shapes: its config, and the forward passes used to train it.

The model is transformers' Sam3VideoModel (detector Sam3Model + tracker Sam3TrackerVideoModel +
tracker neck) built from a small sam3_video config. Its state dict names are the release's.

Prompt composition follows the official SAM 3 (and our C++ runtime): the detector's prompt is
the 32 text tokens followed by the geometry encoder's output, which always exists -- with no
boxes it is the geometry encoder's CLS token alone. transformers' Sam3Model.forward skips the
geometry encoder when there are no boxes; `detect` below never does (unless asked, use_cls=False).
"""

import copy
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

from transformers import Sam3VideoConfig, Sam3VideoModel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from convert_sam3_pt import official_config  # noqa: E402  (the release's config.json)
from transformers.models.sam3.modeling_sam3 import box_cxcywh_to_xyxy, inverse_sigmoid

IMAGE_SIZE = 224
PATCH = 14
CONTEXT_LENGTH = 32


def _merge(base, overrides):
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def make_config(image_size=IMAGE_SIZE, vit_hidden=96, vit_layers=5, vit_heads=4, window=8,
                global_layers=(2, 4), hidden=64, text_hidden=64, text_layers=2, queries=24,
                detr_enc_layers=2, detr_dec_layers=3, geo_layers=1, mem_layers=2):
    """A sam3_video config.json dict: the release's (tools/convert_sam3_pt.py official_config)
    with the sizes of this small model. Dropout is written out as 0 (transformers' default)."""
    grid = image_size // PATCH
    heads = 4
    inner = hidden * 4
    no_dropout = {"dropout": 0.0}
    vision = {
        "backbone_config": {
            "hidden_size": vit_hidden, "intermediate_size": vit_hidden * 4,
            "num_hidden_layers": vit_layers, "num_attention_heads": vit_heads,
            "image_size": image_size, "window_size": window,
            "global_attn_indexes": list(global_layers), "pretrain_image_size": window * PATCH,
            "attention_dropout": 0.0, "hidden_dropout": 0.0},
        "fpn_hidden_size": hidden,
        "backbone_feature_sizes": [[4 * grid, 4 * grid], [2 * grid, 2 * grid], [grid, grid]],
    }
    layers = lambda n: {"hidden_size": hidden, "num_layers": n, "num_attention_heads": heads,
                        "intermediate_size": inner, **no_dropout}
    overrides = {
        "low_res_mask_size": 4 * grid,
        "detector_config": {
            "vision_config": vision,
            "text_config": {
                "hidden_size": text_hidden, "intermediate_size": text_hidden * 4,
                "projection_dim": text_hidden, "num_hidden_layers": text_layers,
                "num_attention_heads": 4, "attention_dropout": 0.0, **no_dropout},
            "geometry_encoder_config": layers(geo_layers),
            "detr_encoder_config": layers(detr_enc_layers),
            "detr_decoder_config": {**layers(detr_dec_layers), "num_queries": queries},
            "mask_decoder_config": {"hidden_size": hidden, "num_attention_heads": heads,
                                    **no_dropout},
        },
        "tracker_config": {
            "image_size": image_size,
            "vision_config": copy.deepcopy(vision),
            "prompt_encoder_config": {"hidden_size": hidden, "image_size": image_size},
            "mask_decoder_config": {"hidden_size": hidden, "mlp_dim": inner,
                                    "num_attention_heads": heads, "iou_head_hidden_dim": hidden},
            "memory_attention_hidden_size": hidden,
            "memory_attention_num_layers": mem_layers,
            "memory_attention_feed_forward_hidden_size": inner,
            "memory_attention_rope_feat_sizes": [grid, grid],
            "memory_attention_dropout": 0.0,
            "memory_attention_rope_dropout": 0.0,
            # The release's 64 memory channels stay: transformers hard-codes the memory
            # cross-attention's key width to 64.
            "memory_encoder_hidden_size": hidden,
            "mask_downsampler_embed_dim": hidden,
            "memory_fuser_embed_dim": hidden,
            "memory_fuser_intermediate_dim": inner,
        },
    }
    config = _merge(official_config(True), overrides)
    check_config(config)
    return config


def check_config(config):
    """The constraints src/model/config.cpp `validate` checks (the ones this config can break)."""
    d = config["detector_config"]
    vit = d["vision_config"]["backbone_config"]
    fpn = d["vision_config"]["fpn_hidden_size"]
    grid = vit["image_size"] // vit["patch_size"]
    assert vit["image_size"] % vit["patch_size"] == 0
    assert (vit["hidden_size"] // vit["num_attention_heads"]) % 4 == 0, "ViT head_dim % 4"
    assert vit["hidden_size"] % vit["num_attention_heads"] == 0
    assert vit["pretrain_image_size"] % vit["patch_size"] == 0
    g = vit["global_attn_indexes"]
    assert g == sorted(set(g)) and g[-1] == vit["num_hidden_layers"] - 1
    assert fpn % 4 == 0 and fpn % 8 == 0
    sizes = d["vision_config"]["backbone_feature_sizes"]
    for s, f in zip(sizes, d["vision_config"]["scale_factors"]):
        assert s == [int(math.floor(grid * f))] * 2
    t = d["text_config"]
    assert t["hidden_size"] % t["num_attention_heads"] == 0 and t["max_position_embeddings"] == 32
    for k in ("geometry_encoder_config", "detr_encoder_config", "detr_decoder_config", "mask_decoder_config"):
        assert d[k]["hidden_size"] == fpn and fpn % d[k]["num_attention_heads"] == 0, k
    tr = config["tracker_config"]
    h = tr["prompt_encoder_config"]["hidden_size"]
    assert tr["image_size"] == vit["image_size"] and h == fpn
    assert tr["mask_decoder_config"]["hidden_size"] == h == tr["memory_attention_hidden_size"] == \
        tr["memory_encoder_hidden_size"] == tr["mask_downsampler_embed_dim"] == tr["memory_fuser_embed_dim"]
    md = tr["mask_decoder_config"]
    assert (h // md["attention_downsample_rate"]) % md["num_attention_heads"] == 0
    assert (h // tr["memory_attention_num_attention_heads"]) % 4 == 0
    assert h % tr["memory_encoder_output_channels"] == 0
    assert tr["memory_encoder_output_channels"] == 64  # transformers' fixed kv_in_dim
    assert tr["memory_attention_rope_feat_sizes"] == [grid, grid]


def build_model(config_dict, seed=0):
    torch.manual_seed(seed)
    config = Sam3VideoConfig(**copy.deepcopy(config_dict))
    config._attn_implementation = "sdpa"
    model = Sam3VideoModel(config)
    return model


def state_dict_for_export(model, dtype=torch.float16):
    """The release's tensors: transformers' state dict (persistent entries only)."""
    out = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        if v.is_floating_point():
            v = v.to(dtype)
        out[k] = v.contiguous()
    return out


# ---------------------------------------------------------------------------------------
# Detector
# ---------------------------------------------------------------------------------------

def encode_text(det, input_ids, attention_mask):
    out = det.get_text_features(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
    return out.pooler_output, attention_mask.bool()


def detect(det, fpn, fpn_pos, text_feats, text_mask, boxes=None, box_labels=None, use_cls=True,
           mask_rows=None, drop_geometry=None):
    """The detector heads with the official prompt composition.

    fpn, fpn_pos: the vision neck's levels without the dropped lowest one (batch B).
    text_feats (B, 32, C), text_mask (B, 32) bool.
    boxes (B, N, 4) cxcywh normalised, box_labels (B, N): 1 positive, 0 negative, -10 padding.
    N may be 0 (then, with use_cls, the prompt is the text + the geometry encoder's CLS token).
    mask_rows: compute masks only for these rows (training economy); default all.
    drop_geometry: (B,) bool, rows whose geometry tokens are all masked out, which is exactly
    transformers' text-only composition (no CLS) for rows without boxes.
    Returns a dict of all decoder layers' logits/boxes/presence and the last layer's masks.
    """
    B = text_feats.shape[0]
    prompt, prompt_mask = text_feats, text_mask
    if use_cls or (boxes is not None and boxes.shape[1] > 0):
        if boxes is None:
            boxes = text_feats.new_zeros(B, 0, 4)
            box_labels = torch.zeros(B, 0, dtype=torch.long, device=text_feats.device)
        box_mask = box_labels != -10
        labels = torch.where(box_labels == -10, torch.zeros_like(box_labels), box_labels)
        geo = det.geometry_encoder(box_embeddings=boxes, box_mask=box_mask, box_labels=labels,
                                   img_feats=fpn, img_pos_embeds=fpn_pos)
        geo_mask = geo.attention_mask.bool()
        if drop_geometry is not None:
            geo_mask = geo_mask & ~drop_geometry[:, None]
        prompt = torch.cat([text_feats, geo.last_hidden_state], dim=1)
        prompt_mask = torch.cat([text_mask, geo_mask], dim=1)

    enc = det.detr_encoder(vision_features=[fpn[-1]], text_features=prompt,
                           vision_pos_embeds=[fpn_pos[-1]], text_mask=prompt_mask)
    dec = det.detr_decoder(vision_features=enc.last_hidden_state, text_features=enc.text_features,
                           vision_pos_encoding=enc.pos_embeds_flattened, text_mask=prompt_mask,
                           spatial_shapes=enc.spatial_shapes)
    hidden = dec.intermediate_hidden_states  # (L, B, Q, C)
    offsets = det.detr_decoder.box_head(hidden)
    boxes_cxcywh = (inverse_sigmoid(dec.reference_boxes) + offsets).sigmoid()
    logits = det.dot_product_scoring(decoder_hidden_states=hidden, text_features=enc.text_features,
                                     text_mask=prompt_mask).squeeze(-1)
    if mask_rows is None:
        masks = det.mask_decoder(decoder_queries=hidden[-1], backbone_features=list(fpn),
                                 encoder_hidden_states=enc.last_hidden_state, prompt_features=prompt,
                                 prompt_mask=prompt_mask)
    else:
        r = mask_rows
        masks = det.mask_decoder(decoder_queries=hidden[-1][r], backbone_features=[f[r] for f in fpn],
                                 encoder_hidden_states=enc.last_hidden_state[r], prompt_features=prompt[r],
                                 prompt_mask=prompt_mask[r])
    return {"logits": logits, "boxes": boxes_cxcywh, "presence": dec.presence_logits.squeeze(-1)
            if dec.presence_logits.dim() == 4 else dec.presence_logits,
            "masks": masks.pred_masks, "semantic": masks.semantic_seg}


def vision_features(model, pixel_values):
    """(ViT output, detector fpn levels, detector fpn pos) -- fpn lists without the dropped level."""
    det = model.detector_model
    out = det.vision_encoder(pixel_values)
    return out, list(out.fpn_hidden_states[:-1]), list(out.fpn_position_encoding[:-1])


def tracker_features(model, vit_out):
    """The tracker's levels from the shared ViT output: (feature maps (HW, B, C) x3, pos x3)."""
    return model.get_vision_features_for_tracker(vit_out)


def preprocess(images_uint8, size=IMAGE_SIZE):
    """(N, H, W, 3) uint8 numpy/tensor -> (N, 3, size, size) in [-1, 1] as the C++ runtime does."""
    x = torch.as_tensor(images_uint8)
    if x.dim() == 3:
        x = x[None]
    x = x.permute(0, 3, 1, 2).float()
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return (x / 255.0 - 0.5) / 0.5


def load_release(model_dir, dtype=torch.float32):
    """A model folder -> Sam3VideoModel with a strict state-dict load (raises on any mismatch)."""
    from safetensors.torch import load_file
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = build_model(cfg)
    state = load_file(os.path.join(model_dir, "model.safetensors"))
    state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    return model.to(dtype).eval(), cfg


# ---------------------------------------------------------------------------------------
# Tracker (batched over objects of one clip; mirrors Sam3TrackerVideoModel's per-object code)
# ---------------------------------------------------------------------------------------

NO_OBJ_SCORE = -1024.0


def sam_heads(trk, pix_feat, high_res, points=None, labels=None, boxes=None, mask_inputs=None,
              multimask=True):
    """The SAM prompt encoder + mask decoder for N objects (one prompt each).

    pix_feat (N, C, g, g); high_res: [s0 (N, C/8, 4g, 4g), s1 (N, C/4, 2g, 2g)].
    points (N, 1, P, 2) pixels of the model input, labels (N, 1, P); boxes (N, 1, 4) xyxy pixels;
    mask_inputs (N, 1, 4g, 4g) logits-like. Returns masks (N, K, 4g, 4g), iou (N, K),
    tokens (N, K, C), object_score (N, 1), with K = 3 (multimask) or 1.
    """
    N = pix_feat.shape[0]
    pe = trk.get_image_wide_positional_embeddings().repeat(N, 1, 1, 1)
    if points is None and boxes is None:
        points = pix_feat.new_zeros(N, 1, 1, 2)
        labels = -torch.ones(N, 1, 1, dtype=torch.int32, device=pix_feat.device)
    if mask_inputs is not None and mask_inputs.shape[-2:] != trk.prompt_encoder.mask_input_size:
        mask_inputs = F.interpolate(mask_inputs.float(), size=trk.prompt_encoder.mask_input_size,
                                    align_corners=False, mode="bilinear", antialias=True)
    sparse, dense = trk.prompt_encoder(input_points=points, input_labels=labels, input_boxes=boxes,
                                       input_masks=mask_inputs)
    masks, iou, tokens, obj = trk.mask_decoder(
        image_embeddings=pix_feat, image_positional_embeddings=pe, sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense, multimask_output=multimask, high_resolution_features=high_res)
    return masks[:, 0], iou[:, 0], tokens[:, 0], obj[:, 0]


def select_best(masks, iou, tokens):
    """The mask (and its output token) with the highest predicted IoU, per object."""
    if masks.shape[1] == 1:
        return masks[:, 0], tokens[:, 0], iou[:, 0]
    best = iou.argmax(dim=1)
    idx = torch.arange(masks.shape[0], device=masks.device)
    return masks[idx, best], tokens[idx, best], iou[idx, best]


def object_pointer(trk, token, obj_score):
    ptr = trk.object_pointer_proj(token)
    appear = (obj_score > 0).to(ptr.dtype)
    return appear * ptr + (1 - appear) * trk.no_object_pointer


def mask_as_output(trk, pix_feat, high_res, mask_inputs, image_size):
    """_use_mask_as_output for N objects: a given binary mask (N, 1, h, w) becomes the output."""
    out_scale, out_bias = 20.0, -10.0
    m = mask_inputs.to(pix_feat.dtype)
    if m.shape[-2:] != (image_size, image_size):
        m = F.interpolate(m.float(), size=(image_size, image_size), align_corners=False,
                          mode="bilinear", antialias=True).to(pix_feat.dtype)
    high = m * out_scale + out_bias
    low = F.interpolate(high.float(), size=trk.prompt_encoder.mask_input_size, align_corners=False,
                        mode="bilinear", antialias=True).to(pix_feat.dtype)
    masks, iou, tokens, obj = sam_heads(trk, pix_feat, high_res, mask_inputs=trk.mask_downsample(m),
                                        multimask=True)
    # the pointer comes from the best mask token of the SAM heads run on the mask prompt
    _, token, _ = select_best(masks, iou, tokens)
    ptr = trk.object_pointer_proj(token)
    appear = torch.any(mask_inputs.flatten(1).float() > 0.0, dim=1)[:, None].to(ptr.dtype)
    ptr = appear * ptr + (1 - appear) * trk.no_object_pointer
    score = out_scale * appear + out_bias
    return {"low": low[:, 0], "high": high, "pointer": ptr, "object_score": score}


def encode_memory(trk, feat_flat, high_res_masks, obj_score):
    """(maskmem (HW, N, mem) bf16-rounded float, pos (HW, N, mem)) as transformers stores them."""
    feats, pos = trk._encode_new_memory(current_vision_feats=feat_flat, pred_masks_high_res=high_res_masks,
                                        object_score_logits=obj_score.reshape(-1, 1, 1),
                                        is_mask_from_pts=False)
    return feats.to(feat_flat.dtype), pos


def memory_condition(trk, feat_flat, pos_flat, cond_mem, prev_mems, cond_ptrs, prev_ptrs, grid,
                     max_ptrs=16):
    """_prepare_memory_conditioned_features for N objects.

    cond_mem: list of (maskmem, pos) of conditioning frames (temporal position 0);
    prev_mems: list of (maskmem, pos, t_pos in 1..num_maskmem-1);
    cond_ptrs / prev_ptrs: lists of (pointer (N, C), temporal offset).
    Returns the conditioned map (N, C, g, g).
    """
    N = feat_flat.shape[1]
    C = trk.hidden_dim
    mems, mem_pos = [], []
    for f, p in cond_mem:
        mems.append(f)
        mem_pos.append(p + trk.memory_temporal_positional_encoding[-1])
    for f, p, t in prev_mems:
        mems.append(f)
        mem_pos.append(p + trk.memory_temporal_positional_encoding[t - 1])
    ptrs = list(cond_ptrs) + list(prev_ptrs)
    n_ptr = 0
    if ptrs:
        obj_ptrs, obj_pos = trk._process_object_pointers([o for _, o in ptrs], [p for p, _ in ptrs],
                                                         max_ptrs, N, C, feat_flat.device)
        mems.append(obj_ptrs)
        mem_pos.append(obj_pos)
        n_ptr = obj_ptrs.shape[0]
    out = trk.memory_attention(current_vision_features=feat_flat, current_vision_position_embeddings=pos_flat,
                               memory=torch.cat(mems, 0), memory_posision_embeddings=torch.cat(mem_pos, 0),
                               num_object_pointer_tokens=n_ptr)
    # (1, N, HW, C) -> (N, C, g, g); transformers' squeeze(1) form is only right for N = 1
    return out.reshape(N, grid * grid, C).transpose(1, 2).reshape(N, C, grid, grid)
