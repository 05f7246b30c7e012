#!/usr/bin/env python3
"""Parity goldens for the C++ detector: transformers' Sam3Model run stage by stage.

Loads a model folder written by `sam3-make-test-model` (config.json in transformers' layout,
model.safetensors with Sam3Model state-dict names, vocab.json + merges.txt) into
transformers' Sam3Model with a strict state-dict load, feeds it fixed inputs and saves the
inputs and every intermediate stage to one safetensors file. tests/unit/test_parity.cpp
feeds the same inputs through libsam3 and compares each stage (see docs/parity.md).

The stages are composed exactly as Sam3Model.forward composes them; the script then runs
Sam3Model.forward itself and checks that its outputs equal the staged ones, so a change in
transformers' composition is caught here rather than blamed on the C++ side.

--behaviour official composes the stages as the official SAM 3 does where transformers
departs from it (docs/parity.md): a text-only prompt also runs the geometry encoder (its CLS
token joins the prompt) and the ViT's LayerNorms use eps 1e-5. The forward check then runs
Sam3Model.forward with one padding box, which makes transformers take the same path.

The reference also holds the image path: a seeded RGB frame (`image.rgb`), the pixels
transformers' Sam3ImageProcessor makes of it (`image.pixel_values`) and the text-prompt
outputs on those pixels (`image.*`).

Needs torch, transformers (with Sam3Model) and safetensors (the project's .venv). Weights come
from the C++ generator only: this script never writes a model.
"""

import argparse
import os
import sys

import torch
import torchvision
import transformers
from safetensors.torch import load_file, save_file
from transformers import CLIPTokenizer, Sam3Config, Sam3Model
from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor
from transformers.models.sam3.modeling_sam3 import box_cxcywh_to_xyxy, inverse_sigmoid

PROMPTS = ["a cat", "red car on the left"]
CONTEXT_LENGTH = 32
# Box prompts (cx, cy, w, h normalised), two per text prompt. Label 1 = positive, 0 =
# negative, -10 = padding (transformers' convention): the second prompt has one real box.
INPUT_BOXES = [
    [[0.40, 0.45, 0.30, 0.50], [0.70, 0.30, 0.20, 0.25]],
    [[0.55, 0.60, 0.50, 0.40], [0.10, 0.10, 0.05, 0.05]],
]
INPUT_BOXES_LABELS = [[1, 0], [1, -10]]
PIXEL_SEED = 0
# The image-path frame: (H, W, 3) uint8, not square, so the resize changes the aspect ratio.
FRAME_SIZE = (60, 90)
FRAME_SEED = 1
OFFICIAL_VIT_LAYER_NORM_EPS = 1e-5


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="model folder (config.json, model.safetensors, "
                   "vocab.json, merges.txt)")
    p.add_argument("--out", required=True, help="reference safetensors file to write")
    p.add_argument("--dtype", choices=["fp32", "bf16", "autocast-bf16"], default="fp32",
                   help="the weights' dtype, or fp32 weights run under torch.autocast with "
                        "bfloat16 (autocast-bf16: the official SAM 3's precision)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--attn", choices=["eager", "sdpa"], default="eager",
                   help="transformers attention implementation (default: eager)")
    p.add_argument("--behaviour", choices=["transformers", "official"], default="transformers",
                   help="compose the stages as transformers does, or as the official SAM 3 "
                        "where the two differ (docs/parity.md)")
    return p.parse_args()


def strict_numerics():
    # TF32 would make CUDA matmuls/convs ~1e-3 accurate and hide real mismatches.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.use_deterministic_algorithms(True, warn_only=True)


def load_model(model_dir, dtype, device, attn, behaviour):
    config = Sam3Config.from_pretrained(model_dir)
    if behaviour == "official":
        config.vision_config.backbone_config.layer_norm_eps = OFFICIAL_VIT_LAYER_NORM_EPS
    config._attn_implementation = attn
    for sub in ("vision_config", "text_config", "geometry_encoder_config", "detr_encoder_config",
                "detr_decoder_config", "mask_decoder_config"):
        sub_config = getattr(config, sub, None)
        if sub_config is not None:
            sub_config._attn_implementation = attn
    if getattr(config.vision_config, "backbone_config", None) is not None:
        config.vision_config.backbone_config._attn_implementation = attn

    # Plain construction (not from_pretrained) so nothing is silently left at its random
    # initialisation: load_state_dict(strict=True) raises on any missing or extra key.
    model = Sam3Model(config)
    state = load_file(os.path.join(model_dir, "model.safetensors"))
    model.load_state_dict(state, strict=True)
    # The ViT RoPE tables are non-persistent buffers filled by _init_weights; fill them again
    # explicitly in case this transformers version builds them lazily.
    for module in model.modules():
        if hasattr(module, "rope_embeddings_cos"):
            model._init_weights(module)
            if not torch.isfinite(module.rope_embeddings_cos).all():
                raise RuntimeError(f"{type(module).__name__}: RoPE table is not initialised")
    model.eval()
    return model.to(device=device, dtype=dtype)


def tokenize(model_dir):
    tokenizer = CLIPTokenizer(vocab=os.path.join(model_dir, "vocab.json"),
                              merges=os.path.join(model_dir, "merges.txt"))
    if len(tokenizer) < 3:
        raise RuntimeError(f"{model_dir}: CLIPTokenizer read no vocabulary")
    batch = tokenizer(PROMPTS, padding="max_length", max_length=CONTEXT_LENGTH, truncation=True,
                      return_tensors="pt")
    return batch["input_ids"].to(torch.int64), batch["attention_mask"].to(torch.int64)


def make_inputs(model_dir, config):
    size = config.vision_config.backbone_config.image_size
    generator = torch.Generator().manual_seed(PIXEL_SEED)
    pixel_values = torch.rand(1, 3, size, size, generator=generator) * 2 - 1
    input_ids, attention_mask = tokenize(model_dir)
    return {
        "pixel_values": pixel_values,
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "input_boxes": torch.tensor(INPUT_BOXES, dtype=torch.float32),
        "input_boxes_labels": torch.tensor(INPUT_BOXES_LABELS, dtype=torch.int64),
    }


def text_embeddings(model, input_ids, attention_mask):
    # get_text_features' return type changed across transformers releases: a tensor, or a
    # BaseModelOutputWithPooling whose pooler_output is the projected token features.
    out = model.get_text_features(input_ids=input_ids, attention_mask=attention_mask,
                                  return_dict=True)
    if isinstance(out, torch.Tensor):
        return out
    if getattr(out, "pooler_output", None) is not None:
        return out.pooler_output
    return out[1]


def box_prompt(input_boxes_labels):
    # Sam3Model.forward's conversion: -10 marks padding, which becomes label 0 and mask False.
    mask = input_boxes_labels != -10
    labels = torch.where(input_boxes_labels == -10, torch.zeros_like(input_boxes_labels),
                         input_boxes_labels)
    return labels, mask


def run_heads(model, fpn, fpn_pos, prompt, prompt_mask):
    """Sam3Model.forward after the prompt is assembled; returns (stages, outputs)."""
    encoder = model.detr_encoder(vision_features=[fpn[-1]], text_features=prompt,
                                 vision_pos_embeds=[fpn_pos[-1]], text_mask=prompt_mask)
    decoder = model.detr_decoder(vision_features=encoder.last_hidden_state,
                                 text_features=encoder.text_features,
                                 vision_pos_encoding=encoder.pos_embeds_flattened,
                                 text_mask=prompt_mask, spatial_shapes=encoder.spatial_shapes)
    hidden = decoder.intermediate_hidden_states
    offsets = model.detr_decoder.box_head(hidden)
    boxes_cxcywh = (inverse_sigmoid(decoder.reference_boxes) + offsets).sigmoid()
    logits = model.dot_product_scoring(decoder_hidden_states=hidden,
                                       text_features=encoder.text_features,
                                       text_mask=prompt_mask).squeeze(-1)
    masks = model.mask_decoder(decoder_queries=hidden[-1], backbone_features=list(fpn),
                               encoder_hidden_states=encoder.last_hidden_state,
                               prompt_features=prompt, prompt_mask=prompt_mask)
    stages = {
        "encoder.memory": encoder.last_hidden_state,
        "decoder.hidden_states": hidden,
        "decoder.reference_boxes": decoder.reference_boxes,
        "decoder.presence_logits": decoder.presence_logits,
    }
    outputs = {
        "pred_masks": masks.pred_masks,
        "pred_boxes": box_cxcywh_to_xyxy(boxes_cxcywh)[-1],
        "pred_logits": logits[-1],
        "presence_logits": decoder.presence_logits[-1],
        "semantic_seg": masks.semantic_seg,
    }
    return stages, outputs


def check_against_forward(model, inputs, outputs, prefix, dtype, official_text=False,
                          pixel_values=None):
    """Sam3Model.forward on the same inputs must give the staged outputs."""
    batch = inputs["input_ids"].shape[0]
    if pixel_values is None:
        pixel_values = inputs["pixel_values"]
    kwargs = {
        "pixel_values": pixel_values.to(dtype).expand(batch, -1, -1, -1),
        "input_ids": inputs["input_ids"],
        "attention_mask": inputs["attention_mask"],
    }
    if prefix == "boxes":
        kwargs["input_boxes"] = inputs["input_boxes"].to(dtype)
        kwargs["input_boxes_labels"] = inputs["input_boxes_labels"]
    elif official_text:
        # One padding box (label -10) makes Sam3Model.forward run the geometry encoder with no
        # valid box: the official text-only composition.
        kwargs["input_boxes"] = torch.zeros(batch, 1, 4, dtype=dtype, device=inputs["input_ids"].device)
        kwargs["input_boxes_labels"] = torch.full((batch, 1), -10, dtype=torch.int64,
                                                  device=inputs["input_ids"].device)
    full = model(**kwargs)
    # The vision encoder runs on a batch of copies here and once in the staged run; batched
    # kernels may round differently, so equality is checked to a tolerance far below the
    # parity tolerance.
    tolerance = 1e-5 if dtype == torch.float32 and not torch.is_autocast_enabled() else 2e-2
    for name, staged in outputs.items():
        reference = getattr(full, name)
        error = (reference.float() - staged.float()).abs().max().item()
        scale = 1.0 + reference.float().abs().max().item()
        print(f"  forward check {prefix}.{name}: max abs diff {error:.3e}")
        if error > tolerance * scale:
            raise RuntimeError(f"{prefix}.{name}: the staged run differs from Sam3Model.forward "
                               f"by {error:.3e}: the script no longer composes the stages as "
                               "transformers does")


def text_prompt(model, text, text_mask, fpn, fpn_pos, behaviour):
    """The prompt of text-only queries: the text tokens, plus the geometry encoder's CLS token
    (run with no box) when composing as the official code does."""
    if behaviour != "official":
        return text, text_mask, None
    batch = text.shape[0]
    geometry = model.geometry_encoder(
        box_embeddings=torch.zeros(batch, 0, 4, dtype=text.dtype, device=text.device),
        box_mask=torch.zeros(batch, 0, dtype=torch.bool, device=text.device),
        box_labels=torch.zeros(batch, 0, dtype=torch.int64, device=text.device),
        img_feats=fpn, img_pos_embeds=fpn_pos)
    return (torch.cat([text, geometry.last_hidden_state], dim=1),
            torch.cat([text_mask, geometry.attention_mask], dim=1), geometry)


def check_presence_unclamped(outputs, prefix):
    # transformers clamps presence logits to +-10, the official decoder does not: equal only
    # while they stay inside.
    worst = outputs["presence_logits"].abs().max().item()
    if worst >= 10.0:
        raise RuntimeError(f"{prefix}.presence_logits reach {worst:.2f}: transformers' +-10 clamp "
                           "acts, so it cannot stand in for the official (unclamped) decoder")


def make_frame():
    generator = torch.Generator().manual_seed(FRAME_SEED)
    return torch.randint(0, 256, (*FRAME_SIZE, 3), dtype=torch.uint8, generator=generator)


def fp32_roi_align():
    """The geometry encoder's ROI align in fp32, as torchvision's autocast rule runs it on CUDA
    (the official SAM 3's device). transformers hands it bf16 features cast to fp16, which
    torch.cat under CPU autocast rejects."""
    roi_align = torchvision.ops.roi_align

    def in_fp32(features, boxes, *args, **kwargs):
        with torch.autocast(features.device.type, enabled=False):
            out = roi_align(features.float(), [b.float() for b in boxes], *args, **kwargs)
        return out.to(features.dtype)

    torchvision.ops.roi_align = in_fp32


def main():
    args = parse_args()
    strict_numerics()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda asked for, but torch sees no CUDA device")
    if args.dtype == "autocast-bf16":
        fp32_roi_align()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            run(args, torch.float32, device)
    else:
        run(args, torch.float32 if args.dtype == "fp32" else torch.bfloat16, device)


@torch.no_grad()
def run(args, dtype, device):
    official = args.behaviour == "official"

    model = load_model(args.model, dtype, device, args.attn, args.behaviour)
    inputs = make_inputs(args.model, model.config)
    on_device = {k: v.to(device) for k, v in inputs.items()}
    pixel_values = on_device["pixel_values"].to(dtype)
    input_ids = on_device["input_ids"]
    attention_mask = on_device["attention_mask"]
    batch = input_ids.shape[0]

    saved = dict(inputs)

    vision = model.vision_encoder(pixel_values)
    patch = model.config.vision_config.backbone_config.patch_size
    grid_h, grid_w = pixel_values.shape[-2] // patch, pixel_values.shape[-1] // patch
    # last_hidden_state is (B, g*g, C) row-major over the patch grid.
    saved["vision.backbone"] = vision.last_hidden_state.reshape(
        pixel_values.shape[0], grid_h, grid_w, -1).permute(0, 3, 1, 2)
    for i, (level, pos) in enumerate(zip(vision.fpn_hidden_states,
                                         vision.fpn_position_encoding)):
        saved[f"vision.fpn.{i}"] = level
        saved[f"vision.fpn_pos.{i}"] = pos

    text = text_embeddings(model, input_ids, attention_mask)
    text_mask = attention_mask.bool()
    saved["text.features"] = text
    saved["text.mask"] = text_mask

    def expand(levels):
        # Sam3Model.forward drops the coarsest level; one image serves every prompt.
        return [f.expand(batch, -1, -1, -1).contiguous() for f in levels[:-1]]

    fpn, fpn_pos = expand(vision.fpn_hidden_states), expand(vision.fpn_position_encoding)

    # Text prompts alone: transformers skips the geometry encoder, the official code adds its
    # CLS token.
    prompt, prompt_mask, geometry = text_prompt(model, text, text_mask, fpn, fpn_pos,
                                                args.behaviour)
    if geometry is not None:
        saved["text.geometry.prompt"] = geometry.last_hidden_state
        saved["text.geometry.mask"] = geometry.attention_mask
    stages, outputs = run_heads(model, fpn, fpn_pos, prompt, prompt_mask)
    saved.update(stages)
    saved.update({f"text.{k}": v for k, v in outputs.items()})
    check_against_forward(model, on_device, outputs, "text", dtype, official_text=official)
    if official:
        check_presence_unclamped(outputs, "text")

    labels, box_mask = box_prompt(on_device["input_boxes_labels"])
    geometry = model.geometry_encoder(box_embeddings=on_device["input_boxes"].to(dtype),
                                      box_mask=box_mask, box_labels=labels, img_feats=fpn,
                                      img_pos_embeds=fpn_pos)
    saved["geometry.prompt"] = geometry.last_hidden_state
    saved["geometry.mask"] = geometry.attention_mask
    prompt = torch.cat([text, geometry.last_hidden_state], dim=1)
    prompt_mask = torch.cat([text_mask, geometry.attention_mask], dim=1)
    stages, outputs = run_heads(model, fpn, fpn_pos, prompt, prompt_mask)
    saved.update({f"boxes.{k}": v for k, v in stages.items()})
    saved.update({f"boxes.{k}": v for k, v in outputs.items()})
    check_against_forward(model, on_device, outputs, "boxes", dtype)
    if official:
        check_presence_unclamped(outputs, "boxes")

    # The image path: an RGB frame through transformers' image processor, then the text
    # prompts on its pixels.
    frame = make_frame()
    size = model.config.vision_config.backbone_config.image_size
    processor = Sam3ImageProcessor(size={"height": size, "width": size})
    image_pixels = processor(images=frame.permute(2, 0, 1),
                             return_tensors="pt")["pixel_values"].to(device)
    saved["image.rgb"] = frame
    saved["image.pixel_values"] = image_pixels
    image_vision = model.vision_encoder(image_pixels.to(dtype))
    fpn = expand(image_vision.fpn_hidden_states)
    fpn_pos = expand(image_vision.fpn_position_encoding)
    prompt, prompt_mask, _ = text_prompt(model, text, text_mask, fpn, fpn_pos, args.behaviour)
    _, outputs = run_heads(model, fpn, fpn_pos, prompt, prompt_mask)
    saved.update({f"image.{k}": v for k, v in outputs.items()})
    check_against_forward(model, on_device, outputs, "image", dtype, official_text=official,
                          pixel_values=image_pixels.to(dtype))

    tensors = {}
    for name, tensor in saved.items():
        tensor = tensor.detach().to("cpu")
        if tensor.is_floating_point():
            tensor = tensor.to(torch.float32)
        tensors[name] = tensor.contiguous().clone()
    metadata = {
        "generator": "tools/make_reference.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "dtype": args.dtype,
        "device": args.device,
        "attn_implementation": args.attn,
        "prompts": "|".join(PROMPTS),
        "pixel_seed": str(PIXEL_SEED),
        "behaviour": args.behaviour,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(tensors, args.out, metadata=metadata)
    for name in sorted(tensors):
        print(f"{name:32s} {str(tuple(tensors[name].shape)):24s} {tensors[name].dtype}")
    print(f"wrote {len(tensors)} tensors to {args.out}")


if __name__ == "__main__":
    main()
