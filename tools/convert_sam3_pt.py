#!/usr/bin/env python3
"""Convert Meta's original SAM 3 checkpoint (sam3.pt) into a model folder gst-sam3 reads.

    python3 tools/convert_sam3_pt.py SAM3_PT OUT_DIR [--bpe FILE] [--config FILE] [--image-only]

sam3.pt is the torch.save'd state dict of facebookresearch/sam3's video model: keys under
"detector." (the image detector) and "tracker." (the SAM-2-style tracker). OUT_DIR receives
model.safetensors, config.json in transformers' layout, and the tokenizer when --bpe is given.

By default the whole video model is written (model_type "sam3_video", transformers'
Sam3VideoModel names): the detector under "detector_model.", the tracker under
"tracker_model." and the tracker's neck (sam2_convs) under "tracker_neck.". --image-only (or
a --config whose model_type is "sam3") writes the detector alone, unprefixed (model_type
"sam3", transformers' Sam3Model names), and drops the tracker keys.

The detector renames follow transformers' convert_sam3_to_hf.py, the tracker renames its
convert_sam3_video_to_hf.py (KEYS_TO_MODIFY_MAPPING and adapt_internal_ckpt), applied to the
public file's "detector."/"tracker." prefixes instead of the internal ones that script expects.

Every input key is either converted or dropped for a stated reason; anything else, and any
tensor whose shape does not fit the config, stops the conversion with the list of offenders.
Only torch is required (the `safetensors` package is used when installed).
"""

import argparse
import copy
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

# The release's tracker and video-loop settings in transformers' Sam3VideoConfig layout (the
# defaults of gst-sam3's TrackerConfig and VideoConfig, as its config writer lays them out).
OFFICIAL_TRACKER_CONFIG = {
    "model_type": "sam3_tracker_video",
    "image_size": 1008,
    "vision_config": OFFICIAL_CONFIG["vision_config"],
    "prompt_encoder_config": {
        "hidden_size": 256,
        "image_size": 1008,
        "patch_size": 14,
        "mask_input_channels": 16,
        "num_point_embeddings": 4,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-06,
        "scale": 1,  # transformers 5 types it as an int and rejects 1.0
    },
    "mask_decoder_config": {
        "hidden_size": 256,
        "hidden_act": "gelu",
        "mlp_dim": 2048,
        "num_hidden_layers": 2,
        "num_attention_heads": 8,
        "attention_downsample_rate": 2,
        "num_multimask_outputs": 3,
        "iou_head_depth": 3,
        "iou_head_hidden_dim": 256,
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.98,
    },
    "num_maskmem": 7,
    "sigmoid_scale_for_mem_enc": 20.0,
    "sigmoid_bias_for_mem_enc": -10.0,
    "enable_occlusion_spatial_embedding": True,
    "multimask_output_in_sam": True,
    "multimask_min_pt_num": 0,
    "multimask_max_pt_num": 1,
    "multimask_output_for_tracking": True,
    "max_object_pointers_in_encoder": 16,
    "max_cond_frame_num": 4,
    "enable_temporal_pos_encoding_for_object_pointers": True,
    "memory_attention_hidden_size": 256,
    "memory_attention_num_layers": 4,
    "memory_attention_num_attention_heads": 1,
    "memory_attention_downsample_rate": 1,
    "memory_attention_feed_forward_hidden_size": 2048,
    "memory_attention_feed_forward_hidden_act": "relu",
    "memory_attention_rope_feat_sizes": [72, 72],
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
    "memory_encoder_hidden_size": 256,
    "memory_encoder_output_channels": 64,
    "mask_downsampler_embed_dim": 256,
    "mask_downsampler_kernel_size": 3,
    "mask_downsampler_stride": 2,
    "mask_downsampler_padding": 1,
    "mask_downsampler_total_stride": 16,
    "mask_downsampler_hidden_act": "gelu",
    "memory_fuser_num_layers": 2,
    "memory_fuser_embed_dim": 256,
    "memory_fuser_intermediate_dim": 1024,
    "memory_fuser_kernel_size": 7,
    "memory_fuser_padding": 3,
    "memory_fuser_layer_scale_init_value": 1e-06,
    "memory_fuser_hidden_act": "gelu",
}

OFFICIAL_VIDEO_SETTINGS = {
    "low_res_mask_size": 288,
    "score_threshold_detection": 0.5,
    "det_nms_thresh": 0.1,
    "assoc_iou_thresh": 0.1,
    "trk_assoc_iou_thresh": 0.5,
    "new_det_thresh": 0.7,
    "recondition_on_trk_masks": True,
    "hotstart_delay": 15,
    "hotstart_unmatch_thresh": 8,
    "hotstart_dup_thresh": 8,
    "suppress_unmatched_only_within_hotstart": True,
    "init_trk_keep_alive": 30,
    "max_trk_keep_alive": 30,
    "min_trk_keep_alive": -1,
    "suppress_overlapping_based_on_recent_occlusion_threshold": 0.7,
    "decrease_trk_keep_alive_for_empty_masklets": False,
    "fill_hole_area": 16,
    "max_num_objects": 10000,
    "recondition_every_nth_frame": 16,
    "high_conf_thresh": 0.8,
    "high_iou_thresh": 0.8,
}


def official_config(video):
    """A fresh copy of the release's config.json: "sam3_video" when `video`, else "sam3"."""
    if not video:
        return copy.deepcopy(OFFICIAL_CONFIG)
    config = {"model_type": "sam3_video", "detector_config": OFFICIAL_CONFIG,
              "tracker_config": OFFICIAL_TRACKER_CONFIG}
    config.update(OFFICIAL_VIDEO_SETTINGS)
    return copy.deepcopy(config)


BPE_NAME = "bpe_simple_vocab_16e6.txt.gz"

# Input keys with no counterpart in transformers' models, and why.
DROPPED = [
    (re.compile(r"\.freqs_cis$"), "RoPE table (complex64); recomputed from the config"),
    (
        re.compile(r"^detector\.geometry_encoder\.points_(direct|pool|pos_enc)_project\."),
        "point-prompt projections; the concept detector takes no point prompts "
        "(transformers' Sam3GeometryEncoder has none)",
    ),
]

# Dropped only when writing the image model (model_type "sam3").
DROPPED_IMAGE_ONLY = [
    (
        re.compile(r"^detector\.backbone\.vision_backbone\.sam2_convs\."),
        "tracker neck; not part of an image-only (sam3) model",
    ),
    (re.compile(r"^tracker\."), "tracker; not part of an image-only (sam3) model"),
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


def _mlp_name(index, depth):
    # An original MLP's layers.{0..depth-1} -> transformers' proj_in, layers.{0..depth-3}, proj_out.
    if index == 0:
        return "proj_in"
    if index == depth - 1:
        return "proj_out"
    return "layers.%d" % (index - 1)


def _tracker_mlp(new_head, depth):
    """Rename for a rule with groups head, i, wb; `new_head` may use the head group ("{}"),
    `depth` is the layer count or a function of the tracker config."""
    def rename(m, tracker):
        layers = depth(tracker) if callable(depth) else depth
        index = int(m.group("i"))
        if index >= layers:
            return None
        return "%s.%s.%s" % (new_head.format(m.group("head")), _mlp_name(index, layers), m.group("wb"))

    return rename


def _mask_downsampler_layers(tracker):
    stride = tracker["mask_downsampler_stride"]
    count, reached = 0, 1
    while reached < tracker["mask_downsampler_total_stride"] and stride > 1:
        reached *= stride
        count += 1
    return count


def _mask_downsampler(m, tracker):
    # encoder = [conv, LayerNorm2d, GELU] per layer, then the final 1x1 conv.
    index, layers = int(m.group(1)), _mask_downsampler_layers(tracker)
    if index == 3 * layers:
        return "memory_encoder.mask_downsampler.final_conv." + m.group(2)
    if index // 3 < layers and index % 3 in (0, 1):
        part = "conv" if index % 3 == 0 else "layer_norm"
        return "memory_encoder.mask_downsampler.layers.%d.%s.%s" % (index // 3, part, m.group(2))
    return None


_ATTN_PROJ = r"\.(?P<proj>[qkv]_proj|out_proj)\.(?P<wb>weight|bias)$"


def _tracker_attention(new_path):
    """Rename for a rule ending in _ATTN_PROJ: q/k/v_proj keep their names, out_proj becomes
    o_proj; `new_path` is a template over the rule's numbered groups."""
    def rename(m, tracker):
        proj = "o_proj" if m.group("proj") == "out_proj" else m.group("proj")
        return "%s.%s.%s" % (m.expand(new_path), proj, m.group("wb"))

    return rename


# The Fourier matrix of the prompt encoder; transformers' tracker keeps a second copy for
# the image positional embedding.
_GAUSSIAN = ["prompt_encoder.shared_embedding.positional_embedding",
             "shared_image_embedding.positional_embedding"]
_POINT_EMBED = "prompt_encoder.point_embed.weight"

# (pattern on the key without "tracker.", replacement, transform). The replacement is a
# template for the name under "tracker_model.", or a function (match, tracker config) -> name
# (None: no such weight in this config).
_TRACKER_RULES = [
    (r"maskmem_tpos_enc$", "memory_temporal_positional_encoding", _keep),
    (r"no_mem_embed$", "no_memory_embedding", _keep),
    (r"no_mem_pos_enc$", "no_memory_positional_encoding", _keep),
    (r"no_obj_ptr$", "no_object_pointer", _keep),
    (r"no_obj_embed_spatial$", "occlusion_spatial_embedding_parameter", _keep),
    (r"mask_downsample\.(weight|bias)$", r"mask_downsample.\1", _keep),
    (r"obj_ptr_tpos_proj\.(weight|bias)$", r"temporal_positional_encoding_projection_layer.\1", _keep),
    (r"(?P<head>obj_ptr_proj)\.layers\.(?P<i>\d+)\.(?P<wb>weight|bias)$",
     _tracker_mlp("object_pointer_proj", 3), _keep),
    # Memory attention
    (r"transformer\.encoder\.layers\.(\d+)\.(self_attn|cross_attn_image)" + _ATTN_PROJ,
     _tracker_attention(r"memory_attention.layers.\1.\2"), _keep),
    (r"transformer\.encoder\.layers\.(\d+)\.(linear[12])\.(weight|bias)$",
     r"memory_attention.layers.\1.\2.\3", _keep),
    (r"transformer\.encoder\.layers\.(\d+)\.norm([123])\.(weight|bias)$",
     r"memory_attention.layers.\1.layer_norm\2.\3", _keep),
    (r"transformer\.encoder\.norm\.(weight|bias)$", r"memory_attention.layer_norm.\1", _keep),
    # Memory encoder
    (r"maskmem_backbone\.mask_downsampler\.encoder\.(\d+)\.(weight|bias)$", _mask_downsampler, _keep),
    (r"maskmem_backbone\.pix_feat_proj\.(weight|bias)$", r"memory_encoder.feature_projection.\1", _keep),
    (r"maskmem_backbone\.out_proj\.(weight|bias)$", r"memory_encoder.projection.\1", _keep),
    (r"maskmem_backbone\.fuser\.layers\.(\d+)\.dwconv\.(weight|bias)$",
     r"memory_encoder.memory_fuser.layers.\1.depthwise_conv.\2", _keep),
    (r"maskmem_backbone\.fuser\.layers\.(\d+)\.norm\.(weight|bias)$",
     r"memory_encoder.memory_fuser.layers.\1.layer_norm.\2", _keep),
    (r"maskmem_backbone\.fuser\.layers\.(\d+)\.pwconv([12])\.(weight|bias)$",
     r"memory_encoder.memory_fuser.layers.\1.pointwise_conv\2.\3", _keep),
    (r"maskmem_backbone\.fuser\.layers\.(\d+)\.gamma$", r"memory_encoder.memory_fuser.layers.\1.scale", _keep),
    # Prompt encoder
    # None: written under both _GAUSSIAN names.
    (r"sam_prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$", None, _keep),
    (r"sam_prompt_encoder\.point_embeddings\.(\d+)\.weight$", _POINT_EMBED, _keep),
    (r"sam_prompt_encoder\.(not_a_point_embed|no_mask_embed)\.weight$", r"prompt_encoder.\1.weight", _keep),
] + [
    (r"sam_prompt_encoder\.mask_downscaling\.%d\.(weight|bias)$" % index,
     r"prompt_encoder.mask_embed.%s.\1" % name, _keep)
    for index, name in ((0, "conv1"), (1, "layer_norm1"), (3, "conv2"), (4, "layer_norm2"), (6, "conv3"))
] + [
    # SAM mask decoder
    (r"sam_mask_decoder\.transformer\.layers\.(\d+)\.(self_attn|cross_attn_token_to_image|"
     r"cross_attn_image_to_token)" + _ATTN_PROJ,
     _tracker_attention(r"mask_decoder.transformer.layers.\1.\2"), _keep),
    (r"sam_mask_decoder\.transformer\.layers\.(\d+)\.norm([1234])\.(weight|bias)$",
     r"mask_decoder.transformer.layers.\1.layer_norm\2.\3", _keep),
    (r"sam_mask_decoder\.transformer\.layers\.(\d+)\.mlp\.lin1\.(weight|bias)$",
     r"mask_decoder.transformer.layers.\1.mlp.proj_in.\2", _keep),
    (r"sam_mask_decoder\.transformer\.layers\.(\d+)\.mlp\.lin2\.(weight|bias)$",
     r"mask_decoder.transformer.layers.\1.mlp.proj_out.\2", _keep),
    (r"sam_mask_decoder\.transformer\.final_attn_token_to_image" + _ATTN_PROJ,
     _tracker_attention("mask_decoder.transformer.final_attn_token_to_image"), _keep),
    (r"sam_mask_decoder\.transformer\.norm_final_attn\.(weight|bias)$",
     r"mask_decoder.transformer.layer_norm_final_attn.\1", _keep),
    (r"sam_mask_decoder\.(iou_token|mask_tokens|obj_score_token)\.weight$", r"mask_decoder.\1.weight", _keep),
    (r"sam_mask_decoder\.(conv_s[01])\.(weight|bias)$", r"mask_decoder.\1.\2", _keep),
    (r"sam_mask_decoder\.output_upscaling\.0\.(weight|bias)$", r"mask_decoder.upscale_conv1.\1", _keep),
    (r"sam_mask_decoder\.output_upscaling\.1\.(weight|bias)$", r"mask_decoder.upscale_layer_norm.\1", _keep),
    (r"sam_mask_decoder\.output_upscaling\.3\.(weight|bias)$", r"mask_decoder.upscale_conv2.\1", _keep),
    (r"sam_mask_decoder\.(?P<head>output_hypernetworks_mlps\.\d+|pred_obj_score_head)\.layers\.(?P<i>\d+)\."
     r"(?P<wb>weight|bias)$",
     _tracker_mlp("mask_decoder.{}", 3), _keep),
    (r"sam_mask_decoder\.(?P<head>iou_prediction_head)\.layers\.(?P<i>\d+)\.(?P<wb>weight|bias)$",
     _tracker_mlp("mask_decoder.{}", lambda t: t["mask_decoder_config"]["iou_head_depth"]), _keep),
]

_COMPILED_TRACKER_RULES = [(re.compile(p), r, f) for p, r, f in _TRACKER_RULES]


class ConversionError(Exception):
    pass


def is_video(config):
    return config.get("model_type") == "sam3_video"


def _detector_config(config):
    return config["detector_config"] if is_video(config) else config


def _plan_detector(rest):
    for pattern, replacement, transform in _COMPILED_RULES:
        m = pattern.fullmatch(rest)
        if m:
            name = _replacement(m, replacement)
            if transform is _split3:
                return ("convert", [name.format(p) for p in "qkv"], transform)
            return ("convert", [name], transform)
    return ("unknown",)


def _plan_tracker(rest, tracker):
    for pattern, replacement, transform in _COMPILED_TRACKER_RULES:
        m = pattern.fullmatch(rest)
        if not m:
            continue
        if replacement is None:
            return ("convert", ["tracker_model." + n for n in _GAUSSIAN], _keep)
        name = replacement(m, tracker) if callable(replacement) else m.expand(replacement)
        if name is None:
            return ("unknown",)
        if name == _POINT_EMBED:
            return ("gather", "tracker_model." + name, int(m.group(1)))
        return ("convert", ["tracker_model." + name], transform)
    return ("unknown",)


_TRACKER_NECK = "detector.backbone.vision_backbone.sam2_convs."


def plan_key(key, config):
    """For one input key and the output config: ("drop", reason), ("convert", [new names],
    transform), ("gather", new name, index) for one row of a stacked tensor, or ("unknown",)."""
    dropped = DROPPED if is_video(config) else DROPPED + DROPPED_IMAGE_ONLY
    for pattern, reason in dropped:
        if pattern.search(key):
            return ("drop", reason)
    if key.startswith("tracker."):
        return _plan_tracker(key[len("tracker."):], config["tracker_config"])
    if key.startswith(_TRACKER_NECK):
        # The tracker neck has the detector neck's layout; transformers keeps it top-level.
        plan = _plan_detector("backbone.vision_backbone.convs." + key[len(_TRACKER_NECK):])
        if plan[0] != "convert":
            return plan
        return ("convert", [n.replace("vision_encoder.neck.", "tracker_neck.", 1) for n in plan[1]], plan[2])
    if not key.startswith("detector."):
        return ("unknown",)
    plan = _plan_detector(key[len("detector."):])
    if plan[0] == "convert" and is_video(config):
        return ("convert", ["detector_model." + n for n in plan[1]], plan[2])
    return plan


class _Shapes(dict):
    """name -> shape, filled by module kind."""

    def linear(self, name, n_out, n_in, bias=True):
        self[name + ".weight"] = [n_out, n_in]
        if bias:
            self[name + ".bias"] = [n_out]

    def norm(self, name, n):
        self[name + ".weight"] = [n]
        self[name + ".bias"] = [n]

    def conv(self, name, n_out, n_in, k):
        self[name + ".weight"] = [n_out, n_in, k, k]
        self[name + ".bias"] = [n_out]

    def conv_transpose(self, name, n_in, n_out, k):
        self[name + ".weight"] = [n_in, n_out, k, k]
        self[name + ".bias"] = [n_out]

    def attention(self, name, d, out_name="o_proj", internal=None, kv_in=None):
        internal = internal or d
        self.linear(name + ".q_proj", internal, d)
        self.linear(name + ".k_proj", internal, kv_in or d)
        self.linear(name + ".v_proj", internal, kv_in or d)
        self.linear(name + "." + out_name, d, internal)

    def neck(self, prefix, vis, h):
        fpn = vis["fpn_hidden_size"]
        for i, scale in enumerate(vis["scale_factors"]):
            n = prefix + "fpn_layers.%d." % i
            channels = h
            if scale >= 2.0:
                self.conv_transpose(n + "scale_layers.0", h, h // 2, 2)
                channels = h // 2
            if scale >= 4.0:
                self.conv_transpose(n + "scale_layers.2", h // 2, h // 4, 2)
                channels = h // 4
            self.conv(n + "proj1", fpn, channels, 1)
            self.conv(n + "proj2", fpn, fpn, 3)


def expected_shapes(config):
    """State-dict names -> shapes that gst-sam3 loads for `config` (a config.json dict):
    transformers' Sam3Model for "sam3", Sam3VideoModel for "sam3_video"."""
    if not is_video(config):
        return _detector_shapes(config)
    out = _Shapes(("detector_model." + k, v) for k, v in _detector_shapes(config["detector_config"]).items())
    vis = config["detector_config"]["vision_config"]
    out.neck("tracker_neck.", vis, vis["backbone_config"]["hidden_size"])
    out.update(("tracker_model." + k, v) for k, v in _tracker_shapes(config["tracker_config"]).items())
    return out


def _tracker_shapes(t):
    """transformers' Sam3TrackerVideoModel weights (our TrackerModel registers the same)."""
    out = _Shapes()
    pe, md = t["prompt_encoder_config"], t["mask_decoder_config"]
    h, mem, mic = pe["hidden_size"], t["memory_encoder_output_channels"], pe["mask_input_channels"]

    def mlp(name, n_in, hidden, n_out, layers):
        out.linear(name + ".proj_in", hidden, n_in)
        for i in range(layers - 2):
            out.linear(name + ".layers.%d" % i, hidden, hidden)
        out.linear(name + ".proj_out", n_out, hidden)

    for name in _GAUSSIAN:
        out[name] = [2, h // 2]
    p = "prompt_encoder."
    out.conv(p + "mask_embed.conv1", mic // 4, 1, 2)
    out.norm(p + "mask_embed.layer_norm1", mic // 4)
    out.conv(p + "mask_embed.conv2", mic, mic // 4, 2)
    out.norm(p + "mask_embed.layer_norm2", mic)
    out.conv(p + "mask_embed.conv3", h, mic, 1)
    out[p + "no_mask_embed.weight"] = [1, h]
    out[p + "point_embed.weight"] = [pe["num_point_embeddings"], h]
    out[p + "not_a_point_embed.weight"] = [1, h]

    c, tokens = md["hidden_size"], md["num_multimask_outputs"] + 1
    inner = c // md["attention_downsample_rate"]
    d = "mask_decoder."
    out[d + "iou_token.weight"] = [1, c]
    out[d + "mask_tokens.weight"] = [tokens, c]
    out[d + "obj_score_token.weight"] = [1, c]
    for i in range(md["num_hidden_layers"]):
        n = d + "transformer.layers.%d." % i
        out.attention(n + "self_attn", c)
        out.attention(n + "cross_attn_token_to_image", c, internal=inner)
        out.attention(n + "cross_attn_image_to_token", c, internal=inner)
        for k in range(1, 5):
            out.norm(n + "layer_norm%d" % k, c)
        mlp(n + "mlp", c, md["mlp_dim"], c, md["num_hidden_layers"])
    out.attention(d + "transformer.final_attn_token_to_image", c, internal=inner)
    out.norm(d + "transformer.layer_norm_final_attn", c)
    out.conv_transpose(d + "upscale_conv1", c, c // 4, 2)
    out.norm(d + "upscale_layer_norm", c // 4)
    out.conv_transpose(d + "upscale_conv2", c // 4, c // 8, 2)
    for i in range(tokens):
        mlp(d + "output_hypernetworks_mlps.%d" % i, c, c, c // 8, 3)
    mlp(d + "iou_prediction_head", c, md["iou_head_hidden_dim"], tokens, md["iou_head_depth"])
    out.conv(d + "conv_s0", c // 8, c, 1)
    out.conv(d + "conv_s1", c // 4, c, 1)
    mlp(d + "pred_obj_score_head", c, c, 1, 3)

    out["no_memory_embedding"] = [1, 1, h]
    out["no_memory_positional_encoding"] = [1, 1, h]
    out["memory_temporal_positional_encoding"] = [t["num_maskmem"], 1, 1, mem]
    out["no_object_pointer"] = [1, h]
    out.conv("mask_downsample", 1, 1, 4)
    mlp("object_pointer_proj", h, h, h, 3)
    out.linear("temporal_positional_encoding_projection_layer", mem, h)
    if t["enable_occlusion_spatial_embedding"]:
        out["occlusion_spatial_embedding_parameter"] = [1, mem]

    a = t["memory_attention_hidden_size"]
    a_inner = a // t["memory_attention_downsample_rate"]
    ff = t["memory_attention_feed_forward_hidden_size"]
    for i in range(t["memory_attention_num_layers"]):
        n = "memory_attention.layers.%d." % i
        out.attention(n + "self_attn", a, internal=a_inner)
        out.attention(n + "cross_attn_image", a, internal=a_inner, kv_in=mem)
        out.linear(n + "linear1", ff, a)
        out.linear(n + "linear2", a, ff)
        for k in range(1, 4):
            out.norm(n + "layer_norm%d" % k, a)
    out.norm("memory_attention.layer_norm", a)

    e, m = t["memory_encoder_hidden_size"], "memory_encoder."
    channels, step, kernel = 1, t["mask_downsampler_stride"] ** 2, t["mask_downsampler_kernel_size"]
    for i in range(_mask_downsampler_layers(t)):
        out.conv(m + "mask_downsampler.layers.%d.conv" % i, channels * step, channels, kernel)
        out.norm(m + "mask_downsampler.layers.%d.layer_norm" % i, channels * step)
        channels *= step
    out.conv(m + "mask_downsampler.final_conv", t["mask_downsampler_embed_dim"], channels, 1)
    out.conv(m + "feature_projection", e, e, 1)
    fe, fi = t["memory_fuser_embed_dim"], t["memory_fuser_intermediate_dim"]
    for i in range(t["memory_fuser_num_layers"]):
        n = m + "memory_fuser.layers.%d." % i
        out.conv(n + "depthwise_conv", fe, 1, t["memory_fuser_kernel_size"])
        out.norm(n + "layer_norm", fe)
        out.linear(n + "pointwise_conv1", fi, fe)
        out.linear(n + "pointwise_conv2", fe, fi)
        out[n + "scale"] = [fe]
    out.conv(m + "projection", mem, e, 1)
    return out


def _detector_shapes(config):
    """transformers' Sam3Model state-dict names -> shapes for a "sam3" config."""
    out = _Shapes()
    linear, norm, conv, attention = out.linear, out.norm, out.conv, out.attention

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

    out.neck("vision_encoder.neck.", vis, h)

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


def torch_cat(pieces):
    import torch

    return torch.cat(pieces, dim=0).contiguous()


def convert_state_dict(state_dict, config):
    """Returns (converted {name: tensor}, {reason: count of dropped keys})."""
    out, dropped, unknown, bad = {}, {}, [], []
    rows = {}  # stacked name -> {index: (input key, tensor)}
    for key in state_dict:
        plan = plan_key(key, config)
        if plan[0] == "drop":
            dropped[plan[1]] = dropped.get(plan[1], 0) + 1
            continue
        if plan[0] == "unknown":
            unknown.append(key)
            continue
        tensor = state_dict[key]
        if tensor.is_complex():
            bad.append("%s: complex tensor where a real one is expected" % key)
            continue
        if plan[0] == "gather":
            rows.setdefault(plan[1], {})[plan[2]] = (key, tensor)
            continue
        _, names, transform = plan
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
            # One weight stored under several names (the tracker's Fourier matrix); separate
            # copies, since safetensors refuses tensors that share memory.
            pieces = [tensor] + [tensor.clone() for _ in names[1:]]
        for name, piece in zip(names, pieces):
            if name in out:
                bad.append("%s: two input keys convert to %s" % (key, name))
            out[name] = piece.contiguous()
    for name, parts in sorted(rows.items()):
        # The original keeps one Embedding(1, C) per point type; transformers one Embedding(n, C).
        indices = sorted(parts)
        if indices != list(range(len(indices))):
            bad.append("%s: the rows found are %s, not 0..%d" % (name, indices, len(indices) - 1))
            continue
        pieces = [parts[i][1] for i in indices]
        if any(p.dim() != 2 or p.shape[0] != 1 or p.shape[1] != pieces[0].shape[1] for p in pieces):
            bad.append("%s: %s are not all [1, C]" % (name, ", ".join(
                "%s %s" % (parts[i][0], list(parts[i][1].shape)) for i in indices)))
            continue
        out[name] = torch_cat(pieces)
    if unknown:
        raise ConversionError(
            "%d checkpoint key(s) are neither converted nor known to be unused:\n  %s"
            % (len(unknown), "\n  ".join(sorted(unknown)))
        )
    expected = expected_shapes(config)
    for name in sorted(out):
        if name not in expected:
            bad.append("%s: not a weight of this config's model" % name)
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
    if not isinstance(config, dict) or config.get("model_type") not in ("sam3", "sam3_video"):
        raise ConversionError('%s: model_type must be "sam3" (image model) or "sam3_video" (video model), got %r'
                              % (path, config.get("model_type") if isinstance(config, dict) else config))
    try:
        expected_shapes(config)
    except KeyError as e:
        raise ConversionError("%s: the config lacks %s" % (path, e))
    except (TypeError, ValueError, ZeroDivisionError) as e:
        raise ConversionError("%s: the config's sizes are not usable: %s" % (path, e))
    return config


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert the original SAM 3 checkpoint (sam3.pt) into a gst-sam3 model folder "
        "(transformers' Sam3VideoModel names: detector and tracker).")
    parser.add_argument("checkpoint", metavar="SAM3_PT", help="the release's sam3.pt")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write (created if needed)")
    parser.add_argument("--bpe", metavar="FILE", help="CLIP's " + BPE_NAME + " (copied beside the weights)")
    parser.add_argument("--config", metavar="FILE",
                        help="a sam3_video (or, image model only, sam3) config.json with other sizes "
                        "(default: the official SAM 3 sizes)")
    parser.add_argument("--image-only", action="store_true",
                        help='write the detector alone (model_type "sam3"; the tracker keys are dropped)')
    args = parser.parse_args(argv)
    try:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ConversionError("PyTorch is needed to read sam3.pt: run it with the project's "
                                  ".venv/bin/python (tools/install-deps.sh creates it)")
        if args.bpe and not os.path.isfile(args.bpe):
            raise ConversionError("%s: no such file (--bpe)" % args.bpe)
        config = load_config(args.config) if args.config else official_config(not args.image_only)
        if args.image_only:
            config = _detector_config(config)
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
