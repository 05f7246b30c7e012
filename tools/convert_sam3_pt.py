#!/usr/bin/env python3
"""Convert Meta's original SAM 3 checkpoint (sam3.pt) into a model folder gst-sam3 reads.

    python3 tools/convert_sam3_pt.py SAM3_PT OUT_DIR [--bpe FILE] [--config FILE]

sam3.pt is the torch.save'd state dict of facebookresearch/sam3's video model: keys under
"detector." (the image detector) and "tracker." (the SAM-2-style tracker). OUT_DIR receives
model.safetensors with the detector under transformers' Sam3Model names (model_type "sam3",
no prefix), config.json in transformers' layout, and the tokenizer when --bpe is given.

The renames follow transformers' convert_sam3_to_hf.py. Tracker weights are not converted:
transformers' video conversion script was written against an internal checkpoint layout
and nothing here can check its renames yet, so they are listed as dropped.

Every input key is either converted or dropped for a stated reason; anything else, and any
tensor whose shape does not fit the config, stops the conversion with the list of offenders.
Only torch is required (the `safetensors` package is used when installed).
"""

import argparse
import ctypes
import json
import os
import re
import shutil
import sys

# Official SAM 3 sizes in transformers' config.json layout (Sam3Config defaults, as
# gst-sam3's sam3-make-test-model --preset full writes them).
OFFICIAL_CONFIG = {
    "model_type": "sam3",
    "vision_config": {
        "model_type": "sam3_vision_model",
        "backbone_config": {
            "model_type": "sam3_vit_model",
            "hidden_size": 1024,
            "intermediate_size": 4736,
            "num_hidden_layers": 32,
            "num_attention_heads": 16,
            "num_channels": 3,
            "image_size": 1008,
            "patch_size": 14,
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-06,
            "rope_theta": 10000.0,
            "window_size": 24,
            "global_attn_indexes": [7, 15, 23, 31],
            "pretrain_image_size": 336,
        },
        "fpn_hidden_size": 256,
        "backbone_feature_sizes": [[288, 288], [144, 144], [72, 72]],
        "scale_factors": [4.0, 2.0, 1.0, 0.5],
    },
    "text_config": {
        "model_type": "clip_text_model",
        "vocab_size": 49408,
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "projection_dim": 512,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "max_position_embeddings": 32,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-05,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
    },
    "geometry_encoder_config": {
        "model_type": "sam3_geometry_encoder",
        "hidden_size": 256,
        "num_layers": 3,
        "num_attention_heads": 8,
        "intermediate_size": 2048,
        "hidden_act": "relu",
        "layer_norm_eps": 1e-06,
        "roi_size": 7,
    },
    "detr_encoder_config": {
        "model_type": "sam3_detr_encoder",
        "hidden_size": 256,
        "num_layers": 6,
        "num_attention_heads": 8,
        "intermediate_size": 2048,
        "hidden_act": "relu",
        "layer_norm_eps": 1e-06,
    },
    "detr_decoder_config": {
        "model_type": "sam3_detr_decoder",
        "hidden_size": 256,
        "num_layers": 6,
        "num_queries": 200,
        "num_attention_heads": 8,
        "intermediate_size": 2048,
        "hidden_act": "relu",
        "layer_norm_eps": 1e-06,
    },
    "mask_decoder_config": {
        "model_type": "sam3_mask_decoder",
        "hidden_size": 256,
        "num_upsampling_stages": 3,
        "num_attention_heads": 8,
        "layer_norm_eps": 1e-06,
    },
}

BPE_NAME = "bpe_simple_vocab_16e6.txt.gz"

# Input keys with no counterpart in transformers' Sam3Model, and why.
DROPPED = [
    (re.compile(r"\.freqs_cis$"), "RoPE table (complex64); recomputed from the config"),
    (
        re.compile(r"^detector\.geometry_encoder\.points_(direct|pool|pos_enc)_project\."),
        "point-prompt projections; the concept detector takes no point prompts "
        "(transformers' Sam3GeometryEncoder has none)",
    ),
    (
        re.compile(r"^detector\.backbone\.vision_backbone\.sam2_convs\."),
        "tracker neck; tracker weights are not converted",
    ),
    (re.compile(r"^tracker\."), "tracker; tracker weights are not converted"),
]


def _keep(t):
    return t


def _split3(t):
    # q, k, v are stacked along the output dimension.
    return list(t.chunk(3, dim=0))


def _drop_cls_row(t):
    return t[:, 1:, :]


def _transpose(t):
    return t.t()


_NORM_MLP_RENAMES = [
    (r"linear1\.", "mlp.fc1."),
    (r"linear2\.", "mlp.fc2."),
    (r"norm1\.", "layer_norm1."),
    (r"norm2\.", "layer_norm2."),
    (r"norm3\.", "layer_norm3."),
]

# (pattern on the key without "detector.", replacement, transform). The first match wins;
# replacement may use the pattern's groups. A transform returning a list writes the pieces
# to the names made by put q/k/v in place of "{}".
_RULES = [
    # ViT
    (r"backbone\.vision_backbone\.trunk\.pos_embed$",
     "vision_encoder.backbone.embeddings.position_embeddings", _drop_cls_row),
    (r"backbone\.vision_backbone\.trunk\.patch_embed\.proj\.(weight)$",
     r"vision_encoder.backbone.embeddings.patch_embeddings.projection.\1", _keep),
    (r"backbone\.vision_backbone\.trunk\.ln_pre\.(weight|bias)$",
     r"vision_encoder.backbone.layer_norm.\1", _keep),
    (r"backbone\.vision_backbone\.trunk\.blocks\.(\d+)\.norm([12])\.(weight|bias)$",
     r"vision_encoder.backbone.layers.\1.layer_norm\2.\3", _keep),
    (r"backbone\.vision_backbone\.trunk\.blocks\.(\d+)\.attn\.qkv\.(weight|bias)$",
     r"vision_encoder.backbone.layers.\1.attention.{}_proj.\2", _split3),
    (r"backbone\.vision_backbone\.trunk\.blocks\.(\d+)\.attn\.proj\.(weight|bias)$",
     r"vision_encoder.backbone.layers.\1.attention.o_proj.\2", _keep),
    (r"backbone\.vision_backbone\.trunk\.blocks\.(\d+)\.mlp\.(fc[12])\.(weight|bias)$",
     r"vision_encoder.backbone.layers.\1.mlp.\2.\3", _keep),
    # Detector neck
    (r"backbone\.vision_backbone\.convs\.(\d+)\.(?:dconv_2x2_0|dconv_2x2)\.(weight|bias)$",
     r"vision_encoder.neck.fpn_layers.\1.scale_layers.0.\2", _keep),
    (r"backbone\.vision_backbone\.convs\.(\d+)\.dconv_2x2_1\.(weight|bias)$",
     r"vision_encoder.neck.fpn_layers.\1.scale_layers.2.\2", _keep),
    (r"backbone\.vision_backbone\.convs\.(\d+)\.conv_1x1\.(weight|bias)$",
     r"vision_encoder.neck.fpn_layers.\1.proj1.\2", _keep),
    (r"backbone\.vision_backbone\.convs\.(\d+)\.conv_3x3\.(weight|bias)$",
     r"vision_encoder.neck.fpn_layers.\1.proj2.\2", _keep),
    # Text encoder (CLIP names; its attention keeps "out_proj")
    (r"backbone\.language_backbone\.encoder\.token_embedding\.weight$",
     "text_encoder.text_model.embeddings.token_embedding.weight", _keep),
    (r"backbone\.language_backbone\.encoder\.positional_embedding$",
     "text_encoder.text_model.embeddings.position_embedding.weight", _keep),
    (r"backbone\.language_backbone\.encoder\.ln_final\.(weight|bias)$",
     r"text_encoder.text_model.final_layer_norm.\1", _keep),
    # Stored as x @ P ([hidden, projection]); a Linear weight is its transpose.
    (r"backbone\.language_backbone\.encoder\.text_projection$",
     "text_encoder.text_projection.weight", _transpose),
    (r"backbone\.language_backbone\.encoder\.transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$",
     r"text_encoder.text_model.encoder.layers.\1.self_attn.{}_proj.\2", _split3),
    (r"backbone\.language_backbone\.encoder\.transformer\.resblocks\.(\d+)\.attn\.out_proj\.(weight|bias)$",
     r"text_encoder.text_model.encoder.layers.\1.self_attn.out_proj.\2", _keep),
    (r"backbone\.language_backbone\.encoder\.transformer\.resblocks\.(\d+)\.ln_([12])\.(weight|bias)$",
     r"text_encoder.text_model.encoder.layers.\1.layer_norm\2.\3", _keep),
    (r"backbone\.language_backbone\.encoder\.transformer\.resblocks\.(\d+)\.mlp\.c_fc\.(weight|bias)$",
     r"text_encoder.text_model.encoder.layers.\1.mlp.fc1.\2", _keep),
    (r"backbone\.language_backbone\.encoder\.transformer\.resblocks\.(\d+)\.mlp\.c_proj\.(weight|bias)$",
     r"text_encoder.text_model.encoder.layers.\1.mlp.fc2.\2", _keep),
    (r"backbone\.language_backbone\.resizer\.(weight|bias)$", r"text_projection.\1", _keep),
    # Geometry encoder
    (r"geometry_encoder\.encode\.(\d+)\.cross_attn_image\.in_proj_(weight|bias)$",
     r"geometry_encoder.layers.\1.cross_attn.{}_proj.\2", _split3),
    (r"geometry_encoder\.encode\.(\d+)\.cross_attn_image\.out_proj\.(weight|bias)$",
     r"geometry_encoder.layers.\1.cross_attn.o_proj.\2", _keep),
    (r"geometry_encoder\.encode\.(\d+)\.self_attn\.in_proj_(weight|bias)$",
     r"geometry_encoder.layers.\1.self_attn.{}_proj.\2", _split3),
    (r"geometry_encoder\.encode\.(\d+)\.self_attn\.out_proj\.(weight|bias)$",
     r"geometry_encoder.layers.\1.self_attn.o_proj.\2", _keep),
] + [
    (r"geometry_encoder\.encode\.(\d+)\." + old + r"(weight|bias)$",
     r"geometry_encoder.layers.\1." + new + r"\2", _keep)
    for old, new in _NORM_MLP_RENAMES
] + [
    (r"geometry_encoder\.img_pre_norm\.(weight|bias)$", r"geometry_encoder.vision_layer_norm.\1", _keep),
    (r"geometry_encoder\.norm\.(weight|bias)$", r"geometry_encoder.prompt_layer_norm.\1", _keep),
    (r"geometry_encoder\.encode_norm\.(weight|bias)$", r"geometry_encoder.output_layer_norm.\1", _keep),
    (r"geometry_encoder\.(label_embed|cls_embed)\.weight$", r"geometry_encoder.\1.weight", _keep),
    (r"geometry_encoder\.(boxes_direct_project|boxes_pool_project|boxes_pos_enc_project|final_proj)\.(weight|bias)$",
     r"geometry_encoder.\1.\2", _keep),
    # DETR encoder
    (r"transformer\.encoder\.layers\.(\d+)\.(self_attn|cross_attn)(?:_image)?\.in_proj_(weight|bias)$",
     r"detr_encoder.layers.\1.\2.{}_proj.\3", _split3),
    (r"transformer\.encoder\.layers\.(\d+)\.(self_attn|cross_attn)(?:_image)?\.out_proj\.(weight|bias)$",
     r"detr_encoder.layers.\1.\2.o_proj.\3", _keep),
] + [
    (r"transformer\.encoder\.layers\.(\d+)\." + old + r"(weight|bias)$",
     r"detr_encoder.layers.\1." + new + r"\2", _keep)
    for old, new in _NORM_MLP_RENAMES
] + [
    # DETR decoder
    (r"transformer\.decoder\.(query_embed|reference_points|presence_token)\.weight$",
     r"detr_decoder.\1.weight", _keep),
    (r"transformer\.decoder\.presence_token_out_norm\.(weight|bias)$",
     r"detr_decoder.presence_layer_norm.\1", _keep),
    (r"transformer\.decoder\.norm\.(weight|bias)$", r"detr_decoder.output_layer_norm.\1", _keep),
]


def _mlp_layers(old, new, count):
    # Original MLP(layers.i) -> transformers' layer{i+1}.
    return [
        (r"transformer\.decoder\." + old + r"\.layers\." + str(i) + r"\.(weight|bias)$",
         "detr_decoder." + new + ".layer" + str(i + 1) + r".\1", _keep)
        for i in range(count)
    ]


_RULES += (
    _mlp_layers("presence_token_head", "presence_head", 3)
    + _mlp_layers("bbox_embed", "box_head", 3)
    + _mlp_layers("ref_point_head", "ref_point_head", 2)
    + _mlp_layers("boxRPB_embed_x", "box_rpb_embed_x", 2)
    + _mlp_layers("boxRPB_embed_y", "box_rpb_embed_y", 2)
)

_DECODER_LAYER_ATTN = {"self_attn": "self_attn", "ca_text": "text_cross_attn", "cross_attn": "vision_cross_attn"}
_DECODER_LAYER_NORMS = {
    "norm1": "vision_cross_attn_layer_norm",
    "catext_norm": "text_cross_attn_layer_norm",
    "norm2": "self_attn_layer_norm",
    "norm3": "mlp_layer_norm",
    "linear1": "mlp.fc1",
    "linear2": "mlp.fc2",
}
for _old, _new in _DECODER_LAYER_ATTN.items():
    _RULES += [
        (r"transformer\.decoder\.layers\.(\d+)\." + _old + r"\.in_proj_(weight|bias)$",
         r"detr_decoder.layers.\1." + _new + r".{}_proj.\2", _split3),
        (r"transformer\.decoder\.layers\.(\d+)\." + _old + r"\.out_proj\.(weight|bias)$",
         r"detr_decoder.layers.\1." + _new + r".o_proj.\2", _keep),
    ]
for _old, _new in _DECODER_LAYER_NORMS.items():
    _RULES.append(
        (r"transformer\.decoder\.layers\.(\d+)\." + _old + r"\.(weight|bias)$",
         r"detr_decoder.layers.\1." + _new + r".\2", _keep)
    )

_RULES += [
    # Dot-product scoring
    (r"dot_prod_scoring\.prompt_mlp\.layers\.([01])\.(weight|bias)$", None, _keep),
    (r"dot_prod_scoring\.prompt_mlp\.out_norm\.(weight|bias)$",
     r"dot_product_scoring.text_mlp_out_norm.\1", _keep),
    (r"dot_prod_scoring\.prompt_proj\.(weight|bias)$", r"dot_product_scoring.text_proj.\1", _keep),
    (r"dot_prod_scoring\.hs_proj\.(weight|bias)$", r"dot_product_scoring.query_proj.\1", _keep),
    # Mask head
    (r"segmentation_head\.pixel_decoder\.(conv_layers|norms)\.(\d+)\.(weight|bias)$",
     r"mask_decoder.pixel_decoder.\1.\2.\3", _keep),
    (r"segmentation_head\.mask_predictor\.mask_embed\.layers\.(\d+)\.(weight|bias)$",
     r"mask_decoder.mask_embedder.layers.\1.\2", _keep),
    (r"segmentation_head\.instance_seg_head\.(weight|bias)$", r"mask_decoder.instance_projection.\1", _keep),
    (r"segmentation_head\.semantic_seg_head\.(weight|bias)$", r"mask_decoder.semantic_projection.\1", _keep),
    (r"segmentation_head\.cross_attend_prompt\.in_proj_(weight|bias)$",
     r"mask_decoder.prompt_cross_attn.{}_proj.\1", _split3),
    (r"segmentation_head\.cross_attend_prompt\.out_proj\.(weight|bias)$",
     r"mask_decoder.prompt_cross_attn.o_proj.\1", _keep),
    (r"segmentation_head\.cross_attn_norm\.(weight|bias)$", r"mask_decoder.prompt_cross_attn_norm.\1", _keep),
]

_COMPILED_RULES = [(re.compile(p), r, f) for p, r, f in _RULES]


def _replacement(match, replacement):
    if replacement is None:  # dot_prod_scoring.prompt_mlp.layers.i -> text_mlp.layer{i+1}
        return "dot_product_scoring.text_mlp.layer%d.%s" % (int(match.group(1)) + 1, match.group(2))
    return match.expand(replacement)


class ConversionError(Exception):
    pass


def plan_key(key):
    """("drop", reason) or ("convert", [new names], transform) or ("unknown",) for one input key."""
    for pattern, reason in DROPPED:
        if pattern.search(key):
            return ("drop", reason)
    if not key.startswith("detector."):
        return ("unknown",)
    rest = key[len("detector."):]
    for pattern, replacement, transform in _COMPILED_RULES:
        m = pattern.fullmatch(rest)
        if m:
            name = _replacement(m, replacement)
            if transform is _split3:
                return ("convert", [name.format(p) for p in "qkv"], transform)
            return ("convert", [name], transform)
    return ("unknown",)


def expected_shapes(config):
    """transformers' Sam3Model state-dict names -> shapes for `config` (a config.json dict)."""
    out = {}

    def linear(name, n_out, n_in, bias=True):
        out[name + ".weight"] = [n_out, n_in]
        if bias:
            out[name + ".bias"] = [n_out]

    def norm(name, n):
        out[name + ".weight"] = [n]
        out[name + ".bias"] = [n]

    def conv(name, n_out, n_in, k):
        out[name + ".weight"] = [n_out, n_in, k, k]
        out[name + ".bias"] = [n_out]

    def attention(name, d, out_name="o_proj"):
        for p in ("q_proj", "k_proj", "v_proj", out_name):
            linear(name + "." + p, d, d)

    def mlp(name, d, inner):
        linear(name + ".fc1", inner, d)
        linear(name + ".fc2", d, inner)

    vis = config["vision_config"]
    vit = vis["backbone_config"]
    h, p = vit["hidden_size"], vit["patch_size"]
    grid = vit["pretrain_image_size"] // p
    b = "vision_encoder.backbone."
    out[b + "embeddings.patch_embeddings.projection.weight"] = [h, vit["num_channels"], p, p]
    out[b + "embeddings.position_embeddings"] = [1, grid * grid, h]
    norm(b + "layer_norm", h)
    for i in range(vit["num_hidden_layers"]):
        attention(b + "layers.%d.attention" % i, h)
        norm(b + "layers.%d.layer_norm1" % i, h)
        norm(b + "layers.%d.layer_norm2" % i, h)
        mlp(b + "layers.%d.mlp" % i, h, vit["intermediate_size"])

    fpn = vis["fpn_hidden_size"]
    for i, scale in enumerate(vis["scale_factors"]):
        n = "vision_encoder.neck.fpn_layers.%d." % i
        channels = h
        if scale >= 2.0:
            out[n + "scale_layers.0.weight"] = [h, h // 2, 2, 2]
            out[n + "scale_layers.0.bias"] = [h // 2]
            channels = h // 2
        if scale >= 4.0:
            out[n + "scale_layers.2.weight"] = [h // 2, h // 4, 2, 2]
            out[n + "scale_layers.2.bias"] = [h // 4]
            channels = h // 4
        conv(n + "proj1", fpn, channels, 1)
        conv(n + "proj2", fpn, fpn, 3)

    txt = config["text_config"]
    t = txt["hidden_size"]
    tm = "text_encoder.text_model."
    out[tm + "embeddings.token_embedding.weight"] = [txt["vocab_size"], t]
    out[tm + "embeddings.position_embedding.weight"] = [txt["max_position_embeddings"], t]
    for i in range(txt["num_hidden_layers"]):
        attention(tm + "encoder.layers.%d.self_attn" % i, t, out_name="out_proj")
        norm(tm + "encoder.layers.%d.layer_norm1" % i, t)
        norm(tm + "encoder.layers.%d.layer_norm2" % i, t)
        mlp(tm + "encoder.layers.%d.mlp" % i, t, txt["intermediate_size"])
    norm(tm + "final_layer_norm", t)
    linear("text_encoder.text_projection", txt["projection_dim"], t, bias=False)
    linear("text_projection", config["detr_encoder_config"]["hidden_size"], t)

    def prompt_layers(prefix, cfg):
        d = cfg["hidden_size"]
        for i in range(cfg["num_layers"]):
            attention(prefix + "layers.%d.self_attn" % i, d)
            attention(prefix + "layers.%d.cross_attn" % i, d)
            for k in (1, 2, 3):
                norm(prefix + "layers.%d.layer_norm%d" % (i, k), d)
            mlp(prefix + "layers.%d.mlp" % i, d, cfg["intermediate_size"])

    geo = config["geometry_encoder_config"]
    g, roi = geo["hidden_size"], geo["roi_size"]
    ge = "geometry_encoder."
    out[ge + "label_embed.weight"] = [2, g]
    out[ge + "cls_embed.weight"] = [1, g]
    linear(ge + "boxes_direct_project", g, 4)
    conv(ge + "boxes_pool_project", g, g, roi)
    linear(ge + "boxes_pos_enc_project", g, g + 2)
    linear(ge + "final_proj", g, g)
    for n in ("vision_layer_norm", "prompt_layer_norm", "output_layer_norm"):
        norm(ge + n, g)
    prompt_layers(ge, geo)
    prompt_layers("detr_encoder.", config["detr_encoder_config"])

    dec = config["detr_decoder_config"]
    d, q = dec["hidden_size"], dec["num_queries"]
    dd = "detr_decoder."
    out[dd + "query_embed.weight"] = [q, d]
    out[dd + "reference_points.weight"] = [q, 4]
    out[dd + "presence_token.weight"] = [1, d]
    for n in ("presence_layer_norm", "output_layer_norm"):
        norm(dd + n, d)
    for n, last in (("presence_head", 1), ("box_head", 4)):
        linear(dd + n + ".layer1", d, d)
        linear(dd + n + ".layer2", d, d)
        linear(dd + n + ".layer3", last, d)
    linear(dd + "ref_point_head.layer1", d, 2 * d)
    linear(dd + "ref_point_head.layer2", d, d)
    for axis in "xy":
        linear(dd + "box_rpb_embed_%s.layer1" % axis, d, 2)
        linear(dd + "box_rpb_embed_%s.layer2" % axis, dec["num_attention_heads"], d)
    for i in range(dec["num_layers"]):
        ln = dd + "layers.%d." % i
        for a in ("self_attn", "text_cross_attn", "vision_cross_attn"):
            attention(ln + a, d)
            norm(ln + a + "_layer_norm", d)
        mlp(ln + "mlp", d, dec["intermediate_size"])
        norm(ln + "mlp_layer_norm", d)

    ds = "dot_product_scoring."
    linear(ds + "text_mlp.layer1", dec["intermediate_size"], d)
    linear(ds + "text_mlp.layer2", d, dec["intermediate_size"])
    norm(ds + "text_mlp_out_norm", d)
    linear(ds + "text_proj", d, d)
    linear(ds + "query_proj", d, d)

    mdc = config["mask_decoder_config"]
    m = mdc["hidden_size"]
    md = "mask_decoder."
    for i in range(mdc["num_upsampling_stages"]):
        conv(md + "pixel_decoder.conv_layers.%d" % i, m, m, 3)
        norm(md + "pixel_decoder.norms.%d" % i, m)
    for i in range(3):
        linear(md + "mask_embedder.layers.%d" % i, m, m)
    conv(md + "instance_projection", m, m, 1)
    conv(md + "semantic_projection", 1, m, 1)
    attention(md + "prompt_cross_attn", m)
    norm(md + "prompt_cross_attn_norm", m)
    return out


def load_checkpoint(path):
    import torch

    if not os.path.exists(path):
        raise ConversionError("%s: no such file" % path)
    if not os.path.isfile(path):
        raise ConversionError("%s: not a file" % path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged or foreign file
        raise ConversionError(
            "%s: not a readable PyTorch checkpoint (torch.load: %s: %s)" % (path, type(e).__name__, e)
        )
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj:
        raise ConversionError("%s: expected a state dict (name -> tensor), got %s" % (path, type(obj).__name__))
    not_tensors = sorted(str(k) for k, v in obj.items() if not isinstance(k, str) or not torch.is_tensor(v))
    if not_tensors:
        raise ConversionError(
            "%s: expected a state dict (name -> tensor); these entries are not tensors: %s"
            % (path, ", ".join(not_tensors[:10]) + (" ..." if len(not_tensors) > 10 else ""))
        )
    return obj


def convert_state_dict(state_dict, config):
    """Returns (converted {name: tensor}, {reason: count of dropped keys})."""
    out, dropped, unknown, bad = {}, {}, [], []
    for key in state_dict:
        plan = plan_key(key)
        if plan[0] == "drop":
            dropped[plan[1]] = dropped.get(plan[1], 0) + 1
            continue
        if plan[0] == "unknown":
            unknown.append(key)
            continue
        _, names, transform = plan
        tensor = state_dict[key]
        if tensor.is_complex():
            bad.append("%s: complex tensor where a real one is expected" % key)
            continue
        if transform is _split3:
            if tensor.dim() == 0 or tensor.shape[0] % 3 != 0:
                bad.append("%s: shape %s cannot be split into q, k, v" % (key, list(tensor.shape)))
                continue
            pieces = transform(tensor)
        elif transform is _drop_cls_row:
            if tensor.dim() != 3 or tensor.shape[0] != 1:
                bad.append("%s: shape %s is not [1, 1 + grid*grid, hidden]" % (key, list(tensor.shape)))
                continue
            pieces = [transform(tensor)]
        elif transform is _transpose:
            if tensor.dim() != 2:
                bad.append("%s: shape %s is not a matrix" % (key, list(tensor.shape)))
                continue
            pieces = [transform(tensor)]
        else:
            pieces = [tensor]
        for name, piece in zip(names, pieces):
            if name in out:
                bad.append("%s: two input keys convert to %s" % (key, name))
            out[name] = piece.contiguous()
    if unknown:
        raise ConversionError(
            "%d checkpoint key(s) are neither converted nor known to be unused:\n  %s"
            % (len(unknown), "\n  ".join(sorted(unknown)))
        )
    expected = expected_shapes(config)
    for name in sorted(out):
        if name not in expected:
            bad.append("%s: not a Sam3Model weight for this config" % name)
        elif list(out[name].shape) != expected[name]:
            bad.append("%s: shape %s, config wants %s" % (name, list(out[name].shape), expected[name]))
    missing = sorted(set(expected) - set(out))
    if missing:
        bad.append("missing from the checkpoint: " + ", ".join(missing))
    if bad:
        raise ConversionError("the checkpoint does not fit the config:\n  " + "\n  ".join(bad))
    return out, dropped


_ST_DTYPES = {
    "torch.float32": "F32", "torch.float16": "F16", "torch.bfloat16": "BF16", "torch.float64": "F64",
    "torch.int64": "I64", "torch.int32": "I32", "torch.int16": "I16", "torch.int8": "I8",
    "torch.uint8": "U8", "torch.bool": "BOOL",
}


def write_safetensors(path, tensors, metadata):
    """safetensors: u64 LE header length, JSON header (dtype, shape, data_offsets), raw data."""
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    if save_file is not None:
        save_file(tensors, path, metadata=metadata)
        return
    if sys.byteorder != "little":
        raise ConversionError("the built-in safetensors writer needs a little-endian machine")
    header = {"__metadata__": metadata}
    offset = 0
    names = sorted(tensors)
    for name in names:
        t = tensors[name]
        dtype = _ST_DTYPES.get(str(t.dtype))
        if dtype is None:
            raise ConversionError("%s: dtype %s cannot be stored" % (name, t.dtype))
        size = t.numel() * t.element_size()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # keeps the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for name in names:
            t = tensors[name].contiguous()
            f.write(ctypes.string_at(t.data_ptr(), t.numel() * t.element_size()))


def load_config(path):
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise ConversionError("%s: cannot read config: %s" % (path, e))
    if config.get("model_type") != "sam3":
        raise ConversionError('%s: model_type must be "sam3" (the detector config), got %r'
                              % (path, config.get("model_type")))
    return config


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert the original SAM 3 checkpoint (sam3.pt) into a gst-sam3 model folder "
        "(transformers' Sam3Model names; detector only).")
    parser.add_argument("checkpoint", metavar="SAM3_PT", help="the release's sam3.pt")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write (created if needed)")
    parser.add_argument("--bpe", metavar="FILE", help="CLIP's " + BPE_NAME + " (copied beside the weights)")
    parser.add_argument("--config", metavar="FILE",
                        help="a sam3 config.json with other sizes (default: the official SAM 3 sizes)")
    args = parser.parse_args(argv)
    try:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ConversionError("PyTorch is needed to read sam3.pt (pip install torch, "
                                  "or apt-get install python3-torch)")
        if args.bpe and not os.path.isfile(args.bpe):
            raise ConversionError("%s: no such file (--bpe)" % args.bpe)
        config = load_config(args.config) if args.config else OFFICIAL_CONFIG
        state_dict = load_checkpoint(args.checkpoint)
        tensors, dropped = convert_state_dict(state_dict, config)
        del state_dict
        os.makedirs(args.out_dir, exist_ok=True)
        write_safetensors(os.path.join(args.out_dir, "model.safetensors"), tensors,
                          {"format": "pt", "converted_from": os.path.basename(args.checkpoint)})
        with open(os.path.join(args.out_dir, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        if args.bpe:
            shutil.copyfile(args.bpe, os.path.join(args.out_dir, BPE_NAME))
    except (ConversionError, OSError) as e:
        print("convert_sam3_pt: error: %s" % e, file=sys.stderr)
        return 1
    print("wrote %d tensors (%d parameters) to %s"
          % (len(tensors), sum(t.numel() for t in tensors.values()), args.out_dir))
    for reason, count in sorted(dropped.items()):
        print("  dropped %d key(s): %s" % (count, reason))
    if not args.bpe:
        print("no tokenizer written: put vocab.json and merges.txt from the Hugging Face release "
              "(facebook/sam3), or CLIP's %s (--bpe), into %s" % (BPE_NAME, args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
