#!/usr/bin/env python3
"""tools/convert_sam3_pt.py on synthetic original-layout checkpoints.

Tiny models from sam3-make-test-model (transformers names; the image preset "tiny" and the
video preset "tiny-video") are turned back into the layout of Meta's sam3.pt (packed q/k/v,
cls row in pos_embed, text projection stored transposed, RoPE tables, the keys transformers
drops, the tracker's SAM-2 names); converting that must give back the original
model.safetensors exactly. The release's tracker key list (sam3-state-dict-keys.tsv in
../shared/docs) must convert to the names and shapes gst-sam3 loads; that test is skipped
when the list is absent.

Needs PyTorch; exits 77 (meson's "skipped") without it. SAM3_MAKE_TEST_MODEL names the
sam3-make-test-model executable (SAM3_BUILD_ROOT/tools/sam3-make-test-model otherwise);
sam3-image beside it, when present, must load the converted video folder.
"""

import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERTER = os.path.join(HERE, "..", "..", "tools", "convert_sam3_pt.py")
KEYS_TSV = os.path.join(HERE, "..", "..", "..", "shared", "docs", "sam3-state-dict-keys.tsv")

_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=_DTYPES[info["dtype"]])
        out[name] = flat.reshape(info["shape"])
    return out, meta


def load_converter():
    spec = importlib.util.spec_from_file_location("convert_sam3_pt", CONVERTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_test_model_exe():
    exe = os.environ.get("SAM3_MAKE_TEST_MODEL")
    if not exe and os.environ.get("SAM3_BUILD_ROOT"):
        exe = os.path.join(os.environ["SAM3_BUILD_ROOT"], "tools", "sam3-make-test-model")
    return exe


def merge(parts):
    return torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)


def to_original(hf, config):
    """The inverse of the converter's renames, written independently of it."""
    sd = {}
    g = torch.Generator().manual_seed(1)
    vit = config["vision_config"]["backbone_config"]
    t = "detector.backbone.vision_backbone.trunk."
    b = "vision_encoder.backbone."
    pos = hf[b + "embeddings.position_embeddings"]
    sd[t + "pos_embed"] = torch.cat([torch.randn(1, 1, pos.shape[2], generator=g), pos], dim=1)
    sd[t + "patch_embed.proj.weight"] = hf[b + "embeddings.patch_embeddings.projection.weight"]
    grid = vit["image_size"] // vit["patch_size"]
    window = vit["window_size"]
    half_head = vit["hidden_size"] // vit["num_attention_heads"] // 2
    for wb in ("weight", "bias"):
        sd[t + "ln_pre." + wb] = hf[b + "layer_norm." + wb]
    for i in range(vit["num_hidden_layers"]):
        o, n = t + "blocks.%d." % i, b + "layers.%d." % i
        for wb in ("weight", "bias"):
            sd[o + "norm1." + wb] = hf[n + "layer_norm1." + wb]
            sd[o + "norm2." + wb] = hf[n + "layer_norm2." + wb]
            sd[o + "attn.qkv." + wb] = merge({p: hf[n + "attention.%s_proj.%s" % (p, wb)] for p in "qkv"})
            sd[o + "attn.proj." + wb] = hf[n + "attention.o_proj." + wb]
            sd[o + "mlp.fc1." + wb] = hf[n + "mlp.fc1." + wb]
            sd[o + "mlp.fc2." + wb] = hf[n + "mlp.fc2." + wb]
        side = grid if i in vit["global_attn_indexes"] else window
        sd[o + "attn.freqs_cis"] = torch.zeros(side * side, half_head, dtype=torch.complex64)

    sd.update(neck_to_original(hf, "vision_encoder.neck.fpn_layers.", "detector.backbone.vision_backbone.convs."))

    lb = "detector.backbone.language_backbone."
    tm = "text_encoder.text_model."
    sd[lb + "encoder.token_embedding.weight"] = hf[tm + "embeddings.token_embedding.weight"]
    sd[lb + "encoder.positional_embedding"] = hf[tm + "embeddings.position_embedding.weight"]
    sd[lb + "encoder.text_projection"] = hf["text_encoder.text_projection.weight"].t().contiguous()
    for wb in ("weight", "bias"):
        sd[lb + "encoder.ln_final." + wb] = hf[tm + "final_layer_norm." + wb]
        sd[lb + "resizer." + wb] = hf["text_projection." + wb]
    for i in range(config["text_config"]["num_hidden_layers"]):
        o, n = lb + "encoder.transformer.resblocks.%d." % i, tm + "encoder.layers.%d." % i
        for wb in ("weight", "bias"):
            sd[o + "attn.in_proj_" + wb] = merge({p: hf[n + "self_attn.%s_proj.%s" % (p, wb)] for p in "qkv"})
            sd[o + "attn.out_proj." + wb] = hf[n + "self_attn.out_proj." + wb]
            sd[o + "ln_1." + wb] = hf[n + "layer_norm1." + wb]
            sd[o + "ln_2." + wb] = hf[n + "layer_norm2." + wb]
            sd[o + "mlp.c_fc." + wb] = hf[n + "mlp.fc1." + wb]
            sd[o + "mlp.c_proj." + wb] = hf[n + "mlp.fc2." + wb]

    def attn(old, new):
        for wb in ("weight", "bias"):
            sd[old + ".in_proj_" + wb] = merge({p: hf["%s.%s_proj.%s" % (new, p, wb)] for p in "qkv"})
            sd[old + ".out_proj." + wb] = hf[new + ".o_proj." + wb]

    def same(old, new):
        for wb in ("weight", "bias"):
            if new + "." + wb in hf:
                sd[old + "." + wb] = hf[new + "." + wb]

    def prompt_layers(old, new, count, cross):
        for i in range(count):
            o, n = "%s.%d." % (old, i), "%s.%d." % (new, i)
            attn(o + "self_attn", n + "self_attn")
            attn(o + cross, n + "cross_attn")
            same(o + "linear1", n + "mlp.fc1")
            same(o + "linear2", n + "mlp.fc2")
            for k in "123":
                same(o + "norm" + k, n + "layer_norm" + k)

    geo = "detector.geometry_encoder."
    gd = config["geometry_encoder_config"]["hidden_size"]
    prompt_layers(geo + "encode", "geometry_encoder.layers", config["geometry_encoder_config"]["num_layers"],
                  "cross_attn_image")
    same(geo + "img_pre_norm", "geometry_encoder.vision_layer_norm")
    same(geo + "norm", "geometry_encoder.prompt_layer_norm")
    same(geo + "encode_norm", "geometry_encoder.output_layer_norm")
    for n in ("label_embed", "cls_embed", "boxes_direct_project", "boxes_pool_project", "boxes_pos_enc_project",
              "final_proj"):
        same(geo + n, "geometry_encoder." + n)
    for n, n_in in (("points_direct_project", 2), ("points_pool_project", gd), ("points_pos_enc_project", gd)):
        sd[geo + n + ".weight"] = torch.randn(gd, n_in, generator=g)
        sd[geo + n + ".bias"] = torch.randn(gd, generator=g)

    prompt_layers("detector.transformer.encoder.layers", "detr_encoder.layers",
                  config["detr_encoder_config"]["num_layers"], "cross_attn_image")

    dec = "detector.transformer.decoder."
    for n in ("query_embed", "reference_points", "presence_token"):
        same(dec + n, "detr_decoder." + n)
    same(dec + "presence_token_out_norm", "detr_decoder.presence_layer_norm")
    same(dec + "norm", "detr_decoder.output_layer_norm")
    for old, new, count in (("presence_token_head", "presence_head", 3), ("bbox_embed", "box_head", 3),
                            ("ref_point_head", "ref_point_head", 2), ("boxRPB_embed_x", "box_rpb_embed_x", 2),
                            ("boxRPB_embed_y", "box_rpb_embed_y", 2)):
        for i in range(count):
            same(dec + "%s.layers.%d" % (old, i), "detr_decoder.%s.layer%d" % (new, i + 1))
    for i in range(config["detr_decoder_config"]["num_layers"]):
        o, n = dec + "layers.%d." % i, "detr_decoder.layers.%d." % i
        attn(o + "self_attn", n + "self_attn")
        attn(o + "ca_text", n + "text_cross_attn")
        attn(o + "cross_attn", n + "vision_cross_attn")
        for old, new in (("norm1", "vision_cross_attn_layer_norm"), ("catext_norm", "text_cross_attn_layer_norm"),
                         ("norm2", "self_attn_layer_norm"), ("norm3", "mlp_layer_norm"),
                         ("linear1", "mlp.fc1"), ("linear2", "mlp.fc2")):
            same(o + old, n + new)

    ds = "detector.dot_prod_scoring."
    same(ds + "prompt_mlp.layers.0", "dot_product_scoring.text_mlp.layer1")
    same(ds + "prompt_mlp.layers.1", "dot_product_scoring.text_mlp.layer2")
    same(ds + "prompt_mlp.out_norm", "dot_product_scoring.text_mlp_out_norm")
    same(ds + "prompt_proj", "dot_product_scoring.text_proj")
    same(ds + "hs_proj", "dot_product_scoring.query_proj")

    sh = "detector.segmentation_head."
    for i in range(config["mask_decoder_config"]["num_upsampling_stages"]):
        same(sh + "pixel_decoder.conv_layers.%d" % i, "mask_decoder.pixel_decoder.conv_layers.%d" % i)
        same(sh + "pixel_decoder.norms.%d" % i, "mask_decoder.pixel_decoder.norms.%d" % i)
    for i in range(3):
        same(sh + "mask_predictor.mask_embed.layers.%d" % i, "mask_decoder.mask_embedder.layers.%d" % i)
    same(sh + "instance_seg_head", "mask_decoder.instance_projection")
    same(sh + "semantic_seg_head", "mask_decoder.semantic_projection")
    attn(sh + "cross_attend_prompt", "mask_decoder.prompt_cross_attn")
    same(sh + "cross_attn_norm", "mask_decoder.prompt_cross_attn_norm")

    return sd


def with_tracker_samples(sd):
    """An image-model checkpoint plus a few tracker entries of each kind the real file has
    (an image-only conversion drops them all)."""
    g = torch.Generator().manual_seed(2)
    sd = dict(sd)
    for key, value in list(sd.items()):  # the tracker neck has the detector neck's shapes
        if ".vision_backbone.convs." in key:
            sd[key.replace(".convs.", ".sam2_convs.")] = value.clone()
    sd["tracker.maskmem_tpos_enc"] = torch.randn(7, 1, 1, 64, generator=g)
    sd["tracker.sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"] = torch.randn(2, 128, generator=g)
    sd["tracker.transformer.encoder.layers.0.self_attn.q_proj.weight"] = torch.randn(256, 256, generator=g)
    return sd


def neck_to_original(hf, hf_prefix, original_prefix):
    """transformers' fpn_layers.N.{scale_layers.0, scale_layers.2, proj1, proj2} -> the
    original convs.N.{dconv_2x2_0 (x4 level) or dconv_2x2 (x2 level), dconv_2x2_1, conv_1x1, conv_3x3}."""
    sd = {}
    names = {"scale_layers.0": "dconv_2x2_0", "scale_layers.2": "dconv_2x2_1", "proj1": "conv_1x1", "proj2": "conv_3x3"}
    for key, value in hf.items():
        if key.startswith(hf_prefix):
            level, rest = key[len(hf_prefix):].split(".", 1)
            module, wb = rest.rsplit(".", 1)
            old = names[module]
            if old == "dconv_2x2_0" and "%s%s.scale_layers.2.weight" % (hf_prefix, level) not in hf:
                old = "dconv_2x2"  # the x2 level has one transposed conv, the x4 level two
            sd["%s%s.%s.%s" % (original_prefix, level, old, wb)] = value
    return sd


def tracker_to_original(hf, tracker_config):
    """transformers' Sam3TrackerVideoModel weights ("tracker_model.*") -> the original
    "tracker.*" names of facebookresearch/sam3 (sam3_tracker_base.py, memory.py, sam/*.py)."""
    t = {k[len("tracker_model."):]: v for k, v in hf.items() if k.startswith("tracker_model.")}
    sd = {}

    def put(old, new, suffixes=("weight", "bias")):
        for wb in suffixes:
            sd["tracker.%s.%s" % (old, wb)] = t["%s.%s" % (new, wb)]

    def attention(old, new):
        for p in ("q_proj", "k_proj", "v_proj"):
            put(old + "." + p, new + "." + p)
        put(old + ".out_proj", new + ".o_proj")

    def mlp(old, new, depth):
        # sam/mask_decoder.py's MLP is a ModuleList "layers" of depth Linear layers.
        middle = ["layers.%d" % i for i in range(depth - 2)]
        for i, name in enumerate(["proj_in"] + middle + ["proj_out"]):
            put("%s.layers.%d" % (old, i), "%s.%s" % (new, name))

    sd["tracker.maskmem_tpos_enc"] = t["memory_temporal_positional_encoding"]
    sd["tracker.no_mem_embed"] = t["no_memory_embedding"]
    sd["tracker.no_mem_pos_enc"] = t["no_memory_positional_encoding"]
    sd["tracker.no_obj_ptr"] = t["no_object_pointer"]
    sd["tracker.no_obj_embed_spatial"] = t["occlusion_spatial_embedding_parameter"]
    put("mask_downsample", "mask_downsample")
    put("obj_ptr_tpos_proj", "temporal_positional_encoding_projection_layer")
    mlp("obj_ptr_proj", "object_pointer_proj", 3)

    for i in range(tracker_config["memory_attention_num_layers"]):
        o, n = "transformer.encoder.layers.%d." % i, "memory_attention.layers.%d." % i
        attention(o + "self_attn", n + "self_attn")
        attention(o + "cross_attn_image", n + "cross_attn_image")
        put(o + "linear1", n + "linear1")
        put(o + "linear2", n + "linear2")
        for k in "123":
            put(o + "norm" + k, n + "layer_norm" + k)
    put("transformer.encoder.norm", "memory_attention.layer_norm")

    # SimpleMaskDownSampler.encoder: [Conv2d, LayerNorm2d, GELU] x 4, then a 1x1 Conv2d.
    mb, me = "maskmem_backbone.", "memory_encoder."
    for i in range(4):
        put(mb + "mask_downsampler.encoder.%d" % (3 * i), me + "mask_downsampler.layers.%d.conv" % i)
        put(mb + "mask_downsampler.encoder.%d" % (3 * i + 1), me + "mask_downsampler.layers.%d.layer_norm" % i)
    put(mb + "mask_downsampler.encoder.12", me + "mask_downsampler.final_conv")
    put(mb + "pix_feat_proj", me + "feature_projection")
    put(mb + "out_proj", me + "projection")
    for i in range(tracker_config["memory_fuser_num_layers"]):
        o, n = mb + "fuser.layers.%d." % i, me + "memory_fuser.layers.%d." % i
        put(o + "dwconv", n + "depthwise_conv")
        put(o + "norm", n + "layer_norm")
        put(o + "pwconv1", n + "pointwise_conv1")
        put(o + "pwconv2", n + "pointwise_conv2")
        sd["tracker." + o + "gamma"] = t[n + "scale"]

    pe, ne = "sam_prompt_encoder.", "prompt_encoder."
    gaussian = t[ne + "shared_embedding.positional_embedding"]
    assert torch.equal(gaussian, t["shared_image_embedding.positional_embedding"])
    sd["tracker." + pe + "pe_layer.positional_encoding_gaussian_matrix"] = gaussian
    for i, row in enumerate(t[ne + "point_embed.weight"]):
        sd["tracker.%spoint_embeddings.%d.weight" % (pe, i)] = row.unsqueeze(0).clone()
    put(pe + "not_a_point_embed", ne + "not_a_point_embed", ("weight",))
    put(pe + "no_mask_embed", ne + "no_mask_embed", ("weight",))
    for index, name in ((0, "conv1"), (1, "layer_norm1"), (3, "conv2"), (4, "layer_norm2"), (6, "conv3")):
        put(pe + "mask_downscaling.%d" % index, ne + "mask_embed." + name)

    md, nd = "sam_mask_decoder.", "mask_decoder."
    mdc = tracker_config["mask_decoder_config"]
    for i in range(mdc["num_hidden_layers"]):
        o, n = md + "transformer.layers.%d." % i, nd + "transformer.layers.%d." % i
        for a in ("self_attn", "cross_attn_token_to_image", "cross_attn_image_to_token"):
            attention(o + a, n + a)
        for k in "1234":
            put(o + "norm" + k, n + "layer_norm" + k)
        put(o + "mlp.lin1", n + "mlp.proj_in")
        put(o + "mlp.lin2", n + "mlp.proj_out")
    attention(md + "transformer.final_attn_token_to_image", nd + "transformer.final_attn_token_to_image")
    put(md + "transformer.norm_final_attn", nd + "transformer.layer_norm_final_attn")
    for name in ("iou_token", "mask_tokens", "obj_score_token"):
        put(md + name, nd + name, ("weight",))
    put(md + "output_upscaling.0", nd + "upscale_conv1")
    put(md + "output_upscaling.1", nd + "upscale_layer_norm")
    put(md + "output_upscaling.3", nd + "upscale_conv2")
    put(md + "conv_s0", nd + "conv_s0")
    put(md + "conv_s1", nd + "conv_s1")
    for i in range(mdc["num_multimask_outputs"] + 1):
        mlp(md + "output_hypernetworks_mlps.%d" % i, nd + "output_hypernetworks_mlps.%d" % i, 3)
    mlp(md + "iou_prediction_head", nd + "iou_prediction_head", mdc["iou_head_depth"])
    mlp(md + "pred_obj_score_head", nd + "pred_obj_score_head", 3)
    return sd


def video_to_original(hf, config):
    """A whole sam3_video model -> the original sam3.pt layout (detector, tracker neck, tracker)."""
    detector = {k[len("detector_model."):]: v for k, v in hf.items() if k.startswith("detector_model.")}
    sd = to_original(detector, config["detector_config"])
    sd.update(neck_to_original(hf, "tracker_neck.fpn_layers.", "detector.backbone.vision_backbone.sam2_convs."))
    sd.update(tracker_to_original(hf, config["tracker_config"]))
    return sd


class ConvertSam3PtTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        exe = make_test_model_exe()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model_dir = os.path.join(cls.tmp.name, "tiny")
        subprocess.run([exe, "--preset", "tiny", cls.model_dir], check=True, stdout=subprocess.DEVNULL)
        cls.original, _ = read_safetensors(os.path.join(cls.model_dir, "model.safetensors"))
        with open(os.path.join(cls.model_dir, "config.json")) as f:
            cls.config = json.load(f)
        cls.sd = with_tracker_samples(to_original(cls.original, cls.config))
        cls.pt = os.path.join(cls.tmp.name, "sam3.pt")
        torch.save(cls.sd, cls.pt)

        cls.video_dir = os.path.join(cls.tmp.name, "tiny-video")
        subprocess.run([exe, "--preset", "tiny-video", cls.video_dir], check=True, stdout=subprocess.DEVNULL)
        cls.video_original, _ = read_safetensors(os.path.join(cls.video_dir, "model.safetensors"))
        with open(os.path.join(cls.video_dir, "config.json")) as f:
            cls.video_config = json.load(f)
        cls.video_sd = video_to_original(cls.video_original, cls.video_config)
        cls.video_pt = os.path.join(cls.tmp.name, "sam3-video.pt")
        torch.save(cls.video_sd, cls.video_pt)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def convert(self, pt, out, *extra, config_dir=None):
        config = os.path.join(config_dir or self.model_dir, "config.json")
        return subprocess.run([sys.executable, CONVERTER, pt, out, "--config", config] + list(extra),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def assert_same_tensors(self, converted, original):
        self.assertEqual(sorted(converted), sorted(original))
        for name, tensor in original.items():
            self.assertEqual(converted[name].dtype, tensor.dtype, name)
            self.assertEqual(list(converted[name].shape), list(tensor.shape), name)
            self.assertTrue(torch.equal(converted[name], tensor), name)

    def test_round_trip_gives_the_original_tensors(self):
        out = os.path.join(self.tmp.name, "converted")
        bpe = os.path.join(self.tmp.name, "bpe.gz")
        with open(bpe, "wb") as f:
            f.write(b"not checked by the converter")
        r = self.convert(self.pt, out, "--bpe", bpe)
        self.assertEqual(r.returncode, 0, r.stderr)
        converted, meta = read_safetensors(os.path.join(out, "model.safetensors"))
        self.assertEqual(meta.get("format"), "pt")
        self.assert_same_tensors(converted, self.original)
        with open(os.path.join(out, "config.json")) as f:
            self.assertEqual(json.load(f), self.config)
        self.assertTrue(os.path.isfile(os.path.join(out, "bpe_simple_vocab_16e6.txt.gz")))
        self.assertIn("dropped 3 key(s): tracker; not part of an image-only", r.stdout)
        self.assertIn("dropped 22 key(s): tracker neck; not part of an image-only", r.stdout)
        self.assertIn("dropped 6 key(s): point-prompt", r.stdout)

    def test_video_round_trip_gives_the_original_tensors(self):
        out = os.path.join(self.tmp.name, "converted-video")
        r = self.convert(self.video_pt, out, config_dir=self.video_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        converted, _ = read_safetensors(os.path.join(out, "model.safetensors"))
        self.assert_same_tensors(converted, self.video_original)
        with open(os.path.join(out, "config.json")) as f:
            self.assertEqual(json.load(f), self.video_config)
        self.assertNotIn("tracker", r.stdout)
        self.assertIn("dropped 6 key(s): point-prompt", r.stdout)

    def test_converted_video_folder_runs_in_gst_sam3(self):
        image_tool = os.path.join(os.path.dirname(make_test_model_exe()), "sam3-image")
        if not os.path.isfile(image_tool):
            self.skipTest("sam3-image is not built beside sam3-make-test-model")
        out = os.path.join(self.tmp.name, "converted-video-run")
        r = self.convert(self.video_pt, out, config_dir=self.video_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("vocab.json", "merges.txt"):
            shutil.copyfile(os.path.join(self.video_dir, name), os.path.join(out, name))
        image = os.path.join(self.tmp.name, "frame.ppm")
        with open(image, "wb") as f:
            pixels = bytes((x * 4 + y) % 256 for y in range(48) for x in range(64) for _ in range(3))
            f.write(b"P6 64 48 255\n" + pixels)
        results = []
        for folder in (self.video_dir, out):
            run = subprocess.run([image_tool, "--model", folder, "--prompt", "cat", "--threshold", "0", "--json", "-",
                                  image], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            results.append(json.loads(run.stdout))
        self.assertTrue(results[0][0]["instances"])
        self.assertEqual(results[0], results[1])

    def test_image_only_from_a_video_checkpoint(self):
        out = os.path.join(self.tmp.name, "image-only")
        r = self.convert(self.video_pt, out, "--image-only", config_dir=self.video_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        converted, _ = read_safetensors(os.path.join(out, "model.safetensors"))
        detector = {k[len("detector_model."):]: v for k, v in self.video_original.items()
                    if k.startswith("detector_model.")}
        self.assert_same_tensors(converted, detector)
        with open(os.path.join(out, "config.json")) as f:
            self.assertEqual(json.load(f), self.video_config["detector_config"])
        tracker_keys = sum(1 for k in self.video_sd if k.startswith("tracker."))
        self.assertIn("dropped %d key(s): tracker; not part of an image-only" % tracker_keys, r.stdout)

    def test_video_config_for_an_image_checkpoint_names_the_tracker_keys(self):
        image_only = {k: v for k, v in self.video_sd.items() if not k.startswith("tracker.")}
        pt = os.path.join(self.tmp.name, "no-tracker.pt")
        torch.save(image_only, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "o6"), config_dir=self.video_dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing from the checkpoint:", r.stderr)
        self.assertIn("tracker_model.no_object_pointer", r.stderr)
        self.assertIn("tracker_model.prompt_encoder.point_embed.weight", r.stderr)

    def test_point_embedding_gap_is_named(self):
        sd = {k: v for k, v in self.video_sd.items() if k != "tracker.sam_prompt_encoder.point_embeddings.2.weight"}
        pt = os.path.join(self.tmp.name, "gap.pt")
        torch.save(sd, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "o7"), config_dir=self.video_dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("tracker_model.prompt_encoder.point_embed.weight: the rows found are [0, 1, 3], not 0..2",
                      r.stderr)

    def test_unknown_tracker_keys_are_named(self):
        sd = dict(self.video_sd)
        # Index 2 of the mask downsampler is a GELU (no weights); index 5 of obj_ptr_proj does not exist.
        sd["tracker.maskmem_backbone.mask_downsampler.encoder.2.weight"] = torch.zeros(4)
        sd["tracker.obj_ptr_proj.layers.5.weight"] = torch.zeros(32, 32)
        pt = os.path.join(self.tmp.name, "tracker-extra.pt")
        torch.save(sd, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "o8"), config_dir=self.video_dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("2 checkpoint key(s) are neither converted nor known to be unused", r.stderr)
        self.assertIn("tracker.maskmem_backbone.mask_downsampler.encoder.2.weight", r.stderr)
        self.assertIn("tracker.obj_ptr_proj.layers.5.weight", r.stderr)

    def test_wrong_tracker_shape_is_named(self):
        sd = dict(self.video_sd)
        sd["tracker.maskmem_tpos_enc"] = torch.zeros(7, 1, 1, 32)
        pt = os.path.join(self.tmp.name, "tracker-misshaped.pt")
        torch.save(sd, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "o9"), config_dir=self.video_dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("tracker_model.memory_temporal_positional_encoding: shape [7, 1, 1, 32], "
                      "config wants [7, 1, 1, 16]", r.stderr)

    def test_default_config_has_the_layout_gst_sam3_writes(self):
        converter = load_converter()

        def paths(node, prefix=""):
            if not isinstance(node, dict):
                return {prefix}
            return set().union(*(paths(v, prefix + "/" + k) for k, v in node.items()))

        self.assertEqual(paths(converter.official_config(True)), paths(self.video_config))
        self.assertEqual(converter.official_config(False), converter.official_config(True)["detector_config"])
        self.assertEqual(paths(converter.official_config(False)), paths(self.config))

    def test_release_tracker_keys_convert_to_what_gst_sam3_loads(self):
        if not os.path.isfile(KEYS_TSV):
            self.skipTest("%s not found" % KEYS_TSV)
        converter = load_converter()
        config = converter.official_config(True)
        converted, rows, unknown = {}, {}, []
        with open(KEYS_TSV) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                key, shape, _ = line.rstrip("\n").split("\t")
                shape = json.loads(shape)
                plan = converter.plan_key(key, config)
                if plan[0] == "unknown":
                    unknown.append(key)
                elif not (key.startswith("tracker.") or ".sam2_convs." in key):
                    continue
                elif plan[0] == "gather":
                    self.assertEqual(shape[0], 1, key)
                    rows.setdefault(plan[1], []).append(shape)
                else:
                    self.assertEqual(plan[0], "convert", key)
                    for name in plan[1]:
                        self.assertNotIn(name, converted, key)
                        converted[name] = shape
        self.assertEqual(unknown, [])
        for name, shapes in rows.items():
            converted[name] = [len(shapes), shapes[0][1]]
        expected = {k: v for k, v in converter.expected_shapes(config).items()
                    if k.startswith(("tracker_model.", "tracker_neck."))}
        self.assertEqual(converted, expected)
        # The names are those gst-sam3's tracker registers; the tiny preset has 2 of the
        # release's 4 memory-attention layers.
        tiny = {k for k in self.video_original if k.startswith(("tracker_model.", "tracker_neck."))}
        release = {k for k in converted if not re.match(r"tracker_model\.memory_attention\.layers\.[23]\.", k)}
        self.assertEqual(release, tiny)

    def test_model_dict_wrapper_is_accepted(self):
        pt = os.path.join(self.tmp.name, "wrapped.pt")
        torch.save({"model": self.sd}, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "wrapped"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no tokenizer written", r.stdout)

    def test_missing_file(self):
        r = self.convert(os.path.join(self.tmp.name, "absent.pt"), os.path.join(self.tmp.name, "o1"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("absent.pt: no such file", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_not_a_checkpoint(self):
        path = os.path.join(self.tmp.name, "garbage.pt")
        with open(path, "wb") as f:
            f.write(b"this is not a pickle" * 10)
        r = self.convert(path, os.path.join(self.tmp.name, "o2"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a readable PyTorch checkpoint", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_unexpected_key_is_named(self):
        sd = dict(self.sd)
        sd["detector.transformer.decoder.mystery.weight"] = torch.zeros(3)
        pt = os.path.join(self.tmp.name, "extra.pt")
        torch.save(sd, pt)
        out = os.path.join(self.tmp.name, "o3")
        r = self.convert(pt, out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("detector.transformer.decoder.mystery.weight", r.stderr)
        self.assertIn("neither converted nor known to be unused", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "model.safetensors")))

    def test_wrong_shape_is_named(self):
        sd = dict(self.sd)
        sd["detector.transformer.decoder.query_embed.weight"] = torch.zeros(7, 32)
        pt = os.path.join(self.tmp.name, "misshaped.pt")
        torch.save(sd, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "o4"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("detr_decoder.query_embed.weight: shape [7, 32], config wants [20, 32]", r.stderr)

    def test_missing_key_is_named(self):
        sd = {k: v for k, v in self.sd.items() if k != "detector.geometry_encoder.cls_embed.weight"}
        pt = os.path.join(self.tmp.name, "short.pt")
        torch.save(sd, pt)
        r = self.convert(pt, os.path.join(self.tmp.name, "o5"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing from the checkpoint: geometry_encoder.cls_embed.weight", r.stderr)


if __name__ == "__main__":
    if not make_test_model_exe() or not os.path.exists(make_test_model_exe()):
        print("SKIP: sam3-make-test-model not found (set SAM3_MAKE_TEST_MODEL or SAM3_BUILD_ROOT)")
        sys.exit(77)
    unittest.main()
